"""The first AKE of a fresh process, beside libotr 4.1.1's AKE, in one run (issue 12,
"A cheap first AKE").

Each sample is a new Python process that imports ``otr``, makes two DSA keys (not
timed), then times its first full v3 AKE (query to both sides secured, two of our
``Conversation`` objects, as in :mod:`run_all`), a second one (warm), then its first
and second OTRv4 DAKE (two :class:`otr.v4.dake.Dake` objects, as in
:mod:`bench_v4_dake`; long-term keys and profiles made before timing).  It also
reports the memory the generators' precomputations hold
(``otr.crypto.modp.G_POWERS``, ``otr.crypto.dh3072.G_POWERS``) and, for
information, what building the full byte-window table would have cost.  libotr's
figure is the AKE of its own benchmark (``otrpeer --bench``).

    python bench/bench_first_ake.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

TARGETS = {"first_ake_ms": 1.0, "warm_ake_ms": 0.5, "first_dake_ms": 3.0, "warm_dake_ms": 3.0}
"""Ours / libotr's v3 AKE, at most (judged on the best runs, as in run_all); the OTRv4
DAKE's target is bench_v4_dake's (3x libotr's v3 AKE), for the first one too."""

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from run_all import Pair
from otr import events as ev
from otr.crypto import dh3072, modp
from otr.crypto.fixed_base import FixedBase
imported = time.perf_counter() - t0

def ake() -> float:
    pair = Pair()
    t = time.perf_counter()
    seen = pair.pump(pair.a, pair.a.start())
    took = time.perf_counter() - t
    assert sum(isinstance(e, ev.SessionSecured) for e in seen) == 2, seen
    return took * 1e3

first = ake()
warm = ake()
from bench_v4_dake import _dake, one_dake
alice = _dake(0x1111_1111, "alice@example.org", "bob@example.org")
bob = _dake(0x2222_2222, "bob@example.org", "alice@example.org")
first_dake = one_dake(alice, bob)
warm_dake = one_dake(alice, bob)
memory = {"modp": modp.G_POWERS.memory, "dh3072": dh3072.G_POWERS.memory}
t = time.perf_counter()
full = FixedBase(modp.G, modp.P, modp.MODULUS_BYTES + 1)
full.pow(1 << 1500)
table_ms = (time.perf_counter() - t) * 1e3
print(json.dumps({
    "import_ms": imported * 1e3, "first_ake_ms": first, "warm_ake_ms": warm,
    "first_dake_ms": first_dake, "warm_dake_ms": warm_dake, "memory": memory,
    "full_table_ms": table_ms, "full_table_bytes": full.memory["table"],
}))
"""


def ours(runs: int) -> list[dict[str, object]]:
    out = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(HERE)],
            check=True,
            capture_output=True,
            text=True,
        )
        out.append(json.loads(proc.stdout))
    return out


def _figures(samples: list[dict[str, object]], key: str) -> list[float]:
    return [float(s[key]) for s in samples]  # type: ignore[arg-type]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from run_all import libotr_bench, row

    t0 = time.perf_counter()
    lib = libotr_bench(args.runs, 10, 0)["ake_ms"]
    samples = ours(args.runs)
    print(f"first AKE in a fresh process ({args.runs} processes; {time.perf_counter() - t0:.1f} s)")
    print(f"{'':<26}{'---------- median ----------':>30}{'----------- best -----------':>30}")
    heads = f"{'libotr 4.1.1':>13}{'otr (ours)':>11}{'ratio':>6}"
    print(f"{'operation':<26}{heads}{heads}  target")
    labels = {
        "first_ake_ms": "first AKE (ms)",
        "warm_ake_ms": "second AKE (ms)",
        "first_dake_ms": "first v4 DAKE (ms)",
        "warm_dake_ms": "second v4 DAKE (ms)",
    }
    for key, label in labels.items():
        target = TARGETS[key]
        print(row(label, lib, _figures(samples, key), f"  <={target}", target))
    med = statistics.median
    print(f"import otr (ms):            {med(_figures(samples, 'import_ms')):.1f} median")
    memory = samples[-1]["memory"]
    assert isinstance(memory, dict)
    for group, held in memory.items():
        print(f"{group} generator precomputation after the AKEs: {held}")
    print(
        "for information, the full 1536-bit byte-window table (built only when SMP first "
        f"needs it): {med(_figures(samples, 'full_table_ms')):.1f} ms, "
        f"{float(samples[-1]['full_table_bytes']) / 2**20:.1f} MiB"  # type: ignore[arg-type]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
