"""Side-by-side benchmark: our Conversation against libotr 4.1.1, in one run.

Runs libotr's own in-process self-pair benchmark (``otrpeer --bench``) and the
same scenario through two of our :class:`otr.Conversation` objects, then prints
both figures and the ratio ours/libotr (below 1.0: we are faster).

Scenario (the same as ``otrpeer.c``'s ``bench_selfpair``): a v3 AKE started by
a query; a one-way stream of 100-byte messages (encrypt + decrypt, no new D-H
key); a ping-pong stream (direction alternates every message, so every
message carries and uses a new D-H key); a full SMP with the right secret.

    python bench/run_all.py [--runs 9] [--msgs 2000] [--smp-runs 9]
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

    def __init__(self) -> None:
        policy = Policy.named("MANUAL").with_versions({3})
        self.a = Conversation(generate_dsa_key(), "bob", account="alice", policy=policy)
        self.b = Conversation(generate_dsa_key(), "alice", account="bob", policy=policy)
        self.received = 0
        self.now = 0.0

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


def ours_bench(runs: int, msgs: int, smp_runs: int) -> Samples:
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    ake, oneway, pingpong, smp = [], [], [], []
    pair = Pair()
    for _ in range(runs):
        pair = Pair()
        t0 = time.perf_counter()
        seen = pair.pump(pair.a, pair.a.start())
        ake.append((time.perf_counter() - t0) * 1e3)
        assert sum(isinstance(e, ev.SessionSecured) for e in seen) == 2, seen
        pair.received = 0
        t0 = time.perf_counter()
        for _ in range(msgs):
            pair.pump(pair.a, pair.a.send(text))
        oneway.append((time.perf_counter() - t0) / msgs * 1e6)
        assert pair.received == msgs
        pair.received = 0
        t0 = time.perf_counter()
        for i in range(msgs):
            s = pair.b if i % 2 else pair.a
            pair.pump(s, s.send(text))
        pingpong.append((time.perf_counter() - t0) / msgs * 1e6)
        assert pair.received == msgs
    secret = "correct horse battery staple"
    for _ in range(smp_runs):
        t0 = time.perf_counter()
        seen = pair.pump(pair.a, pair.a.smp_start(secret))
        assert any(isinstance(e, ev.SmpRequested) for e in seen), seen
        seen = pair.pump(pair.b, pair.b.smp_respond(secret))
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--smp-runs", type=int, default=9)
    ap.add_argument("--ours-json", action="store_true", help="only our figures, as JSON")
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
    for key, label in labels.items():
        print(row(label, lib[key], ours[key], f"  <={TARGETS[key]}", TARGETS[key]))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
