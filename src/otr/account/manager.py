"""The session manager: one local account, one :class:`~otr.Conversation` per peer.

Sans-I/O like the conversation: every method takes ``now`` (Unix time in
seconds, ``time.time()``) and returns an ordered list of :class:`Routed` events
(the peer and an :mod:`otr.events` event, or one of this module's events).
The caller transmits ``Routed(peer, SendMessage(text))`` to ``peer``.

**What is typed is never sent in plaintext when it should be encrypted.**
:meth:`SessionManager.send` returns a :class:`SendHandle` whose state goes from
``PENDING`` to ``SENT`` (with ``encrypted`` and the remote ``instance`` that
answered), ``REFUSED`` (the library would not send it: the peer ended the
private conversation, the user ended it while it was pending, too many pending)
or ``FAILED`` (no private conversation within ``pending_timeout``, or lost and
too old to resend).  A message is held, and an AKE started, when the session is
not encrypted and encryption is wanted: the policy requires it, or the peer
advertised OTR (it sent us any OTR message or whitespace tag, or the transport
said so with :meth:`~SessionManager.set_peer_supports_otr`), or we know a
fingerprint of the peer (it used OTR with us before).  Otherwise (policy
OPPORTUNISTIC towards a peer never seen using OTR) it goes out as plaintext with
the whitespace tag, and the handle says ``encrypted=False``.  Held messages are
released, encrypted, in order, as soon as the session is secured, bound to the
instance that answered; while the peer is offline (:meth:`set_presence`) they
wait without an AKE, and their timeout starts when it comes online; a peer that
went offline took its session with it, so messages typed after that wait for a
new AKE when it is back instead of going out on the dead session.

**Stale sessions recover** (the peer restarted or lost its session), with one
owner per step.  The :class:`~otr.Conversation` answers a data message it cannot
read with an OTR Error (also in PLAINTEXT, as the v3 spec asks: "reply with an
Error Message"), which it reports as ``MessageUnreadable(peer_told=True)`` and the
manager as :class:`MessageLost` (``incoming``).  On the sending side the
conversation reports the peer's error as :class:`otr.events.MessagesPossiblyLost`
and, after the next key exchange with the same key, resends the last message per
error received that is younger than 60 s (issue 12.4), naming them in
:class:`otr.events.MessagesResent` (``too_old``: lost, not resent).  The manager
builds on those events: it holds new messages until that key exchange (asking
for it when the conversation's policy does not; one AKE at a time: a Query the
conversation sends in answer to an error while an AKE runs is not transmitted),
updates the handles that were resent (``resent``, ``instance``, ``sent_at``) and
marks ``FAILED`` with :class:`MessageLost` the lost ones that were not: too old,
or the new key exchange was with another key (:class:`otr.events.OtherInstanceSecured`;
:meth:`SessionManager.select_instance` then releases held messages to the
chosen instance).  A bounce from the transport (:meth:`SessionManager.undeliverable`)
goes through :meth:`otr.Conversation.report_undelivered` the same way.  A peer that
lost its session and says nothing (libotr 4.1.1 drops a data message outside a
private conversation silently) shows it by sending plaintext or a Query Message
while we are encrypted: the messages we sent since its last encrypted one
(within ``resend_window``) are then reported as :class:`MessageLost` ("may not
have read"), not resent, since it may have read them.

Limits (memory held per peer is bounded): ``max_pending`` held messages per peer
(beyond: ``REFUSED``), ``max_tracked`` sent messages remembered per peer (to resolve
the conversation's texts to handles), ``max_peers`` conversations (beyond:
:class:`LocalProtocolError`).
"""

from __future__ import annotations

import enum
import heapq
import itertools
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .. import events as ev
from ..conversation import RESEND_INTERVAL, Conversation, MsgState
from ..errors import LocalProtocolError
from ..events import Event, Tlv
from ..policy import Policy
from ..wire import envelope
from .identity import Identity

__all__ = [
    "AKE_RETRY",
    "DEFAULT_MAX_PEERS",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_MAX_TRACKED",
    "DEFAULT_PENDING_TIMEOUT",
    "HandleUpdated",
    "MessageLost",
    "Routed",
    "SendHandle",
    "SendState",
    "SessionManager",
]

