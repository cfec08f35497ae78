"""The sans-I/O conversation: one local account talking to one peer.

The front door of spec "The protocol state machine": the version-neutral work
(classifying received text: query, whitespace tag, error, fragment, encoded
message; the policy; held messages; fragmenting and reassembly; trust; timers)
and routing of encoded messages by (protocol version, instance tag) to one
:class:`otr.instance.InstanceSession` per remote instance.  The per-version
state machines live elsewhere (OTRv2/v3: :mod:`otr.v3.protocol`); the interface
between the two is :mod:`otr.instance`.  Every public method returns an ordered
list of :mod:`otr.events`; input from the network never raises (spec: malformed
input is ignored or reported, the session is left as the spec says).

Time (``now``: Unix time in seconds, as ``time.time()``) and randomness
(``rng``) are parameters; nothing here reads a clock or does I/O.  Resource
limits are :class:`otr.limits.Limits`.
"""

from __future__ import annotations

import logging
import os
import struct
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from . import events as ev
from .crypto.dsa import DSAPrivateKey
from .errors import EntropyError, LocalProtocolError, RemoteProtocolError
from .events import Event, Tlv, Trust
from .instance import (
    FragmentBuffer,
    InstanceSession,
    MsgState,
    Output,
    Secured,
    SmpVerdict,
    Transmit,
    VersionProtocol,
)
from .limits import Limits
from .policy import Policy
from .v3.protocol import ERR_MALFORMED, ERR_UNREADABLE, HEARTBEAT_INTERVAL, V3Protocol
from .v4.offline import choose_ensembles
from .v4.prekeys import PrekeyEnsemble
from .v4.profiles import ClientProfile
from .v4.session import V4Credentials, V4Protocol, V4Session, V4Settings
from .wire import envelope, registry, tlv
from .wire import v3 as wire3
from .wire.fragment import (
    MAX_PIECES,
    Fragment,
    parse_fragment,
)
from .wire.fragment_v4 import V4FragmentBuffer

__all__ = [
    "ERR_MALFORMED",
    "ERR_UNREADABLE",
    "HEARTBEAT_INTERVAL",
    "MIN_INSTANCE_TAG",
    "RESEND_INTERVAL",
    "Conversation",
    "InstanceSession",
    "MsgState",
    "TrustStore",
]

log = logging.getLogger(__name__)

RESEND_INTERVAL = 60.0
"""libotr's window for resending a stored message after an AKE (ERRATA A6)."""
MIN_INSTANCE_TAG = 0x100
"""Spec "Instance Tags": valid tags are >= 0x00000100."""

_DATA_PREFIXES = ("?OTR:AAQD", "?OTR:AAMD", "?OTR:AAID")
"""Base 64 of a v4 / v3 / v2 Data Message's first bytes (version, type 0x03)."""
_INSTANCE_TAGS = struct.Struct(">II")
_BLOCKED = "the selected instance's key changed; choose with select_instance()"
_TRUST_RANK = {Trust.NEW: 0, Trust.UNVERIFIED: 1, Trust.VERIFIED: 2}
_ENCRYPTED = MsgState.ENCRYPTED
"""For the per-message path: an enum member read through its class costs ~100 ns
on Python 3.11 (the metaclass's ``__getattr__``), a module global ~15 ns."""


