"""OTRv2/v3 binary messages (spec "Encoded messages").

One frozen dataclass per message, decoded strictly: a short field, a length
that runs past the input, a non-minimal MPI, a wrong fixed size or trailing
bytes is a :class:`~otr.errors.DecodeError`.

Header (spec "D-H Commit Message" and following): protocol version (SHORT),
message type (BYTE) and, for version 3 only, the sender and receiver instance
tags (INT each).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import DecodeError
from .buffer import Reader, Writer, encode_mpi

__all__ = [
    "DATA",
    "DH_COMMIT",
    "DH_KEY",
    "REVEAL_SIGNATURE",
    "SIGNATURE",
    "AkeMessage",
    "DHCommit",
    "DHKey",
    "DataFields",
    "DataMessage",
    "Decoded",
    "Header",
    "Message",
    "RevealSignature",
    "Signature",
    "data_next_dh",
    "decode_message",
    "encode_data_authenticated",
    "encode_message",
    "split_data",
]

DH_COMMIT = 0x02
DATA = 0x03
DH_KEY = 0x0A
REVEAL_SIGNATURE = 0x11
SIGNATURE = 0x12

MAC_LEN = 20
"""Spec "Data types": MAC, 20 bytes."""
CTR_LEN = 8
"""Spec "Data types": CTR, 8 bytes."""
HASHED_GX_LEN = 32
"""SHA-256 output (spec "D-H Commit Message": Hashed g^x)."""
REVEALED_KEY_LEN = 16
"""The AES-128 key r (spec "Reveal Signature Message": Revealed key)."""

SUPPORTED_VERSIONS = (2, 3)


class Header(NamedTuple):
    """Protocol version, message type and (v3) instance tags."""

    version: int
    type: int
    sender_instance: int = 0
    receiver_instance: int = 0


@dataclass(frozen=True)
class DHCommit:
    """Spec "D-H Commit Message"."""

    encrypted_gx: bytes
    hashed_gx: bytes


@dataclass(frozen=True)
class DHKey:
    """Spec "D-H Key Message"."""

    gy: int


@dataclass(frozen=True)
class RevealSignature:
    """Spec "Reveal Signature Message"."""

    revealed_key: bytes
    encrypted_signature: bytes
    mac: bytes


@dataclass(frozen=True)
class Signature:
    """Spec "Signature Message"."""

    encrypted_signature: bytes
    mac: bytes


class DataMessage(NamedTuple):
    """Spec "Data Message".  ``next_dh`` is the sender's *next* D-H public key.

    (A named tuple rather than a dataclass: this is the per-message hot path.)"""

    flags: int
    sender_keyid: int
    recipient_keyid: int
    next_dh: int
    ctr: bytes
    encrypted: bytes
    mac: bytes = bytes(MAC_LEN)
    old_mac_keys: bytes = b""


AkeMessage = DHCommit | DHKey | RevealSignature | Signature
Message = AkeMessage | DataMessage

_TYPES: dict[type, int] = {
    DHCommit: DH_COMMIT,
    DHKey: DH_KEY,
    RevealSignature: REVEAL_SIGNATURE,
    Signature: SIGNATURE,
    DataMessage: DATA,
}


class Decoded(NamedTuple):
    """A decoded message; ``authenticated`` is, for a Data Message, the bytes its
    MAC covers ("everything from the Protocol version to the end of the encrypted
    message"), else empty."""

    header: Header
    message: Message
    authenticated: bytes = b""


def _header(w: Writer, version: int, mtype: int, sender: int, receiver: int) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError("unsupported protocol version")
    w.put_short(version).put_byte(mtype)
    if version == 3:
        w.put_int(sender).put_int(receiver)


_DATA_V3_HEAD = struct.Struct(">HBIIBII")
_DATA_V2_HEAD = struct.Struct(">HBBII")
_U32 = struct.Struct(">I")


def encode_data_authenticated(version: int, sender: int, receiver: int, msg: DataMessage) -> bytes:
    """The part of a Data Message covered by its MAC (a hot path: one struct pack
    for the fixed fields)."""
    if len(msg.ctr) != CTR_LEN:
        raise ValueError("CTR must be 8 bytes")
    if version == 3:
        head = _DATA_V3_HEAD.pack(
            3, DATA, sender, receiver, msg.flags, msg.sender_keyid, msg.recipient_keyid
        )
    elif version == 2:
        head = _DATA_V2_HEAD.pack(2, DATA, msg.flags, msg.sender_keyid, msg.recipient_keyid)
    else:
        raise ValueError("unsupported protocol version")
    enc = msg.encrypted
    return b"".join((head, encode_mpi(msg.next_dh), msg.ctr, _U32.pack(len(enc)), enc))


_DATA_V3_FIXED = struct.Struct(">HBIIBIII")
_DATA_V2_FIXED = struct.Struct(">HBBIII")
_CTR_AND_LEN = struct.Struct(">QI")
_MAC_AND_LEN = struct.Struct(">20xI")


DataFields = tuple[int, int, int, int, int, int, int, int, int, int]
"""What :func:`split_data` returns: ``(version, sender_instance, receiver_instance,
flags, sender_keyid, recipient_keyid, dh_start, ctr, enc_start, auth_end)``, with
the counter's top half as an integer.  The next D-H key's value (the MPI's bytes) is
``binary[dh_start : enc_start - 12]`` (see :func:`data_next_dh`), the counter's bytes
``binary[enc_start - 12 : enc_start - 4]``, the encrypted message
``binary[enc_start:auth_end]``, the MAC ``binary[auth_end : auth_end + 20]`` and the old MAC keys
``binary[auth_end + 24:]``; ``binary[:auth_end]`` is what the MAC covers.  Plain
integers: this is the per-message hot path."""


def split_data(binary: bytes) -> DataFields:
    """Strict decoder for a binary Data Message (spec "Data Message"), v2 or v3.

    The fixed fields and the next length are read by one struct each; a short,
    oversized or trailing input raises :class:`~otr.errors.DecodeError`.
    """
    end = len(binary)
    if end < 3 or binary[0] != 0 or binary[2] != DATA:
        raise DecodeError("not a data message")
    version = binary[1]
    if version == 3:
        if end < _DATA_V3_FIXED.size:
            raise DecodeError("truncated input")
        _, _, sender, receiver, flags, skid, rkid, n = _DATA_V3_FIXED.unpack_from(binary)
        pos = _DATA_V3_FIXED.size
    elif version == 2:
        if end < _DATA_V2_FIXED.size:
            raise DecodeError("truncated input")
        _, _, flags, skid, rkid, n = _DATA_V2_FIXED.unpack_from(binary)
        sender = receiver = 0
        pos = _DATA_V2_FIXED.size
    else:
        raise DecodeError("unsupported protocol version")
    # DH y (MPI), then CTR and the encrypted message's length.
    if pos + n + _CTR_AND_LEN.size > end:
        raise DecodeError("truncated input")
    if n and binary[pos] == 0:
        raise DecodeError("non-minimal MPI")
    dh_start = pos
    pos += n
    ctr, n = _CTR_AND_LEN.unpack_from(binary, pos)
    enc_start = pos + _CTR_AND_LEN.size
    # Encrypted message, then MAC and the old MAC keys' length.
    auth_end = enc_start + n
    if auth_end + _MAC_AND_LEN.size > end:
        raise DecodeError("truncated input")
    (n,) = _MAC_AND_LEN.unpack_from(binary, auth_end)
    total = auth_end + _MAC_AND_LEN.size + n
    if total != end:
        raise DecodeError("trailing bytes" if total < end else "length field exceeds input")
    return (version, sender, receiver, flags, skid, rkid, dh_start, ctr, enc_start, auth_end)


def data_next_dh(binary: bytes, dh_start: int, enc_start: int) -> int:
    """The next D-H public key of a Data Message that :func:`split_data` accepted
    (converted only when needed: it is not used on most messages)."""
    return int.from_bytes(binary[dh_start : enc_start - _CTR_AND_LEN.size], "big")


def _decode_data(binary: bytes) -> Decoded:
    version, sender, receiver, flags, skid, rkid, dh_start, _, enc_start, auth_end = split_data(
        binary
    )
    msg = DataMessage(
        flags,
        skid,
        rkid,
        data_next_dh(binary, dh_start, enc_start),
        binary[enc_start - _CTR_AND_LEN.size : enc_start - 4],
        binary[enc_start:auth_end],
        binary[auth_end : auth_end + MAC_LEN],
        binary[auth_end + _MAC_AND_LEN.size :],
    )
    return Decoded(Header(version, DATA, sender, receiver), msg, binary[:auth_end])


def encode_message(version: int, sender: int, receiver: int, msg: Message) -> bytes:
    """Binary form of ``msg`` (before base-64 armouring)."""
    if isinstance(msg, DataMessage):
        if len(msg.mac) != MAC_LEN:
            raise ValueError("MAC must be 20 bytes")
        auth = encode_data_authenticated(version, sender, receiver, msg)
        return Writer().put_raw(auth).put_raw(msg.mac).put_data(msg.old_mac_keys).getvalue()
    w = Writer()
    _header(w, version, _TYPES[type(msg)], sender, receiver)
    if isinstance(msg, DHCommit):
        w.put_data(msg.encrypted_gx).put_data(msg.hashed_gx)
    elif isinstance(msg, DHKey):
        w.put_mpi(msg.gy)
    elif isinstance(msg, RevealSignature):
        if len(msg.mac) != MAC_LEN:
            raise ValueError("MAC must be 20 bytes")
        w.put_data(msg.revealed_key).put_data(msg.encrypted_signature).put_raw(msg.mac)
    else:
        if len(msg.mac) != MAC_LEN:
            raise ValueError("MAC must be 20 bytes")
        w.put_data(msg.encrypted_signature).put_raw(msg.mac)
    return w.getvalue()


def decode_header(r: Reader) -> Header:
    version = r.get_short()
    if version not in SUPPORTED_VERSIONS:
        raise DecodeError("unsupported protocol version")
    mtype = r.get_byte()
    if version == 3:
        return Header(version, mtype, r.get_int(), r.get_int())
    return Header(version, mtype)


def decode_message(binary: bytes) -> Decoded:
    """Decode one binary OTRv2/v3 message; strict (see module docstring)."""
    binary = bytes(binary)
    if (
        len(binary) >= 3
        and binary[0] == 0
        and binary[1] in SUPPORTED_VERSIONS
        and binary[2] == DATA
    ):
        return _decode_data(binary)
    r = Reader(binary)
    header = decode_header(r)
    mtype = header.type
    msg: Message
    auth = b""
    if mtype == DH_COMMIT:
        msg = DHCommit(r.get_data(), r.get_data())
        if len(msg.hashed_gx) != HASHED_GX_LEN:
            raise DecodeError("hashed g^x must be 32 bytes")
    elif mtype == DH_KEY:
        msg = DHKey(r.get_mpi())
    elif mtype == REVEAL_SIGNATURE:
        msg = RevealSignature(r.get_data(), r.get_data(), r.get_raw(MAC_LEN))
        if len(msg.revealed_key) != REVEALED_KEY_LEN:
            raise DecodeError("revealed key must be 16 bytes")
    elif mtype == SIGNATURE:
        msg = Signature(r.get_data(), r.get_raw(MAC_LEN))
    else:
        raise DecodeError("unknown message type")
    r.finish()
    return Decoded(header, msg, auth)
