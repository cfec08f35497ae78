"""The 1536-bit MODP group: constants, fixed-base table, range checks."""

from __future__ import annotations

import gmpy2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto import modp
from otr.errors import InvalidGroupElement

# RFC 3526 group 5: p = 2^1536 - 2^1472 - 1 + 2^64 * (floor(2^1406 * pi) + 741804)
RFC3526_OFFSET = 741804


def test_prime_matches_rfc3526_formula() -> None:
    p = int(modp.P)
    high = 2**1536 - 2**1472 - 1
    assert (p - high) % 2**64 == 0
    assert p.bit_length() == 1536
    assert gmpy2.is_prime(p) and gmpy2.is_prime(int(modp.Q))
    assert int(modp.Q) * 2 + 1 == p
    assert int(modp.G) == 2


@given(st.integers(min_value=0, max_value=2**1560))
def test_powmod_g_matches_powmod(e: int) -> None:
    assert modp.powmod_g(e) == pow(2, e, int(modp.P))


@pytest.mark.parametrize("x", [0, 1, -1])
def test_check_group_element_rejects_low(x: int) -> None:
    with pytest.raises(InvalidGroupElement):
        modp.check_group_element(x)


def test_check_group_element_bounds() -> None:
    modp.check_group_element(2)
    modp.check_group_element(modp.P - 2)
    for bad in (modp.P - 1, modp.P, modp.P + 5):
        with pytest.raises(InvalidGroupElement):
            modp.check_group_element(bad)


def test_check_exponent() -> None:
    modp.check_exponent(1)
    modp.check_exponent(modp.Q - 1)
    for bad in (0, modp.Q, modp.Q + 1):
        with pytest.raises(InvalidGroupElement):
            modp.check_exponent(bad)


def test_inverse() -> None:
    x = modp.powmod_g(12345)
    assert x * modp.inverse(x) % modp.P == 1
