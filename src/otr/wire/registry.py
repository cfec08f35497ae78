"""The ``(protocol version, message type) -> decoder`` registry of encoded messages.

Every OTR encoded message (OTRv3 spec "Encoded messages", OTRv4 "Encoded Messages")
starts with the protocol version (SHORT) and the message type (BYTE); from version 3
on, the sender and receiver instance tags (INT each) follow.  :func:`peek_header`
reads that common prefix; :func:`decode` then calls the decoder registered for the
(version, type) pair.  A decoder takes the whole binary message (header included)
and returns the message object, strictly (short or trailing input:
:class:`~otr.errors.DecodeError`; bad group elements:
:class:`~otr.errors.InvalidGroupElement`).

The OTRv2/v3 types are registered here.  OTRv4 types register themselves with
:func:`register` (for instance ``register(4, 0x35, IdentityMessage.decode)``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

from ..errors import DecodeError
from . import v3 as wire3

__all__ = ["Decoded", "Decoder", "Header", "decode", "peek_header", "register", "registered"]

Decoder = Callable[[bytes], object]

_PREFIX = struct.Struct(">HB")
_TAGS = struct.Struct(">II")
_TAGGED_FROM = 3
"""Spec "Instance Tags": messages of version 3 and later carry them."""

_DECODERS: dict[tuple[int, int], Decoder] = {}


class Header(NamedTuple):
    """The common prefix of an encoded message (instance tags are 0 for OTRv2)."""

    version: int
    type: int
    sender_instance: int = 0
    receiver_instance: int = 0


class Decoded(NamedTuple):
    header: Header
    message: object


def register(version: int, mtype: int, decoder: Decoder) -> None:
    """Register the decoder of message type ``mtype`` of protocol ``version``.
    Registering a pair twice is a programming error (ValueError)."""
    key = (version, mtype)
    if key in _DECODERS and _DECODERS[key] is not decoder:
        raise ValueError(f"a decoder for version {version}, type {mtype:#04x} is registered")
    _DECODERS[key] = decoder


def registered() -> frozenset[tuple[int, int]]:
    """The (version, type) pairs that have a decoder."""
    return frozenset(_DECODERS)


def peek_header(binary: bytes) -> Header:
    """The version, type and (version >= 3) instance tags; DecodeError if truncated."""
    if len(binary) < _PREFIX.size:
        raise DecodeError("truncated message header")
    version, mtype = _PREFIX.unpack_from(binary)
    if version < _TAGGED_FROM:
        return Header(version, mtype)
    if len(binary) < _PREFIX.size + _TAGS.size:
        raise DecodeError("truncated message header")
    sender, receiver = _TAGS.unpack_from(binary, _PREFIX.size)
    return Header(version, mtype, sender, receiver)


def decode(binary: bytes) -> Decoded:
    """Decode one binary encoded message by its registered decoder.

    Raises :class:`~otr.errors.DecodeError` for an unknown version or type, and
    whatever :class:`~otr.errors.RemoteProtocolError` the decoder raises."""
    header = peek_header(binary)
    decoder = _DECODERS.get((header.version, header.type))
    if decoder is None:
        if not any(v == header.version for v, _ in _DECODERS):
            raise DecodeError("unsupported protocol version")
        raise DecodeError("unknown message type")
    return Decoded(header, decoder(binary))


def _v3_message(binary: bytes) -> object:
    return wire3.decode_message(binary).message


for _version in wire3.SUPPORTED_VERSIONS:
    for _mtype in (
        wire3.DH_COMMIT,
        wire3.DH_KEY,
        wire3.REVEAL_SIGNATURE,
        wire3.SIGNATURE,
        wire3.DATA,
    ):
        register(_version, _mtype, _v3_message)
