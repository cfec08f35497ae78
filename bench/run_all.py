"""Side-by-side benchmark: our Conversation against libotr 4.1.1, in one run.

Runs libotr's own in-process self-pair benchmark (``otrpeer --bench``) and the
same scenario through two of our :class:`otr.Conversation` objects, then prints
both figures and the ratio ours/libotr (below 1.0: we are faster).

Scenario (the same as ``otrpeer.c``'s ``bench_selfpair``): a v3 AKE started by
a query; a one-way stream of 100-byte messages (encrypt + decrypt, no new D-H
key); a ping-pong stream (direction alternates every message, so every
message carries and uses a new D-H key); a full SMP with the right secret.

The same scenario is then run through two of our OTRv4 :class:`otr.Conversation`
objects (OTRv4 identities, standalone mode): the full DAKE started by a query
(Identity, Auth-R, Auth-I), one-way v4 data messages (same chain), ping-pong v4
data messages (a new ECDH key each turn, a 3072-bit DH key every third; a tenth
of ``--msgs``, at least 30, as each costs milliseconds) and a full SMP v4.  They
are printed beside libotr's OTRv3 figures from the same run (libotr 4.1.1 has no
OTRv4) with issue 9's targets: DAKE <= 3x libotr's v3 AKE, one-way <= 4x,
ping-pong <= 1x, SMP v4 <= 0.15x.  Targets are judged on the best run.  Two
more rows time the protocol cores alone (``bench_v4_dake.py``: the DAKE between
two :class:`otr.v4.dake.Dake` objects, without the front door and the first
ratchet's two DH shared secrets; ``bench_v4_smp.py``: SMP v4 between two state
machines, without the four data messages, each a new ratchet, that carry it).

    python bench/run_all.py [--runs 9] [--msgs 2000] [--smp-runs 9] [--no-v4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from otr import events as ev
from otr.accelerator import ACCELERATED
from otr.conversation import Conversation
from otr.crypto.dsa import generate_dsa_key
from otr.policy import Policy
from otr.v4.identity import Identity
from otr.v4.session import V4Credentials, V4Mode, V4Settings

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(
    os.environ.get(
        "OTR_SHARED_DIR",
        REPO.parent / "shared" if (REPO.parent / "shared").is_dir() else "/work/shared",
    )
)

TARGETS = {  # issue targets: ours/libotr at most
    "ake_ms": 0.5,
    "oneway_us": 4.0,
    "pingpong_us": 0.5,
    "smp_ms": 0.25,
}
TARGETS_V4 = {  # issue 9 targets: our OTRv4 / libotr's OTRv3 at most
    "ake_ms": 3.0,
    "oneway_us": 4.0,
    "pingpong_us": 1.0,
    "smp_ms": 0.15,
}


Samples = dict[str, list[float]]
"""Per-run figures of each scenario (ms for the AKE and SMP, µs per message)."""


def libotr_bench(runs: int, msgs: int, smp_runs: int) -> Samples:
    sys.path.insert(0, str(SHARED / "interop" / "libotr"))
    import peer  # type: ignore[import-not-found]

    binary = peer.build()
    out = subprocess.run(
        [binary, "--bench", str(runs), str(msgs), str(smp_runs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out)
    return {
        "ake_ms": data["ake_v3_ms"]["samples"],
        "oneway_us": data["data_oneway_us_per_msg"]["samples"],
        "pingpong_us": data["data_pingpong_us_per_msg"]["samples"],
        "smp_ms": data["smp_ms"]["samples"],
    }


class Pair:
    """Two conversations joined by an in-memory network."""

    def __init__(self, v4: bool = False) -> None:
        self.received = 0
        self.now = time.time()  # Unix seconds: OTRv4 profiles are validated against it
        if not v4:
            policy = Policy.named("MANUAL").with_versions({3})
            self.a = Conversation(generate_dsa_key(), "bob", account="alice", policy=policy)
            self.b = Conversation(generate_dsa_key(), "alice", account="bob", policy=policy)
            return
        policy = Policy.named("MANUAL").with_versions({4})
        settings = V4Settings(mode=V4Mode.STANDALONE)
        self.a, self.b = (
            Conversation(
                _DSA_KEY,
                peer,
                account=name,
                policy=policy,
                instance_tag=me.instance_tag,
                v4=V4Credentials.from_identity(me),
                v4_settings=settings,
            )
            for me, name, peer in (
                (Identity.generate("alice", "", os.urandom, self.now), "alice", "bob"),
                (Identity.generate("bob", "", os.urandom, self.now), "bob", "alice"),
            )
        )

    def pump(self, sender: Conversation, events: list[ev.Event]) -> list[ev.Event]:
        """Deliver ``sender``'s SendMessage events (and the replies they cause,
        depth first) and return every other event."""
        seen: list[ev.Event] = []
        dst = self.b if sender is self.a else self.a
        for e in events:
            if type(e) is ev.SendMessage:
                seen += self.pump(dst, dst.receive(e.text, self.now))
            else:
                seen.append(e)
                if type(e) is ev.MessageReceived:
                    self.received += 1
        return seen


_DSA_KEY = generate_dsa_key()
"""The OTRv4 pairs' (unused) DSA key: Conversation takes one."""


