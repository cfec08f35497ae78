"""Wire codecs of every prekey-server message (otr-v4-prekey-server.md "DAKE-1
Message" ... "No Prekey Ensembles in Storage Message", "Encoded Messages").

Every message starts with ``SHORT version (0x0004) || BYTE type``; then::

    DAKE-1 0x35    INT sender tag || CLIENT-PROF || POINT I
    DAKE-2 0x36    INT receiver tag || PREKEY-SERVER-COMP-ID || POINT S || RING-SIG sigma
    DAKE-3 0x37    INT sender tag || RING-SIG sigma || DATA message (0x08 or 0x09)
    Publication 0x08   BYTE N || N prekey messages || BYTE K || [CLIENT-PROF]
                       || BYTE J || [PREKEY-PROF] || proofs || MAC (64)
    Storage Information Request 0x09   MAC (64)
    Storage Status 0x0B   INT receiver tag || INT stored count || MAC (64)
    Success 0x06 / Failure 0x05   INT receiver tag || MAC (64)
    Ensemble Query Retrieval 0x10   INT sender tag || DATA identity || DATA versions
    Ensemble Retrieval 0x13   INT receiver tag || DATA identity || BYTE L
                              || L x (CLIENT-PROF || PREKEY-PROF || prekey message)
    No Prekey Ensembles 0x0E   INT receiver tag || DATA identity || DATA text

PREKEY-SERVER-COMP-ID = DATA(server identity, UTF-8) || ED448-PUBKEY.  The
proofs are, in order: the Prekey Messages' ECDH proof and DH proof (when N > 0)
and the Prekey Profile's ECDH proof (when J = 1).

Decisions where the spec is wrong or silent (issue 10, ERRATA B26):

* **L is one byte.**  The spec writes INT, but both existing implementations
  (libotr-ng's client and the otrng prekey server) read and write a single
  byte; so do we.  A server never sends more than 255 ensembles, and L = 0 is
  malformed ("It must be greater than 0").
* DAKE-1/2/3 reuse the type bytes of the OTR Identity/Auth-R/Auth-I messages;
  they are told apart by destination only (these messages have no ``?OTR:``
  prefix and travel to and from the server's address).
* Encoded messages are the base 64 of the binary form followed by ``.``
  (:func:`encode_text` / :func:`decode_text`); canonical base 64 only.

Decoding is strict (truncated or trailing input -> DecodeError, invalid points
-> InvalidGroupElement, malformed profiles -> ProfileError); nothing here
checks signatures, MACs or proofs.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from ..crypto.ed448 import Point
from ..crypto.ring import RING_SIG_BYTES, RingSignature
from ..errors import DecodeError
from ..v4.prekeys import PrekeyEnsemble, PrekeyMessage
from ..v4.profiles import ClientProfile, PrekeyProfile
from ..wire.buffer import Reader, Writer
from ..wire.envelope import decode_base64_body
from ..wire.v4 import types as wt
from .proofs import DHProof, ECDHProof

__all__ = [
    "MAC_BYTES",
    "MAX_ENSEMBLES",
    "MAX_PREKEY_MESSAGES",
    "NO_ENSEMBLES_TEXT",
    "TYPE_DAKE1",
    "TYPE_DAKE2",
    "TYPE_DAKE3",
    "TYPE_ENSEMBLE_QUERY",
    "TYPE_ENSEMBLE_RETRIEVAL",
    "TYPE_FAILURE",
    "TYPE_NO_ENSEMBLES",
    "TYPE_PUBLICATION",
    "TYPE_STORAGE_INFO_REQUEST",
    "TYPE_STORAGE_STATUS",
    "TYPE_SUCCESS",
    "VERSION",
    "Dake1",
    "Dake2",
    "Dake3",
    "EnsembleQuery",
    "EnsembleRetrieval",
    "Failure",
    "Message",
    "NoEnsembles",
    "PrekeyPublication",
    "StorageInfoRequest",
    "StorageStatus",
    "Success",
    "composite_identity",
    "decode_message",
    "decode_text",
    "encode_text",
    "message_type",
]

VERSION: Final = 0x0004
TYPE_DAKE1: Final = 0x35
TYPE_DAKE2: Final = 0x36
TYPE_DAKE3: Final = 0x37
TYPE_PUBLICATION: Final = 0x08
TYPE_STORAGE_INFO_REQUEST: Final = 0x09
TYPE_STORAGE_STATUS: Final = 0x0B
TYPE_SUCCESS: Final = 0x06
TYPE_FAILURE: Final = 0x05
TYPE_ENSEMBLE_QUERY: Final = 0x10
TYPE_ENSEMBLE_RETRIEVAL: Final = 0x13
TYPE_NO_ENSEMBLES: Final = 0x0E

MAC_BYTES: Final = 64
MAX_PREKEY_MESSAGES: Final = 255
"""N is a BYTE: at most 255 Prekey Messages per publication."""
MAX_ENSEMBLES: Final = 255
"""L is a BYTE (see the module docstring)."""
NO_ENSEMBLES_TEXT: Final = "No Prekey Messages available for this identity"


def _header(msg_type: int) -> Writer:
    return Writer().put_short(VERSION).put_byte(msg_type)


def _open(data: bytes, msg_type: int) -> Reader:
    r = Reader(data)
    if r.get_short() != VERSION:
        raise DecodeError("unsupported prekey-server protocol version")
    if r.get_byte() != msg_type:
        raise DecodeError(f"not a prekey-server message of type 0x{msg_type:02x}")
    return r


def _get_text(r: Reader) -> str:
    try:
        return r.get_data().decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("identity is not UTF-8") from None


def _get_mac(r: Reader) -> bytes:
    return r.get_raw(MAC_BYTES)


def _put_mac(w: Writer, mac: bytes) -> Writer:
    if len(mac) != MAC_BYTES:
        raise ValueError("a MAC is 64 bytes")
    return w.put_raw(mac)


def composite_identity(server_identity: str, server_key: Point) -> bytes:
    """PREKEY-SERVER-COMP-ID = DATA(identity, UTF-8) || ED448-PUBKEY."""
    return (
        Writer()
        .put_data(server_identity.encode("utf-8"))
        .put_raw(wt.encode_typed_key(wt.PUBKEY_TYPE_ED448, server_key))
        .getvalue()
    )


@dataclass(frozen=True)
class Dake1:
    sender_tag: int
    client_profile: ClientProfile
    i: Point

    def encode(self) -> bytes:
        w = _header(TYPE_DAKE1).put_int(self.sender_tag).put_raw(self.client_profile.encode())
        return wt.put_point(w, self.i).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_DAKE1)
        tag = r.get_int()
        profile = ClientProfile.read(r)
        i = wt.get_point(r)
        r.finish()
        return cls(tag, profile, i)


@dataclass(frozen=True)
class Dake2:
    receiver_tag: int
    server_identity: str
    server_key: Point
    s: Point
    sigma: RingSignature

    def composite_identity(self) -> bytes:
        return composite_identity(self.server_identity, self.server_key)

    def encode(self) -> bytes:
        w = _header(TYPE_DAKE2).put_int(self.receiver_tag).put_raw(self.composite_identity())
        return wt.put_point(w, self.s).put_raw(self.sigma.encode()).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_DAKE2)
        tag = r.get_int()
        identity = _get_text(r)
        key = wt.get_typed_key(r, wt.PUBKEY_TYPE_ED448)
        s = wt.get_point(r)
        sigma = RingSignature.decode(r.get_raw(RING_SIG_BYTES))
        r.finish()
        return cls(tag, identity, key, s, sigma)


@dataclass(frozen=True)
class Dake3:
    sender_tag: int
    sigma: RingSignature
    message: bytes
    """The attached Prekey Publication or Storage Information Request (binary)."""

    def encode(self) -> bytes:
        w = _header(TYPE_DAKE3).put_int(self.sender_tag).put_raw(self.sigma.encode())
        return w.put_data(self.message).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_DAKE3)
        tag = r.get_int()
        sigma = RingSignature.decode(r.get_raw(RING_SIG_BYTES))
        message = r.get_data()
        r.finish()
        return cls(tag, sigma, message)


@dataclass(frozen=True)
class PrekeyPublication:
    prekey_messages: tuple[PrekeyMessage, ...]
    client_profile: ClientProfile | None
    prekey_profile: PrekeyProfile | None
    ecdh_proof: ECDHProof | None
    """Proof for the Prekey Messages' Y values (present iff N > 0)."""
    dh_proof: DHProof | None
    """Proof for the Prekey Messages' B values (present iff N > 0)."""
    profile_proof: ECDHProof | None
    """Proof for the Prekey Profile's shared prekey D (present iff J = 1)."""
    mac: bytes

    def __post_init__(self) -> None:
        n = len(self.prekey_messages)
        if n > MAX_PREKEY_MESSAGES:
            raise ValueError("at most 255 prekey messages per publication")
        if (self.ecdh_proof is None) != (n == 0) or (self.dh_proof is None) != (n == 0):
            raise ValueError("the prekey message proofs go with prekey messages")
        if (self.profile_proof is None) != (self.prekey_profile is None):
            raise ValueError("the prekey profile proof goes with the prekey profile")

    def encoded_prekey_messages(self) -> bytes:
        return b"".join(m.encode() for m in self.prekey_messages)

    def encoded_proofs(self) -> bytes:
        return b"".join(
            p.encode()
            for p in (self.ecdh_proof, self.dh_proof, self.profile_proof)
            if p is not None
        )

    def encode(self) -> bytes:
        w = _header(TYPE_PUBLICATION).put_byte(len(self.prekey_messages))
        w.put_raw(self.encoded_prekey_messages())
        if self.client_profile is None:
            w.put_byte(0)
        else:
            w.put_byte(1).put_raw(self.client_profile.encode())
        if self.prekey_profile is None:
            w.put_byte(0)
        else:
            w.put_byte(1).put_raw(self.prekey_profile.encode())
        w.put_raw(self.encoded_proofs())
        return _put_mac(w, self.mac).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_PUBLICATION)
        n = r.get_byte()
        messages = tuple(PrekeyMessage.read(r) for _ in range(n))
        k = r.get_byte()
        if k not in (0, 1):
            raise DecodeError("K must be 0 or 1")
        client_profile = ClientProfile.read(r) if k else None
        j = r.get_byte()
        if j not in (0, 1):
            raise DecodeError("J must be 0 or 1")
        prekey_profile = PrekeyProfile.read(r) if j else None
        ecdh_proof = ECDHProof.read(r) if n else None
        dh_proof = DHProof.read(r) if n else None
        profile_proof = ECDHProof.read(r) if j else None
        mac = _get_mac(r)
        r.finish()
        return cls(
            messages, client_profile, prekey_profile, ecdh_proof, dh_proof, profile_proof, mac
        )


