"""TLV records inside the plaintext of a Data Message (OTRv3 spec "Data Message").

The decrypted plaintext is a human-readable message, optionally followed by a single NUL and
zero or more TLV records with no padding between them.  Each record is Type (SHORT),
Length (SHORT), then Length bytes of Value.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ..errors import DecodeError
from ..events import Tlv

__all__ = [
    "DISCONNECTED",
    "EXTRA_SYMMETRIC_KEY",
    "MAX_TLV_VALUE",
    "PADDING",
    "SMP1",
    "SMP1Q",
    "SMP2",
    "SMP3",
    "SMP4",
    "SMP_ABORT",
    "decode_tlvs",
    "encode_tlvs",
    "join_plaintext",
    "split_plaintext",
]

# Spec "Data Message", TLV types.
PADDING = 0
"""Type 0: padding; the value is ignored."""
DISCONNECTED = 1
"""Type 1: the sender has ended the private conversation."""
SMP1 = 2
"""Type 2: SMP message 1."""
SMP2 = 3
"""Type 3: SMP message 2."""
SMP3 = 4
"""Type 4: SMP message 3."""
SMP4 = 5
"""Type 5: SMP message 4."""
SMP_ABORT = 6
"""Type 6: SMP abort."""
SMP1Q = 7
"""Type 7: SMP message 1 with a question."""
EXTRA_SYMMETRIC_KEY = 8
"""Type 8: use the extra symmetric key (4-byte use indication, then use-specific data)."""

MAX_TLV_VALUE = 0xFFFF
"""The Length field is a SHORT."""

_HEADER = struct.Struct(">HH")


def encode_tlvs(tlvs: Iterable[Tlv]) -> bytes:
    """Type (SHORT) || Length (SHORT) || Value for each record, concatenated."""
    parts: list[bytes] = []
    for tlv in tlvs:
        if not 0 <= tlv.type <= 0xFFFF:
            raise ValueError(f"TLV type {tlv.type} does not fit a SHORT")
        if len(tlv.value) > MAX_TLV_VALUE:
            raise ValueError(f"TLV value of {len(tlv.value)} bytes exceeds {MAX_TLV_VALUE}")
        parts.append(_HEADER.pack(tlv.type, len(tlv.value)))
        parts.append(bytes(tlv.value))
    return b"".join(parts)


def decode_tlvs(data: bytes) -> list[Tlv]:
    """Every TLV record in ``data``, strictly: a truncated header or value raises
    :class:`~otr.errors.DecodeError` (libotr silently drops such a tail)."""
    out: list[Tlv] = []
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if len(view) - pos < _HEADER.size:
            raise DecodeError("truncated TLV header")
        tlv_type, length = _HEADER.unpack_from(view, pos)
        pos += _HEADER.size
        if len(view) - pos < length:
            raise DecodeError("truncated TLV value")
        out.append(Tlv(tlv_type, bytes(view[pos : pos + length])))
        pos += length
    return out


def split_plaintext(plaintext: bytes) -> tuple[bytes, bytes]:
    """Split a decrypted plaintext at its first NUL: (message, TLV bytes), the NUL dropped.

    Without a NUL the whole plaintext is the message and there are no TLVs.
    """
    message, nul, tlv_bytes = plaintext.partition(b"\0")
    return message, tlv_bytes if nul else b""


def join_plaintext(message: bytes, tlvs: Iterable[Tlv]) -> bytes:
    """``message`` || NUL || the encoded TLVs (the inverse of :func:`split_plaintext`).

    ``message`` must not contain a NUL: the receiver would read what follows it as TLVs.
    """
    if b"\0" in message:
        raise ValueError("message text must not contain NUL")
    return message + b"\0" + encode_tlvs(tlvs)
