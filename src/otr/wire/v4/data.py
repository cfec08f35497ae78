"""The OTRv4 Data Message, type 0x03 (otr-v4.md "Data Message", "Data Message
Format"; ERRATA B.11, B.12 and D.2 "Data messages").

Layout (all integers big-endian)::

    00 04 || 03 || sender tag (INT) || receiver tag (INT)
    flags (BYTE) || previous chain message number pn (INT)
    ratchet id i (INT) || message id j (INT)
    public ECDH key (POINT, 57 bytes)
    public DH key (MPI; empty = length 0)
    encrypted message (DATA)
    authenticator (MAC, 64 bytes)
    old MAC keys to be revealed (DATA: 64-byte values, concatenated)

* The authenticator covers the encoding from the version bytes through the
  encrypted-message DATA, raw (ERRATA B.12); :attr:`DataMessage4.authenticated_length`
  is that length and :meth:`DataMessage4.authenticated_section` those bytes.
* The DH public key is present **iff** ``ratchet id % 3 == 0`` (otr4j writes it
  so and its receiver enforces it, ERRATA B.11); decoding rejects anything else.
* The revealed MACs are a whole number of 64-byte MKmac values.

Decoding is strict: wrong version or type, truncated or trailing input, a
non-minimal MPI raise :class:`~otr.errors.DecodeError`; an ECDH key that is not a
valid point or a DH key outside the group raise
:class:`~otr.errors.InvalidGroupElement`.  Every message of a chain carries the
same ECDH key (and DH key), and their full validation costs a scalar
multiplication (``q * P``) and a Jacobi symbol, so validated decodings of
recently seen keys are kept in small LRU caches (pure functions of the bytes;
failures are never cached).

The sender's fast path builds a chain's :class:`Head` once (:func:`encode_head`),
changes only the flags and message id per message (:func:`with_counters`) and
wraps the result with :meth:`DataMessage4.assemble`.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Self

from ...crypto import dh3072, ed448
from ...crypto.ed448 import Point
from ...errors import DecodeError
from ...events import Tlv
from ..buffer import MAX_DATA_LEN
from ..tlv import decode_tlvs, encode_tlvs, split_plaintext

__all__ = [
    "FLAGS_AT",
    "FLAG_IGNORE_UNREADABLE",
    "KEYS_AT",
    "MAC_BYTES",
    "MESSAGE_ID_AT",
    "MESSAGE_TYPE_DATA",
    "PN_AT",
    "PROTOCOL_VERSION",
    "RATCHET_ID_AT",
    "TLV_EXTRA_SYMMETRIC_KEY",
    "DataMessage4",
    "Head",
    "chain_head",
    "decode_dh_public",
    "decode_ecdh_public",
    "decode_plaintext",
    "dh_key_expected",
    "encode_head",
    "encode_plaintext",
    "with_counters",
]

PROTOCOL_VERSION: Final = 0x0004
MESSAGE_TYPE_DATA: Final = 0x03
FLAG_IGNORE_UNREADABLE: Final = 0x01
"""The only defined flag: do not report the message if it cannot be read."""
MAC_BYTES: Final = 64
"""The authenticator and each revealed MKmac are 64 bytes."""
TLV_EXTRA_SYMMETRIC_KEY: Final = 7
"""OTRv4 TLV 7: use the extra symmetric key (4-byte context, then data).  In OTRv3
type 7 is SMP1Q; OTRv4 has no SMP1Q and numbers SMP 1-4 as 2-5, abort 6
(otr-v4.md "TLV Record Types")."""

_FIXED = struct.Struct(">HBIIBIII")
"""version, type, sender tag, receiver tag, flags, pn, ratchet id, message id."""
_LEN = struct.Struct(">I")
_ECDH_END: Final = _FIXED.size + ed448.POINT_BYTES
_UINT32_MAX: Final = 0xFFFFFFFF


def dh_key_expected(ratchet_id: int) -> bool:
    """Whether a message of this ratchet carries a DH public key (``i % 3 == 0``)."""
    return ratchet_id % 3 == 0


@functools.lru_cache(maxsize=64)
def decode_ecdh_public(data: bytes) -> Point:
    """A received ECDH public key, fully validated (:func:`otr.crypto.ed448.decode_point`),
    with the validated results of the last 64 distinct keys cached."""
    return ed448.decode_point(data)


@functools.lru_cache(maxsize=16)
def decode_dh_public(body: bytes) -> int:
    """The body of a non-empty DH public key MPI: minimal, and in the group
    (:func:`otr.crypto.dh3072.check_group_element`); recent results cached."""
    if body[:1] == b"\0":
        raise DecodeError("non-minimal MPI")
    value = int.from_bytes(body, "big")
    dh3072.check_group_element(value)
    return value


@functools.lru_cache(maxsize=16)
def _dh_mpi(dh: int | None) -> bytes:
    body = b"" if dh is None else dh3072.encode_k_dh(dh)
    return _LEN.pack(len(body)) + body


@dataclass(frozen=True)
class Head:
    """The fields before the encrypted message, in wire order (field names after the spec's)."""

    sender_tag: int
    receiver_tag: int
    flags: int
    pn: int
    """Previous chain message number: how many messages the sender's previous sending chain had."""
    ratchet_id: int
    message_id: int
    ecdh: Point
    """The sender's public ECDH key (``our_ecdh.public``)."""
    dh: int | None
    """The sender's public DH key, or None for the empty MPI (ratchet id % 3 != 0)."""


def _pack_head(
    sender_tag: int,
    receiver_tag: int,
    flags: int,
    pn: int,
    ratchet_id: int,
    message_id: int,
    ecdh: bytes,
    dh: int | None,
) -> bytes:
    fixed = _FIXED.pack(
        PROTOCOL_VERSION,
        MESSAGE_TYPE_DATA,
        sender_tag,
        receiver_tag,
        flags,
        pn,
        ratchet_id,
        message_id,
    )
    return b"".join((fixed, ecdh, _dh_mpi(dh)))


def encode_head(head: Head) -> bytes:
    """The encoding from the version bytes through the DH public key MPI (what
    precedes the encrypted message's DATA)."""
    return _pack_head(
        head.sender_tag,
        head.receiver_tag,
        head.flags,
        head.pn,
        head.ratchet_id,
        head.message_id,
        head.ecdh.encode(),
        head.dh,
    )


def chain_head(
    sender_tag: int, receiver_tag: int, ratchet_id: int, ecdh: bytes, dh: int | None
) -> bytes:
    """The head every message of one receiving chain shares, as
    :func:`otr.v4.datacrypt.open_wire` compares it: the :func:`encode_head` layout
    with flags, pn and message id zero (those three are not compared); ``ecdh`` is
    the chain's POINT encoding, ``dh`` its DH key (None: the empty MPI)."""
    return _pack_head(sender_tag, receiver_tag, 0, 0, ratchet_id, 0, ecdh, dh)


FLAGS_AT: Final = 11
"""Offset of the flags byte in a data message (and in a head)."""
PN_AT: Final = 12
RATCHET_ID_AT: Final = 16
MESSAGE_ID_AT: Final = 20
KEYS_AT: Final = _FIXED.size
"""Offset of the ECDH key: the POINT, then the DH key MPI, end the head."""


def with_counters(head_bytes: bytes, flags: int, message_id: int) -> bytes:
    """``head_bytes`` (an :func:`encode_head` output) with another flags byte and
    message id: every message of a sending chain shares the rest of its head."""
    return b"".join(
        (
            head_bytes[:FLAGS_AT],
            bytes((flags,)),
            head_bytes[FLAGS_AT + 1 : MESSAGE_ID_AT],
            _LEN.pack(message_id),
            head_bytes[MESSAGE_ID_AT + 4 :],
        )
    )


def _check_uint32(name: str, value: int) -> None:
    if not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"{name} does not fit an INT")


