"""Offline conversation starts: the non-interactive DAKE between a
Conversation's OTRv4 identity and the double ratchet (otr-v4.md "Offline
Conversation Initialization", "Non-Interactive DAKE Overview", "Sending a
Data Message to an offline participant", "Receiving a Non-Interactive-Auth
Message"; CHECKLIST B12).

The XZDH cryptography is :mod:`otr.v4.xzdh`; this module turns its keys into
a :class:`~otr.v4.dake.DakeResult` and a :class:`~otr.v4.ratchet.DoubleRatchet`
for :class:`otr.v4.session.V4Session`, and owns the rules around it:

* **Alice** (who starts, from Bob's Prekey Ensemble) sets ``our_ecdh`` /
  ``our_dh`` to her "first" key pairs and ``their_ecdh`` / ``their_dh`` to the
  ensemble's ``Y`` / ``B``; the ratchet's first root and sending chain keys are
  ``KDF(0x12, K, 64)`` and ``KDF(0x13, K, 64)`` (no mixing of the first keys,
  unlike the interactive DAKE).  Her first messages need no DH ratchet: they
  use that chain (ratchet id 0, as the interactive Alice's first messages).
* **Bob** (who published the prekeys) looks the prekey secrets up by the
  message's identifier in a :class:`PrekeyStore` (peeking), verifies the
  message with each of his Prekey Profiles of the receiver instance whose
  shared prekey secret he still holds (the spec: "if the sigma verification
  fails and there are others profiles in local storage, use them"), builds his
  ratchet (receiving chain on Alice's first keys, then an immediate sending
  rotation: it draws randomness) and only then *takes* the prekey from the
  store (one use; the store persists the removal) and adopts the new state.
  A forged, mutated or truncated message therefore burns nothing, and a
  second Non-Interactive-Auth message naming the same prekey is rejected
  (:class:`UnknownPrekey`).  Our current Client Profile is tried first,
  then the previous ones that have not expired (an ensemble Alice retrieved
  before Bob renewed his profile carries the old one):
  :attr:`otr.v4.identity.Identity.previous_profiles` keeps them.
* **The prekey's removal cannot be saved** (an OSError from the store, e.g. a
  full disk): the store has already forgotten the secret, so this process
  never uses it again; the session is established and the message read (not
  lost), and :class:`OfflineAccepted` says why the removal is unsaved - the
  session reports it as :class:`otr.events.PrekeyNotSaved`.  The store saves
  the removal with its next successful write; until then a restart would
  find the secret in the old file (a replayed Non-Interactive-Auth message
  would then be accepted a second time), which is why the application is told.
* **Versions**: Alice's Client Profile must offer version 4 (Bob's is checked
  with the ensemble, :meth:`otr.v4.prekeys.PrekeyEnsemble.validate`).
* **Reduced deniability** (otr-v4.md "Offline Conversation Initialization":
  the non-interactive DAKE gives Bob only offline deniability towards Alice's
  messages and no participation deniability for Alice, ADR 009): both sides
  report the session with ``Secured(offline=True)``, which the front door
  passes on as ``SessionSecured.offline``.
* **ERRATA B7/B26** are resolved in :mod:`otr.v4.xzdh` (t without a flag byte,
  phi usage 0x10, D_b as a bare POINT; phi with fixed positions by role) and
  :mod:`otr.prekey` (the prekey server's own errata).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..crypto.ed448 import Rng
from ..errors import AuthenticationFailed, RemoteProtocolError
from ..wire.v4.non_interactive import NonInteractiveAuth
from . import xzdh
from .dake import DakeResult
from .keys import Ed448KeyPair
from .prekeys import EnsembleError, PrekeyEnsemble, PrekeyMessageSecrets, select_ensembles
from .profiles import ClientProfile, PrekeyProfile
from .ratchet import DoubleRatchet, RatchetLimits

__all__ = [
    "OfflineAccepted",
    "OfflineKeys",
    "OfflineStart",
    "PrekeyStore",
    "UnknownPrekey",
    "alice_offline",
    "bob_offline",
    "choose_ensembles",
]


class PrekeyStore(Protocol):
    """Where the publisher keeps the secrets of his published prekey values.

    :class:`otr.prekey.secrets.PrekeySecretStore` implements it, in memory
    (``PrekeySecretStore()``) or in a file of its own (``PrekeySecretStore(path)``:
    JSON, written atomically with mode 0600 after every change), and the prekey
    client fills it when publishing.
    """

    def prekey(self, identifier: int) -> PrekeyMessageSecrets | None:
        """The secrets of prekey message ``identifier``, kept in the store."""
        ...

    def take_prekey(self, identifier: int) -> PrekeyMessageSecrets | None:
        """The secrets of prekey message ``identifier``, removed (and the removal
        persisted) so that it is used once.  If persisting fails it raises OSError
        *after* removing them from memory (so they are never used again by this
        process) and persists the removal with its next successful save."""
        ...

    def shared_prekey(self, public: bytes) -> Ed448KeyPair | None:
        """The shared prekey pair whose public key D encodes as ``public``."""
        ...


@dataclass(frozen=True)
class OfflineKeys:
    """What Bob needs to accept offline starts: his :class:`PrekeyStore` and the
    Prekey Profiles he published (the current one and any still overlapping)."""

    store: PrekeyStore
    prekey_profiles: Sequence[PrekeyProfile]


class UnknownPrekey(RemoteProtocolError):
    """The Non-Interactive-Auth message names a prekey we do not hold: used
    already (a replay) or never published."""


@dataclass(frozen=True)
class OfflineStart:
    """Alice's side of an offline start: the message to send, the DAKE's values
    and her ratchet."""

    message: NonInteractiveAuth
    result: DakeResult
    ratchet: DoubleRatchet


def _expiry(ensemble: PrekeyEnsemble) -> tuple[int, int]:
    return ensemble.client_profile.expiration, ensemble.prekey_profile.expiration


def choose_ensembles(
    ensembles: Iterable[PrekeyEnsemble], now: float
) -> tuple[list[PrekeyEnsemble], list[tuple[int, str]]]:
    """One valid ensemble per instance tag (spec "Receiving Prekey Ensembles":
    validate, drop invalid ones and duplicates, "decide which instance tags to
    send messages to": all of them, once each).  Validation is at ``now`` (Unix
    seconds, no grace) by :func:`otr.v4.prekeys.select_ensembles`; of several
    valid ones for a tag (other long-term keys) the latest to expire is used.
    Returns the chosen ensembles (by instance tag) and ``(instance tag, reason)``
    for every ensemble refused."""
    offered = list(ensembles)
    rejected: list[tuple[PrekeyEnsemble, EnsembleError]] = []
    chosen: dict[int, PrekeyEnsemble] = {}
    for ensemble in select_ensembles(offered, now, rejected=rejected):
        held = chosen.get(ensemble.instance_tag)
        if held is None or _expiry(ensemble) > _expiry(held):
            chosen[ensemble.instance_tag] = ensemble
    refused = [(ensemble.instance_tag, str(error)) for ensemble, error in rejected]
    invalid = {id(ensemble) for ensemble, _ in rejected}
    used = {id(ensemble) for ensemble in chosen.values()}
    refused += [
        (ensemble.instance_tag, "another ensemble was chosen for this instance tag")
        for ensemble in offered
        if id(ensemble) not in invalid and id(ensemble) not in used
    ]
    return list(chosen.values()), refused


def alice_offline(
    ensemble: PrekeyEnsemble,
    *,
    profile: ClientProfile,
    keypair: Ed448KeyPair,
    account: str,
    peer: str,
    rng: Rng,
    now: float,
    limits: RatchetLimits,
) -> OfflineStart:
    """Start from a *validated* ensemble (spec "Sending a Data Message to an
    offline participant").  Draws x, a, the first ECDH and DH key pairs and the
    ring signature's randomness; changes nothing outside what it returns."""
    started = xzdh.alice_start(
        ensemble, our_profile=profile, our_keypair=keypair, our_id=account, their_id=peer, rng=rng
    )
    keys, pm = started.keys, ensemble.prekey_message
    result = DakeResult(
        role="alice",
        ssid=keys.ssid,
        k=keys.k,
        brace_key=keys.brace_key,
        our_ecdh=started.our_ecdh_first,
        our_dh=started.our_dh_first,
        their_ecdh=pm.y,
        their_dh=pm.b,
        our_profile=profile,
        their_profile=ensemble.client_profile,
        our_instance=profile.instance_tag,
        their_instance=pm.instance_tag,
    )
    ratchet = DoubleRatchet.from_first_chain(
        result, keys.root_key, keys.chain_key, keys.brace_key, rng, now, limits
    )
    return OfflineStart(started.message, result, ratchet)


def _verify(
    message: NonInteractiveAuth,
    secrets: PrekeyMessageSecrets,
    offline: OfflineKeys,
    profiles: Sequence[ClientProfile],
    keypair: Ed448KeyPair,
    account: str,
    peer: str,
    now: float,
) -> tuple[xzdh.XZDHKeys, ClientProfile]:
    """Verify with each of our Client Profiles (the current one first, then the
    previous ones still valid: Alice may hold an ensemble published before a
    renewal) and each of our Prekey Profiles of the instance (spec "To verify a
    Non-Interactive-Auth message"); the keys and the Client Profile that fits,
    or the last AuthenticationFailed if none does."""
    failure: RemoteProtocolError = RemoteProtocolError(
        "no Prekey Profile of ours for this instance whose shared prekey we hold"
    )
    tag = profiles[0].instance_tag
    for profile in profiles:
        if profile.expiration <= now:
            continue  # an expired profile of ours is not offered (nor accepted)
        for prekey_profile in offline.prekey_profiles:
            if prekey_profile.instance_tag != tag:
                continue
            shared = offline.store.shared_prekey(prekey_profile.shared_prekey.encode())
            if shared is None:
                continue
            try:
                keys = xzdh.bob_receive(
                    message,
                    prekey=secrets,
                    our_profile=profile,
                    our_prekey_profile=prekey_profile,
                    our_keypair=keypair,
                    shared_prekey=shared,
                    now=now,
                    our_id=account,
                    their_id=peer,
                )
            except AuthenticationFailed as exc:
                failure = exc  # perhaps built on another (overlapping) profile
                continue
            return keys, profile
    raise failure


@dataclass(frozen=True)
class OfflineAccepted:
    """Bob's side of an accepted offline start."""

    result: DakeResult
    ratchet: DoubleRatchet
    unsaved: str | None = None
    """Why the store could not persist the prekey's removal (an OSError), or
    None: the prekey is gone from the store's memory either way."""


def bob_offline(
    message: NonInteractiveAuth,
    *,
    offline: OfflineKeys,
    profiles: Sequence[ClientProfile],
    keypair: Ed448KeyPair,
    account: str,
    peer: str,
    rng: Rng,
    now: float,
    limits: RatchetLimits,
) -> OfflineAccepted:
    """Accept a Non-Interactive-Auth message (spec "Receiving a
    Non-Interactive-Auth Message").  ``profiles``: our current Client Profile,
    then the previous ones (tried while they have not expired).  Raises
    :class:`UnknownPrekey`, :class:`~otr.errors.AuthenticationFailed`, a
    ProfileError or another :class:`~otr.errors.RemoteProtocolError` with
    nothing changed; on success the prekey has been taken from the store (the
    last step; see :class:`OfflineAccepted` when its removal could not be
    saved)."""
    our_tag = profiles[0].instance_tag
    if message.receiver_tag != our_tag:
        raise RemoteProtocolError("Non-Interactive-Auth for another instance")
    secrets = offline.store.prekey(message.prekey_identifier)
    if secrets is None or secrets.instance_tag != our_tag:
        raise UnknownPrekey("Non-Interactive-Auth names a prekey we do not hold (used or unknown)")
    if 4 not in message.client_profile.supported_versions:
        raise RemoteProtocolError("the sender's Client Profile does not offer version 4")
    keys, profile = _verify(message, secrets, offline, profiles, keypair, account, peer, now)
    result = DakeResult(
        role="bob",
        ssid=keys.ssid,
        k=keys.k,
        brace_key=keys.brace_key,
        our_ecdh=secrets.ecdh,
        our_dh=secrets.dh,
        their_ecdh=message.first_ecdh,
        their_dh=message.first_dh,
        our_profile=profile,
        their_profile=message.client_profile,
        our_instance=our_tag,
        their_instance=message.sender_tag,
    )
    ratchet = DoubleRatchet.from_first_chain(
        result, keys.root_key, keys.chain_key, keys.brace_key, rng, now, limits
    )
    try:
        taken = offline.store.take_prekey(message.prekey_identifier)
    except OSError as exc:
        # The store forgot the secret before it failed to save (PrekeyStore): it is
        # never used again by this process, and the message is not lost.
        return OfflineAccepted(result, ratchet, f"{type(exc).__name__}: {exc.strerror or exc}")
    if taken is None:  # pragma: no cover
        raise UnknownPrekey("the prekey was used meanwhile")
    return OfflineAccepted(result, ratchet)
