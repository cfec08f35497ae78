"""OTRv4 Prekey Messages and Prekey Ensembles (otr-v4.md "Prekey Message",
"Prekey Ensemble", "Validating Prekey Ensembles"; otr-v4-prekey-server.md
"Retrieving Prekey Ensembles", ADR 012 "Receiving multiple Prekey Ensembles").

Layout of a Prekey Message (CHECKLIST B12)::

    SHORT 0x0004 || BYTE 0x0F || INT prekey message identifier
    || INT owner instance tag || POINT Y || MPI B

The header (version, type, identifier, owner tag) is the part the prekey-server
spec freezes for future versions.  Decoding is strict and validates ``Y`` (on
the curve, not the identity, order q) and ``B`` (range and the Jacobi symbol,
:func:`otr.crypto.dh3072.check_group_element`).

A Prekey Ensemble is one Client Profile, one Prekey Profile and one Prekey
Message.  :meth:`PrekeyEnsemble.validate` runs the spec's checks in its order;
:func:`select_ensembles` applies the retriever's rules to what a (possibly
lying) server returned: drop invalid ensembles and duplicates, group by
instance tag and long-term key, and keep the one with the latest expiry of
each group.

The secrets of a published Prekey Message (``y`` and ``b``) are in
:class:`PrekeyMessageSecrets`; :func:`generate_prekey_message` draws, in this
order, the 4-byte identifier, the 57 bytes of the ECDH key
(``ECDHKeyPair.from_random_bytes``) and the 80 bytes of the DH secret.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from ..crypto import dh3072, ed448
from ..crypto.dh3072 import DHKeyPair
from ..crypto.ed448 import Point, Rng
from ..errors import DecodeError, InvalidGroupElement, RemoteProtocolError
from ..wire.buffer import Reader, Writer
from ..wire.v4 import types as wt
from .keys import ECDHKeyPair
from .profiles import ClientProfile, PrekeyProfile, ProfileError

__all__ = [
    "PREKEY_MESSAGE_TYPE",
    "PREKEY_MESSAGE_VERSION",
    "EnsembleError",
    "EnsembleRejection",
    "PrekeyEnsemble",
    "PrekeyMessage",
    "PrekeyMessageSecrets",
    "generate_prekey_message",
    "select_ensembles",
]

PREKEY_MESSAGE_VERSION: Final = 0x0004
PREKEY_MESSAGE_TYPE: Final = 0x0F


@dataclass(frozen=True)
class PrekeyMessage:
    """A Prekey Message: the one-time ECDH key ``Y`` and DH key ``B`` of its owner."""

    identifier: int
    instance_tag: int
    y: Point
    b: int

    def encode(self) -> bytes:
        w = Writer().put_short(PREKEY_MESSAGE_VERSION).put_byte(PREKEY_MESSAGE_TYPE)
        w.put_int(self.identifier).put_int(self.instance_tag)
        wt.put_point(w, self.y)
        return w.put_mpi(self.b).getvalue()

    @classmethod
    def read(cls, r: Reader) -> PrekeyMessage:
        """Parse one Prekey Message from ``r`` and validate ``Y`` and ``B``.

        DecodeError for a wrong version/type or truncated input,
        InvalidGroupElement for an invalid ``Y`` or ``B``.
        """
        if r.get_short() != PREKEY_MESSAGE_VERSION:
            raise DecodeError("prekey message: unsupported protocol version")
        if r.get_byte() != PREKEY_MESSAGE_TYPE:
            raise DecodeError("not a prekey message (type 0x0F)")
        identifier = r.get_int()
        tag = r.get_int()
        y = wt.get_point(r)
        b = r.get_mpi()
        dh3072.check_group_element(b)
        return cls(identifier, tag, y, b)

    @classmethod
    def decode(cls, data: bytes) -> PrekeyMessage:
        r = Reader(data)
        msg = cls.read(r)
        r.finish()
        return msg

    def validate(self) -> None:
        """The spec's checks of a received Prekey Message (for objects not made by
        :meth:`read`): ``Y`` on the curve and in the subgroup, ``B`` in the group."""
        ed448.validate_point(self.y)
        dh3072.check_group_element(self.b)


@dataclass(frozen=True)
class PrekeyMessageSecrets:
    """What the owner keeps until the Prekey Message is used: ``y`` and ``b``."""

    identifier: int
    instance_tag: int
    ecdh: ECDHKeyPair = field(repr=False)
    dh: DHKeyPair = field(repr=False)

    def public(self) -> PrekeyMessage:
        return PrekeyMessage(self.identifier, self.instance_tag, self.ecdh.public, self.dh.public)


def generate_prekey_message(instance_tag: int, rng: Rng) -> PrekeyMessageSecrets:
    """A new Prekey Message for ``instance_tag``: a random non-zero identifier,
    ``generateECDH()`` and ``generateDH()``."""
    if not 0x100 <= instance_tag <= 0xFFFFFFFF:
        raise ValueError("instance tag must be in [0x100, 0xffffffff]")
    while True:
        raw = rng(4)
        if len(raw) != 4:
            raise ValueError("rng returned the wrong number of bytes")
        identifier = int.from_bytes(raw, "big")
        if identifier:
            break
    ecdh = ECDHKeyPair.from_random_bytes(rng(57))
    dh = DHKeyPair.generate(rng)
    return PrekeyMessageSecrets(identifier, instance_tag, ecdh, dh)


class EnsembleRejection(enum.Enum):
    """Why a Prekey Ensemble was rejected."""

    INSTANCE_TAG_MISMATCH = "the ensemble's values carry different instance tags"
    CLIENT_PROFILE_INVALID = "the Client Profile is invalid"
    PREKEY_PROFILE_INVALID = (
        "the Prekey Profile is invalid or not signed by the Client Profile's key"
    )
    PREKEY_MESSAGE_INVALID = "the Prekey Message is invalid"
    VERSION_NOT_OFFERED = "the Prekey Message's version is not in the Client Profile"
    VERSION_UNSUPPORTED = "the Client Profile offers no version we support"


class EnsembleError(RemoteProtocolError):
    """A Prekey Ensemble failed validation; ``reason`` says why."""

    def __init__(self, reason: EnsembleRejection, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


@dataclass(frozen=True)
class PrekeyEnsemble:
    """Client Profile || Prekey Profile || Prekey Message."""

    client_profile: ClientProfile
    prekey_profile: PrekeyProfile
    prekey_message: PrekeyMessage

    def encode(self) -> bytes:
        return (
            self.client_profile.encode()
            + self.prekey_profile.encode()
            + self.prekey_message.encode()
        )

    @classmethod
    def read(cls, r: Reader) -> PrekeyEnsemble:
        return cls(ClientProfile.read(r), PrekeyProfile.read(r), PrekeyMessage.read(r))

    @property
    def instance_tag(self) -> int:
        return self.client_profile.instance_tag

    def validate(
        self, now: float, *, supported_versions: frozenset[int] = frozenset({4}), grace: int = 0
    ) -> None:
        """ "Validating Prekey Ensembles", in the spec's order.  ``now`` is Unix
        time in seconds.  Raises :class:`EnsembleError`."""
        cp, pp, pm = self.client_profile, self.prekey_profile, self.prekey_message
        if not cp.instance_tag == pp.instance_tag == pm.instance_tag:
            raise EnsembleError(EnsembleRejection.INSTANCE_TAG_MISMATCH)
        try:
            cp.validate(now, grace=grace)
        except ProfileError as exc:
            raise EnsembleError(EnsembleRejection.CLIENT_PROFILE_INVALID, str(exc)) from None
        try:
            pp.validate(cp.public_key, now, grace=grace)
        except ProfileError as exc:
            raise EnsembleError(EnsembleRejection.PREKEY_PROFILE_INVALID, str(exc)) from None
        try:
            pm.validate()
        except InvalidGroupElement as exc:
            raise EnsembleError(EnsembleRejection.PREKEY_MESSAGE_INVALID, str(exc)) from None
        # The Prekey Message's version (the only one defined: 4) must be offered
        # in the Client Profile and supported by us.
        if PREKEY_MESSAGE_VERSION not in cp.supported_versions:
            raise EnsembleError(EnsembleRejection.VERSION_NOT_OFFERED)
        if not cp.supported_versions & supported_versions:
            raise EnsembleError(EnsembleRejection.VERSION_UNSUPPORTED)


def select_ensembles(
    ensembles: Iterable[PrekeyEnsemble],
    now: float,
    *,
    supported_versions: frozenset[int] = frozenset({4}),
    rejected: list[tuple[PrekeyEnsemble, EnsembleError]] | None = None,
) -> list[PrekeyEnsemble]:
    """The retriever's choice among received ensembles (prekey-server spec
    "Retrieving Prekey Ensembles", ADR 012): invalid ensembles and duplicates are
    discarded; ensembles are grouped by instance tag and long-term public key and
    the one with the latest expiry (Client Profile, then Prekey Profile) of each
    group is kept.  Returned in order of instance tag.  Invalid ensembles are
    appended to ``rejected`` (when given) with the reason."""
    best: dict[tuple[int, bytes], PrekeyEnsemble] = {}
    seen: set[bytes] = set()
    for ensemble in ensembles:
        encoded = ensemble.encode()
        if encoded in seen:
            continue
        seen.add(encoded)
        try:
            ensemble.validate(now, supported_versions=supported_versions)
        except EnsembleError as exc:
            if rejected is not None:
                rejected.append((ensemble, exc))
            continue
        key = (ensemble.instance_tag, ensemble.client_profile.public_key.encode())
        expiry = (ensemble.client_profile.expiration, ensemble.prekey_profile.expiration)
        held = best.get(key)
        if held is None or expiry > (
            held.client_profile.expiration,
            held.prekey_profile.expiration,
        ):
            best[key] = ensemble
    return [best[k] for k in sorted(best)]
