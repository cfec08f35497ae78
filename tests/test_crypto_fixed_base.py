"""otr.crypto.fixed_base: table exponentiation equals Python's pow, in and out of range."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otr.crypto.fixed_base import Comb, FixedBase

# A 127-bit prime keeps the table small; the algorithm does not depend on the size.
_P = 2**127 - 1
_POWERS = FixedBase(3, _P, 4)


@given(st.integers(min_value=0, max_value=2**40))
def test_matches_pow_inside_and_beyond_the_window(e: int) -> None:
    assert _POWERS.pow(e) == pow(3, e, _P)


def test_edges() -> None:
    for e in (0, 1, 255, 256, 2**32 - 1, 2**32, 2**200 + 5):
        assert _POWERS.pow(e) == pow(3, e, _P), e
    assert _POWERS.pow(-1) * 3 % _P == 1  # negative: plain powmod (an inverse)


# -- the comb, and the two tiers of FixedBase -------------------------------------------

_TIERED = FixedBase(5, _P, 16, comb_bits=40)


@given(st.integers(min_value=0, max_value=2**44 - 1), st.integers(min_value=1, max_value=70))
def test_comb_matches_pow(e: int, bits: int) -> None:
    comb = Comb(7, _P, bits)
    assert comb.bits >= bits and comb.bits % 8 == 0
    e %= 1 << comb.bits
    assert comb.pow(e) == pow(7, e, _P)


def test_comb_edges() -> None:
    comb = Comb(3, _P, 64)
    for e in (0, 1, 2, 255, 2**8, 2**63, 2**64 - 1):
        assert comb.pow(e) == pow(3, e, _P), e
    assert comb.memory > 0


def test_short_exponents_use_the_comb_until_a_long_one_needs_the_table() -> None:
    powers = FixedBase(5, _P, 16, comb_bits=40)
    assert powers.memory == {"comb": 0, "table": 0}
    assert powers.pow(2**40 - 1) == pow(5, 2**40 - 1, _P)
    assert powers.memory["comb"] > 0 and powers.memory["table"] == 0
    assert powers.pow(2**100 + 3) == pow(5, 2**100 + 3, _P)  # within the window: table
    assert powers.memory["table"] > 0
    for e in (0, 7, 2**40 - 1, 2**128 - 1, 2**128, 2**300):
        assert powers.pow(e) == pow(5, e, _P), e


@given(st.integers(min_value=0, max_value=2**140))
def test_tiered_matches_pow(e: int) -> None:
    assert _TIERED.pow(e) == pow(5, e, _P)


def test_comb_hands_over_to_the_table_after_upgrade_after_uses() -> None:
    powers = FixedBase(5, _P, 16, comb_bits=40, upgrade_after=3)
    for e in (1, 2**39, 2**40 - 1):
        assert powers.pow(e) == pow(5, e, _P)
    assert powers.rows == 0 and powers.memory["table"] == 0
    assert powers.pow(12345) == pow(5, 12345, _P)  # the fourth: rows for 40 bits
    assert powers.rows == 5
    assert powers.pow(2**100 + 1) == pow(5, 2**100 + 1, _P)  # a longer one: more rows
    assert powers.rows == 13
    for e in (0, 3, 2**40 - 1, 2**104 - 1, 2**128 - 1, 2**128):
        assert powers.pow(e) == pow(5, e, _P), e
