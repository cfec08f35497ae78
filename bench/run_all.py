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


def libotr_bench(runs: int, msgs: int, smp_runs: int) -> dict[str, float]:
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
        "ake_ms": data["ake_v3_ms"]["median"],
        "oneway_us": data["data_oneway_us_per_msg"]["median"],
        "pingpong_us": data["data_pingpong_us_per_msg"]["median"],
        "smp_ms": data["smp_ms"]["median"],
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


def ours_bench(runs: int, msgs: int, smp_runs: int) -> dict[str, float]:
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
    return {
        "ake_ms": statistics.median(ake),
        "oneway_us": statistics.median(oneway),
        "pingpong_us": statistics.median(pingpong),
        "smp_ms": statistics.median(smp) if smp else float("nan"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--smp-runs", type=int, default=9)
    args = ap.parse_args()
    lib = libotr_bench(args.runs, args.msgs, args.smp_runs)
    ours = ours_bench(args.runs, args.msgs, args.smp_runs)
    print(f"{'operation':<26}{'libotr 4.1.1':>14}{'otr (ours)':>14}{'ratio':>9}{'target':>9}")
    labels = {
        "ake_ms": "full AKE (ms)",
        "oneway_us": "one-way msg (µs)",
        "pingpong_us": "ping-pong msg (µs)",
        "smp_ms": "full SMP (ms)",
    }
    for key, label in labels.items():
        ratio = ours[key] / lib[key]
        mark = "ok" if ratio <= TARGETS[key] else "MISS"
        print(
            f"{label:<26}{lib[key]:>14.2f}{ours[key]:>14.2f}{ratio:>8.2f}x"
            f"{'<=' + str(TARGETS[key]):>7} {mark}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
