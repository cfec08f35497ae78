"""OTRv4 Client Profiles and Prekey Profiles (otr-v4.md "Client Profile" ...
"Validating a Client Profile", "Prekey Profile" ... "Validating a Prekey
Profile", "Establishing Versions"; otr-v4-prekey-server.md keeps and serves
both).

Layouts (SHORT/INT big-endian; key types little-endian, ERRATA B16)::

    CLIENT-PROF = INT n || n x (SHORT field type || field) || CLIENT-EDDSA-SIG (114)
      0x0001 owner instance tag   INT
      0x0002 Ed448 public key     ED448-PUBKEY       (0x0010 LE || POINT H)
      0x0003 Ed448 forging key    ED448-FORGING-KEY  (0x0012 LE || POINT F)
      0x0004 versions             DATA (ASCII digits, e.g. "4", "34")
      0x0005 expiration           8-byte signed Unix seconds
      0x0006 OTRv3 DSA key        PUBKEY (optional)
      0x0007 transitional sig     CLIENT-SIG: r || s, 20 bytes each (optional)
    PREKEY-PROF = INT owner tag || 8-byte expiration || ED448-SHARED-PREKEY
                  (0x0011 LE || POINT D) || PREKEY-EDDSA-SIG (114)

Signatures, as otr4j makes them (ERRATA D.2 "Client profile signature",
D.1 B.15; the spec's "Create a Client Profile Signature" says ``m`` is the
concatenated fields and does not mention the count):

* The Client Profile signature is pure Ed448 (flag 0, empty context) by the
  long-term key over the fields **without the 4-byte field count**, each as
  ``SHORT type || value``, in the canonical order 0x0001 ... 0x0007 (the
  transitional signature field included).  Verification rebuilds these bytes
  in canonical order, not in wire order, as otr4j does; encoding a decoded
  profile still returns the received bytes.  (libotr-ng signs ``INT n ||
  fields`` as encoded; its profiles do not verify here, nor do ours there.)
* The transitional signature is the OTRv3 DSA signature (``otr.crypto.dsa``:
  the message as an integer reduced mod q, "NONEwithDSA" as otr4j and libotr
  sign) over fields 0x0001-0x0006 in canonical order, the count excluded, not
  hashed first.  Such a signature only binds ``m mod q``, so it should
  support, never replace, other trust decisions.  A DSA key in the profile
  makes the transitional signature mandatory and it is always checked when
  the key is present; a transitional signature without the DSA key is
  allowed (it cannot be checked until an OTRv3 session reveals the key).
* The Prekey Profile signature is pure Ed448 by the long-term key over
  ``owner tag || expiration || ED448-SHARED-PREKEY``.

Versions (ERRATA D.1 B.17): DATA of ASCII digits without NUL ("4", "34");
when reading, digits other than 3 and 4 are ignored, and, as otr4j does, a
"1" or "2" does not make the profile invalid (the spec calls such strings
invalid; we follow otr4j so that its profiles always validate here).  A
profile without "4" is rejected.  :func:`build_client_profile` refuses to
advertise 1 or 2.

Decoding (:meth:`ClientProfile.decode` / :meth:`ClientProfile.read`, and the
Prekey Profile equivalents) checks the structure: required fields present
once, no unknown field types (fields carry no length, so an unknown one cannot
be skipped), key types, and that H, F, D decode as curve points.  Validation
(``validate``) then runs the spec's checks in the spec's order, with an
injected ``now``.  Every failure raises :class:`ProfileError` whose ``reason``
is a :class:`ProfileRejection`.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from ..crypto import ed448
from ..crypto.dsa import DSAPrivateKey, DSAPublicKey, decode_pubkey
from ..crypto.ed448 import Point, Rng
from ..errors import DecodeError, InvalidGroupElement, RemoteProtocolError
from ..wire.buffer import Reader, Writer
from ..wire.v4 import types as wt
from .keys import Ed448KeyPair, eddsa_verify, fingerprint

__all__ = [
    "CLIENT_SIG_BYTES",
    "FIELD_DSA_PUBLIC_KEY",
    "FIELD_ED448_FORGING_KEY",
    "FIELD_ED448_PUBLIC_KEY",
    "FIELD_EXPIRATION",
    "FIELD_INSTANCE_TAG",
    "FIELD_TRANSITIONAL_SIGNATURE",
    "FIELD_VERSIONS",
    "MIN_INSTANCE_TAG",
    "ClientProfile",
    "PrekeyProfile",
    "ProfileError",
    "ProfileRejection",
    "build_client_profile",
    "build_prekey_profile",
]

FIELD_INSTANCE_TAG: Final = 0x0001
FIELD_ED448_PUBLIC_KEY: Final = 0x0002
FIELD_ED448_FORGING_KEY: Final = 0x0003
FIELD_VERSIONS: Final = 0x0004
FIELD_EXPIRATION: Final = 0x0005
FIELD_DSA_PUBLIC_KEY: Final = 0x0006
FIELD_TRANSITIONAL_SIGNATURE: Final = 0x0007
_KNOWN_FIELDS: Final = frozenset(range(1, 8))
_REQUIRED_FIELDS: Final = (
    FIELD_INSTANCE_TAG,
    FIELD_ED448_PUBLIC_KEY,
    FIELD_ED448_FORGING_KEY,
    FIELD_VERSIONS,
    FIELD_EXPIRATION,
)

MIN_INSTANCE_TAG: Final = 0x100
CLIENT_SIG_BYTES: Final = 40
"""CLIENT-SIG: r and s, each len(q) = 20 bytes (1024/160-bit OTRv3 DSA keys)."""
_DSA_Q_BYTES: Final = CLIENT_SIG_BYTES // 2
_ZERO_SIG: Final = bytes(wt.EDDSA_SIG_BYTES)


class ProfileRejection(enum.Enum):
    """Why a profile was rejected (the value is a human-readable reason)."""

    MALFORMED = "malformed or truncated encoding"
    UNKNOWN_FIELD = "unknown Client Profile field type"
    DUPLICATE_FIELD = "duplicate Client Profile field"
    MISSING_FIELD = "required Client Profile field missing"
    BAD_KEY_TYPE = "wrong Ed448 key type"
    SIGNATURE_MISSING = "profile signature is empty"
    SIGNATURE_INVALID = "profile signature does not verify"
    INSTANCE_TAG_INVALID = "owner instance tag below 0x100"
    INSTANCE_TAG_MISMATCH = "owner instance tag differs from the sender instance tag"
    EXPIRED = "profile has expired"
    VERSIONS_MISSING_V4 = "versions do not include 4"
    VERSIONS_INVALID = "versions include 1 or 2"
    PUBLIC_KEY_INVALID = "Ed448 public key is not a valid point"
    FORGING_KEY_INVALID = "Ed448 forging key is not a valid point"
    SHARED_PREKEY_INVALID = "shared prekey is not a valid point"
    DSA_KEY_INVALID = "OTRv3 DSA public key unacceptable"
    TRANSITIONAL_SIGNATURE_MISSING = "OTRv3 DSA key present without transitional signature"
    TRANSITIONAL_SIGNATURE_INVALID = "transitional signature does not verify"


class ProfileError(RemoteProtocolError):
    """A profile failed to decode or validate; ``reason`` says why."""

    def __init__(self, reason: ProfileRejection, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


def _check_versions(versions: bytes) -> None:
    # "Validating a Client Profile": the versions must contain "4"; other
    # digits are ignored (ERRATA D.1 B.17, otr4j does not reject "1"/"2").
    if b"4" not in versions:
        raise ProfileError(ProfileRejection.VERSIONS_MISSING_V4, repr(versions))


def _check_own_versions(versions: bytes) -> None:
    # What we advertise: "4" present, never "1" or "2" ("Establishing Versions").
    _check_versions(versions)
    if b"1" in versions or b"2" in versions:
        raise ProfileError(ProfileRejection.VERSIONS_INVALID, repr(versions))


def _is_expired(expiration: int, now: float, grace: int) -> bool:
    return now >= expiration + grace


def _validated(point: Point, reason: ProfileRejection) -> Point:
    try:
        return ed448.validate_point(point)
    except InvalidGroupElement as exc:
        raise ProfileError(reason, str(exc)) from None


def _decode_point(raw: bytes, reason: ProfileRejection) -> Point:
    try:
        return ed448.decode_point_unchecked(raw)
    except (InvalidGroupElement, DecodeError) as exc:
        raise ProfileError(reason, str(exc)) from None


def _get_typed_point_raw(r: Reader, key_type: int) -> bytes:
    got = int.from_bytes(r.get_raw(2), "little")
    if got != key_type:
        raise ProfileError(
            ProfileRejection.BAD_KEY_TYPE, f"0x{got:04x} instead of 0x{key_type:04x}"
        )
    return wt.get_point_raw(r)


_Profile = TypeVar("_Profile")


def _decode_whole(read: Callable[[Reader], _Profile], data: bytes) -> _Profile:
    """``read`` one profile from ``data``; trailing bytes are MALFORMED."""
    r = Reader(data)
    profile = read(r)
    if r.remaining():
        raise ProfileError(ProfileRejection.MALFORMED, "trailing bytes")
    return profile


def _encode_field(field_type: int, value: bytes) -> bytes:
    return field_type.to_bytes(2, "big") + value


# --------------------------------------------------------------------------------
# Client Profile
# --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientProfile:
    """A Client Profile as encoded (build with :func:`build_client_profile`,
    parse with :meth:`decode`).  ``public_key`` (H) and ``forging_key`` (F) are
    curve points; :meth:`validate` checks them fully."""

    instance_tag: int
    public_key: Point
    forging_key: Point
    versions: bytes
    expiration: int
    signature: bytes = field(repr=False)
    dsa_public_key: DSAPublicKey | None = field(default=None, repr=False)
    transitional_signature: bytes | None = field(default=None, repr=False)
    body: bytes = field(default=b"", repr=False)
    """``INT n || fields``, exactly as encoded (what :meth:`encode` returns)."""
    signed_message: bytes = field(default=b"", repr=False)
    """What the Ed448 signature covers: every field in canonical order, no count."""
    transitional_message: bytes = field(default=b"", repr=False)
    """The transitional signature's message: fields 0x0001-0x0006 in canonical order."""

    # -- encoding ------------------------------------------------------------------

    def encode(self) -> bytes:
        """CLIENT-PROF bytes (the received bytes, for a decoded profile)."""
        return self.body + self.signature

    @classmethod
    def decode(cls, data: bytes) -> ClientProfile:
        """Parse a whole buffer as one CLIENT-PROF (no trailing bytes)."""
        return _decode_whole(cls.read, data)

    @classmethod
    def read(cls, r: Reader) -> ClientProfile:
        """Parse one CLIENT-PROF from ``r`` (e.g. inside a DAKE message)."""
        try:
            return cls._read(r)
        except DecodeError as exc:
            raise ProfileError(ProfileRejection.MALFORMED, str(exc)) from None

    @classmethod
    def _read(cls, r: Reader) -> ClientProfile:
        count = r.get_int()
        if count > len(_KNOWN_FIELDS):
            raise ProfileError(ProfileRejection.MALFORMED, f"{count} fields")
        encoded: dict[int, bytes] = {}
        order: list[int] = []
        instance_tag = expiration = 0
        public_raw = forging_raw = versions = b""
        dsa_key: DSAPublicKey | None = None
        transitional: bytes | None = None
        for _ in range(count):
            ftype = r.get_short()
            if ftype not in _KNOWN_FIELDS:
                raise ProfileError(ProfileRejection.UNKNOWN_FIELD, f"0x{ftype:04x}")
            if ftype in encoded:
                raise ProfileError(ProfileRejection.DUPLICATE_FIELD, f"0x{ftype:04x}")
            if ftype == FIELD_INSTANCE_TAG:
                instance_tag = r.get_int()
                value = instance_tag.to_bytes(4, "big")
            elif ftype in (FIELD_ED448_PUBLIC_KEY, FIELD_ED448_FORGING_KEY):
                key_type = (
                    wt.PUBKEY_TYPE_ED448
                    if ftype == FIELD_ED448_PUBLIC_KEY
                    else wt.PUBKEY_TYPE_ED448_FORGING
                )
                raw = _get_typed_point_raw(r, key_type)
                if ftype == FIELD_ED448_PUBLIC_KEY:
                    public_raw = raw
                else:
                    forging_raw = raw
                value = key_type.to_bytes(2, "little") + raw
            elif ftype == FIELD_VERSIONS:
                versions = r.get_data()
                value = len(versions).to_bytes(4, "big") + versions
            elif ftype == FIELD_EXPIRATION:
                expiration = wt.get_timestamp(r)
                value = expiration.to_bytes(8, "big", signed=True)
            elif ftype == FIELD_DSA_PUBLIC_KEY:
                try:
                    dsa_key = decode_pubkey(r)
                except DecodeError as exc:
                    raise ProfileError(ProfileRejection.DSA_KEY_INVALID, str(exc)) from None
                if (dsa_key.q.bit_length() + 7) // 8 != _DSA_Q_BYTES:
                    raise ProfileError(ProfileRejection.DSA_KEY_INVALID, "q is not 160 bits")
                value = dsa_key.encode()
            else:  # FIELD_TRANSITIONAL_SIGNATURE
                transitional = r.get_raw(CLIENT_SIG_BYTES)
                value = transitional
            encoded[ftype] = value
            order.append(ftype)
        for ftype in _REQUIRED_FIELDS:
            if ftype not in encoded:
                raise ProfileError(ProfileRejection.MISSING_FIELD, f"0x{ftype:04x}")
        signature = wt.get_eddsa_sig(r)
        public_key = _decode_point(public_raw, ProfileRejection.PUBLIC_KEY_INVALID)
        forging_key = _decode_point(forging_raw, ProfileRejection.FORGING_KEY_INVALID)
        body = count.to_bytes(4, "big") + b"".join(_encode_field(t, encoded[t]) for t in order)
        canonical = [_encode_field(t, encoded[t]) for t in sorted(encoded)]
        transitional_message = b"".join(
            f
            for t, f in zip(sorted(encoded), canonical, strict=True)
            if t != FIELD_TRANSITIONAL_SIGNATURE
        )
        return cls(
            instance_tag=instance_tag,
            public_key=public_key,
            forging_key=forging_key,
            versions=versions,
            expiration=expiration,
            signature=signature,
            dsa_public_key=dsa_key,
            transitional_signature=transitional,
            body=body,
            signed_message=b"".join(canonical),
            transitional_message=transitional_message,
        )

    # -- validation ----------------------------------------------------------------

    def validate(
        self,
        now: float,
        *,
        sender_instance_tag: int | None = None,
        grace: int = 0,
        verify_transitional: bool = True,
    ) -> None:
        """The spec's "Validating a Client Profile", in its order.

        ``now`` is the current Unix time in seconds (wall clock, injected).
        ``sender_instance_tag``: the sender tag of the DAKE message that carried
        the profile (None skips that check, e.g. for our own profile).
        ``grace``: extra seconds a locally used profile may outlive its
        expiration (the spec suggests one day for delayed offline messages).
        ``verify_transitional``: check the optional transitional signature when
        the DSA key is present.  Raises :class:`ProfileError`.
        """
        if self.signature == _ZERO_SIG:
            raise ProfileError(ProfileRejection.SIGNATURE_MISSING)
        if not eddsa_verify(self.public_key, self.signed_message, self.signature):
            raise ProfileError(ProfileRejection.SIGNATURE_INVALID)
        if self.instance_tag < MIN_INSTANCE_TAG:
            raise ProfileError(ProfileRejection.INSTANCE_TAG_INVALID, f"0x{self.instance_tag:x}")
        if sender_instance_tag is not None and sender_instance_tag != self.instance_tag:
            raise ProfileError(
                ProfileRejection.INSTANCE_TAG_MISMATCH,
                f"0x{self.instance_tag:x} != 0x{sender_instance_tag:x}",
            )
        if _is_expired(self.expiration, now, grace):
            raise ProfileError(ProfileRejection.EXPIRED, f"expired at {self.expiration}")
        _check_versions(self.versions)
        _validated(self.public_key, ProfileRejection.PUBLIC_KEY_INVALID)
        _validated(self.forging_key, ProfileRejection.FORGING_KEY_INVALID)
        if self.dsa_public_key is not None:
            if self.transitional_signature is None:
                raise ProfileError(ProfileRejection.TRANSITIONAL_SIGNATURE_MISSING)
            if verify_transitional and not self.verify_transitional_signature():
                raise ProfileError(ProfileRejection.TRANSITIONAL_SIGNATURE_INVALID)

    def verify_transitional_signature(self, dsa_public_key: DSAPublicKey | None = None) -> bool:
        """Check the transitional signature with the profile's DSA key, or with
        ``dsa_public_key`` (e.g. learned later from an OTRv3 session).  False if
        there is no signature or no key."""
        key = dsa_public_key or self.dsa_public_key
        if key is None or self.transitional_signature is None:
            return False
        return key.verify(self.transitional_message, self.transitional_signature)

    # -- conveniences --------------------------------------------------------------

    @property
    def supported_versions(self) -> frozenset[int]:
        """The OTR versions 3 and 4 this profile advertises (others are ignored)."""
        return frozenset(v for v in (3, 4) if str(v).encode() in self.versions)

    def fingerprint(self) -> bytes:
        """The owner's 56-byte OTRv4 fingerprint (H and F)."""
        return fingerprint(self.public_key, self.forging_key)