@dataclass(frozen=True)
class StorageInfoRequest:
    mac: bytes

    def encode(self) -> bytes:
        return _put_mac(_header(TYPE_STORAGE_INFO_REQUEST), self.mac).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_STORAGE_INFO_REQUEST)
        mac = _get_mac(r)
        r.finish()
        return cls(mac)


@dataclass(frozen=True)
class StorageStatus:
    receiver_tag: int
    count: int
    mac: bytes

    def encode(self) -> bytes:
        w = _header(TYPE_STORAGE_STATUS).put_int(self.receiver_tag).put_int(self.count)
        return _put_mac(w, self.mac).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_STORAGE_STATUS)
        tag, count, mac = r.get_int(), r.get_int(), _get_mac(r)
        r.finish()
        return cls(tag, count, mac)


@dataclass(frozen=True)
class _TaggedMac:
    receiver_tag: int
    mac: bytes
    TYPE: ClassVar[int] = 0

    def encode(self) -> bytes:
        return _put_mac(_header(self.TYPE).put_int(self.receiver_tag), self.mac).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, cls.TYPE)
        tag, mac = r.get_int(), _get_mac(r)
        r.finish()
        return cls(tag, mac)


@dataclass(frozen=True)
class Success(_TaggedMac):
    TYPE: ClassVar[int] = TYPE_SUCCESS


