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
* The ``rng`` a protocol is given raises :class:`~otr.errors.EntropyError` when the
  application's randomness fails: draw randomness before changing state (the front
  door reports EntropyError from ``receive`` as ``MessageUnreadable`` with nothing
  changed, and raises it from user calls); where a step can safely be deferred
  (OTRv3 key rotation), defer it instead.
* ``now`` is Unix time in seconds (``time.time()``), the one clock of the API.
* Fingerprints are bytes: 20 (OTRv3, SHA-1 of the DSA key) or 56 (OTRv4).
* ``established`` turns True when a key exchange first completes; the front door
  never evicts the selected instance and prefers evicting instances that never
  completed one (``Limits.max_instances``).

Plugging in a version (OTRv4): register its message decoders with
:func:`otr.wire.registry.register`, implement :class:`VersionProtocol` (made with the
conversation's ``our_instance`` and ``rng``) and :class:`InstanceSession`, and call
:meth:`otr.Conversation.add_protocol` before the conversation starts.  The front door
then offers the version in queries and whitespace tags when the policy allows it,
starts the highest common version, routes every message of that version from
instance T to the session it keeps for ``(version, T)`` (made on first use), asks the
protocol to fragment and reassemble, and runs the sessions' timers.  A key exchange
that runs beside an established session (OTRv4 ERRATA B21: a replayed or stray
Identity message must not tear down ENCRYPTED) is the session's own business: it
returns :class:`Secured` (``refreshed=True``) only when the new keys are in use.
``tests/test_instance.py`` plugs a toy version 4 in this way.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .events import Event, Tlv
from .limits import Limits
from .wire.fragment import Fragment

__all__ = [
    "Effect",
    "FragmentBuffer",
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
    also_proves: tuple[bytes, ...] = ()
    """Other fingerprints the peer proved to hold in this key exchange: an OTRv4
    Client Profile's OTRv3 DSA key, bound by its verified transitional signature.
    A v4 session of the instance we talk to over OTRv3 with that key is the same
    peer (the upgrade path of the OTRv3-compatible mode)."""
    offline: bool = False
    """Started by the non-interactive DAKE (OTRv4 offline start, reduced
    deniability: see :attr:`otr.events.SessionSecured.offline`)."""


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


class FragmentBuffer(Protocol):
    """Reassembly of one remote instance's fragments (OTRv3: the single buffer of
    :class:`otr.wire.fragment.Reassembler`; OTRv4 keeps one per identifier).  It
    must bound what it holds by the :class:`~otr.limits.Limits` it was made with."""

    dropped: str
    """Why the last :meth:`feed` discarded a partly received message ("" if not)."""

    def feed(self, fragment: Fragment) -> str | None:
        """Add a parsed fragment; the whole encoded message when it is complete."""
        ...

    def reset(self) -> None:
        """An unfragmented message arrived (OTRv3 forgets its buffer; v4 may ignore)."""
        ...


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

    def addressed_to_any(self, version: int, mtype: int) -> bool:
        """Whether a message of this type may carry receiver instance tag 0 (it
        opens a key exchange with "any instance": OTRv3's D-H Commit, OTRv4's
        Identity message); others addressed to 0 are for another instance."""
        ...

    def fragment(self, wire: str, version: int, max_size: int, their_instance: int) -> list[str]:
        """Split an encoded message longer than ``max_size`` into fragments of at
        most ``max_size`` characters (the front door decides when to)."""
        ...

    def fragments_needed(self, plaintext_bytes: int, version: int, max_size: int) -> int:
        """An upper bound on the fragments a data message carrying this much
        plaintext needs (the front door refuses to send more than the receiver's
        ``Limits.max_fragments`` before anything is encrypted)."""
        ...

    def new_reassembler(self, version: int, limits: Limits) -> FragmentBuffer:
        """The fragment buffer for fragments of protocol ``version`` from one instance
        (the hook for OTRv4's reassembler)."""
        ...