def build_client_profile(
    keypair: Ed448KeyPair,
    forging_key: Point,
    instance_tag: int,
    versions: str | bytes,
    expiration: int,
    *,
    dsa_key: DSAPrivateKey | None = None,
    include_dsa_public_key: bool = True,
    rng: Rng = secrets.token_bytes,
) -> ClientProfile:
    """Create and sign a Client Profile ("Creating a Client Profile").

    ``versions``: e.g. ``"4"`` or ``"34"``.  ``expiration``: Unix seconds.
    With ``dsa_key`` (OTRv3-compatible mode, versions 3 and 4), a transitional
    signature is made over fields 0x0001-0x0005 and, unless
    ``include_dsa_public_key`` is False, the DSA key field 0x0006 (included in
    the profile).  ``rng`` feeds only the DSA signature (Ed448 signing is
    deterministic).
    """
    vers = versions.encode("ascii") if isinstance(versions, str) else bytes(versions)
    if instance_tag < MIN_INSTANCE_TAG or instance_tag > 0xFFFFFFFF:
        raise ValueError("instance tag must be in [0x100, 0xffffffff]")
    try:
        _check_own_versions(vers)
    except ProfileError as exc:
        raise ValueError(str(exc)) from None
    w = Writer()
    w.put_short(FIELD_INSTANCE_TAG).put_int(instance_tag)
    w.put_short(FIELD_ED448_PUBLIC_KEY)
    wt.put_typed_key(w, wt.PUBKEY_TYPE_ED448, keypair.public)
    w.put_short(FIELD_ED448_FORGING_KEY)
    wt.put_typed_key(w, wt.PUBKEY_TYPE_ED448_FORGING, forging_key)
    w.put_short(FIELD_VERSIONS).put_data(vers)
    w.put_short(FIELD_EXPIRATION)
    wt.put_timestamp(w, expiration)
    count = len(_REQUIRED_FIELDS)
    dsa_public: DSAPublicKey | None = None
    transitional: bytes | None = None
    if dsa_key is not None:
        if (dsa_key.public.q.bit_length() + 7) // 8 != _DSA_Q_BYTES:
            raise ValueError("the transitional signature needs a DSA key with a 160-bit q")
        if include_dsa_public_key:
            dsa_public = dsa_key.public
            w.put_short(FIELD_DSA_PUBLIC_KEY).put_raw(dsa_public.encode())
            count += 1
    transitional_message = w.getvalue()
    if dsa_key is not None:
        transitional = dsa_key.sign(transitional_message, rng)
        w.put_short(FIELD_TRANSITIONAL_SIGNATURE).put_raw(transitional)
        count += 1
    fields = w.getvalue()
    body = count.to_bytes(4, "big") + fields
    return ClientProfile(
        instance_tag=instance_tag,
        public_key=keypair.public,
        forging_key=forging_key,
        versions=vers,
        expiration=expiration,
        signature=keypair.sign(fields),
        dsa_public_key=dsa_public,
        transitional_signature=transitional,
        body=body,
        signed_message=fields,
        transitional_message=transitional_message,
    )