def ours_bench(runs: int, msgs: int, smp_runs: int, v4: bool = False) -> Samples:
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    ake, oneway, pingpong, smp = [], [], [], []
    pair = Pair(v4)
    pair.pump(pair.a, pair.a.start(pair.now))  # warm-up: imports, fixed-base tables
    pong_msgs = max(30, msgs // 10) if v4 else msgs
    for _ in range(runs):
        pair = Pair(v4)
        t0 = time.perf_counter()
        seen = pair.pump(pair.a, pair.a.start(pair.now))
        ake.append((time.perf_counter() - t0) * 1e3)
        assert sum(isinstance(e, ev.SessionSecured) for e in seen) == 2, seen
        pair.received = 0
        t0 = time.perf_counter()
        now = pair.now
        for _ in range(msgs):
            pair.pump(pair.a, pair.a.send(text, now))
        oneway.append((time.perf_counter() - t0) / msgs * 1e6)
        assert pair.received == msgs
        pair.received = 0
        t0 = time.perf_counter()
        for i in range(pong_msgs):
            s = pair.b if i % 2 else pair.a
            pair.pump(s, s.send(text, now))
        pingpong.append((time.perf_counter() - t0) / pong_msgs * 1e6)
        assert pair.received == pong_msgs
    secret = "correct horse battery staple"
    for _ in range(smp_runs):
        t0 = time.perf_counter()
        seen = pair.pump(pair.a, pair.a.smp_start(secret, now=pair.now))
        assert any(isinstance(e, ev.SmpRequested) for e in seen), seen
        seen = pair.pump(pair.b, pair.b.smp_respond(secret, pair.now))
        smp.append((time.perf_counter() - t0) * 1e3)
        assert sum(isinstance(e, ev.SmpSucceeded) for e in seen) == 2, seen
    return {"ake_ms": ake, "oneway_us": oneway, "pingpong_us": pingpong, "smp_ms": smp}


def row(
    label: str, lib: list[float], ours: list[float], note: str, target: float | None = None
) -> str:
    """Medians and their ratio, then best runs (min: least disturbed by other load
    on the machine) and their ratio, which the target is judged on."""
    med = statistics.median(ours) / statistics.median(lib)
    best = min(ours) / min(lib)
    text = (
        f"{label:<26}{statistics.median(lib):>13.2f}{statistics.median(ours):>11.2f}{med:>5.2f}x"
        f"{min(lib):>13.2f}{min(ours):>11.2f}{best:>5.2f}x{note}"
    )
    if target is not None:
        text += " ok" if best <= target else " MISS"
    return text


def print_rows(
    labels: dict[str, str], lib: Samples, ours: Samples, targets: dict[str, float]
) -> None:
    for key, label in labels.items():
        print(row(label, lib[key], ours[key], f"  <={targets[key]}", targets[key]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--smp-runs", type=int, default=9)
    ap.add_argument("--ours-json", action="store_true", help="only our figures, as JSON")
    ap.add_argument("--no-v4", action="store_true", help="skip the OTRv4 rows")
    args = ap.parse_args()
    if args.ours_json:
        print(json.dumps(ours_bench(args.runs, args.msgs, args.smp_runs)))
        return 0
    lib = libotr_bench(args.runs, args.msgs, args.smp_runs)
    ours = ours_bench(args.runs, args.msgs, args.smp_runs)
    mode = "C accelerator" if ACCELERATED else "pure Python"
    print(f"otr per-message path: {mode} (otr.accelerator.ACCELERATED = {ACCELERATED})")
    print(f"{'':<26}{'---------- median ----------':>30}{'----------- best -----------':>30}")
    heads = f"{'libotr 4.1.1':>13}{'otr (ours)':>11}{'ratio':>6}"
    print(f"{'operation':<26}{heads}{heads}  target")
    labels = {
        "ake_ms": "full AKE (ms)",
        "oneway_us": "one-way msg (µs)",
        "pingpong_us": "ping-pong msg (µs)",
        "smp_ms": "full SMP (ms)",
    }
    print_rows(labels, lib, ours, TARGETS)
    if ACCELERATED:
        # For information: the same data-message scenarios on the pure-Python twins.
        sizes = ["--runs", str(args.runs), "--msgs", str(args.msgs), "--smp-runs", "0"]
        out = subprocess.run(
            [sys.executable, __file__, "--ours-json", *sizes],
            env=dict(os.environ, OTR_PURE_PYTHON="1"),
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        pure = json.loads(out)
        for key in ("oneway_us", "pingpong_us"):
            print(row(labels[key] + " [pure Py]", lib[key], pure[key], "  (information)"))
    if not args.no_v4:
        ours4 = ours_bench(args.runs, args.msgs, args.smp_runs, v4=True)
        print("OTRv4 (ours) against libotr's OTRv3 figures above (libotr has no OTRv4):")
        labels4 = {key: "v4 " + label for key, label in labels.items()}
        labels4["ake_ms"] = "v4 full DAKE (ms)"
        print_rows(labels4, lib, ours4, TARGETS_V4)
        # The protocol cores alone (bench_v4_dake.py, bench_v4_smp.py): the DAKE
        # without the front door and the first ratchet's two DH shared secrets, SMP v4
        # without the four data messages (each a new ratchet) that carry it.
        import bench_v4_dake
        import bench_v4_smp

        alice = bench_v4_dake._dake(0x1111_1111, "alice@example.org", "bob@example.org")
        bob = bench_v4_dake._dake(0x2222_2222, "bob@example.org", "alice@example.org")
        bench_v4_dake.one_dake(alice, bob)  # warm-up
        core_dake = [bench_v4_dake.one_dake(alice, bob) for _ in range(args.runs)]
        core_smp = bench_v4_smp.ours_bench(args.smp_runs)
        print(row("  DAKE alone (ms)", lib["ake_ms"], core_dake, "  <=3.0", 3.0))
        print(row("  SMP v4 alone (ms)", lib["smp_ms"], core_smp, "  <=0.15", 0.15))
    return 0


if __name__ == "__main__":
    sys.exit(main())