DEFAULT_PENDING_TIMEOUT = 60.0
"""Seconds a held message waits for a private conversation (once the peer is online)."""
DEFAULT_MAX_PENDING = 100
DEFAULT_MAX_TRACKED = 50
DEFAULT_MAX_PEERS = 10_000
AKE_RETRY = 10.0
"""Seconds after which a message typed while an AKE we asked for has not
completed asks again (the Query Message or its answer may have been lost)."""


class SendState(enum.Enum):
    """Where a typed message stands."""

    PENDING = "pending"
    """Held until a private conversation is up."""
    SENT = "sent"
    """Handed to the transport (``encrypted`` says how)."""
    REFUSED = "refused"
    """Not sent, by rule (see ``reason``)."""
    FAILED = "failed"
    """Not delivered: no private conversation in time, or lost and not resent."""


@dataclass(eq=False)
class SendHandle:
    """One typed message and what became of it (mutable; the manager updates it and
    reports each change as :class:`HandleUpdated`)."""

    id: int
    peer: str
    text: str
    created: float
    state: SendState = SendState.PENDING
    encrypted: bool = False
    instance: int = 0
    """The remote instance tag the message was encrypted for (0 when not encrypted)."""
    reason: str = ""
    sent_at: float = 0.0
    resent: int = 0
    expires: float = float("inf")
    suspected: bool = False
    """Reported as possibly unread by a peer that restarted its session."""

    def __repr__(self) -> str:  # never the text: it may be private
        return (
            f"SendHandle(id={self.id}, peer={self.peer!r}, state={self.state.value}, "
            f"encrypted={self.encrypted}, instance={self.instance:#x}, resent={self.resent})"
        )


@dataclass(frozen=True)
class HandleUpdated(Event):
    """A :class:`SendHandle` changed state (or was resent)."""

    handle: SendHandle


@dataclass(frozen=True)
class MessageLost(Event):
    """A message was lost.  ``incoming``: one from the peer that we could not read
    (the peer was told and will resend what it can); otherwise ``handle`` is ours,
    which the peer could not read and which was not resent automatically: the user
    should resend it."""

    reason: str
    incoming: bool
    handle: SendHandle | None = None


@dataclass(frozen=True)
class Routed:
    """An event and the peer it concerns."""

    peer: str
    event: Event


@dataclass
class _Peer:
    """What the manager knows of one peer beside its conversation."""

    conv: Conversation
    supports_otr: bool = False
    online: bool = True
    pending: deque[SendHandle] = field(default_factory=deque)
    tracked: deque[SendHandle] = field(default_factory=deque)
    """Encrypted messages sent on the current session (to resolve the texts of the
    conversation's MessagesPossiblyLost / MessagesResent to handles)."""
    starting: bool = False
    """An AKE has been asked for (a Query Message sent) and not finished."""
    started_at: float = 0.0
    lost: list[SendHandle] = field(default_factory=list)
    """The handles the conversation's last MessagesPossiblyLost named."""
    recovering: bool = False
    last_received: float = float("-inf")
    """When the peer's last encrypted message arrived."""