# --------------------------------------------------------------------------------
# Prekey Profile
# --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrekeyProfile:
    """A Prekey Profile: owner tag, expiration, shared prekey D, signature by H."""

    instance_tag: int
    expiration: int
    shared_prekey: Point
    signature: bytes = field(repr=False)

    @property
    def body(self) -> bytes:
        """The signed part: ``INT tag || expiration || ED448-SHARED-PREKEY``."""
        w = Writer().put_int(self.instance_tag)
        wt.put_timestamp(w, self.expiration)
        wt.put_typed_key(w, wt.PUBKEY_TYPE_ED448_SHARED_PREKEY, self.shared_prekey)
        return w.getvalue()

    def encode(self) -> bytes:
        return self.body + self.signature

    @classmethod
    def decode(cls, data: bytes) -> PrekeyProfile:
        """Parse a whole buffer as one PREKEY-PROF (no trailing bytes)."""
        return _decode_whole(cls.read, data)

    @classmethod
    def read(cls, r: Reader) -> PrekeyProfile:
        try:
            tag = r.get_int()
            expiration = wt.get_timestamp(r)
            raw = _get_typed_point_raw(r, wt.PUBKEY_TYPE_ED448_SHARED_PREKEY)
            signature = wt.get_eddsa_sig(r)
        except DecodeError as exc:
            raise ProfileError(ProfileRejection.MALFORMED, str(exc)) from None
        shared = _decode_point(raw, ProfileRejection.SHARED_PREKEY_INVALID)
        return cls(tag, expiration, shared, signature)

    def validate(
        self,
        public_key: Point,
        now: float,
        *,
        sender_instance_tag: int | None = None,
        grace: int = 0,
    ) -> None:
        """The spec's "Validating a Prekey Profile", in its order.

        ``public_key`` is the owner's long-term key H from their (validated)
        Client Profile: the signature must be by that key, which is also the
        Prekey Ensemble's "signed by the Client Profile's key" check.
        """
        if self.signature == _ZERO_SIG:
            raise ProfileError(ProfileRejection.SIGNATURE_MISSING)
        if not eddsa_verify(public_key, self.body, self.signature):
            raise ProfileError(ProfileRejection.SIGNATURE_INVALID)
        if self.instance_tag < MIN_INSTANCE_TAG:
            raise ProfileError(ProfileRejection.INSTANCE_TAG_INVALID, f"0x{self.instance_tag:x}")
        if sender_instance_tag is not None and sender_instance_tag != self.instance_tag:
            raise ProfileError(
                ProfileRejection.INSTANCE_TAG_MISMATCH,
                f"0x{self.instance_tag:x} != 0x{sender_instance_tag:x}",
            )
        if _is_expired(self.expiration, now, grace):
            raise ProfileError(ProfileRejection.EXPIRED, f"expired at {self.expiration}")
        _validated(self.shared_prekey, ProfileRejection.SHARED_PREKEY_INVALID)


def build_prekey_profile(
    keypair: Ed448KeyPair, instance_tag: int, expiration: int, shared_prekey: Point
) -> PrekeyProfile:
    """Create and sign a Prekey Profile with the long-term key (``sym_h``).

    ``shared_prekey`` is D, the public half of an :class:`Ed448KeyPair` made
    from ``sym_d`` (same generation as the long-term key).
    """
    if instance_tag < MIN_INSTANCE_TAG or instance_tag > 0xFFFFFFFF:
        raise ValueError("instance tag must be in [0x100, 0xffffffff]")
    unsigned = PrekeyProfile(instance_tag, expiration, shared_prekey, b"")
    return PrekeyProfile(instance_tag, expiration, shared_prekey, keypair.sign(unsigned.body))
