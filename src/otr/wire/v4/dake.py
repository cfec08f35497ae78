"""The OTRv4 interactive DAKE messages (otr-v4.md "Identity Message", "Auth-R
Message", "Auth-I Message"; ERRATA D.1 B.10 for the field types).

Every OTRv4 encoded message starts with the same header::

    protocol version (SHORT, 0x0004) || message type (BYTE)
    || sender instance tag (INT) || receiver instance tag (INT)

The three DAKE messages follow it with::

    Identity (0x35) = CLIENT-PROF || Y (POINT) || B (MPI)
                      || our_ecdh_first.public (POINT) || our_dh_first.public (MPI)
    Auth-R   (0x36) = CLIENT-PROF || X (POINT) || A (MPI) || sigma (RING-SIG)
                      || our_ecdh_first.public (POINT) || our_dh_first.public (MPI)
    Auth-I   (0x37) = sigma (RING-SIG)

The spec leaves the types of the "first" keys unstated (B.10); otr4j writes
them as a POINT and an MPI, as here.  An Identity message whose receiver is
not known yet carries receiver tag 0.

Decoding is strict: a wrong version or type, a short field, a non-minimal MPI
or trailing bytes raise :class:`~otr.errors.DecodeError`; a point that is not
a valid group element (RFC 8032 decoding, not the identity, order q), a DH
value outside the group (``2 <= v <= p-2`` and ``v^q = 1``) or a ring-signature
scalar >= q raise :class:`~otr.errors.InvalidGroupElement`; a malformed Client
Profile raises :class:`~otr.v4.profiles.ProfileError`.  All three are
:class:`~otr.errors.RemoteProtocolError`.  The profile is only *decoded* here;
validating it (signature, expiry, owner tag) is the DAKE's job
(:mod:`otr.v4.dake`).  Decoded messages re-encode to the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Final, NamedTuple, Self

from ...crypto import dh3072
from ...crypto.ed448 import Point
from ...crypto.ring import RING_SIG_BYTES, RingSignature
from ...errors import DecodeError
from ...v4.profiles import ClientProfile
from ..buffer import Reader, Writer
from . import types as wt

__all__ = [
    "HEADER_BYTES",
    "MSG_AUTH_I",
    "MSG_AUTH_R",
    "MSG_IDENTITY",
    "PROTOCOL_VERSION",
    "AuthIMessage",
    "AuthRMessage",
    "DakeMessage",
    "Header",
    "IdentityMessage",
    "decode_dake_message",
    "encode_header",
    "peek_header",
]

PROTOCOL_VERSION: Final = 0x0004
MSG_IDENTITY: Final = 0x35
MSG_AUTH_R: Final = 0x36
MSG_AUTH_I: Final = 0x37
HEADER_BYTES: Final = 2 + 1 + 4 + 4


class Header(NamedTuple):
    """The OTRv4 header (version, type, sender tag, receiver tag)."""

    version: int
    message_type: int
    sender_tag: int
    receiver_tag: int


def encode_header(message_type: int, sender_tag: int, receiver_tag: int) -> bytes:
    """``00 04 || type || sender tag || receiver tag``."""
    return (
        Writer()
        .put_short(PROTOCOL_VERSION)
        .put_byte(message_type)
        .put_int(sender_tag)
        .put_int(receiver_tag)
        .getvalue()
    )


def _read_header(r: Reader) -> Header:
    return Header(r.get_short(), r.get_byte(), r.get_int(), r.get_int())


def peek_header(data: bytes) -> Header:
    """The header of any OTRv4 encoded message (for routing); the version must be 4."""
    header = _read_header(Reader(data))
    if header.version != PROTOCOL_VERSION:
        raise DecodeError(f"protocol version {header.version} is not 4")
    return header


def _expect_header(r: Reader, message_type: int) -> Header:
    header = _read_header(r)
    if header.version != PROTOCOL_VERSION:
        raise DecodeError(f"protocol version {header.version} is not 4")
    if header.message_type != message_type:
        raise DecodeError(f"message type 0x{header.message_type:02x} is not 0x{message_type:02x}")
    return header


def _get_dh(r: Reader) -> int:
    """An MPI that must be a valid 3072-bit DH public value."""
    value = r.get_mpi()
    dh3072.check_group_element(value)
    return value


def _get_sigma(r: Reader) -> RingSignature:
    return RingSignature.decode(r.get_raw(RING_SIG_BYTES))


def _put_keys(w: Writer, point: Point, dh: int) -> Writer:
    """An ECDH public key (POINT) and a DH public key (MPI), as all DAKE keys come."""
    return wt.put_point(w, point).put_mpi(dh)


def _get_keys(r: Reader) -> tuple[Point, int]:
    point = wt.get_point(r)
    return point, _get_dh(r)


def _start(message_type: int, sender_tag: int, receiver_tag: int) -> Writer:
    return Writer().put_raw(encode_header(message_type, sender_tag, receiver_tag))


@dataclass(frozen=True)
class IdentityMessage:
    """Identity message (0x35): Bob's commitment to Y, B and his first ratchet keys."""

    TYPE: ClassVar[int] = MSG_IDENTITY

    sender_tag: int
    receiver_tag: int
    profile: ClientProfile = field(repr=False)
    y: Point
    b: int = field(repr=False)
    first_ecdh: Point
    first_dh: int = field(repr=False)

    def encode(self) -> bytes:
        w = _start(self.TYPE, self.sender_tag, self.receiver_tag).put_raw(self.profile.encode())
        _put_keys(w, self.y, self.b)
        return _put_keys(w, self.first_ecdh, self.first_dh).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = Reader(data)
        header = _expect_header(r, cls.TYPE)
        profile = ClientProfile.read(r)
        y, b = _get_keys(r)
        first_ecdh, first_dh = _get_keys(r)
        r.finish()
        return cls(header.sender_tag, header.receiver_tag, profile, y, b, first_ecdh, first_dh)


