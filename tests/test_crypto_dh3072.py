"""The 3072-bit DH group: parameters, validation, fixed-base powering, k_dh
encoding and the final-spec-compatible libotr-ng values."""

from __future__ import annotations

import json
import re
from typing import Any

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED, SPEC_VECTORS
from otr.crypto import dh3072
from otr.crypto.dh3072 import DH_P, DH_Q, G3, DHKeyPair
from otr.errors import InvalidGroupElement

LIBOTR_NG = json.loads((SPEC_VECTORS / "otrv4-libotr-ng-kat.json").read_text())["vectors"]


def _vector(name_part: str) -> dict[str, Any]:
    (v,) = [v for v in LIBOTR_NG if name_part in v["name"]]
    assert v["final_spec_compatible"] is True
    return v


def _spec_hex(label: str) -> int:
    text = (SHARED / "spec" / "otr-v4.md").read_text()
    start = text.index(label)
    block = text[start + len(label) : text.index("\n\n", start + len(label) + 2)]
    return int(re.sub(r"\s", "", block), 16)


def test_parameters_match_the_spec() -> None:
    assert _spec_hex("Hexadecimal value of dh_p:") == DH_P
    assert _spec_hex("Hexadecimal value of dh_q:") == DH_Q
    assert DH_Q == (DH_P - 1) // 2 and G3 == 2
    assert DH_P.bit_length() == 3072 and dh3072.MODULUS_BYTES == 384
    assert gmpy2.is_prime(DH_P) and gmpy2.is_prime(DH_Q)
    # 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 * pi) + 1690314)
    with gmpy2.context(precision=3200):
        pi_part = int(gmpy2.floor(gmpy2.const_pi() * gmpy2.mpfr(2) ** 2942))
    assert 2**3072 - 2**3008 - 1 + 2**64 * (pi_part + 1690314) == DH_P
    assert dh3072.powmod(G3, DH_Q) == 1  # g3 generates the order-q subgroup
    assert dh3072.PRIVATE_KEY_BYTES == 80


def test_group_element_range() -> None:
    assert dh3072.is_group_element(2)  # 2 is a quadratic residue (p = 7 mod 8)
    assert dh3072.is_group_element(4)
    for bad in (-1, 0, 1, DH_P - 1, DH_P, DH_P + 4):
        assert not dh3072.is_group_element(bad)
        with pytest.raises(InvalidGroupElement, match="range"):
            dh3072.check_group_element(bad)
    # p - 2 = -2 is in range but is a non-residue: outside the order-q subgroup.
    assert not dh3072.is_group_element(DH_P - 2)
    with pytest.raises(InvalidGroupElement, match="subgroup"):
        dh3072.check_group_element(DH_P - 2)


@settings(max_examples=15)
@given(st.integers(min_value=2, max_value=int(DH_P) - 2))
def test_subgroup_check_equals_the_spec_powering(x: int) -> None:
    spec = gmpy2.powmod(x, DH_Q, DH_P) == 1
    assert dh3072.is_group_element(x) == spec


@given(st.integers(min_value=0, max_value=2**700))
def test_fixed_base_powering(e: int) -> None:
    assert dh3072.powmod_g(e) == gmpy2.powmod(2, e, DH_P)


def test_fixed_base_powering_negative_exponent() -> None:
    assert dh3072.powmod_g(-1) == gmpy2.powmod(2, -1, DH_P)


def test_keypair_and_shared_secret() -> None:
    counter = iter(range(1, 100))

    def rng(n: int) -> bytes:
        return bytes([next(counter)]) * n

    a = DHKeyPair.generate(rng)
    b = DHKeyPair.generate(rng)
    assert a.secret == int.from_bytes(b"\x01" * 80, "big")
    assert a.public == gmpy2.powmod(2, a.secret, DH_P)
    assert dh3072.is_group_element(a.public)
    assert a.shared_secret(b.public) == b.shared_secret(a.public)
    with pytest.raises(InvalidGroupElement):
        a.shared_secret(1)
    with pytest.raises(ValueError):
        DHKeyPair.generate(lambda n: bytes(n - 1))
    with pytest.raises(ValueError):
        DHKeyPair.from_secret(0)
    assert str(a.secret) not in repr(a)


def test_encode_k_dh_minimal() -> None:
    assert dh3072.encode_k_dh(0) == b""
    assert dh3072.encode_k_dh(1) == b"\x01"
    assert dh3072.encode_k_dh(0x1234) == b"\x12\x34"
    with pytest.raises(ValueError):
        dh3072.encode_k_dh(-1)


def test_libotr_ng_brace_key_dh() -> None:
    v = _vector("brace keys")
    their_public = int(v["inputs"]["their_dh_public_hex"], 16)
    assert their_public == dh3072.powmod_g(2**32)
    k_dh = dh3072.shared_secret(2**33, their_public)
    enc = dh3072.encode_k_dh(k_dh)
    assert len(enc) == 384
    assert enc.hex() == v["inputs"]["k_dh_hex (minimal-length big-endian)"]


def test_libotr_ng_k_dh_with_leading_zero_byte() -> None:
    v = _vector("top byte is zero")
    ours = DHKeyPair.from_secret(int(v["inputs"]["our_private_hex (80 bytes)"], 16))
    k_dh = ours.shared_secret(int(v["inputs"]["their_public_hex (384 bytes)"], 16))
    enc = dh3072.encode_k_dh(k_dh)
    assert len(enc) == v["outputs"]["k_dh_length"] == 383
    assert enc.hex() == v["outputs"]["k_dh_hex"]
