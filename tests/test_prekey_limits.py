"""Token buckets (otr.prekey.limits)."""

from __future__ import annotations

import pytest

from otr.prekey.limits import RateLimiter, RateLimits, TokenBucket, allow_all


def test_bucket_refills_at_rate_up_to_burst() -> None:
    b = TokenBucket(rate=2.0, burst=3.0, tokens=3.0, updated=0.0)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.take(0.5) and not b.take(0.5)
    assert b.available(100.0) and b.tokens == 3.0
    b.tokens = 0.0
    assert not b.available(50.0)  # the clock went backwards: nothing refilled
    assert b.updated == 100.0


def test_limiter_keys_are_independent_and_bounded() -> None:
    lim = RateLimiter(0.0, 2.0, max_keys=3)
    assert lim.allow("a", 0) and lim.allow("a", 0) and not lim.allow("a", 0)
    assert lim.allow("b", 0)
    for k in "cdef":
        lim.allow(k, 0)
    assert len(lim) == 3
    with pytest.raises(ValueError):
        RateLimiter(1.0, 0.5)


def test_allow_all_takes_nothing_when_one_refuses() -> None:
    requester, target = RateLimiter(0.0, 5.0), RateLimiter(0.0, 1.0)
    assert allow_all([(requester, "alice"), (target, "bob")], 0)
    for _ in range(3):
        assert not allow_all([(requester, "alice"), (target, "bob")], 0)
    assert requester.bucket("alice", 0).tokens == 4.0  # the refusals cost alice nothing
    assert allow_all([(requester, "alice"), (target, "carol")], 0)


def test_defaults() -> None:
    limits = RateLimits()
    lim = limits.limiter(limits.dake1_per_requester)
    assert lim.rate == 0.2 and lim.burst == 10.0 and lim.max_keys == limits.max_keys
