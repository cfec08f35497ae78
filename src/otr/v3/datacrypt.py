"""The per-message cryptography of OTRv3 Data Messages (spec "Data Message",
"Computing AES keys, MAC keys, and the secure session id").

:class:`DirectionKeys` holds the AES-128 key and the SHA-1 MAC key of one
direction of one key pair and does the two things every data message needs:

``seal(head, ctr, plaintext, reveal) -> str``
    The encoded message ``"?OTR:" + base64(head || ctr || DATA(enc) || MAC ||
    DATA(reveal)) + "."``, where ``head`` is everything before the counter
    (protocol version through the next D-H key), ``enc`` is AES-128-CTR of
    ``plaintext`` with initial counter block ``ctr || 0^64`` and MAC is
    HMAC-SHA1 over ``head`` through ``enc``.

``open(binary, enc_start, auth_end) -> bytes | None``
    For a parsed binary message: None when ``binary[auth_end:auth_end+20]`` is
    not HMAC-SHA1 of ``binary[:auth_end]`` (compared in constant time), else the
    decryption of ``binary[enc_start:auth_end]`` with the counter that precedes
    the encrypted part's length (``binary[enc_start-12:enc_start-4]``).

Two implementations with one interface: :class:`PyDirectionKeys` here, and the C
accelerator in ``otr._speedups`` (OpenSSL's libcrypto; see :mod:`otr.accelerator`).
They are tested to agree byte for byte; :data:`DirectionKeys` is the one in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..accelerator import native
from ..crypto.primitives import AesCtr, HmacKey, consttime_equal
from ..wire.envelope import encode_otr_message
from ..wire.v3 import CTR_LEN, MAC_LEN

__all__ = ["DirectionKeys", "PyDirectionKeys"]

MAX_BINARY = 1 << 29
"""Largest binary message either implementation seals or opens (bytes)."""


class PyDirectionKeys:
    """Pure-Python :class:`DirectionKeys` (the reference for the C accelerator)."""

    __slots__ = ("_aes", "_mac")

    def __init__(self, aes_key: bytes, mac_key: bytes) -> None:
        if len(mac_key) > 64:
            raise ValueError("MAC key longer than the SHA-1 block")
        self._aes = AesCtr(aes_key)
        self._mac = HmacKey(mac_key, "sha1")

    def seal(self, head: bytes, ctr: bytes, plaintext: bytes, reveal: bytes) -> str:
        if len(ctr) != CTR_LEN:
            raise ValueError("counter must be 8 bytes")
        if len(head) + len(plaintext) + len(reveal) + CTR_LEN + MAC_LEN + 8 > MAX_BINARY:
            raise ValueError("message too long")
        enc = self._aes.crypt(ctr, plaintext)
        auth = b"".join((head, ctr, len(enc).to_bytes(4, "big"), enc))
        binary = b"".join((auth, self._mac.digest(auth), len(reveal).to_bytes(4, "big"), reveal))
        return encode_otr_message(binary)

    def open(self, binary: bytes, enc_start: int, auth_end: int) -> bytes | None:
        if (
            enc_start < CTR_LEN + 4
            or auth_end < enc_start
            or len(binary) > MAX_BINARY
            or auth_end > len(binary) - MAC_LEN
        ):
            raise ValueError("offsets outside the message")
        mac = binary[auth_end : auth_end + MAC_LEN]
        if not consttime_equal(self._mac.digest(binary[:auth_end]), mac):
            return None
        ctr = binary[enc_start - CTR_LEN - 4 : enc_start - 4]
        return self._aes.crypt(ctr, binary[enc_start:auth_end])


if TYPE_CHECKING:
    DirectionKeys = PyDirectionKeys
else:
    DirectionKeys = native.DirectionKeys if native is not None else PyDirectionKeys
