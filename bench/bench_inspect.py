"""``otr inspect`` throughput: a recorded OTRv3 conversation decoded and decrypted.

    python bench/bench_inspect.py [--rounds 100] [--runs 5]

Two of our Conversations run the AKE and then ``rounds`` exchanges (two messages one way,
one back: a D-H key rotation on every turn); Alice's randomness is kept so that her D-H
private keys can be handed to the inspector, as a party who wants to read or forge its own
transcript would.  Timed: :func:`otr.tools.inspect.inspect_transcript` over the whole
transcript without keys (decoding only) and with Alice's D-H private keys (every Data
Message decrypted: one modular exponentiation per key pair, found by the key ids), the
median and best of ``runs``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import deque

from otr import Conversation, Policy, events, generate_dsa_key
from otr.crypto import modp
from otr.tools.inspect import KeyRing, inspect_transcript


class KeepingRng:
    """os.urandom that keeps the draws of a D-H private key's length."""

    def __init__(self) -> None:
        self.dh_secrets: list[int] = []

    def __call__(self, n: int) -> bytes:
        out = os.urandom(n)
        if n == modp.DH_PRIVATE_BITS // 8:
            self.dh_secrets.append(int.from_bytes(out, "big"))
        return out


def record(rounds: int) -> tuple[list[str], list[int]]:
    rng = KeepingRng()
    policy = Policy.named("MANUAL")
    alice = Conversation(generate_dsa_key(), "bob", account="alice", policy=policy, rng=rng)
    bob = Conversation(generate_dsa_key(), "alice", account="bob", policy=policy)
    wire: list[str] = []

    def pump(sender: Conversation, out: list[events.Event]) -> None:
        queue = deque((sender, e) for e in out)
        while queue:
            src, e = queue.popleft()
            if isinstance(e, events.SendMessage):
                wire.append(e.text)
                dst = bob if src is alice else alice
                queue.extend((dst, r) for r in dst.receive(e.text, 0.0))

    pump(alice, alice.start(0.0))
    for i in range(rounds):
        pump(alice, alice.send(f"message {i} from alice", 0.0))
        pump(alice, alice.send(f"message {i}' from alice", 0.0))
        pump(bob, bob.send(f"message {i} from bob", 0.0))
    return [w.replace("\n", " ") for w in wire], rng.dh_secrets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    wire, secrets = record(args.rounds)
    keys = KeyRing(dh_secrets=tuple(secrets))
    print(f"transcript: {len(wire)} messages, {len(secrets)} D-H private keys of Alice")
    for label, ring in (("decode only", None), ("decode + decrypt", keys)):
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            reports = inspect_transcript(wire, ring)
            times.append(time.perf_counter() - t)
        opened = sum("decrypted" in (r.inner or r).sections for r in reports)
        per = statistics.median(times) / len(wire) * 1e6
        print(
            f"{label:<18} median {statistics.median(times) * 1e3:8.1f} ms"
            f"  best {min(times) * 1e3:8.1f} ms  ({per:.0f} µs/message, {opened} decrypted)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
