"""Events: every effect of the sans-I/O core, in order.

:meth:`otr.Conversation.receive`, ``send``, ``start``, ``end``, ``smp_*`` and
``handle_timer`` return ``list[Event]``.  The caller acts on them: sends
:class:`SendMessage` text to the peer, shows :class:`MessageReceived` text,
reports the others.  Events never carry secret key material except
:class:`ExtraSymmetricKey`, whose purpose is to hand a key to the application.

Events are the same for every protocol version; version-specific facts are
fields: ``version`` (2, 3 or 4) in :class:`SessionSecured` and
:class:`OtherInstanceSecured`, fingerprints as bytes of 20 (OTRv3, SHA-1 of the
DSA key) or 56 (OTRv4) bytes, ``their_instance`` wherever an instance matters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "EnsembleRefused",
    "ErrorReceived",
    "Event",
    "ExtraSymmetricKey",
    "FingerprintChanged",
    "MessageForOtherInstance",
    "MessageNotSent",
    "MessageReceived",
    "MessageUnreadable",
    "MessagesPossiblyLost",
    "MessagesResent",
    "NewFingerprint",
    "OtherInstanceSecured",
    "PrekeyNotSaved",
    "ReassemblyDropped",
    "SendMessage",
    "SessionEnded",
    "SessionFinished",
    "SessionSecured",
    "SmpAborted",
    "SmpCheated",
    "SmpFailed",
    "SmpInProgress",
    "SmpRequested",
    "SmpSucceeded",
    "Tlv",
    "Trust",
    "UnencryptedReceived",
    "Warning",
]


class Trust(enum.Enum):
    """What we know of a peer's fingerprint."""

    NEW = "new"
    """Never seen before."""
    UNVERIFIED = "unverified"
    """Seen before, not verified."""
    VERIFIED = "verified"
    """Verified by SMP or by the user."""


@dataclass(frozen=True)
class Tlv:
    """A TLV record carried in a data message (spec "Data Message", TLV types 0-8)."""

    type: int
    value: bytes = b""


@dataclass(frozen=True)
class Event:
    """Base class of all events."""


@dataclass(frozen=True)
class SendMessage(Event):
    """Wire text to transmit to the peer, as is (one fragment each when fragmenting)."""

    text: str


@dataclass(frozen=True)
class MessageReceived(Event):
    """Text for the user.  ``encrypted`` is False for plaintext (whitespace tags stripped)."""

    text: str
    encrypted: bool
    tlvs: tuple[Tlv, ...] = ()
    their_instance: int = 0


@dataclass(frozen=True)
class UnencryptedReceived(Event):
    """Plaintext arrived while policy or state expected encryption (a warning to show)."""

    text: str


@dataclass(frozen=True)
class SessionSecured(Event):
    """The AKE/DAKE completed: an encrypted session is up (``refreshed`` on a new AKE
    while already encrypted)."""

    version: int
    ssid: bytes
    their_fingerprint: bytes
    our_fingerprint: bytes
    their_instance: int
    trust: Trust
    refreshed: bool = False
    ssid_first_half_bold: bool = False
    offline: bool = False
    """OTRv4 only: the session was started by the non-interactive DAKE
    (:meth:`otr.Conversation.start_offline`, or a Non-Interactive-Auth message
    received), whose deniability is reduced (otr-v4.md "Offline Conversation
    Initialization", ADR 009): Bob has only offline deniability and Alice no
    participation deniability, unlike the interactive DAKE's online deniability
    for both."""


@dataclass(frozen=True)
class OtherInstanceSecured(Event):
    """A key exchange completed with a remote instance that does *not* receive our
    outgoing messages: another instance is selected, and the new one is not known to
    hold the same key nor to be more trusted (see :meth:`otr.Conversation.select_instance`
    to switch).  Also sent when the selected instance completed a key exchange with a
    different key (someone reusing its instance tag): sending is then refused with
    :class:`MessageNotSent` until the application selects an instance."""

    version: int
    ssid: bytes
    their_fingerprint: bytes
    their_instance: int
    trust: Trust
    selected_instance: int
    """The instance outgoing messages go to (0 when none until the user chooses)."""


@dataclass(frozen=True)
class SessionFinished(Event):
    """The peer ended the session (TLV 1): state FINISHED, nothing more can be sent
    until the user ends or restarts."""

    their_instance: int = 0


@dataclass(frozen=True)
class SessionEnded(Event):
    """We left the encrypted/finished state for PLAINTEXT at the user's request."""

    their_instance: int = 0