def _guarded(rng: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """The injected rng, its failures raised as :class:`~otr.errors.EntropyError`
    (every caller draws randomness before changing state, see otr.instance)."""

    def draw(n: int) -> bytes:
        try:
            return rng(n)
        except Exception as exc:
            raise EntropyError("the random number generator failed") from exc

    return draw


class TrustStore(Protocol):
    """What the conversation needs of a fingerprint store (see
    :class:`otr.storage.FingerprintStore`, which implements it)."""

    def get_trust(
        self, account: str, protocol: str, username: str, fingerprint: bytes
    ) -> Trust: ...

    def known_fingerprints(self, account: str, protocol: str, username: str) -> Iterable[bytes]: ...

    def add(self, account: str, protocol: str, username: str, fingerprint: bytes) -> None: ...

    def set_trust(
        self, account: str, protocol: str, username: str, fingerprint: bytes, trust: str
    ) -> None: ...


class _MemoryTrust:
    """Default in-memory trust store (fingerprints are remembered for this object only)."""

    def __init__(self) -> None:
        self._fps: dict[tuple[str, str, str], dict[bytes, str]] = {}

    def get_trust(self, account: str, protocol: str, username: str, fingerprint: bytes) -> Trust:
        fps = self._fps.get((account, protocol, username), {})
        if fingerprint not in fps:
            return Trust.NEW
        return Trust.VERIFIED if fps[fingerprint] else Trust.UNVERIFIED

    def known_fingerprints(self, account: str, protocol: str, username: str) -> Iterable[bytes]:
        return list(self._fps.get((account, protocol, username), {}))

    def add(self, account: str, protocol: str, username: str, fingerprint: bytes) -> None:
        self._fps.setdefault((account, protocol, username), {}).setdefault(fingerprint, "")

    def set_trust(
        self, account: str, protocol: str, username: str, fingerprint: bytes, trust: str
    ) -> None:
        self._fps.setdefault((account, protocol, username), {})[fingerprint] = trust


@dataclass
class _Slot:
    """The front door's record of one remote instance: its session, its fragment
    buffer and the messages recently sent to it."""

    version: int
    """The protocol version of the messages routed here (the key's first half)."""
    session: InstanceSession
    reassembler: FragmentBuffer
    sent: deque[tuple[str, float]]
    """Messages sent since this instance last wrote to us (bounded by
    ``Limits.resend_record``): what it may have lost if it reports an error."""
    reported: tuple[str, ...] = ()
    """What the last MessagesPossiblyLost named (not named twice)."""
    errors: int = 0
    """OTR Errors (and transport bounces) received since the last key exchange:
    on an in-order transport, one per lost message -- the last ``errors`` of
    ``sent`` are the ones to resend (libotr: one error, the last message)."""
    may_retransmit: bool = False
    """libotr: sent messages become eligible for resending when the peer answers
    with an OTR Error (it lost its session); a refreshed AKE within
    RESEND_INTERVAL then resends them."""


def _random_instance_tag(rng: Callable[[int], bytes]) -> int:
    while True:
        tag = int.from_bytes(rng(4), "big")
        if tag >= MIN_INSTANCE_TAG:
            return tag


class Conversation:
    """One account's conversation with one peer (spec "The protocol state machine").

    ``key`` is our long-term DSA key (``None`` for an OTRv4-only conversation: ``v4``
    given in the standalone or interactive-only mode, where :attr:`our_fingerprint` is
    the 56-byte OTRv4 fingerprint); ``policy`` says what we may do; ``trust`` is a
    fingerprint store (in memory by default). ``instance_tag`` should be persistent per
    account (see :class:`otr.storage.InstanceTagStore`); a random one is made when
    omitted.  ``limits`` bounds what a peer can make us hold and the size of what we
    send (:class:`otr.limits.Limits`).  ``rng`` failures surface as
    :class:`otr.errors.EntropyError` with nothing changed.  ``v4``
    (:class:`otr.v4.session.V4Credentials`: our Ed448 key, forging key and Client
    Profile, whose owner tag must be ``instance_tag``) makes OTRv4 available;
    ``v4_settings`` (:class:`otr.v4.session.V4Settings`) sets its mode (OTRv3-compatible
    by default; standalone and interactive-only drop OTRv2/v3), timers and limits.  The
    highest version both sides allow is used.

    Outgoing messages go to one selected remote instance: the first whose key
    exchange completes, then only an instance with the same key (or, for OTRv4,
    whose Client Profile proves the OTRv3 key in use) or a strictly more trusted
    one (see ``_selects``); the application is told of the others
    (:class:`otr.events.OtherInstanceSecured`) and may :meth:`select_instance`.

    This is the front door: it owns the version-neutral work and routes encoded
    messages by ``(protocol version, sender instance tag)`` to the
    :class:`otr.instance.InstanceSession` of that remote instance, made by the
    :class:`otr.instance.VersionProtocol` of the version (OTRv2/v3:
    :class:`otr.v3.protocol.V3Protocol`).
    """

    #: Re-raise unexpected internal exceptions instead of reporting them as an
    #: unreadable message (tests set this to find bugs; never for production).
    reraise_internal_errors = False

    def __init__(
        self,
        key: DSAPrivateKey | None,
        peer: str = "",
        *,
        account: str = "",
        protocol: str = "",
        policy: Policy | None = None,
        instance_tag: int | None = None,
        trust: TrustStore | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        limits: Limits | None = None,
        v4: V4Credentials | None = None,
        v4_settings: V4Settings | None = None,
    ) -> None:
        self.key = key
        self.peer = peer
        self.account = account
        self.protocol = protocol
        self.policy = policy if policy is not None else Policy()
        self.limits = limits if limits is not None else Limits()
        self.rng = rng = _guarded(rng)
        if instance_tag is None:
            instance_tag = _random_instance_tag(rng)
        if instance_tag < MIN_INSTANCE_TAG or instance_tag > 0xFFFFFFFF:
            raise LocalProtocolError("instance tag must be in 0x100..0xffffffff")
        self.our_instance = instance_tag
        self.trust: TrustStore = trust if trust is not None else _MemoryTrust()
        self._protocols: dict[int, VersionProtocol] = {}
        if key is not None:
            v3 = V3Protocol(key, instance_tag, rng)
            self._protocols = dict.fromkeys(v3.versions, v3)
            self.our_fingerprint = key.public.fingerprint()
        elif v4 is None or (v4_settings or V4Settings()).mode.allows(3):
            # otr-v4.md "OTRv4 Modes": only the standalone and interactive-only
            # modes drop OTRv3, and with it the need for a DSA key.
            raise LocalProtocolError(
                "a DSA key is needed unless OTRv4 runs in standalone or interactive-only mode"
            )
        self._v4: V4Protocol | None = None
        if v4 is not None:
            # OTRv4 (otr-v4.md "OTRv4 Modes"): the mode decides whether OTRv3 stays.
            if v4.profile.instance_tag != instance_tag:
                raise LocalProtocolError("the Client Profile is for another instance tag")
            self._v4 = V4Protocol(
                v4,
                our_instance=instance_tag,
                account=account,
                peer=peer,
                rng=rng,
                settings=v4_settings,
                limits=self.limits,
            )
            self._protocols = {
                v: p for v, p in self._protocols.items() if self._v4.settings.mode.allows(v)
            }
            self._protocols[4] = self._v4
            if key is None:
                self.our_fingerprint = self._v4.our_fingerprint
        self._slots: dict[tuple[int, int], _Slot] = {}
        self._current: tuple[int, int] | None = None
        self._selected_fp = b""
        """The fingerprint the selected instance had when it was selected."""
        self._blocked = False
        """The selected instance completed a key exchange with another key: nothing
        is sent until the application calls :meth:`select_instance`."""
        self._held: list[tuple[str, float]] = []
        self._offer_tag = True

    def add_protocol(self, protocol: VersionProtocol) -> None:
        """Speak another protocol family (the hook for OTRv4's
        :class:`~otr.instance.VersionProtocol`, made with this conversation's
        ``our_instance`` and ``rng``); it takes over the versions it claims.  Call it
        before any message is sent or received."""
        if self._slots:
            raise LocalProtocolError("protocols must be added before the conversation starts")
        for version in protocol.versions:
            self._protocols[version] = protocol

    def replace_v4_profile(self, profile: ClientProfile) -> None:
        """Use a renewed OTRv4 Client Profile (same keys and instance tag) for every
        DAKE from now on (see :meth:`otr.v4.identity.Identity.renew_profile`)."""
        if self._v4 is None:
            raise LocalProtocolError("this conversation has no OTRv4 identity")
        self._v4.replace_profile(profile)

    # ------------------------------------------------------------------ status

    @property
    def sessions(self) -> dict[tuple[int, int], InstanceSession]:
        """Every remote instance's session, by (protocol version, instance tag)."""
        return {k: slot.session for k, slot in self._slots.items()}

    @property
    def current(self) -> InstanceSession | None:
        """The session outgoing messages go to: the selected instance (the first
        secured, then as :meth:`select_instance` and the rule of ``_selects`` say)."""
        if self._current is None:
            return None
        slot = self._slots.get(self._current)
        return slot.session if slot is not None else None

    @property
    def sending_blocked(self) -> bool:
        """The selected instance completed a key exchange with a different key:
        ``send`` answers ``MessageNotSent`` until :meth:`select_instance`."""
        return self._blocked

    @property
    def msgstate(self) -> MsgState:
        cur = self.current
        return cur.msgstate if cur is not None else MsgState.PLAINTEXT

    @property
    def is_encrypted(self) -> bool:
        return self.msgstate is MsgState.ENCRYPTED

    @property
    def version(self) -> int:
        cur = self.current
        return cur.version if cur is not None else 0

    @property
    def ssid(self) -> bytes:
        cur = self.current
        return cur.ssid if cur is not None else b""

    @property
    def their_fingerprint(self) -> bytes:
        cur = self.current
        return cur.their_fingerprint if cur is not None else b""

    @property
    def their_instance(self) -> int:
        cur = self.current
        return cur.their_instance if cur is not None else 0

    @property
    def trust_level(self) -> Trust:
        fp = self.their_fingerprint
        if not fp:
            return Trust.NEW
        return self.trust.get_trust(self.account, self.protocol, self.peer, fp)

    # ------------------------------------------------------------- user side

    def start(self, now: float = 0.0) -> list[Event]:
        """User requests to start an OTR conversation: send a Query Message."""
        if not self._offer_versions():
            raise LocalProtocolError("policy allows no OTR version")
        return [ev.SendMessage(self._query_text())]

    def send(self, text: str, now: float = 0.0, tlvs: Sequence[Tlv] = ()) -> list[Event]:
        """User types a message to be sent (spec "User types a message to be sent")."""
        policy = self.policy
        if not policy.enabled:
            return [ev.SendMessage(text)]
        message = text.encode("utf-8")
        if tlvs or len(message) > self.limits.max_message_bytes:
            self._check_size(message, tlvs)
        slot = self._slots.get(self._current) if self._current is not None else None
        state = slot.session.msgstate if slot is not None else MsgState.PLAINTEXT
        if state is _ENCRYPTED:
            assert slot is not None
            if "\0" in text:
                # The plaintext's first NUL starts the TLVs (spec "Data Message").
                raise LocalProtocolError("message text must not contain NUL")
            if self._blocked:
                return [ev.MessageNotSent(text, _BLOCKED)]
            if policy.max_message_size:
                self._check_fragments(slot, message, tlvs)
            session = slot.session
            # OTRv4's fused path: one C call from the text to the wire message.
            wire = (
                session.send_wire_fast(message, now)
                if not tlvs and type(session) is V4Session
                else None
            )
            if wire is not None:
                out: list[Event] = (
                    self._emit(wire, slot.version, session.their_instance)
                    if policy.max_message_size
                    else [ev.SendMessage(wire)]
                )
            else:
                outputs = session.send(message, tlvs, now)
                only = outputs[0] if len(outputs) == 1 else None
                if type(only) is Transmit and not policy.max_message_size:
                    out = [ev.SendMessage(only.wire)]  # the common case
                else:
                    out = self._run(slot, outputs, now)
            # Recorded for a resend; unlike libotr, sending does not cancel a resend
            # already due (a message sent after the peer's error is lost too).
            slot.sent.append((text, now))  # a deque of maxlen Limits.resend_record
            return out
        if state is MsgState.FINISHED:
            return [ev.MessageNotSent(text, "the peer has ended the private conversation")]
        if policy.require_encryption:
            # Store for retransmission once the session is up, and send a query.
            self._held.append((text, now))
            return [ev.SendMessage(self._query_text())] if self._offer_versions() else []
        if policy.send_whitespace_tag and self._offer_tag and self._offer_versions():
            text = text + envelope.whitespace_tag(self._offer_versions())
        return [ev.SendMessage(text)]

    def _check_size(self, message: bytes, tlvs: Sequence[Tlv]) -> None:
        """The one message-size limit (``Limits.max_message_bytes``), and TLVs that
        fit their SHORT fields; LocalProtocolError before anything changes."""
        size = len(message)
        if tlvs:
            size += 1
            for t in tlvs:
                if not 0 <= t.type <= 0xFFFF:
                    raise LocalProtocolError("a TLV type must fit 16 bits")
                if len(t.value) > tlv.MAX_TLV_VALUE:
                    raise LocalProtocolError(
                        f"a TLV value must be at most {tlv.MAX_TLV_VALUE} bytes"
                    )
                size += 4 + len(t.value)
        limit = self.limits.max_message_bytes
        if size > limit:
            raise LocalProtocolError(f"message of {size} bytes exceeds the limit of {limit}")

    def _check_fragments(self, slot: _Slot, message: bytes, tlvs: Sequence[Tlv]) -> None:
        """Refuse (before encrypting) a message the receiver could not reassemble."""
        limit = self.policy.max_message_size
        if not limit:
            return
        size = len(message) + (1 + sum(4 + len(t.value) for t in tlvs) if tlvs else 0)
        count = self._protocols[slot.version].fragments_needed(size, slot.version, limit)
        most = min(self.limits.max_fragments, MAX_PIECES)
        if count > most:
            raise LocalProtocolError(
                f"message needs {count} fragments of {limit} characters, at most {most} allowed"
            )

    def _send_stored(self, slot: _Slot, text: str, now: float) -> list[Event]:
        """Send a held or resent message now that the session is up (it may need
        more fragments than the receiver takes now that the version is known)."""
        message = text.encode("utf-8")
        try:
            self._check_fragments(slot, message, ())
        except LocalProtocolError as exc:
            return [ev.MessageNotSent(text, str(exc))]
        out = self._run(slot, slot.session.send(message, (), now), now)
        slot.sent.append((text, now))  # a deque of maxlen Limits.resend_record
        return out

    def start_offline(
        self, ensembles: Iterable[PrekeyEnsemble], now: float, text: str | None = None
    ) -> list[Event]:
        """Start OTRv4 conversations with an offline peer from the Prekey
        Ensembles retrieved from a prekey server (spec "Offline Conversation
        Initialization"; :mod:`otr.v4.offline`).

        One valid ensemble per instance tag is used (validated at ``now``, Unix
        seconds: profiles, instance tags, version 4); each refused one is
        reported as :class:`otr.events.EnsembleRefused`.  For each chosen
        instance a Non-Interactive-Auth message is sent, the session becomes
        ENCRYPTED (``SessionSecured(offline=True)``: reduced deniability) and
        ``text``, if given, is sent to it as the first data message (without a
        valid ensemble it is reported as ``MessageNotSent``).  Raises
        LocalProtocolError (nothing sent) without an OTRv4 identity, in the
        interactive-only mode, when the policy does not allow version 4, or for
        a ``text`` that could never be sent."""
        v4 = self._v4
        if v4 is None:
            raise LocalProtocolError("this conversation has no OTRv4 identity")
        if not v4.settings.mode.allows_offline:
            raise LocalProtocolError("the interactive-only mode allows no offline start")
        if 4 not in self._offer_versions():
            raise LocalProtocolError("the policy does not allow OTRv4")
        if text is not None:
            if "\0" in text:
                raise LocalProtocolError("message text must not contain NUL")
            self._check_size(text.encode("utf-8"), ())
        chosen, refused = choose_ensembles(ensembles, now)
        out: list[Event] = [ev.EnsembleRefused(tag, reason) for tag, reason in refused]
        if not chosen and text is not None:
            out.append(ev.MessageNotSent(text, "no valid Prekey Ensemble"))
        for ensemble in chosen:
            slot = self._slot(4, ensemble.instance_tag)
            if slot is None:
                out.append(ev.EnsembleRefused(ensemble.instance_tag, "too many remote instances"))
                continue
            session = slot.session
            assert isinstance(session, V4Session)
            out += self._run(slot, session.start_offline(ensemble, now), now)
            if text is not None:
                out += self._send_stored(slot, text, now)
        return out

    def select_instance(self, their_instance: int, version: int | None = None) -> None:
        """Send outgoing messages to this remote instance (an ENCRYPTED one, e.g.
        after :class:`otr.events.OtherInstanceSecured`).  ``version`` picks between
        sessions of several versions with the same tag (default: the highest)."""
        keys = [
            k
            for k, slot in self._slots.items()
            if k[1] == their_instance
            and (version is None or k[0] == version)
            and slot.session.msgstate is MsgState.ENCRYPTED
        ]
        if not keys:
            raise LocalProtocolError("no private conversation with that instance")
        key = max(keys)
        self._select(key, self._slots[key].session.their_fingerprint)

    def _select(self, key: tuple[int, int], fingerprint: bytes) -> None:
        self._current = key
        self._selected_fp = fingerprint
        self._blocked = False

    def end(self, now: float = 0.0) -> list[Event]:
        """User requests to end the OTR conversation, with every instance."""
        out: list[Event] = []
        for slot in list(self._slots.values()):
            sess = slot.session
            if sess.msgstate is not MsgState.PLAINTEXT:
                out += self._run(slot, sess.end(now), now)
                slot.sent.clear()
                out.append(ev.SessionEnded(sess.their_instance))
        for text, _ in self._held:
            out.append(ev.MessageNotSent(text, "conversation ended"))
        self._held.clear()
        self._offer_tag = True
        self._blocked = False
        return out

    def smp_start(
        self, secret: str | bytes, question: str | None = None, now: float = 0.0
    ) -> list[Event]:
        """Start the Socialist Millionaires' Protocol with the current instance."""
        slot = self._encrypted_slot("SMP needs a private conversation")
        return self._run(slot, slot.session.smp_start(_secret_bytes(secret), question, now), now)

    def smp_respond(self, secret: str | bytes, now: float = 0.0) -> list[Event]:
        """Answer the peer's SMP request (after :class:`otr.events.SmpRequested`)."""
        slot = self._encrypted_slot("SMP needs a private conversation")
        return self._run(slot, slot.session.smp_respond(_secret_bytes(secret), now), now)

    def smp_abort(self, now: float = 0.0) -> list[Event]:
        slot = self._encrypted_slot("SMP needs a private conversation")
        return self._run(slot, slot.session.smp_abort(now), now)

    def use_extra_key(self, use: int, usedata: bytes = b"", now: float = 0.0) -> list[Event]:
        """Spec "Extra symmetric key": tell the peer (TLV 8) and return the key as an
        :class:`otr.events.ExtraSymmetricKey` event (origin "local")."""
        slot = self._encrypted_slot("no private conversation")
        if not 0 <= use <= 0xFFFFFFFF:
            raise LocalProtocolError("use must fit in 32 bits")
        if len(usedata) > tlv.MAX_TLV_VALUE - 4:
            raise LocalProtocolError("usedata does not fit one TLV")
        return self._run(slot, slot.session.extra_key(use, usedata, now), now)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should next be called (held messages expire,
        session timers)."""
        deadlines = [
            t for s in self._slots.values() if (t := s.session.next_deadline()) is not None
        ]
        if self._held:
            deadlines.append(self._held[0][1] + RESEND_INTERVAL)
        if self._v4 is not None and (due := self._v4.profile_renewal_due()) is not None:
            deadlines.append(due)
        deadlines += [
            t
            for s in self._slots.values()
            if isinstance(s.reassembler, V4FragmentBuffer)
            and (t := s.reassembler.next_deadline()) is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> list[Event]:
        """Report held messages that could not be sent encrypted in time; renew our
        OTRv4 Client Profile when it is due (with credentials made by
        :meth:`otr.v4.session.V4Credentials.from_identity`); run the sessions' timers."""
        if self._v4 is not None:
            self._v4.renew_profile(now)
        out: list[Event] = []
        keep = []
        for text, t in self._held:
            if now - t >= RESEND_INTERVAL:
                out.append(ev.MessageNotSent(text, "no private conversation was established"))
            else:
                keep.append((text, t))
        self._held = keep
        for slot in list(self._slots.values()):
            if isinstance(slot.reassembler, V4FragmentBuffer) and slot.reassembler.expire(now):
                their = slot.session.their_instance
                out.append(ev.ReassemblyDropped(their, slot.reassembler.dropped))
        for slot in list(self._slots.values()):
            deadline = slot.session.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._run(slot, slot.session.handle_timer(now), now)
        return out

    # ---------------------------------------------------------- network side

    def receive(self, text: str, now: float = 0.0) -> list[Event]:
        """Handle anything that arrived from the peer.  Never raises."""
        try:
            return self._receive(text, now)
        except RemoteProtocolError as exc:
            return [ev.MessageUnreadable(str(exc) or type(exc).__name__)]
        except EntropyError:
            # Nothing changed (see otr.instance): the message was not processed.
            return [ev.MessageUnreadable("no randomness available; message not processed")]
        except Exception:
            if self.reraise_internal_errors:
                raise
            log.exception("internal error while handling a received message")
            return [ev.MessageUnreadable("internal error")]

    def _receive(self, text: str, now: float) -> list[Event]:
        if not self.policy.enabled:
            return [ev.MessageReceived(text, encrypted=False)]
        if len(text) > self.limits.max_received_chars:
            # Bounded before any scanning (markers, whitespace tags).
            return [ev.MessageUnreadable("message too large")]
        if text.startswith(_DATA_PREFIXES) and text.endswith("."):
            fast = self._receive_data_fast(text, now)
            if fast is not None:
                return fast
        kind = envelope.classify(text)
        K = envelope.MessageKind
        if kind is K.FRAGMENT:
            return self._receive_fragment(text, now)
        if kind is K.ENCODED:
            return self._receive_encoded(text, now, None)
        if kind is K.ERROR:
            return self._receive_error(text)
        if kind is K.QUERY:
            versions = envelope.parse_query(text) or frozenset()
            return self._start_ake_for(versions, now)
        if kind is K.TAGGED_PLAINTEXT:
            found = envelope.find_whitespace_tag(text)
            stripped, versions = found if found is not None else (text, frozenset())
            out = self._plaintext(stripped)
            # Spec "Receiving plaintext with the whitespace tag": "In any event, if
            # WHITESPACE_START_AKE is set", also while ENCRYPTED (as libotr: a peer
            # that restarted is recovered this way).
            if self.policy.whitespace_start_ake:
                out += self._start_ake_for(versions, now)
            return out
        return self._plaintext(text)

    # -- unencoded messages

    def _plaintext(self, text: str) -> list[Event]:
        """Spec "Receiving plaintext without/with the whitespace tag"."""
        self._offer_tag = False
        out: list[Event] = []
        if text:
            out.append(ev.MessageReceived(text, encrypted=False))
        if self.msgstate is not MsgState.PLAINTEXT or self.policy.require_encryption:
            out.append(ev.UnencryptedReceived(text))
        return out

    def _receive_error(self, text: str) -> list[Event]:
        """Spec "Receiving an Error Message"."""
        out: list[Event] = [ev.ErrorReceived(envelope.parse_error(text) or "")]
        self._peer_lost_session(out)
        if self.policy.error_start_ake and self._offer_versions():
            out.append(ev.SendMessage(self._query_text()))
        return out

    def _peer_lost_session(self, out: list[Event]) -> bool:
        """The selected instance could not read what we sent (issue 12.4): name the
        messages sent since it last wrote (MessagesPossiblyLost, once) and make them
        eligible for a resend after the next key exchange.  False when not ENCRYPTED."""
        slot = self._current_slot()
        if slot is None or slot.session.msgstate is not MsgState.ENCRYPTED:
            return False
        texts = tuple(t for t, _ in slot.sent)
        if texts and texts != slot.reported:
            out.append(ev.MessagesPossiblyLost(slot.session.their_instance, texts))
            slot.reported = texts
        slot.may_retransmit = True
        slot.errors += 1
        return True

    def report_undelivered(self, now: float) -> list[Event]:
        """The transport says an encrypted message to the selected instance was not
        delivered (e.g. an XMPP error bounce: the peer's client is gone).  Treated as
        an OTR Error from it (spec "Receiving an Error Message"): MessagesPossiblyLost,
        the resend rule after the next key exchange, and a Query Message when the
        policy has ERROR_START_AKE.  Nothing when not ENCRYPTED."""
        out: list[Event] = []
        if not self._peer_lost_session(out):
            return out
        if self.policy.error_start_ake and self._offer_versions():
            out.append(ev.SendMessage(self._query_text()))
        return out

    def _start_ake_for(self, versions: frozenset[int], now: float) -> list[Event]:
        """Query or tag: start the key exchange of the highest version both sides
        allow (spec "Receiving a Query Message": a v3, else v2, D-H Commit)."""
        common = versions & self._offer_versions()
        if not common:
            return []
        version = max(common)
        if version == 4 and self._v4 is not None:
            self._v4.renew_profile(now)  # the Identity message carries the profile
        return self._outputs(self._protocols[version].start(version, now), version, 0, now)

    # -- fragments

    def _receive_fragment(self, text: str, now: float) -> list[Event]:
        """Spec "Fragmentation": reassemble per sender instance."""
        frag = parse_fragment(text)
        if frag.version not in self._protocols:
            return [ev.MessageUnreadable("unsupported fragment version")]
        if frag.version >= 3:
            problem = self._check_instances(frag.sender_instance, frag.receiver_instance, True)
            if problem is not None:
                return problem
        sender = frag.sender_instance  # 0 in OTRv2 fragments
        # No policy check here: libotr fragments its Query Message in the v2
        # layout whatever the versions; the reassembled message is checked.
        slot = self._slot(frag.version, sender)
        if slot is None:
            return [ev.MessageUnreadable("too many remote instances")]
        buf = slot.reassembler
        # OTRv4's buffers are dated (age limit); OTRv3's single buffer is not.
        whole = buf.feed(frag, now) if isinstance(buf, V4FragmentBuffer) else buf.feed(frag)
        if slot.reassembler.dropped:
            dropped: list[Event] = [ev.ReassemblyDropped(sender, slot.reassembler.dropped)]
            return dropped if whole is None else dropped + self._reassembled(whole, frag, now)
        if whole is None:
            return []
        return self._reassembled(whole, frag, now)

    def _reassembled(self, whole: str, frag: Fragment, now: float) -> list[Event]:
        kind = envelope.classify(whole)
        if kind is envelope.MessageKind.ENCODED:
            return self._receive_encoded(whole, now, frag.version)
        if kind is envelope.MessageKind.FRAGMENT:
            return [ev.MessageUnreadable("fragment inside a fragmented message")]
        return self._receive(whole, now)

    def _check_instances(
        self, sender: int, receiver: int, zero_receiver_ok: bool
    ) -> list[Event] | None:
        """Spec "Instance Tags": discard bad sender tags and messages for other instances."""
        if sender < MIN_INSTANCE_TAG:
            return [ev.MessageUnreadable("invalid sender instance tag")]
        if receiver == 0:
            return None if zero_receiver_ok else [ev.MessageForOtherInstance(0)]
        if receiver < MIN_INSTANCE_TAG:
            return [ev.MessageUnreadable("invalid receiver instance tag")]
        if receiver != self.our_instance:
            return [ev.MessageForOtherInstance(receiver)]
        return None

    # -- encoded messages

    def _receive_encoded(self, text: str, now: float, frag_version: int | None) -> list[Event]:
        binary = envelope.decode_otr_message(text)
        try:
            header, message = registry.decode(binary)
        except RemoteProtocolError:
            if binary[2:3] == bytes((wire3.DATA,)) and self.msgstate is MsgState.ENCRYPTED:
                # libotr answers a malformed data message with an error message.
                return [
                    ev.MessageUnreadable("malformed data message", peer_told=True),
                    *self._error(ERR_MALFORMED),
                ]
            raise
        version = header.version
        if frag_version is not None and frag_version != version:
            return [ev.MessageUnreadable("fragment and message versions differ")]
        if version not in self.policy.versions or version not in self._protocols:
            # Spec: "If the message is version 2 and ALLOW_V2 is not set, ignore".
            return []
        if version >= 3:
            problem = self._check_instances(
                header.sender_instance,
                header.receiver_instance,
                self._protocols[version].addressed_to_any(version, header.type),
            )
            if problem is not None:
                return problem
        key = (version, header.sender_instance)
        if header.type == wire3.DATA and key not in self._slots:
            # A data message from an instance we have no session with: answer it
            # (spec: unreadable, reply with an Error) without keeping anything -
            # unless the session holds it (it has a deadline then): an OTRv4 data
            # message that may precede its Non-Interactive-Auth (otr.v4.session).
            sess = self._protocols[version].new_session(version, header.sender_instance)
            outputs = sess.receive(version, message, binary, now)
            if sess.next_deadline() is None:
                return self._outputs(outputs, version, header.sender_instance, now)
            kept = self._slot(version, header.sender_instance, sess)
            if kept is None:
                return [ev.MessageUnreadable("too many remote instances")]
            return self._run(kept, outputs, now)
        slot = self._slot(version, header.sender_instance)
        if slot is None:
            return [ev.MessageUnreadable("too many remote instances")]
        if frag_version is None:
            slot.reassembler.reset()
        return self._run(slot, slot.session.receive(version, message, binary, now), now)

    def _receive_data_fast(self, text: str, now: float) -> list[Event] | None:
        """The common case of a data message, straight from the wire text: an
        unfragmented Data Message for an instance whose session takes its shortcut
        (:meth:`otr.instance.InstanceSession.receive_fast`).  Anything else returns
        None before any state has changed, and the general path handles (and
        reports) it.  A v4 message from the selected instance is first offered
        whole to its fused path (:meth:`otr.v4.session.V4Session.receive_wire_fast`)."""
        current = self._current
        if current is not None and current[0] == 4 and text.startswith("?OTR:AAQD"):
            slot = self._slots.get(current)
            session = slot.session if slot is not None else None
            if type(session) is V4Session and 4 in self.policy.versions:
                assert slot is not None
                outputs = session.receive_wire_fast(text, now)
                if outputs is not None:
                    return self._fast_outputs(slot, outputs, now)
        try:
            binary = envelope.decode_base64_body(text[5:-1])
        except RemoteProtocolError:
            return None
        version = binary[1]
        if version == 3 or version == 4:  # the same header layout (tags at offset 3)
            if len(binary) < 11:
                return None
            sender, receiver = _INSTANCE_TAGS.unpack_from(binary, 3)
            if receiver != self.our_instance:
                return None
        else:
            sender = 0
        slot = self._slots.get((version, sender))
        if slot is None or version not in self.policy.versions:
            return None
        outputs = slot.session.receive_fast(binary, now)
        if outputs is None:
            return None
        return self._fast_outputs(slot, outputs, now)

    def _fast_outputs(self, slot: _Slot, outputs: list[Output], now: float) -> list[Event]:
        """Events of a data message the fast path read (as the general path gives them)."""
        slot.reassembler.reset()
        if len(outputs) == 1:
            only = outputs[0]
            if type(only) is ev.MessageReceived:  # the common case, without _outputs
                if slot.sent:
                    slot.sent.clear()
                return [only]
        return self._run(slot, outputs, now)

    # -- what sessions return

    def _run(self, slot: _Slot, outputs: Iterable[Output], now: float) -> list[Event]:
        return self._outputs(outputs, slot.version, slot.session.their_instance, now, slot)

    def _outputs(
        self,
        outputs: Iterable[Output],
        version: int,
        their: int,
        now: float,
        slot: _Slot | None = None,
    ) -> list[Event]:
        """Turn a session's outputs into events (see :mod:`otr.instance`).  Exact
        type tests, most frequent first: this is on the per-message path."""
        out: list[Event] = []
        for o in outputs:
            cls = type(o)
            if cls is Transmit:
                assert isinstance(o, Transmit)
                out += self._emit(o.wire, version, their)
            elif cls is ev.MessageReceived:
                assert isinstance(o, ev.MessageReceived)
                if slot is not None and o.encrypted and slot.sent:
                    slot.sent.clear()  # it wrote to us: it has its session
                out.append(o)
            elif isinstance(o, Secured):
                assert slot is not None
                out += self._secured(slot, o, now)
            elif isinstance(o, SmpVerdict):
                assert slot is not None
                self.trust.set_trust(
                    self.account,
                    self.protocol,
                    self.peer,
                    slot.session.their_fingerprint,
                    "smp" if o.verified else "",
                )
            elif isinstance(o, Event):
                out.append(o)
            else:
                raise TypeError(f"unknown session output {cls.__name__}")
        return out

    def _secured(self, slot: _Slot, secured: Secured, now: float) -> list[Event]:
        """Key exchange success: report, make it current, send held / stored messages."""
        sess = slot.session
        fp = secured.their_fingerprint
        out: list[Event] = []
        known = [
            k
            for k in self.trust.known_fingerprints(self.account, self.protocol, self.peer)
            if k != fp
        ]
        trust = self.trust.get_trust(self.account, self.protocol, self.peer, fp)
        if trust is Trust.NEW:
            self.trust.add(self.account, self.protocol, self.peer, fp)
            out.append(ev.FingerprintChanged(fp, tuple(known)) if known else ev.NewFingerprint(fp))
        key = (slot.version, sess.their_instance)
        if not self._selects(slot, secured, trust):
            if self._current == key:
                self._blocked = True  # the selected instance now has another key
            out.append(
                ev.OtherInstanceSecured(
                    version=secured.version,
                    ssid=secured.ssid,
                    their_fingerprint=fp,
                    their_instance=sess.their_instance,
                    trust=trust,
                    selected_instance=0 if self._blocked else self.their_instance,
                )
            )
            slot.may_retransmit = False
            return out
        self._select(key, fp)
        out.append(
            ev.SessionSecured(
                version=secured.version,
                ssid=secured.ssid,
                their_fingerprint=fp,
                our_fingerprint=(
                    self._v4.our_fingerprint
                    if secured.version == 4 and self._v4 is not None
                    else self.our_fingerprint
                ),
                their_instance=sess.their_instance,
                trust=trust,
                refreshed=secured.refreshed,
                ssid_first_half_bold=secured.ssid_first_half_bold,
                offline=secured.offline,
            )
        )
        # Messages held under REQUIRE_ENCRYPTION, then a recent stored message
        # (spec: "If there is a recent stored message, encrypt it and send it").
        for text, t in self._held:
            if now - t < RESEND_INTERVAL:
                out += self._send_stored(slot, text, now)
            else:
                out.append(ev.MessageNotSent(text, "no private conversation was established"))
        if self._held:
            self._held.clear()
        elif slot.may_retransmit:
            # libotr resends the last message if it is younger than 60 s; we resend
            # the last one per error received (exact on an in-order transport; a
            # message the peer read before it restarted is not sent twice) of the
            # messages sent since it last wrote, if that young (the older ones:
            # MessagesResent.too_old).
            lost = list(slot.sent)[-slot.errors :]
            recent = [t for t, when in lost if now - when < RESEND_INTERVAL]
            too_old = tuple(t for t, when in lost if now - when >= RESEND_INTERVAL)
            slot.sent.clear()
            resent: list[str] = []
            for text in recent:
                sent = self._send_stored(slot, text, now)
                out += sent
                if not any(isinstance(e, ev.MessageNotSent) for e in sent):
                    resent.append(text)
            if resent or too_old:
                out.append(ev.MessagesResent(sess.their_instance, tuple(resent), too_old))
            if len(recent) == 1:
                out.append(ev.Warning("The last message was resent."))
            elif recent:
                out.append(ev.Warning(f"The last {len(recent)} messages were resent."))
        slot.may_retransmit = False
        slot.errors = 0
        slot.reported = ()
        return out

    def _selects(self, slot: _Slot, secured: Secured, trust: Trust) -> bool:
        """Whether a key exchange that just completed takes our outgoing messages.

        A new instance never silently takes them from an established session
        (issue 12.1).  It does when nothing is established (no selected instance,
        or the selected one is not ENCRYPTED, or it is this one and was not
        ENCRYPTED before), when it holds the key the selected instance had (the
        same peer: refreshed keys, a restart or another device), or when its key
        is strictly more trusted (VERIFIED over UNVERIFIED over NEW).  Otherwise
        the application gets :class:`~otr.events.OtherInstanceSecured` and may
        :meth:`select_instance`.  Mallory reusing the selected instance's tag runs
        her AKE in that instance's session, which replaces its keys (one tag, one
        session, as in libotr): the conversation then refuses to send
        (``MessageNotSent``; SMP and the extra key raise) until the application
        selects an instance, instead of encrypting to her."""
        cur = self._current_slot()
        if cur is None or not self._selected_fp:
            return True
        if cur is slot:
            if not secured.refreshed:
                return True
        elif cur.session.msgstate is not MsgState.ENCRYPTED:
            return True
        if self._selected_fp in (secured.their_fingerprint, *secured.also_proves):
            return True
        selected_trust = self.trust.get_trust(
            self.account, self.protocol, self.peer, self._selected_fp
        )
        return _TRUST_RANK[trust] > _TRUST_RANK[selected_trust]

    # -- helpers

    def _slot(
        self, version: int, their: int, session: InstanceSession | None = None
    ) -> _Slot | None:
        """The record of a remote instance, made if new (with ``session`` when given;
        None: the cap is reached and nothing may be evicted).  Most recently used
        last (the eviction order)."""
        key = (version, their)
        slot = self._slots.pop(key, None)
        if slot is None:
            if len(self._slots) >= self.limits.max_instances and not self._evict():
                return None
            proto = self._protocols[version]
            slot = _Slot(
                version,
                session if session is not None else proto.new_session(version, their),
                proto.new_reassembler(version, self.limits),
                deque(maxlen=self.limits.resend_record),
            )
        self._slots[key] = slot
        return slot

    def _evict(self) -> bool:
        """Forget one instance to make room (``Limits.max_instances``): the least
        recently used one that never completed a key exchange, else the least
        recently used one not ENCRYPTED; never the selected one."""
        candidates = [k for k in self._slots if k != self._current]
        for k in candidates:
            if not self._slots[k].session.established:
                del self._slots[k]
                return True
        for k in candidates:
            if self._slots[k].session.msgstate is not MsgState.ENCRYPTED:
                del self._slots[k]
                return True
        return False

    def _current_slot(self) -> _Slot | None:
        return self._slots.get(self._current) if self._current is not None else None

    def _encrypted_slot(self, problem: str) -> _Slot:
        slot = self._current_slot()
        if slot is None or slot.session.msgstate is not MsgState.ENCRYPTED:
            raise LocalProtocolError(problem)
        if self._blocked:
            raise LocalProtocolError(_BLOCKED)
        return slot

    def _emit(self, wire: str, version: int, their: int) -> list[Event]:
        limit = self.policy.max_message_size
        if limit and len(wire) > limit:
            pieces = self._protocols[version].fragment(wire, version, limit, their)
            return [ev.SendMessage(p) for p in pieces]
        return [ev.SendMessage(wire)]

    def _error(self, text: str) -> list[Event]:
        return [ev.SendMessage(envelope.format_error(text))]

    def _query_text(self) -> str:
        text = envelope.format_query(self._offer_versions(), self.account)
        limit = self.policy.max_message_size
        if limit and len(text) > limit:
            # Too long for the transport: send the bare "?OTRv23?" rather than
            # fragmenting free text (libotr's fragments of it break on commas).
            text = text.split("\n", 1)[0]
        return text

    def _offer_versions(self) -> frozenset[int]:
        return frozenset(v for v in self.policy.versions if v in self._protocols)


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
