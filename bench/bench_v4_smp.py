"""SMP v4 (Ed448) between two of ours, beside libotr 4.1.1's OTRv3 SMP, in one run.

    python bench/bench_v4_smp.py [--runs 15] [--no-libotr]

Ours: a full exchange between two :class:`otr.smp.v4.Smp` state machines (message 1 to
message 4, both sides verifying every proof and deciding), with ``os.urandom``.  The
v4 data messages that carry the TLVs are not included; ``bench/run_all.py`` times SMP
v4 through two Conversations too, where each of the four messages starts a new
ratchet.  libotr: the "full SMP" of its own benchmark (``otrpeer --bench``, OTRv3 over
the 1536-bit group, through data messages), the figure ``bench/run_all.py`` reports.
Target (issue 9): ours <= 0.15x libotr's v3 SMP, judged on the best run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from otr.events import SmpRequested, SmpSucceeded
from otr.smp.v4 import Smp

TARGET = 0.15
FP_A = bytes(range(56))
FP_B = bytes(range(100, 156))
SSID = os.urandom(8)


def one_smp(secret: bytes) -> None:
    a = Smp(FP_A, FP_B, SSID, os.urandom)
    b = Smp(FP_B, FP_A, SSID, os.urandom)
    s1 = a.start(secret, "Where did we meet?")
    assert b.receive(s1.tlvs[0]).events == (SmpRequested("Where did we meet?"),)
    s2 = b.respond(secret)
    s3 = a.receive(s2.tlvs[0])
    s4 = b.receive(s3.tlvs[0])
    assert s4.events == (SmpSucceeded(),)
    assert a.receive(s4.tlvs[0]).events == (SmpSucceeded(),)


def ours_bench(runs: int) -> list[float]:
    one_smp(b"warm-up")
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        one_smp(b"correct horse battery staple")
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-libotr", action="store_true", help="only our figures")
    args = ap.parse_args()
    lib: list[float] | None = None
    if not args.no_libotr:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import run_all

        lib = run_all.libotr_bench(1, 10, args.runs)["smp_ms"]
    ours = ours_bench(args.runs)
    print(f"{'':<28}{'median':>10}{'best':>10}")
    print(f"{'SMP v4, ours (ms)':<28}{statistics.median(ours):>10.2f}{min(ours):>10.2f}")
    if lib is None:
        return 0
    print(f"{'SMP v3, libotr 4.1.1 (ms)':<28}{statistics.median(lib):>10.2f}{min(lib):>10.2f}")
    med = statistics.median(ours) / statistics.median(lib)
    best = min(ours) / min(lib)
    verdict = "ok" if best <= TARGET else "MISS"
    print(f"{'ratio ours/libotr':<28}{med:>9.3f}x{best:>9.3f}x  target <={TARGET} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