class SessionManager:
    """All conversations of one local account (``identity``).

    ``instance`` names this client instance (an XMPP resource) for its persistent
    instance tag (:meth:`Identity.instance_tag`).  ``policy`` is every new
    conversation's policy; ``conversation_factory`` may replace how a
    :class:`Conversation` is made (tests, or v4 sessions later).
    """

    def __init__(
        self,
        identity: Identity,
        *,
        instance: str = "",
        policy: Policy | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        pending_timeout: float = DEFAULT_PENDING_TIMEOUT,
        resend_window: float = RESEND_INTERVAL,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_tracked: int = DEFAULT_MAX_TRACKED,
        max_peers: int = DEFAULT_MAX_PEERS,
        conversation_factory: Callable[[str], Conversation] | None = None,
    ) -> None:
        self.identity = identity
        self.policy = policy if policy is not None else Policy()
        self.rng = rng
        self.instance_tag = identity.instance_tag(instance, rng)
        self.pending_timeout = pending_timeout
        self.resend_window = resend_window
        self.max_pending = max_pending
        self.max_tracked = max_tracked
        self.max_peers = max_peers
        self._factory = conversation_factory or self._new_conversation
        self._peers: dict[str, _Peer] = {}
        self._ids = itertools.count(1)
        # One deadline across all peers without scanning them all: each peer's
        # deadline, a heap of (deadline, peer) with stale entries dropped
        # lazily, and the peers touched since (every operation goes through
        # _peer(), so their deadlines are recomputed before the next use).
        self._deadlines: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._dirty: set[str] = set()

    # ---------------------------------------------------------------- peers

    def _new_conversation(self, peer: str) -> Conversation:
        ident = self.identity
        return Conversation(
            ident.key,
            peer,
            account=ident.account,
            protocol=ident.protocol,
            policy=self.policy,
            instance_tag=self.instance_tag,
            trust=ident.trust,
            rng=self.rng,
        )

    def _peer(self, peer: str) -> _Peer:
        self._dirty.add(peer)
        p = self._peers.get(peer)
        if p is None:
            if len(self._peers) >= self.max_peers:
                raise LocalProtocolError(f"more than {self.max_peers} conversations")
            p = _Peer(self._factory(peer))
            self._peers[peer] = p
        return p

    def conversation(self, peer: str) -> Conversation:
        """The peer's conversation (created on first use)."""
        return self._peer(peer).conv

    @property
    def peers(self) -> list[str]:
        return list(self._peers)

    def pending(self, peer: str) -> list[SendHandle]:
        p = self._peers.get(peer)
        return list(p.pending) if p is not None else []

    def is_recovering(self, peer: str) -> bool:
        """Whether the peer's session is known to be stale (its messages wait for a
        new AKE)."""
        p = self._peers.get(peer)
        return p is not None and p.recovering

    def set_peer_supports_otr(self, peer: str, supported: bool = True) -> None:
        """The transport learnt that the peer speaks OTR (e.g. XEP-0380 or disco):
        from now on nothing typed to it is sent in plaintext."""
        self._peer(peer).supports_otr = supported

    def wants_encryption(self, peer: str) -> bool:
        """Whether a message to ``peer`` must only be sent encrypted."""
        p = self._peer(peer)
        if not p.conv.policy.enabled:
            return False
        return (
            p.conv.policy.require_encryption
            or p.supports_otr
            or p.conv.msgstate is not MsgState.PLAINTEXT
            or bool(self.identity.known_fingerprints(peer))
        )

    # ------------------------------------------------------------ user side

    def send(
        self, peer: str, text: str, now: float, tlvs: Sequence[Tlv] = ()
    ) -> tuple[SendHandle, list[Routed]]:
        """The user typed ``text`` for ``peer``.  Returns its handle and the events."""
        p = self._peer(peer)
        conv = p.conv
        handle = SendHandle(next(self._ids), peer, text, now)
        if "\0" in text:
            return handle, self._settle(handle, SendState.REFUSED, "message contains NUL")
        if not conv.policy.enabled:
            return handle, self._transmit(p, handle, conv.send(text, now, tlvs), now)
        if conv.msgstate is MsgState.FINISHED:
            reason = "the peer has ended the private conversation: end or restart it"
            return handle, self._settle(handle, SendState.REFUSED, reason)
        if conv.is_encrypted and not p.recovering:
            return handle, self._transmit(p, handle, conv.send(text, now, tlvs), now)
        if not self.wants_encryption(peer) and not p.recovering:
            return handle, self._transmit(p, handle, conv.send(text, now, tlvs), now)
        if len(p.pending) >= self.max_pending:
            reason = f"more than {self.max_pending} messages waiting for a private conversation"
            return handle, self._settle(handle, SendState.REFUSED, reason)
        handle.expires = now + self.pending_timeout if p.online else float("inf")
        p.pending.append(handle)
        out = [Routed(peer, HandleUpdated(handle))]
        if p.online and not self._ake_running(p, now):
            out += self._start(p, now)
        return handle, out

    def start(self, peer: str, now: float) -> list[Routed]:
        """Start (or refresh) a private conversation: send a Query Message."""
        return self._start(self._peer(peer), now)

    def end(self, peer: str, now: float) -> list[Routed]:
        """End the private conversation; messages still pending are refused."""
        p = self._peer(peer)
        out = self._route(peer, p.conv.end(now))
        for h in list(p.pending):
            out += self._settle(h, SendState.REFUSED, "the private conversation was ended")
        p.pending.clear()
        p.tracked.clear()
        p.starting = p.recovering = False
        p.lost = []
        return out

    def smp_start(
        self, peer: str, secret: str | bytes, question: str | None, now: float
    ) -> list[Routed]:
        return self._route(peer, self._peer(peer).conv.smp_start(secret, question, now))

    def smp_respond(self, peer: str, secret: str | bytes, now: float) -> list[Routed]:
        return self._route(peer, self._peer(peer).conv.smp_respond(secret, now))

    def smp_abort(self, peer: str, now: float) -> list[Routed]:
        return self._route(peer, self._peer(peer).conv.smp_abort(now))

    def use_extra_key(self, peer: str, use: int, usedata: bytes, now: float) -> list[Routed]:
        """Spec "Extra symmetric key" with the peer's current session."""
        return self._route(peer, self._peer(peer).conv.use_extra_key(use, usedata, now))

    def set_presence(self, peer: str, online: bool, now: float) -> list[Routed]:
        """The transport saw the peer come online or go offline.  Offline: held
        messages wait (no AKE, no timeout).  Online: their timeout starts and an
        AKE is started for them."""
        p = self._peer(peer)
        was = p.online
        p.online = online
        out: list[Routed] = []
        if online and not was:
            p.starting = False  # whatever was asked while offline went nowhere
            for h in p.pending:
                h.expires = now + self.pending_timeout
            if p.pending:
                out += self._start(p, now)
        elif not online:
            for h in p.pending:
                h.expires = float("inf")
            if p.conv.is_encrypted and not p.recovering:
                # A client that went away took its session keys with it: nothing
                # more on this session; a new AKE when the peer is back.
                p.recovering = True
        return out

    def select_instance(self, peer: str, their_instance: int, now: float) -> list[Routed]:
        """Send to this remote instance from now on (after
        :class:`otr.events.OtherInstanceSecured`, see
        :meth:`otr.Conversation.select_instance`): messages held for the peer are
        released to it, bound to it.  Raises LocalProtocolError when that instance
        is not ENCRYPTED."""
        p = self._peer(peer)
        p.conv.select_instance(their_instance)
        p.recovering = False
        p.tracked.clear()
        return self._release(p, now)

    # --------------------------------------------------------- network side

    def receive(self, peer: str, text: str, now: float) -> list[Routed]:
        """Text that arrived from ``peer``.  Never raises (a new peer beyond
        ``max_peers`` is dropped with a warning)."""
        if peer not in self._peers and len(self._peers) >= self.max_peers:
            reason = f"message from a new peer dropped: more than {self.max_peers} conversations"
            return [Routed(peer, ev.Warning(reason))]
        p = self._peer(peer)
        conv = p.conv
        kind = envelope.classify(text)
        if kind is not envelope.MessageKind.PLAINTEXT and conv.policy.enabled:
            p.supports_otr = True
        suspects = self._suspects(p, kind, now)
        events = conv.receive(text, now)
        if kind is envelope.MessageKind.ERROR:
            events = self._one_ake(p, events, now)
        if kind in (envelope.MessageKind.QUERY, envelope.MessageKind.TAGGED_PLAINTEXT) and any(
            isinstance(e, ev.SendMessage) and e.text.startswith("?OTR:") for e in events
        ):
            # We answered the peer's offer with a D-H Commit: an AKE is running.
            p.starting = True
            p.started_at = now
        return self._after_receive(p, events, now) + suspects

    def _suspects(self, p: _Peer, kind: envelope.MessageKind, now: float) -> list[Routed]:
        """Plaintext or a Query Message from a peer we are encrypted with: it lost
        its session without telling us (libotr 4.1.1 drops a data message outside a
        private conversation silently).  What we sent since its last encrypted
        message may be unread: report each (not resent: it may have been read)."""
        K = envelope.MessageKind
        if not p.conv.is_encrypted or kind not in (K.PLAINTEXT, K.TAGGED_PLAINTEXT, K.QUERY):
            return []
        out: list[Routed] = []
        reason = "the peer restarted its session: it may not have read this"
        for h in p.tracked:
            recent = h.sent_at >= p.last_received and now - h.sent_at <= self.resend_window
            if recent and not h.suspected:
                # Still tracked: if the peer's errors follow, it is resent as usual.
                h.suspected = True
                out.append(Routed(p.conv.peer, MessageLost(reason, incoming=False, handle=h)))
        return out

    def undeliverable(self, peer: str, now: float) -> list[Routed]:
        """The transport says one of our encrypted messages to ``peer`` was not
        delivered (e.g. an XMPP error bounce: the peer is gone).  Handled like an
        OTR Error (:meth:`otr.Conversation.report_undelivered`): held messages wait
        for a new AKE, after which the conversation resends what it can."""
        p = self._peer(peer)
        if not p.conv.is_encrypted:
            return []
        return self._after_receive(p, self._one_ake(p, p.conv.report_undelivered(now), now), now)

    def _possibly_lost(self, p: _Peer, e: ev.MessagesPossiblyLost, now: float) -> list[Routed]:
        """The conversation learnt that the peer lost its session (its OTR Error):
        hold new messages until a new AKE, and ask for one unless the conversation
        did (its policy's ERROR_START_AKE) or one is running."""
        p.recovering = True
        p.lost = _match(p.tracked, e.texts)
        if p.conv.policy.error_start_ake:
            if not self._ake_running(p, now):
                p.starting, p.started_at = True, now
            return []
        if not p.online or self._ake_running(p, now):
            return []
        return self._start(p, now)

    def _one_ake(self, p: _Peer, events: list[Event], now: float) -> list[Event]:
        """One AKE at a time: while an AKE we know of runs, a Query Message the
        conversation sends in answer to the peer's OTR Error (ERROR_START_AKE) is
        not transmitted -- it would restart the peer's AKE while ours completes,
        leaving the two sides with different keys."""
        if not self._ake_running(p, now):
            return events
        return [
            e
            for e in events
            if not (
                isinstance(e, ev.SendMessage)
                and envelope.classify(e.text) is envelope.MessageKind.QUERY
            )
        ]

    @staticmethod
    def _ake_running(p: _Peer, now: float) -> bool:
        return p.starting and now - p.started_at < AKE_RETRY

    def _after_receive(self, p: _Peer, events: list[Event], now: float) -> list[Routed]:
        peer = p.conv.peer
        """Map the conversation's events to handles (it owns the OTR Error replies,
        the lost-message detection and the resend; issue 12.4)."""
        out: list[Routed] = []
        secured = False
        for e in events:
            out.append(Routed(peer, e))
            if isinstance(e, ev.MessageReceived) and e.encrypted:
                p.last_received = now
            elif isinstance(e, ev.MessageUnreadable) and e.peer_told:
                out.append(Routed(peer, MessageLost(e.reason, incoming=True)))
            elif isinstance(e, ev.MessagesPossiblyLost):
                out += self._possibly_lost(p, e, now)
            elif isinstance(e, ev.SessionSecured):
                secured = True
                p.starting = False
                p.supports_otr = True
                if not p.recovering and not e.refreshed:
                    p.tracked.clear()
            elif isinstance(e, ev.MessagesResent):
                out += self._resent(p, e, now)
            elif isinstance(e, ev.OtherInstanceSecured):
                p.starting = False
                # The conversation resends nothing to a key it does not select.
                for h in p.lost:
                    out += self._lost_for_good(h, "the peer lost it and now has another key")
                p.lost = []
            elif isinstance(e, ev.SessionFinished):
                p.tracked.clear()
        if secured:
            p.lost = []  # named as possibly lost, but read before the peer restarted
            p.recovering = False
            out += self._release(p, now)
        return out

    def _resent(self, p: _Peer, e: ev.MessagesResent, now: float) -> list[Routed]:
        """The conversation resent these of the lost messages: update their handles."""
        out: list[Routed] = []
        resent = _match(p.lost, e.texts)
        rest = [h for h in p.lost if h not in resent]
        for h in _match(rest, e.too_old):
            out += self._lost_for_good(h, "the peer lost it and it is too old to resend")
        p.lost = []
        p.tracked.clear()
        for h in resent:
            h.resent += 1
            h.instance = e.their_instance
            h.sent_at = now
            self._track(p, h)
            out.append(Routed(h.peer, HandleUpdated(h)))
        return out

    def _release(self, p: _Peer, now: float) -> list[Routed]:
        """Send the held messages, in order, on the session now selected."""
        out: list[Routed] = []
        while p.pending:
            h = p.pending.popleft()
            out += self._transmit(p, h, p.conv.send(h.text, now), now)
        return out

    # ----------------------------------------------------------------- timers

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timer` must run (None: no timer)."""
        self._refresh()
        heap = self._heap
        while heap:
            when, peer = heap[0]
            if self._deadlines.get(peer) == when:
                return when
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> list[Routed]:
        """Fail held messages past their timeout and run the conversations' timers."""
        self._refresh()
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            when, peer = heapq.heappop(self._heap)
            if self._deadlines.get(peer) == when:
                del self._deadlines[peer]
                due.append(peer)
        out: list[Routed] = []
        for peer in due:
            p = self._peer(peer)
            d = p.conv.next_deadline()
            if d is not None and d <= now:
                out += self._route(peer, p.conv.handle_timer(now))
            expired = False
            while p.pending and p.pending[0].expires <= now:
                h = p.pending.popleft()
                reason = f"no private conversation within {self.pending_timeout:g} s"
                out += self._settle(h, SendState.FAILED, reason)
                expired = True
            if expired and not p.pending:
                p.starting = False  # the next message asks again
        return out

    def _refresh(self) -> None:
        for peer in self._dirty:
            p = self._peers.get(peer)
            when = self._peer_deadline(p) if p is not None else None
            if when == self._deadlines.get(peer):
                continue
            if when is None:
                del self._deadlines[peer]
            else:
                self._deadlines[peer] = when
                heapq.heappush(self._heap, (when, peer))
        self._dirty.clear()
        if len(self._heap) > 4 * len(self._deadlines) + 64:  # drop stale entries
            self._heap = [(w, p) for p, w in self._deadlines.items()]
            heapq.heapify(self._heap)

    @staticmethod
    def _peer_deadline(p: _Peer) -> float | None:
        best = p.conv.next_deadline()
        if p.pending and p.pending[0].expires != float("inf"):
            head = p.pending[0].expires
            best = head if best is None else min(best, head)
        return best

    # ---------------------------------------------------------------- helpers

    def _start(self, p: _Peer, now: float) -> list[Routed]:
        if not p.conv.policy.enabled:
            raise LocalProtocolError("policy allows no OTR version")
        p.starting = True
        p.started_at = now
        return self._route(p.conv.peer, p.conv.start(now))

    def _transmit(
        self, p: _Peer, handle: SendHandle, events: list[Event], now: float
    ) -> list[Routed]:
        """``events`` came from ``conv.send(handle.text)``: settle the handle."""
        out = self._route(p.conv.peer, events)
        refused = next((e for e in events if isinstance(e, ev.MessageNotSent)), None)
        if refused is not None:
            out += self._settle(handle, SendState.REFUSED, refused.reason)
            return out
        conv = p.conv
        handle.encrypted = conv.is_encrypted
        handle.instance = conv.their_instance if handle.encrypted else 0
        handle.sent_at = now
        handle.state = SendState.SENT
        if handle.encrypted:
            self._track(p, handle)
        out.append(Routed(p.conv.peer, HandleUpdated(handle)))
        return out

    def _track(self, p: _Peer, handle: SendHandle) -> None:
        p.tracked.append(handle)
        while len(p.tracked) > self.max_tracked:
            p.tracked.popleft()

    @staticmethod
    def _lost_for_good(h: SendHandle, why: str) -> list[Routed]:
        """A sent message the peer could not read and that is not resent."""
        h.state = SendState.FAILED
        h.reason = f"{why}: not resent, resend it yourself"
        return [
            Routed(h.peer, MessageLost(h.reason, incoming=False, handle=h)),
            Routed(h.peer, HandleUpdated(h)),
        ]

    @staticmethod
    def _settle(handle: SendHandle, state: SendState, reason: str) -> list[Routed]:
        handle.state = state
        handle.reason = reason
        return [Routed(handle.peer, HandleUpdated(handle))]

    @staticmethod
    def _route(peer: str, events: list[Event]) -> list[Routed]:
        return [Routed(peer, e) for e in events]


def _match(
    handles: Sequence[SendHandle] | deque[SendHandle], texts: Sequence[str]
) -> list[SendHandle]:
    """The handles, in order, that the conversation's ``texts`` name: the latest
    handle with each text, matched from the end (the conversation names the last
    messages sent, in the order sent)."""
    found: list[SendHandle] = []
    i = len(handles) - 1
    for text in reversed(texts):
        while i >= 0 and handles[i].text != text:
            i -= 1
        if i < 0:
            break
        found.append(handles[i])
        i -= 1
    found.reverse()
    return found
