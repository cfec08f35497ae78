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

Time (``now``, seconds, any monotonic or wall clock) and randomness (``rng``)
are parameters; nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import events as ev
from .crypto.dsa import DSAPrivateKey
from .errors import LocalProtocolError, RemoteProtocolError
from .events import Event, Tlv, Trust
from .instance import (
    InstanceSession,
    MsgState,
    Output,
    Secured,
    SmpVerdict,
    Transmit,
    VersionProtocol,
)
from .policy import Policy
from .v3.protocol import ERR_MALFORMED, ERR_UNREADABLE, HEARTBEAT_INTERVAL, V3Protocol
from .wire import envelope, registry
from .wire import v3 as wire3
from .wire.fragment import Reassembler, fragment_message, parse_fragment

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

_DATA_PREFIXES = ("?OTR:AAMD", "?OTR:AAID")
"""Base 64 of a v3 / v2 Data Message's first bytes (version, type 0x03)."""
_INSTANCE_TAGS = struct.Struct(">II")


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
    buffer and the last message sent to it (for libotr's resend after an AKE)."""

    version: int
    """The protocol version of the messages routed here (the key's first half)."""
    session: InstanceSession
    reassembler: Reassembler = field(default_factory=Reassembler)
    last_message: tuple[str, float] | None = None
    may_retransmit: bool = False
    """libotr: the last message becomes eligible for resending when the peer
    answers it with an OTR Error (it lost its session); a refreshed AKE within
    RESEND_INTERVAL then resends it."""


def _random_instance_tag(rng: Callable[[int], bytes]) -> int:
    while True:
        tag = int.from_bytes(rng(4), "big")
        if tag >= MIN_INSTANCE_TAG:
            return tag


class Conversation:
    """One account's conversation with one peer (spec "The protocol state machine").

    ``key`` is our long-term DSA key; ``policy`` says what we may do; ``trust`` is
    a fingerprint store (in memory by default).  ``instance_tag`` should be
    persistent per account (see :class:`otr.storage.InstanceTagStore`); a random one
    is made when omitted.

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
        key: DSAPrivateKey,
        peer: str = "",
        *,
        account: str = "",
        protocol: str = "",
        policy: Policy | None = None,
        instance_tag: int | None = None,
        trust: TrustStore | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.key = key
        self.peer = peer
        self.account = account
        self.protocol = protocol
        self.policy = policy if policy is not None else Policy()
        self.rng = rng
        if instance_tag is None:
            instance_tag = _random_instance_tag(rng)
        if instance_tag < MIN_INSTANCE_TAG or instance_tag > 0xFFFFFFFF:
            raise LocalProtocolError("instance tag must be in 0x100..0xffffffff")
        self.our_instance = instance_tag
        self.trust: TrustStore = trust if trust is not None else _MemoryTrust()
        self.our_fingerprint = key.public.fingerprint()
        v3 = V3Protocol(key, instance_tag, rng)
        self._protocols: dict[int, VersionProtocol] = dict.fromkeys(v3.versions, v3)
        self._slots: dict[tuple[int, int], _Slot] = {}
        self._current: tuple[int, int] | None = None
        self._held: list[tuple[str, float]] = []
        self._offer_tag = True

    # ------------------------------------------------------------------ status

    @property
    def sessions(self) -> dict[tuple[int, int], InstanceSession]:
        """Every remote instance's session, by (protocol version, instance tag)."""
        return {k: slot.session for k, slot in self._slots.items()}

    @property
    def current(self) -> InstanceSession | None:
        """The session outgoing messages go to: the most recently secured one."""
        if self._current is None:
            return None
        slot = self._slots.get(self._current)
        return slot.session if slot is not None else None

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
        slot = self._current_slot()
        state = slot.session.msgstate if slot is not None else MsgState.PLAINTEXT
        if state is MsgState.ENCRYPTED:
            assert slot is not None
            if "\0" in text:
                # The plaintext's first NUL starts the TLVs (spec "Data Message").
                raise LocalProtocolError("message text must not contain NUL")
            out = self._run(slot, slot.session.send(text.encode("utf-8"), tlvs, now), now)
            slot.last_message = (text, now)
            slot.may_retransmit = False
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

    def end(self, now: float = 0.0) -> list[Event]:
        """User requests to end the OTR conversation, with every instance."""
        out: list[Event] = []
        for slot in list(self._slots.values()):
            sess = slot.session
            if sess.msgstate is not MsgState.PLAINTEXT:
                out += self._run(slot, sess.end(now), now)
                slot.last_message = None
                out.append(ev.SessionEnded(sess.their_instance))
        for text, _ in self._held:
            out.append(ev.MessageNotSent(text, "conversation ended"))
        self._held.clear()
        self._offer_tag = True
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
        return self._run(slot, slot.session.extra_key(use, usedata, now), now)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should next be called (held messages expire,
        session timers)."""
        deadlines = [
            t for s in self._slots.values() if (t := s.session.next_deadline()) is not None
        ]
        if self._held:
            deadlines.append(self._held[0][1] + RESEND_INTERVAL)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> list[Event]:
        """Report held messages that could not be sent encrypted in time; run the
        sessions' timers."""
        out: list[Event] = []
        keep = []
        for text, t in self._held:
            if now - t >= RESEND_INTERVAL:
                out.append(ev.MessageNotSent(text, "no private conversation was established"))
            else:
                keep.append((text, t))
        self._held = keep
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
        except Exception:
            if self.reraise_internal_errors:
                raise
            log.exception("internal error while handling a received message")
            return [ev.MessageUnreadable("internal error")]

    def _receive(self, text: str, now: float) -> list[Event]:
        if not self.policy.enabled:
            return [ev.MessageReceived(text, encrypted=False)]
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
            if self.policy.whitespace_start_ake and self.msgstate is not MsgState.ENCRYPTED:
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
        slot = self._current_slot()
        if slot is not None and slot.session.msgstate is MsgState.ENCRYPTED:
            slot.may_retransmit = True
        if self.policy.error_start_ake and self._offer_versions():
            out.append(ev.SendMessage(self._query_text()))
        return out

    def _start_ake_for(self, versions: frozenset[int], now: float) -> list[Event]:
        """Query or tag: send a v3 (else v2) D-H Commit (spec "Receiving a Query Message")."""
        policy = self.policy
        if 3 in versions and policy.allow_v3:
            version = 3
        elif 2 in versions and policy.allow_v2:
            version = 2
        else:
            return []
        return self._outputs(self._protocols[version].start(version, now), version, 0, now)

    # -- fragments

    def _receive_fragment(self, text: str, now: float) -> list[Event]:
        """Spec "Fragmentation": reassemble per sender instance."""
        frag = parse_fragment(text)
        if frag.version == 3:
            problem = self._check_instances(frag.sender_instance, frag.receiver_instance, True)
            if problem is not None:
                return problem
            sender = frag.sender_instance
        elif frag.version == 2:
            sender = 0
        else:
            return [ev.MessageUnreadable("unsupported fragment version")]
        # No policy check here: libotr fragments its Query Message in the v2
        # layout whatever the versions; the reassembled message is checked.
        slot = self._slot(frag.version, sender)
        whole = slot.reassembler.feed(frag)
        if whole is None:
            return []
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
                return [ev.MessageUnreadable("malformed data message"), *self._error(ERR_MALFORMED)]
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
                header.type == wire3.DH_COMMIT,
            )
            if problem is not None:
                return problem
        slot = self._slot(version, header.sender_instance)
        if frag_version is None:
            slot.reassembler.reset()
        return self._run(slot, slot.session.receive(version, message, binary, now), now)

    def _receive_data_fast(self, text: str, now: float) -> list[Event] | None:
        """The common case of a data message, straight from the wire text: an
        unfragmented Data Message for an instance whose session takes its shortcut
        (:meth:`otr.instance.InstanceSession.receive_fast`).  Anything else returns
        None before any state has changed, and the general path handles (and
        reports) it."""
        try:
            binary = envelope.decode_base64_body(text[5:-1])
        except RemoteProtocolError:
            return None
        version = binary[1]
        if version == 3:
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
        slot.reassembler.reset()
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
        """Turn a session's outputs into events (see :mod:`otr.instance`)."""
        out: list[Event] = []
        for o in outputs:
            if isinstance(o, Transmit):
                out += self._emit(o.wire, version, their)
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
            else:
                assert isinstance(o, Event)
                out.append(o)
        return out

    def _secured(self, slot: _Slot, secured: Secured, now: float) -> list[Event]:
        """Key exchange success: report, make it current, send held / stored messages."""
        sess = slot.session
        self._current = (secured.version, sess.their_instance)
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
        out.append(
            ev.SessionSecured(
                version=secured.version,
                ssid=secured.ssid,
                their_fingerprint=fp,
                our_fingerprint=self.our_fingerprint,
                their_instance=sess.their_instance,
                trust=trust,
                refreshed=secured.refreshed,
                ssid_first_half_bold=secured.ssid_first_half_bold,
            )
        )
        # Messages held under REQUIRE_ENCRYPTION, then a recent stored message
        # (spec: "If there is a recent stored message, encrypt it and send it").
        for text, t in self._held:
            if now - t < RESEND_INTERVAL:
                out += self._run(slot, sess.send(text.encode("utf-8"), (), now), now)
                slot.last_message = (text, now)
            else:
                out.append(ev.MessageNotSent(text, "no private conversation was established"))
        if self._held:
            self._held.clear()
        elif (
            slot.may_retransmit
            and slot.last_message is not None
            and now - slot.last_message[1] < RESEND_INTERVAL
        ):
            text = slot.last_message[0]
            out += self._run(slot, sess.send(text.encode("utf-8"), (), now), now)
            out.append(ev.Warning("The last message was resent."))
        slot.may_retransmit = False
        return out

    # -- helpers

    def _slot(self, version: int, their: int) -> _Slot:
        key = (version, their)
        slot = self._slots.get(key)
        if slot is None:
            slot = _Slot(version, self._protocols[version].new_session(version, their))
            self._slots[key] = slot
        return slot

    def _current_slot(self) -> _Slot | None:
        return self._slots.get(self._current) if self._current is not None else None

    def _encrypted_slot(self, problem: str) -> _Slot:
        slot = self._current_slot()
        if slot is None or slot.session.msgstate is not MsgState.ENCRYPTED:
            raise LocalProtocolError(problem)
        return slot

    def _emit(self, wire: str, version: int, their: int) -> list[Event]:
        limit = self.policy.max_message_size
        if limit and len(wire) > limit:
            pieces = fragment_message(wire, limit, version, self.our_instance, their)
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
