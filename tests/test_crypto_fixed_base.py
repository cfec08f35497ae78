"""otr.crypto.fixed_base: table exponentiation equals Python's pow, in and out of range."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from otr.crypto.fixed_base import FixedBase

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
