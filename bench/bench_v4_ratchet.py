"""OTRv4 data messages through two of our double ratchets, beside libotr 4.1.1's
OTRv3 figures from the same run.

* one-way: Alice seals a 100-byte message, it is encoded, decoded and opened by
  Bob (same chain, no new keys), in a chain whose messages carry the 384-byte DH
  key (ratchet id % 3 == 0) and in one whose messages do not; then the same on
  the fused path (``seal_wire`` to the ``?OTR:`` text, ``open_wire`` from it,
  which is what ``otr.Conversation`` uses for such messages);
* ping-pong: the direction alternates every message, so every message starts a
  new ratchet (new ECDH key each turn, a 3072-bit DH key every third).

Both print the median and the best of ``--runs`` runs (per message, µs) and,
unless ``--no-libotr``, the ratio to libotr's v3 one-way and ping-pong figures
(``otrpeer --bench``, as ``bench/run_all.py`` runs it).  Targets: one-way at
most 4x libotr v3 one-way, ping-pong at most 1x libotr v3 ping-pong.

    python bench/bench_v4_ratchet.py [--runs 9] [--msgs 2000] [--no-libotr]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

from otr.crypto.dh3072 import DHKeyPair
from otr.v4.keys import ECDHKeyPair
from otr.v4.ratchet import DoubleRatchet, RatchetStart
from otr.wire.v4.data import DataMessage4

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGETS = {"oneway_us": 4.0, "pingpong_us": 1.0}


def _rng(seed: bytes):  # type: ignore[no-untyped-def]
    state = hashlib.sha256(seed).digest()

    def rng(n: int) -> bytes:
        nonlocal state
        state = hashlib.sha256(state).digest()
        return hashlib.shake_256(state).digest(n)

    return rng


def pair(seed: bytes) -> tuple[DoubleRatchet, DoubleRatchet]:
    """Two ratchets as a DAKE leaves them (shared K, first key pairs)."""
    rng = _rng(seed)
    k = rng(64)
    ea, eb = ECDHKeyPair.generate(rng), ECDHKeyPair.generate(rng)
    da, db = DHKeyPair.generate(rng), DHKeyPair.generate(rng)
    alice = DoubleRatchet.from_dake(
        RatchetStart("alice", k, ea, da, eb.public, db.public, 1, 2), _rng(seed + b"a"), 0.0
    )
    bob = DoubleRatchet.from_dake(
        RatchetStart("bob", k, eb, db, ea.public, da.public, 2, 1), _rng(seed + b"b"), 0.0
    )
    return alice, bob


def one_way(msgs: int, plaintext: bytes, *, dh_key: bool = True, fused: bool = False) -> float:
    """Per message; ``dh_key``: in ratchet 0, whose messages carry the 384-byte DH key
    (one chain in three), else in ratchet 1 (no DH key).  ``fused``: through
    ``seal_wire`` / ``open_wire`` (the plaintext without its final NUL, which
    ``seal_wire`` adds)."""
    alice, bob = pair(b"one-way")
    if not dh_key:
        bob.open(alice.seal(plaintext, 0, 0.0).message, 0.0)
        alice.open(bob.seal(plaintext, 0, 0.0).message, 0.0)
    if fused:
        text = plaintext[:-1]
        bob.open(alice.seal(plaintext, 0, 0.0).message, 0.0)  # any rotation due, on seal()
        t0 = time.perf_counter()
        for _ in range(msgs):
            wire = alice.seal_wire(text, 0)
            assert wire is not None and bob.open_wire(wire, 0.0) is not None
        return (time.perf_counter() - t0) / msgs * 1e6
    t0 = time.perf_counter()
    for _ in range(msgs):
        data = alice.seal(plaintext, 0, 0.0).message.encode()
        bob.open(DataMessage4.decode(data), 0.0)
    return (time.perf_counter() - t0) / msgs * 1e6


def ping_pong(msgs: int, plaintext: bytes) -> float:
    alice, bob = pair(b"ping-pong")
    bob.open(alice.seal(plaintext, 0, 0.0).message, 0.0)  # both sides have a receiving chain
    t0 = time.perf_counter()
    for n in range(msgs):
        sender, receiver = (bob, alice) if n % 2 == 0 else (alice, bob)
        data = sender.seal(plaintext, 0, 0.0).message.encode()
        assert receiver.open(DataMessage4.decode(data), 0.0).new_ratchet
    return (time.perf_counter() - t0) / msgs * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--no-libotr", action="store_true", help="only our figures")
    args = ap.parse_args()
    plaintext = bytes(ord("a") + i % 26 for i in range(100)) + b"\0"
    ours = {
        "oneway_us": [one_way(args.msgs, plaintext) for _ in range(args.runs)],
        "oneway_nodh_us": [one_way(args.msgs, plaintext, dh_key=False) for _ in range(args.runs)],
        "oneway_fused_us": [one_way(args.msgs, plaintext, fused=True) for _ in range(args.runs)],
        "oneway_fused_nodh_us": [
            one_way(args.msgs, plaintext, dh_key=False, fused=True) for _ in range(args.runs)
        ],
        "pingpong_us": [ping_pong(max(30, args.msgs // 10), plaintext) for _ in range(args.runs)],
    }
    labels = {
        "oneway_us": "v4 one-way msg (µs)",
        "oneway_nodh_us": "  same, no DH key (µs)",
        "oneway_fused_us": "v4 one-way, fused (µs)",
        "oneway_fused_nodh_us": "  same, no DH key (µs)",
        "pingpong_us": "v4 ping-pong msg (µs)",
    }
    if args.no_libotr:
        for key, label in labels.items():
            median, best = statistics.median(ours[key]), min(ours[key])
            print(f"{label:<26} median {median:9.2f}  best {best:9.2f}")
        return 0
    import run_all

    lib = run_all.libotr_bench(args.runs, args.msgs, 1)
    print("libotr column: OTRv3 (libotr 4.1.1 has no OTRv4); otr column: our OTRv4 ratchet")
    print(f"{'':<26}{'---------- median ----------':>30}{'----------- best -----------':>30}")
    heads = f"{'libotr v3':>13}{'otr v4':>11}{'ratio':>6}"
    print(f"{'operation':<26}{heads}{heads}  target")
    for key in ("oneway_nodh_us", "oneway_fused_us", "oneway_fused_nodh_us"):
        lib[key] = lib["oneway_us"]
    for key, label in labels.items():
        target = TARGETS.get(key, TARGETS["oneway_us"])
        print(run_all.row(label, lib[key], ours[key], f"  <={target}", target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