@dataclass(frozen=True)
class Failure(_TaggedMac):
    TYPE: ClassVar[int] = TYPE_FAILURE


@dataclass(frozen=True)
class EnsembleQuery:
    sender_tag: int
    identity: str
    versions: bytes

    def encode(self) -> bytes:
        w = _header(TYPE_ENSEMBLE_QUERY).put_int(self.sender_tag)
        return w.put_data(self.identity.encode("utf-8")).put_data(self.versions).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_ENSEMBLE_QUERY)
        tag = r.get_int()
        identity = _get_text(r)
        versions = r.get_data()
        r.finish()
        return cls(tag, identity, versions)


@dataclass(frozen=True)
class EnsembleRetrieval:
    receiver_tag: int
    identity: str
    ensembles: tuple[PrekeyEnsemble, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.ensembles) <= MAX_ENSEMBLES:
            raise ValueError("an Ensemble Retrieval message carries 1 to 255 ensembles")

    def encode(self) -> bytes:
        return self.encode_raw(
            self.receiver_tag, self.identity, [e.encode() for e in self.ensembles]
        )

    @staticmethod
    def encode_raw(receiver_tag: int, identity: str, ensembles: list[bytes]) -> bytes:
        """The encoding from already encoded ensembles (the server's fast path:
        stored values are handed out as stored, never re-parsed)."""
        if not 0 < len(ensembles) <= MAX_ENSEMBLES:
            raise ValueError("an Ensemble Retrieval message carries 1 to 255 ensembles")
        w = _header(TYPE_ENSEMBLE_RETRIEVAL).put_int(receiver_tag)
        w.put_data(identity.encode("utf-8")).put_byte(len(ensembles))
        for e in ensembles:
            w.put_raw(e)
        return w.getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_ENSEMBLE_RETRIEVAL)
        tag = r.get_int()
        identity = _get_text(r)
        count = r.get_byte()
        if count == 0:
            raise DecodeError("L must be greater than 0")
        ensembles = tuple(PrekeyEnsemble.read(r) for _ in range(count))
        r.finish()
        return cls(tag, identity, ensembles)


