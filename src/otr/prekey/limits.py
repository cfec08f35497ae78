"""Rate limits for the prekey server (otr-v4-prekey-server.md "Security
Properties": draining another user's prekeys, flooding the server; issue 10
point 4).

A :class:`TokenBucket` holds up to ``burst`` tokens and regains ``rate`` per
second.  A :class:`RateLimiter` keeps one bucket per key (a requester, a
target identity) in a bounded table: idle full buckets are the ones dropped
first, so the memory used is at most ``max_keys`` buckets whatever the keys.

:meth:`RateLimiter.allow_all` checks several (limiter, key) pairs and takes a
token from each **only if every one has a token**, so a refused retrieval
costs the requester nothing, costs the target nothing and never reaches the
storage (no prekey is consumed).  ``now`` is Unix time in seconds; a clock
that goes backwards refills nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits", "TokenBucket", "allow_all"]


@dataclass
class TokenBucket:
    rate: float
    """Tokens regained per second."""
    burst: float
    """Capacity."""
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = max(self.updated, now)

    def available(self, now: float, cost: float = 1.0) -> bool:
        self.refill(now)
        return self.tokens >= cost

    def take(self, now: float, cost: float = 1.0) -> bool:
        if not self.available(now, cost):
            return False
        self.tokens -= cost
        return True


class RateLimiter:
    """One token bucket per key, at most ``max_keys`` buckets."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = 100_000) -> None:
        if rate < 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate >= 0, burst >= 1 and max_keys >= 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                # Least recently used first; a bucket used recently may be low
                # and must not be reset by dropping it.
                self._buckets.popitem(last=False)
            bucket = TokenBucket(self.rate, self.burst, self.burst, now)
            self._buckets[key] = bucket
        else:
            self._buckets.move_to_end(key)
        return bucket

    def allow(self, key: str, now: float) -> bool:
        return self.bucket(key, now).take(now)


def allow_all(checks: Sequence[tuple[RateLimiter, str]], now: float) -> bool:
    """Take one token from each (limiter, key) if all have one; else take none."""
    buckets = [limiter.bucket(key, now) for limiter, key in checks]
    if not all(b.available(now) for b in buckets):
        return False
    for b in buckets:
        b.take(now)
    return True


@dataclass(frozen=True)
class RateLimits:
    """The server's limits (defaults suit a small public server)."""

    retrievals_per_requester: tuple[float, float] = (1.0, 30.0)
    """(tokens per second, burst) for Ensemble Query Retrieval per requester."""
    retrievals_per_target: tuple[float, float] = (0.5, 20.0)
    """... per target identity: bounds how fast anyone can drain one user."""
    dake1_per_requester: tuple[float, float] = (0.2, 10.0)
    """DAKE-1 per requester (each costs the server a ring signature)."""
    max_keys: int = 100_000
    """Buckets held per limiter."""

    def limiter(self, which: tuple[float, float]) -> RateLimiter:
        return RateLimiter(which[0], which[1], max_keys=self.max_keys)