@dataclass(frozen=True)
class DataMessage4(Head):
    """One OTRv4 data message: its :class:`Head`, then the rest."""

    ciphertext: bytes = field(repr=False)
    authenticator: bytes = field(repr=False)
    revealed_macs: bytes = field(default=b"", repr=False)
    _section: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.flags <= 0xFF:
            raise ValueError("flags do not fit a BYTE")
        for name in ("sender_tag", "receiver_tag", "pn", "ratchet_id", "message_id"):
            _check_uint32(name, getattr(self, name))
        if (self.dh is not None) != dh_key_expected(self.ratchet_id):
            raise ValueError("a DH public key is sent iff ratchet id % 3 == 0")
        if len(self.authenticator) != MAC_BYTES:
            raise ValueError("the authenticator is 64 bytes")
        if len(self.revealed_macs) % MAC_BYTES:
            raise ValueError("revealed MACs are whole 64-byte values")
        if not self._section:
            object.__setattr__(self, "_section", self._encode_section())

    def _encode_section(self) -> bytes:
        return b"".join((encode_head(self), _LEN.pack(len(self.ciphertext)), self.ciphertext))

    @classmethod
    def assemble(
        cls,
        chain_head: Head,
        flags: int,
        message_id: int,
        section: bytes,
        ct_start: int,
        authenticator: bytes,
        reveal: bytes,
    ) -> Self:
        """The sender's per-message fast path: no re-encoding, no re-validation.

        ``section`` = :func:`encode_head` of ``chain_head`` with ``flags`` and
        ``message_id`` (:func:`with_counters`) || DATA(ciphertext), the ciphertext
        starting at ``ct_start``, just built by the caller."""
        msg = cls.__new__(cls)
        # A frozen dataclass only blocks attribute assignment; fill its __dict__ at once.
        msg.__dict__.update(
            vars(chain_head),
            flags=flags,
            message_id=message_id,
            ciphertext=section[ct_start:],
            authenticator=authenticator,
            revealed_macs=reveal,
            _section=section,
        )
        return msg

    @property
    def ignore_unreadable(self) -> bool:
        return bool(self.flags & FLAG_IGNORE_UNREADABLE)

    @property
    def authenticated_length(self) -> int:
        """Length of the bytes the authenticator covers (version .. ciphertext DATA)."""
        return len(self._section)

    def authenticated_section(self) -> bytes:
        """The bytes the authenticator covers (ERRATA B.12: raw, not hashed first)."""
        return self._section

    def encode(self) -> bytes:
        return b"".join(
            (
                self._section,
                self.authenticator,
                _LEN.pack(len(self.revealed_macs)),
                self.revealed_macs,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Strict decoding (see the module docstring for what raises what)."""
        data = bytes(data)
        end = len(data)
        if end < _ECDH_END + 4:
            raise DecodeError("truncated data message")
        version, msg_type, sender, receiver, flags, pn, ratchet_id, message_id = _FIXED.unpack_from(
            data
        )
        if version != PROTOCOL_VERSION or msg_type != MESSAGE_TYPE_DATA:
            raise DecodeError("not an OTRv4 data message")
        pos = _ECDH_END
        dh_len = _LEN.unpack_from(data, pos)[0]
        pos += 4
        if dh_len > MAX_DATA_LEN or pos + dh_len + 4 > end:
            raise DecodeError("truncated data message")
        if bool(dh_len) != dh_key_expected(ratchet_id):
            raise DecodeError("DH public key present iff ratchet id % 3 == 0 (ERRATA B.11)")
        dh_raw = data[pos : pos + dh_len]
        pos += dh_len
        ct_len = _LEN.unpack_from(data, pos)[0]
        pos += 4
        if ct_len > MAX_DATA_LEN or pos + ct_len + MAC_BYTES + 4 > end:
            raise DecodeError("truncated data message")
        section_end = pos + ct_len
        authenticator = data[section_end : section_end + MAC_BYTES]
        pos = section_end + MAC_BYTES
        reveal_len = _LEN.unpack_from(data, pos)[0]
        pos += 4
        if pos + reveal_len != end:
            raise DecodeError("revealed MACs length does not match the input")
        if reveal_len % MAC_BYTES:
            raise DecodeError("revealed MACs are not whole 64-byte values")
        dh = decode_dh_public(dh_raw) if dh_len else None
        msg = cls.__new__(cls)
        msg.__dict__.update(
            sender_tag=sender,
            receiver_tag=receiver,
            flags=flags,
            pn=pn,
            ratchet_id=ratchet_id,
            message_id=message_id,
            ecdh=decode_ecdh_public(data[_FIXED.size : _ECDH_END]),
            dh=dh,
            ciphertext=data[section_end - ct_len : section_end],
            authenticator=authenticator,
            revealed_macs=data[pos:],
            _section=data[:section_end],
        )
        return msg


def encode_plaintext(text: str, tlvs: Iterable[Tlv] = ()) -> bytes:
    """The plaintext of a data message as otr4j writes it (ERRATA D.2): the text in
    UTF-8 with every NUL replaced by ``?``, then **always** a 0x00 byte, then the
    TLVs (otr-v4.md "Data Message": ``message || NUL || TLVs``)."""
    return text.encode("utf-8").replace(b"\0", b"?") + b"\0" + encode_tlvs(tlvs)


def decode_plaintext(plaintext: bytes) -> tuple[bytes, list[Tlv]]:
    """Split a decrypted plaintext into (message bytes, TLVs) at its first NUL.

    Without a NUL there are no TLVs.  A truncated TLV raises
    :class:`~otr.errors.DecodeError`.  The message is returned as bytes (the spec
    says UTF-8, optionally with HTML); decoding it is the caller's choice.
    """
    message, tlv_bytes = split_plaintext(plaintext)
    return message, decode_tlvs(tlv_bytes)
