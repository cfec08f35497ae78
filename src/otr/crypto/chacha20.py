"""ChaCha20 as the final OTRv4 spec uses it for data messages (otr-v4.md "Data
Message Format", "When you send a Data Message", "When you receive a Data
Message"; RFC 7539 / RFC 8439 section 2.4).

* Key: the first 32 bytes of the 64-byte ``MKenc`` (a fresh key per message).
* Nonce: the 12-byte NONCE, always zero (the message carries no nonce field).
* Initial block counter: 0 - the spec does not say; otr4j (BouncyCastle
  ``ChaCha7539Engine``) starts at 0 (ERRATA B13).  libotr-ng instead uses
  XSalsa20 with a random 24-byte nonce carried in the message (an older spec
  revision, ERRATA C) and does not interoperate.

The cipher itself comes from ``cryptography`` (OpenSSL), whose ChaCha20 takes a
16-byte "nonce" that is the 4-byte little-endian block counter followed by the
12-byte RFC 7539 nonce.  Encryption and decryption are the same XOR.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

__all__ = ["KEY_BYTES", "NONCE", "chacha20", "decrypt", "encrypt"]

KEY_BYTES: Final = 32
NONCE: Final = bytes(12)
"""The spec's NONCE: 12 bytes, always 0."""


def chacha20(key: bytes, data: bytes, *, nonce: bytes = NONCE, counter: int = 0) -> bytes:
    """RFC 7539 ChaCha20 keystream XOR ``data`` (32-byte key, 12-byte nonce)."""
    if len(key) != KEY_BYTES:
        raise ValueError("ChaCha20 key must be 32 bytes")
    if len(nonce) != 12:
        raise ValueError("ChaCha20 (RFC 7539) nonce must be 12 bytes")
    if not 0 <= counter < 2**32:
        raise ValueError("block counter out of range")
    full_nonce = counter.to_bytes(4, "little") + nonce
    enc = Cipher(algorithms.ChaCha20(key, full_nonce), mode=None).encryptor()
    return enc.update(data) + enc.finalize()


def encrypt(mk_enc: bytes, plaintext: bytes) -> bytes:
    """``Chacha20_Enc(MKenc, nonce=0, m)`` using only the first 32 bytes of MKenc."""
    if len(mk_enc) < KEY_BYTES:
        raise ValueError("MKenc must be at least 32 bytes")
    return chacha20(mk_enc[:KEY_BYTES], plaintext)


def decrypt(mk_enc: bytes, ciphertext: bytes) -> bytes:
    """``ChaCha20_Dec(MKenc, nonce=0, c)``: the same keystream XOR as :func:`encrypt`."""
    return encrypt(mk_enc, ciphertext)
