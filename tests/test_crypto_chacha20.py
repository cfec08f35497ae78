"""ChaCha20 for data messages: RFC 8439 vectors, the spec's key/nonce/counter
choices, and a cross-check against pycryptodome's independent ChaCha20."""

from __future__ import annotations

import pytest
from Crypto.Cipher import ChaCha20 as PyCryptodomeChaCha20
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto import chacha20

# RFC 8439 appendix A.1, test vector #1: all-zero key and nonce, counter 0.
ZERO_KEYSTREAM = bytes.fromhex(
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
)

# RFC 8439 section 2.4.2.
SUNSCREEN_KEY = bytes(range(32))
SUNSCREEN_NONCE = bytes.fromhex("000000000000004a00000000")
SUNSCREEN_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
    b"the future, sunscreen would be it."
)
SUNSCREEN_CIPHERTEXT = bytes.fromhex(
    "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
    "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
    "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
    "5af90bbf74a35be6b40b8eedf2785e42874d"
)


def test_rfc8439_zero_vector_is_the_spec_configuration() -> None:
    # nonce 0 and counter 0 are the defaults, i.e. what data messages use.
    assert chacha20.chacha20(bytes(32), bytes(64)) == ZERO_KEYSTREAM
    assert chacha20.encrypt(bytes(64), bytes(64)) == ZERO_KEYSTREAM
    assert bytes(12) == chacha20.NONCE


def test_rfc8439_sunscreen() -> None:
    ct = chacha20.chacha20(SUNSCREEN_KEY, SUNSCREEN_PLAINTEXT, nonce=SUNSCREEN_NONCE, counter=1)
    assert ct == SUNSCREEN_CIPHERTEXT
    pt = chacha20.chacha20(SUNSCREEN_KEY, ct, nonce=SUNSCREEN_NONCE, counter=1)
    assert pt == SUNSCREEN_PLAINTEXT


@given(st.binary(min_size=64, max_size=64), st.binary(max_size=300))
def test_encrypt_matches_independent_implementation(mk_enc: bytes, message: bytes) -> None:
    ours = chacha20.encrypt(mk_enc, message)
    ref = PyCryptodomeChaCha20.new(key=mk_enc[:32], nonce=bytes(12)).encrypt(message)
    assert ours == ref
    assert chacha20.decrypt(mk_enc, ours) == message
    assert len(ours) == len(message)


@given(st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 2), st.binary(max_size=200))
def test_counter_matches_independent_implementation(key: bytes, counter: int, data: bytes) -> None:
    nonce = bytes(range(12))
    ref = PyCryptodomeChaCha20.new(key=key, nonce=nonce)
    ref.seek(64 * counter)
    assert chacha20.chacha20(key, data, nonce=nonce, counter=counter) == ref.encrypt(data)


def test_only_first_32_bytes_of_mkenc_are_used() -> None:
    mk = bytes(range(64))
    other = mk[:32] + bytes(32)
    msg = b"hi there" * 20
    assert chacha20.encrypt(mk, msg) == chacha20.encrypt(other, msg)
    assert chacha20.encrypt(mk, msg) != chacha20.encrypt(bytes(32) + mk[32:], msg)
    assert chacha20.encrypt(mk, b"") == b""


def test_argument_checks() -> None:
    with pytest.raises(ValueError):
        chacha20.encrypt(bytes(31), b"x")
    with pytest.raises(ValueError):
        chacha20.chacha20(bytes(33), b"x")
    with pytest.raises(ValueError):
        chacha20.chacha20(bytes(32), b"x", nonce=bytes(8))
    with pytest.raises(ValueError):
        chacha20.chacha20(bytes(32), b"x", counter=2**32)
