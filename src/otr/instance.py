"""The per-version session interface: what the front door (:class:`otr.Conversation`)
needs of the protocol state machine of one remote instance.

The conversation keeps everything that does not depend on the protocol version
(spec "The protocol state machine"): classifying received text (query, whitespace
tag, error, fragment, encoded message), the policy, held messages, fragmenting and
reassembling, trust, timers and routing by ``(version, instance tag)``.  It decodes
an encoded message with :mod:`otr.wire.registry`, checks the instance tags (spec
"Instance Tags") and hands the message to the :class:`InstanceSession` of that
remote instance.  One :class:`VersionProtocol` per protocol family (OTRv2/v3:
:class:`otr.v3.protocol.V3Protocol`; OTRv4 later) makes those sessions and answers
queries and whitespace tags before any remote instance is known.

Sessions speak in :data:`Output`: public :mod:`otr.events` (passed to the
application unchanged, in order) and the :class:`Effect` records below, which only
the front door sees and turns into events:

* :class:`Transmit` - an encoded message (``?OTR:...``, unfragmented) for this
  instance; the front door fragments it (``Policy.max_message_size``) and emits
  :class:`~otr.events.SendMessage`.  Unencoded wire text (an OTR Error message) is
  returned as a plain ``SendMessage``.
* :class:`Secured` - the AKE/DAKE completed (or refreshed).  The front door looks the
  fingerprint up in the trust store, reports ``NewFingerprint`` /
  ``FingerprintChanged`` and ``SessionSecured``, decides which instance outgoing
  messages go to, and sends held messages through :meth:`InstanceSession.send`.
* :class:`SmpVerdict` - an SMP outcome that sets the peer fingerprint's trust
  (verified or not); the session decides when (libotr: not on the side that only
  answered the peer's question).

Rules for an implementation (enforced by review and by the conversation's tests):

* ``receive`` and ``receive_fast`` never raise for anything the network can send,
  except :class:`~otr.errors.RemoteProtocolError` (reported by the front door as
  ``MessageUnreadable``) and only with the session's state unchanged.  Every state
  change happens after everything that can fail (including the ``rng``).
* The user-side methods (``send``, ``smp_*``, ``extra_key``) raise
  :class:`~otr.errors.LocalProtocolError` on misuse and never leave the session
  half-changed when the ``rng`` raises.
* ``now`` is Unix time in seconds (``time.time()``), the one clock of the API.
* Fingerprints are bytes: 20 (OTRv3, SHA-1 of the DSA key) or 56 (OTRv4).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .events import Event, Tlv

__all__ = [
    "Effect",
    "InstanceSession",
    "MsgState",
    "Output",
    "Secured",
    "SmpVerdict",
    "Transmit",
    "VersionProtocol",
]


class MsgState(enum.Enum):
    """Spec "Message state" (OTRv3) / "Protocol states" (OTRv4: START is PLAINTEXT,
    ENCRYPTED_MESSAGES is ENCRYPTED)."""

    PLAINTEXT = "plaintext"
    ENCRYPTED = "encrypted"
    FINISHED = "finished"


@dataclass(frozen=True)
class Effect:
    """Base of the records a session returns to the front door (never to the user)."""


@dataclass(frozen=True)
class Transmit(Effect):
    """An encoded message (``?OTR:...``, unfragmented) to send to this instance."""

    wire: str


@dataclass(frozen=True)
class Secured(Effect):
    """The key exchange completed: the session is now ENCRYPTED (``refreshed``: it
    already was, and has new keys)."""

    version: int
    ssid: bytes
    their_fingerprint: bytes
    refreshed: bool
    ssid_first_half_bold: bool = False


@dataclass(frozen=True)
class SmpVerdict(Effect):
    """SMP finished: mark the session's peer fingerprint verified (or clear it)."""

    verified: bool


Output = Event | Effect
"""What a session method returns a list of, in order."""


class InstanceSession(Protocol):
    """The protocol state machine with one remote instance, for one protocol version
    family.  Created by :meth:`VersionProtocol.new_session`; owned by the front door."""

    @property
    def version(self) -> int:
        """The protocol version of the established session (0 before the first
        key exchange completes)."""
        ...

    @property
    def their_instance(self) -> int:
        """The remote instance tag (0 for OTRv2)."""
        ...

    @property
    def msgstate(self) -> MsgState: ...

    @property
    def ssid(self) -> bytes:
        """The secure session id of the established session (b"" before)."""
        ...

    @property
    def their_fingerprint(self) -> bytes:
        """The peer's long-term key fingerprint (20 or 56 bytes; b"" before)."""
        ...

    @property
    def established(self) -> bool:
        """Whether a key exchange ever completed with this instance (when a cap on
        instances is reached the front door evicts those that never did first)."""
        ...

    def receive(self, version: int, message: object, binary: bytes, now: float) -> list[Output]:
        """A decoded encoded message of protocol ``version`` for this instance (the
        front door has checked the policy and the instance tags); ``binary`` is the
        whole message before base 64 (data messages are authenticated over it)."""
        ...

    def receive_fast(self, binary: bytes, now: float) -> list[Output] | None:
        """Optional shortcut for an unfragmented data message straight from the wire:
        its outputs, or None (with no state changed) to let :meth:`receive` handle and
        report it.  ``return None`` is a correct implementation."""
        ...

    def send(self, message: bytes, tlvs: Sequence[Tlv], now: float) -> list[Output]:
        """Encrypt what the user typed (UTF-8, no NUL) with TLVs; only called while
        ENCRYPTED."""
        ...

    def end(self, now: float) -> list[Output]:
        """The user ends the conversation: tell the peer (TLV 1) when ENCRYPTED, and go
        to PLAINTEXT forgetting the session keys.  The front door reports
        ``SessionEnded``."""
        ...

    def smp_start(self, secret: bytes, question: str | None, now: float) -> list[Output]:
        """Spec "User requests to begin SMP"; only called while ENCRYPTED."""
        ...

    def smp_respond(self, secret: bytes, now: float) -> list[Output]: ...

    def smp_abort(self, now: float) -> list[Output]: ...

    def extra_key(self, use: int, usedata: bytes, now: float) -> list[Output]:
        """Spec "Extra symmetric key": an ``ExtraSymmetricKey(origin="local")`` event and
        the message telling the peer; only called while ENCRYPTED."""
        ...

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should next be called (None: no timer)."""
        ...

    def handle_timer(self, now: float) -> list[Output]: ...


class VersionProtocol(Protocol):
    """One protocol family of a conversation (our keys, our instance tag, what it
    started before any remote instance answered)."""

    @property
    def versions(self) -> frozenset[int]:
        """The protocol versions this family speaks (OTRv2/v3: {2, 3})."""
        ...

    def new_session(self, version: int, their_instance: int) -> InstanceSession:
        """A fresh session (PLAINTEXT) with a remote instance."""
        ...

    def start(self, version: int, now: float) -> list[Output]:
        """Begin the key exchange with any instance of the peer (spec "Receiving a
        Query Message" / whitespace tag): the first message, receiver instance 0."""
        ...
