"""otr.tools.stream: XOR malleability of AES-CTR and ChaCha20 ciphertexts."""

from __future__ import annotations

import pytest

from otr.crypto import chacha20
from otr.crypto.primitives import AesCtr
from otr.tools.stream import xor_at


def test_known_plaintext_changes_under_aes_ctr_and_chacha20() -> None:
    plaintext = b"pay 10 EUR to alice"
    aes = AesCtr(bytes(range(16)))
    ctr = (7).to_bytes(8, "big")
    ct = aes.crypt(ctr, plaintext)
    assert aes.crypt(ctr, xor_at(ct, b"10", b"99", 4)) == b"pay 99 EUR to alice"
    key = bytes(range(64))
    ct4 = chacha20.encrypt(key, plaintext)
    assert chacha20.decrypt(key, xor_at(ct4, b"alice", b"mallo", 14)) == b"pay 10 EUR to mallo"


def test_bounds() -> None:
    with pytest.raises(ValueError):
        xor_at(b"abc", b"a", b"bc", 0)
    with pytest.raises(ValueError):
        xor_at(b"abc", b"ab", b"cd", 2)
    with pytest.raises(ValueError):
        xor_at(b"abc", b"a", b"b", -1)
    assert xor_at(b"abc", b"", b"", 3) == b"abc"