@dataclass(frozen=True)
class NoEnsembles:
    receiver_tag: int
    identity: str
    text: str = NO_ENSEMBLES_TEXT

    def encode(self) -> bytes:
        w = _header(TYPE_NO_ENSEMBLES).put_int(self.receiver_tag)
        return (
            w.put_data(self.identity.encode("utf-8")).put_data(self.text.encode("utf-8")).getvalue()
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = _open(data, TYPE_NO_ENSEMBLES)
        tag = r.get_int()
        identity = _get_text(r)
        text = _get_text(r)
        r.finish()
        return cls(tag, identity, text)


Message = (
    Dake1
    | Dake2
    | Dake3
    | PrekeyPublication
    | StorageInfoRequest
    | StorageStatus
    | Success
    | Failure
    | EnsembleQuery
    | EnsembleRetrieval
    | NoEnsembles
)

_DECODERS: Final[dict[int, type[Message]]] = {
    TYPE_DAKE1: Dake1,
    TYPE_DAKE2: Dake2,
    TYPE_DAKE3: Dake3,
    TYPE_PUBLICATION: PrekeyPublication,
    TYPE_STORAGE_INFO_REQUEST: StorageInfoRequest,
    TYPE_STORAGE_STATUS: StorageStatus,
    TYPE_SUCCESS: Success,
    TYPE_FAILURE: Failure,
    TYPE_ENSEMBLE_QUERY: EnsembleQuery,
    TYPE_ENSEMBLE_RETRIEVAL: EnsembleRetrieval,
    TYPE_NO_ENSEMBLES: NoEnsembles,
}


def message_type(data: bytes) -> int:
    """The type byte of a binary message (after checking the version);
    DecodeError if the header is short or the version is not 4."""
    if len(data) < 3:
        raise DecodeError("truncated prekey-server message")
    if int.from_bytes(data[:2], "big") != VERSION:
        raise DecodeError("unsupported prekey-server protocol version")
    return data[2]


def decode_message(data: bytes) -> Message:
    """Decode any prekey-server message from its binary form."""
    decoder = _DECODERS.get(message_type(data))
    if decoder is None:
        raise DecodeError("unknown prekey-server message type")
    return decoder.decode(data)


def encode_text(binary: bytes) -> str:
    """ "Encoded Messages": base 64 of the binary form, then ``.``."""
    return binascii.b2a_base64(binary, newline=False).decode("ascii") + "."


def decode_text(text: str) -> bytes:
    """The binary form of an encoded message: canonical base 64 ending in ``.``
    (surrounding whitespace ignored); DecodeError otherwise."""
    body = text.strip()
    if not body.endswith("."):
        raise DecodeError("prekey-server message without the terminating '.'")
    return decode_base64_body(body[:-1])