@dataclass(frozen=True)
class AuthRMessage:
    """Auth-R message (0x36): Alice's X, A, first ratchet keys and ring signature."""

    TYPE: ClassVar[int] = MSG_AUTH_R

    sender_tag: int
    receiver_tag: int
    profile: ClientProfile = field(repr=False)
    x: Point
    a: int = field(repr=False)
    sigma: RingSignature = field(repr=False)
    first_ecdh: Point
    first_dh: int = field(repr=False)

    def encode(self) -> bytes:
        w = _start(self.TYPE, self.sender_tag, self.receiver_tag).put_raw(self.profile.encode())
        _put_keys(w, self.x, self.a).put_raw(self.sigma.encode())
        return _put_keys(w, self.first_ecdh, self.first_dh).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = Reader(data)
        header = _expect_header(r, cls.TYPE)
        profile = ClientProfile.read(r)
        x, a = _get_keys(r)
        sigma = _get_sigma(r)
        first_ecdh, first_dh = _get_keys(r)
        r.finish()
        return cls(
            header.sender_tag, header.receiver_tag, profile, x, a, sigma, first_ecdh, first_dh
        )


@dataclass(frozen=True)
class AuthIMessage:
    """Auth-I message (0x37): Bob's ring signature."""

    TYPE: ClassVar[int] = MSG_AUTH_I

    sender_tag: int
    receiver_tag: int
    sigma: RingSignature = field(repr=False)

    def encode(self) -> bytes:
        return (
            _start(self.TYPE, self.sender_tag, self.receiver_tag)
            .put_raw(self.sigma.encode())
            .getvalue()
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = Reader(data)
        header = _expect_header(r, cls.TYPE)
        sigma = _get_sigma(r)
        r.finish()
        return cls(header.sender_tag, header.receiver_tag, sigma)


DakeMessage = IdentityMessage | AuthRMessage | AuthIMessage
"""Any of the three interactive DAKE messages."""

_BY_TYPE: Final[dict[int, type[IdentityMessage] | type[AuthRMessage] | type[AuthIMessage]]] = {
    MSG_IDENTITY: IdentityMessage,
    MSG_AUTH_R: AuthRMessage,
    MSG_AUTH_I: AuthIMessage,
}


def decode_dake_message(data: bytes) -> DakeMessage:
    """Decode an Identity, Auth-R or Auth-I message by its header's type."""
    header = peek_header(data)
    cls = _BY_TYPE.get(header.message_type)
    if cls is None:
        raise DecodeError(f"message type 0x{header.message_type:02x} is not a DAKE message")
    return cls.decode(data)
