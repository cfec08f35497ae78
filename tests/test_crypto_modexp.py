"""otr.crypto.modexp: OpenSSL's constant-time exponentiation against GMP's."""

from __future__ import annotations

import os

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otr import accelerator
from otr.crypto import dh3072, modp
from otr.crypto.modexp import ModExp

GROUPS = {"modp1536": modp.P, "dh3072": dh3072.DH_P}


@pytest.mark.parametrize("name", list(GROUPS))
@settings(max_examples=40, deadline=None)
@given(base=st.integers(min_value=0), exponent=st.integers(min_value=0, max_value=2**1600))
def test_matches_gmp(name: str, base: int, exponent: int) -> None:
    p = GROUPS[name]
    base %= int(p)
    assert ModExp(p)(base, exponent) == gmpy2.powmod(base, exponent, p)


@pytest.mark.parametrize("name", list(GROUPS))
def test_edges_and_fallback(name: str) -> None:
    p = int(GROUPS[name])
    f = ModExp(p)
    x = int.from_bytes(os.urandom(80), "big")
    for base, exponent in [(0, 0), (0, 5), (1, x), (p - 1, 2), (p - 1, x), (2, 0), (p + 5, x)]:
        # p + 5 is outside [0, p): the GMP path, with the same answer.
        assert f(base, exponent) == gmpy2.powmod(base, exponent, p)


def test_native_is_used_when_accelerated() -> None:
    f = ModExp(dh3072.DH_P)
    assert (f._native is not None) == (accelerator.bignum is not None)
    if os.environ.get("OTR_REQUIRE_ACCELERATOR"):
        assert f._native is not None


def test_rejects_even_modulus() -> None:
    if accelerator.bignum is None:
        pytest.skip("no C accelerator")
    with pytest.raises(ValueError):
        accelerator.bignum.Modulus(b"\x10")
