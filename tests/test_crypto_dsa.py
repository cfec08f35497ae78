"""Raw DSA over int(M) mod q (ERRATA A1), cross-checked against OpenSSL."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, utils
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto.dsa import DSAPrivateKey, DSAPublicKey, decode_pubkey, human_fingerprint
from otr.errors import DecodeError
from otr.wire.buffer import Reader

_OSSL = dsa.generate_private_key(key_size=1024)
_N = _OSSL.private_numbers()
KEY = DSAPrivateKey.from_numbers(
    _N.public_numbers.parameter_numbers.p,
    _N.public_numbers.parameter_numbers.q,
    _N.public_numbers.parameter_numbers.g,
    _N.public_numbers.y,
    _N.x,
)
PRE = utils.Prehashed(hashes.SHA1())


def _der(sig: bytes) -> bytes:
    return utils.encode_dss_signature(
        int.from_bytes(sig[:20], "big"), int.from_bytes(sig[20:], "big")
    )


@given(st.binary(min_size=32, max_size=32))
def test_our_signature_verifies_in_openssl_over_m_mod_q(m: bytes) -> None:
    sig = KEY.sign(m)
    assert len(sig) == 40
    reduced = (int.from_bytes(m, "big") % KEY.public.q).to_bytes(20, "big")
    _OSSL.public_key().verify(_der(sig), reduced, PRE)


@given(st.binary(min_size=20, max_size=20))
def test_openssl_signature_verifies_with_ours(m: bytes) -> None:
    der = _OSSL.sign(m, PRE)
    r, s = utils.decode_dss_signature(der)
    assert KEY.public.verify(m, r.to_bytes(20, "big") + s.to_bytes(20, "big"))


def test_fips_truncation_differs_for_32_byte_values() -> None:
    """ERRATA A1: libotr signs int(M) mod q; FIPS libraries truncate to 160 bits."""
    m = bytes(range(32))
    sig = KEY.sign(m)
    with pytest.raises(InvalidSignature):
        _OSSL.public_key().verify(_der(sig), m, utils.Prehashed(hashes.SHA256()))


@given(st.binary(min_size=32, max_size=32), st.integers(0, 39), st.integers(1, 255))
def test_tampered_signature_fails(m: bytes, pos: int, flip: int) -> None:
    sig = bytearray(KEY.sign(m))
    sig[pos] ^= flip
    assert not KEY.public.verify(m, bytes(sig))
    assert not KEY.public.verify(m, bytes(sig[:-1]))


def test_pubkey_round_trip_and_fingerprint() -> None:
    enc = KEY.public.encode()
    assert enc[:2] == b"\x00\x00"
    reader = Reader(enc)
    assert decode_pubkey(reader) == KEY.public
    reader.finish()
    import hashlib

    assert KEY.public.fingerprint() == hashlib.sha1(enc[2:]).digest()
    human = human_fingerprint(KEY.public.fingerprint())
    assert len(human.split(" ")) == 5 and human == human.upper()


def test_pubkey_rejects_unknown_type_and_bad_values() -> None:
    with pytest.raises(DecodeError):
        decode_pubkey(Reader(b"\x00\x01" + KEY.public.encode()[2:]))
    bad = DSAPublicKey(KEY.public.p, KEY.public.q, KEY.public.g, 1)
    with pytest.raises(DecodeError):
        decode_pubkey(Reader(bad.encode()))


def test_from_numbers_rejects_inconsistent_key() -> None:
    p = KEY.public
    with pytest.raises(ValueError):
        DSAPrivateKey.from_numbers(p.p, p.q, p.g, p.y, KEY.x + 1)


def test_sign_uses_injected_rng() -> None:
    fixed = b"\x42" * 28
    first = KEY.sign(b"y" * 32, rng=lambda n: fixed[:n])
    assert first == KEY.sign(b"y" * 32, rng=lambda n: fixed[:n])
    assert first != KEY.sign(b"y" * 32, rng=os.urandom)
