"""Shared helpers for OTRv3 unit tests: deterministic randomness and cached keys."""

from __future__ import annotations

import functools
import hashlib

from otr.crypto.dsa import DSAPrivateKey, generate_dsa_key


class CountingRng:
    """Deterministic byte source (SHA-256 in counter mode over a seed)."""

    def __init__(self, seed: bytes | str = b"seed") -> None:
        self.seed = seed.encode() if isinstance(seed, str) else seed
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self.counter += 1
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
        return out[:n]


@functools.cache
def dsa_key(name: str) -> DSAPrivateKey:
    """One generated DSA key per name, shared across tests (generation is slow-ish)."""
    return generate_dsa_key()
