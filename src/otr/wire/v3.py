"""OTRv2/v3 binary messages (spec "Encoded messages").

One frozen dataclass per message, decoded strictly: a short field, a length
that runs past the input, a non-minimal MPI, a wrong fixed size or trailing
bytes is a :class:`~otr.errors.DecodeError`.

Header (spec "D-H Commit Message" and following): protocol version (SHORT),
message type (BYTE) and, for version 3 only, the sender and receiver instance
tags (INT each).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DecodeError
from .buffer import Reader, Writer

__all__ = [
    "DATA",
    "DH_COMMIT",
    "DH_KEY",
    "REVEAL_SIGNATURE",
    "SIGNATURE",
    "AkeMessage",
    "DHCommit",
    "DHKey",
    "DataMessage",
    "Decoded",
    "Header",
    "Message",
    "RevealSignature",
    "Signature",
    "decode_message",
    "encode_data_authenticated",
    "encode_message",
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


@dataclass(frozen=True)
class Header:
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


@dataclass(frozen=True)
class DataMessage:
    """Spec "Data Message".  ``next_dh`` is the sender's *next* D-H public key."""

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


@dataclass(frozen=True)
class Decoded:
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


def encode_data_authenticated(version: int, sender: int, receiver: int, msg: DataMessage) -> bytes:
    """The part of a Data Message covered by its MAC."""
    if len(msg.ctr) != CTR_LEN:
        raise ValueError("CTR must be 8 bytes")
    w = Writer()
    _header(w, version, DATA, sender, receiver)
    w.put_byte(msg.flags).put_int(msg.sender_keyid).put_int(msg.recipient_keyid)
    w.put_mpi(msg.next_dh).put_raw(msg.ctr).put_data(msg.encrypted)
    return w.getvalue()


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
    elif mtype == DATA:
        flags = r.get_byte()
        sender_keyid = r.get_int()
        recipient_keyid = r.get_int()
        next_dh = r.get_mpi()
        ctr = r.get_raw(CTR_LEN)
        encrypted = r.get_data()
        auth = bytes(binary[: r.position])
        mac = r.get_raw(MAC_LEN)
        old = r.get_data()
        msg = DataMessage(flags, sender_keyid, recipient_keyid, next_dh, ctr, encrypted, mac, old)
    else:
        raise DecodeError("unknown message type")
    r.finish()
    return Decoded(header, msg, auth)
