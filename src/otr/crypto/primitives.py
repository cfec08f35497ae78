"""Symmetric primitives for OTRv3 (spec "Encoded messages", "Data types").

AES-128-CTR, SHA-1/SHA-256 and their HMACs, all from maintained libraries
(`cryptography` for AES, the standard library's OpenSSL-backed hashlib/hmac).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "AesCtr",
    "HmacKey",
    "aes128_ctr",
    "consttime_equal",
    "hmac_sha1",
    "hmac_sha256",
    "hmac_sha256_160",
    "sha1",
    "sha256",
]


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha1(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha1")


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def hmac_sha256_160(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256-160: the first 160 bits of HMAC-SHA256 (spec "D-H Commit Message")."""
    return hmac.digest(key, data, "sha256")[:20]


class HmacKey:
    """An HMAC key prepared once and used for many messages.

    HMAC (RFC 2104) is H((K ^ opad) || H((K ^ ipad) || m)); the two keyed hash
    states are computed once and copied per message, which costs about a third
    of a one-shot ``hmac.digest`` (this is on the per-message path)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, algorithm: str) -> None:
        inner = hashlib.new(algorithm)
        outer = hashlib.new(algorithm)
        block = inner.block_size
        if len(key) > block:
            key = hashlib.new(algorithm, key).digest()
        key = key.ljust(block, b"\0")
        inner.update(bytes(k ^ 0x36 for k in key))
        outer.update(bytes(k ^ 0x5C for k in key))
        self._inner = inner
        self._outer = outer

    def digest(self, data: bytes) -> bytes:
        h = self._inner.copy()
        h.update(data)
        o = self._outer.copy()
        o.update(h.digest())
        return o.digest()


consttime_equal = hmac.compare_digest
"""Constant-time comparison of MACs and hashes (``hmac.compare_digest``)."""


_ZERO8 = bytes(8)
_BLOCK_SUFFIXES = [i.to_bytes(8, "big") for i in range(4096)]
"""Low halves of the counter blocks for messages up to 64 KiB."""


class AesCtr:
    """AES-128 in counter mode with a fixed key, for many short messages.

    OTR's counter block is an 8-byte top half followed by an 8-byte block
    counter starting at zero (spec "Data Message").  Building a fresh CTR
    cipher object per message costs more than the encryption itself, so this
    keeps one ECB context per key and produces the keystream by encrypting the
    counter blocks; the result is exactly AES-CTR.
    """

    __slots__ = ("_ecb",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("AES-128 key must be 16 bytes")
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def crypt(self, top_half: bytes, data: bytes) -> bytes:
        """Encrypt or decrypt ``data`` with initial counter ``top_half || 0^64``."""
        n = len(data)
        if n == 0:
            return b""
        if n <= 16:
            stream = self._ecb.update(top_half + _ZERO8)
        else:
            blocks = (n + 15) // 16
            if blocks <= len(_BLOCK_SUFFIXES):
                # top || 0, top || 1, ...: one join interleaves the top half.
                counters = top_half + top_half.join(_BLOCK_SUFFIXES[:blocks])
            else:
                counters = b"".join([top_half + i.to_bytes(8, "big") for i in range(blocks)])
            stream = self._ecb.update(counters)
        x = int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")
        return x.to_bytes(n, "big")


def aes128_ctr(key: bytes, data: bytes, top_half: bytes = bytes(8)) -> bytes:
    """One-shot AES-128-CTR (the AKE uses counter 0: ``top_half`` all zero)."""
    return AesCtr(key).crypt(top_half, data)
