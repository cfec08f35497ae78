"""Per-message cryptography of Data Messages: the C accelerator against the
pure-Python reference, and both against independent AES-CTR / HMAC-SHA1."""

from __future__ import annotations

import binascii
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from otr.accelerator import ACCELERATED
from otr.v3 import datacrypt
from otr.v3.datacrypt import PyDirectionKeys

IMPLEMENTATIONS: list[type[PyDirectionKeys]] = [PyDirectionKeys]
if ACCELERATED:
    IMPLEMENTATIONS.append(datacrypt.DirectionKeys)

keys16 = st.binary(min_size=16, max_size=16)
mac_keys = st.binary(max_size=64)
ctrs = st.binary(min_size=8, max_size=8)


def reference_seal(
    aes_key: bytes, mac_key: bytes, head: bytes, ctr: bytes, pt: bytes, reveal: bytes
) -> str:
    """Spec "Data Message", built from the `cryptography` CTR mode and stdlib HMAC."""
    enc = Cipher(algorithms.AES(aes_key), modes.CTR(ctr + bytes(8))).encryptor().update(pt)
    auth = head + ctr + len(enc).to_bytes(4, "big") + enc
    mac = hmac.digest(mac_key, auth, "sha1")
    binary = auth + mac + len(reveal).to_bytes(4, "big") + reveal
    return "?OTR:" + binascii.b2a_base64(binary, newline=False).decode() + "."


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(
    keys16,
    mac_keys,
    st.binary(max_size=300),
    ctrs,
    st.binary(max_size=200),
    st.binary(max_size=80),
)
def test_seal_matches_reference_and_opens(
    impl: type[PyDirectionKeys],
    aes_key: bytes,
    mac_key: bytes,
    head: bytes,
    ctr: bytes,
    pt: bytes,
    reveal: bytes,
) -> None:
    keys = impl(aes_key, mac_key)
    wire = keys.seal(head, ctr, pt, reveal)
    assert wire == reference_seal(aes_key, mac_key, head, ctr, pt, reveal)
    binary = binascii.a2b_base64(wire[5:-1])
    enc_start = len(head) + 12
    auth_end = enc_start + len(pt)
    assert keys.open(binary, enc_start, auth_end) == pt
    assert keys.open(binary, enc_start, auth_end) == pt  # contexts are reusable


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(keys16, mac_keys, st.binary(max_size=64), st.binary(max_size=64), st.data())
def test_any_flipped_bit_under_the_mac_is_rejected(
    impl: type[PyDirectionKeys],
    aes_key: bytes,
    mac_key: bytes,
    head: bytes,
    pt: bytes,
    data: st.DataObject,
) -> None:
    keys = impl(aes_key, mac_key)
    binary = bytearray(binascii.a2b_base64(keys.seal(head, bytes(7) + b"\x01", pt, b"")[5:-1]))
    auth_end = len(head) + 12 + len(pt)
    at = data.draw(st.integers(0, auth_end + 19))  # authenticated bytes and the MAC
    binary[at] ^= 1 << data.draw(st.integers(0, 7))
    assert keys.open(bytes(binary), len(head) + 12, auth_end) is None
    other = impl(aes_key, bytes(b ^ 1 for b in mac_key) or b"\x01")
    binary[at] ^= 0xFF  # whatever: a different MAC key never verifies
    assert other.open(bytes(binary), len(head) + 12, auth_end) is None


@given(
    keys16,
    mac_keys,
    st.binary(max_size=120),
    st.integers(-5, 130),
    st.integers(-5, 130),
)
def test_implementations_agree_on_any_input(
    aes_key: bytes, mac_key: bytes, binary: bytes, enc_start: int, auth_end: int
) -> None:
    # Offsets are the caller's (the parser's); out-of-range ones are a ValueError
    # in both, anything else gives the same answer (almost always None).
    results = []
    for impl in IMPLEMENTATIONS:
        try:
            results.append(impl(aes_key, mac_key).open(binary, enc_start, auth_end))
        except ValueError as exc:
            results.append(type(exc))
    assert all(r == results[0] for r in results)
    if 12 <= enc_start <= auth_end <= len(binary) - 20:
        assert results[0] is None or isinstance(results[0], bytes)
    else:
        assert results[0] is ValueError


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_bad_keys_and_arguments(impl: type[PyDirectionKeys]) -> None:
    with pytest.raises(ValueError):
        impl(bytes(15), bytes(20))
    with pytest.raises(ValueError):
        impl(bytes(16), bytes(65))
    keys = impl(bytes(16), bytes(20))
    with pytest.raises(ValueError):
        keys.seal(b"", bytes(7), b"x", b"")
    with pytest.raises(ValueError):
        keys.seal(b"", bytes(8), bytes(datacrypt.MAX_BINARY), b"")


@pytest.mark.skipif(not ACCELERATED, reason="C accelerator not built")
def test_c_type_rejects_misuse() -> None:
    cls = datacrypt.DirectionKeys
    keys = cls.__new__(cls)
    with pytest.raises(TypeError):
        keys.seal(b"", bytes(8), b"", b"")  # not initialised
    keys = cls(bytes(16), bytes(20))
    with pytest.raises(TypeError):
        keys.__init__(bytes(16), bytes(20))  # type: ignore[misc]
    with pytest.raises(TypeError):
        keys.seal(b"", bytes(8), b"")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keys.seal("head", bytes(8), b"", b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keys.open(b"x" * 40, "12", 12)  # type: ignore[arg-type]
    # Any buffer works where bytes are expected.
    wire = keys.seal(bytearray(3), memoryview(bytes(8)), bytearray(b"hi"), b"")
    binary = binascii.a2b_base64(wire[5:-1])
    assert keys.open(memoryview(binary), 15, 17) == b"hi"