@dataclass(frozen=True)
class MessageUnreadable(Event):
    """A message from the network could not be decoded, verified or decrypted."""

    reason: str
    peer_told: bool = False
    """The conversation answered it with an OTR Error message (spec "Receiving a
    Data Message": an encrypted message it cannot read): the peer learns that this
    message was lost (it reports :class:`MessagesPossiblyLost` and resends what it
    can once a new key exchange completes)."""


@dataclass(frozen=True)
class ReassemblyDropped(Event):
    """A partly received fragmented message was discarded (too many fragments or
    characters for :class:`otr.limits.Limits`, or fragments out of sequence)."""

    their_instance: int
    reason: str


@dataclass(frozen=True)
class MessagesPossiblyLost(Event):
    """The peer reported an unreadable message (an OTR Error while encrypted): these
    messages, sent to that instance since it last wrote to us, may not have been read.
    Those younger than 60 s are resent once a new key exchange completes (a
    :class:`Warning` says so)."""

    their_instance: int
    texts: tuple[str, ...]


@dataclass(frozen=True)
class MessagesResent(Event):
    """After :class:`MessagesPossiblyLost`, a new key exchange completed with the
    same peer: ``texts`` (the last message sent per OTR Error received, younger
    than 60 s, in the order sent) were encrypted and sent again, each once;
    ``too_old`` were lost too but are older and were not resent (the user must).
    A :class:`Warning` tells a user about ``texts``; this event is for a client
    that tracks what it sent (the session manager's handles)."""

    their_instance: int
    texts: tuple[str, ...]
    too_old: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageForOtherInstance(Event):
    """A message addressed to another of our instances was ignored."""

    receiver_instance: int


@dataclass(frozen=True)
class ErrorReceived(Event):
    """The peer sent an OTR Error message."""

    text: str


@dataclass(frozen=True)
class MessageNotSent(Event):
    """What the user typed was not sent (FINISHED state, or held text that could not
    be sent encrypted)."""

    text: str
    reason: str


@dataclass(frozen=True)
class Warning(Event):
    """Something worth telling the user that needs no action."""

    message: str


@dataclass(frozen=True)
class NewFingerprint(Event):
    """A fingerprint never seen for this peer."""

    fingerprint: bytes


@dataclass(frozen=True)
class FingerprintChanged(Event):
    """A known peer presented a different key from the one(s) seen before."""

    fingerprint: bytes
    known: tuple[bytes, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SmpRequested(Event):
    """The peer started SMP: ask the user for the secret (show ``question`` if any)."""

    question: str | None = None


@dataclass(frozen=True)
class SmpInProgress(Event):
    """An SMP step succeeded; ``progress`` is a percentage."""

    progress: int


@dataclass(frozen=True)
class SmpSucceeded(Event):
    """Both sides hold the same secret; the peer's fingerprint is now verified."""


@dataclass(frozen=True)
class SmpFailed(Event):
    """The secrets differ."""


@dataclass(frozen=True)
class SmpAborted(Event):
    """SMP was aborted (by either side, or on an out-of-order message)."""

    by_peer: bool = True


@dataclass(frozen=True)
class SmpCheated(Event):
    """A proof or group-membership check failed: SMP was aborted."""

    reason: str


@dataclass(frozen=True)
class ExtraSymmetricKey(Event):
    """The extra symmetric key (spec "Extra symmetric key"), with the TLV 8 use and
    use-data.  ``origin`` is "local" (we sent TLV 8) or "remote" (the peer did)."""

    key: bytes
    use: int
    usedata: bytes
    origin: str


@dataclass(frozen=True)
class EnsembleRefused(Event):
    """:meth:`otr.Conversation.start_offline` did not use this Prekey Ensemble:
    ``reason`` says why (invalid at ``now``: expired or badly signed profiles,
    instance tags that differ, version 4 not offered; or another ensemble was
    chosen for its instance tag)."""

    instance_tag: int
    reason: str


@dataclass(frozen=True)
class PrekeyNotSaved(Event):
    """An offline start used our prekey ``identifier`` but the prekey store could
    not save its removal (``reason``: the OSError, e.g. a full disk).  The session
    is secured and its messages read; the store has forgotten the secret, so it is
    never used again while this process runs, and it saves the removal with its
    next successful write (:meth:`otr.prekey.secrets.PrekeySecretStore.save`).
    Until then the file still holds the secret: fix the storage and save, or a
    restart would accept a replay of that offline start (see
    :mod:`otr.v4.offline`)."""

    identifier: int
    reason: str
