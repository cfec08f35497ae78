"""The sans-I/O conversation: one local account talking to one peer.

Implements OTRv3 "The protocol state machine" (and v2): envelope parsing,
fragment reassembly, query / whitespace-tag / error handling, routing of
encoded messages by instance tag to one :class:`InstanceSession` per remote
instance, the AKE, data messages, SMP, the extra symmetric key, heartbeats and
policies.  Every public method returns an ordered list of :mod:`otr.events`;
input from the network never raises (spec: malformed input is ignored or
reported, the session is left as the spec says).

Time (``now``, seconds, any monotonic or wall clock) and randomness (``rng``)
are parameters; nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import copy
import enum
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
from .policy import Policy
from .smp.v3 import Smp
from .v3.ake import Ake, AkeResult, AuthState
from .v3.session import DataSession, Decrypted
from .wire import envelope, tlv
from .wire import v3 as wire3
from .wire.fragment import Reassembler, fragment_message, parse_fragment

__all__ = [
    "HEARTBEAT_INTERVAL",
    "MIN_INSTANCE_TAG",
    "RESEND_INTERVAL",
    "Conversation",
    "InstanceSession",
    "MsgState",
    "TrustStore",
]

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 60.0
"""libotr's heartbeat interval in seconds (ERRATA A6)."""
RESEND_INTERVAL = 60.0
"""libotr's window for resending a stored message after an AKE (ERRATA A6)."""
MIN_INSTANCE_TAG = 0x100
"""Spec "Instance Tags": valid tags are >= 0x00000100."""
IGNORE_UNREADABLE = 0x01
"""Data message flag (spec "Data Message")."""

# libotr 4.1.1's error texts (OTRL_ERRCODE_*), sent after "?OTR Error: ".
ERR_UNREADABLE = "You transmitted an unreadable encrypted message."
ERR_MALFORMED = "You transmitted a malformed data message."

_DATA_PREFIXES = ("?OTR:AAMD", "?OTR:AAID")
"""Base 64 of a v3 / v2 Data Message's first bytes (version, type 0x03)."""
_INSTANCE_TAGS = struct.Struct(">II")


class MsgState(enum.Enum):
    """Spec "Message state"."""

    PLAINTEXT = "plaintext"
    ENCRYPTED = "encrypted"
    FINISHED = "finished"


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
class InstanceSession:
    """State for one remote instance (spec "Instance Tags"; v2 peers use instance 0)."""

    their_instance: int
    ake: Ake
    msgstate: MsgState = MsgState.PLAINTEXT
    version: int = 0
    data: DataSession | None = None
    smp: Smp | None = None
    result: AkeResult | None = None
    their_fingerprint: bytes = b""
    last_sent: float = float("-inf")
    last_message: tuple[str, float] | None = None
    may_retransmit: bool = False
    """libotr: the last message becomes eligible for resending when the peer
    answers it with an OTR Error (it lost its session); a refreshed AKE within
    RESEND_INTERVAL then resends it."""
    reassembler: Reassembler = field(default_factory=Reassembler)


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
        self.sessions: dict[int, InstanceSession] = {}
        # The AKE we start before knowing which remote instance will answer
        # (our D-H Commit carries receiver instance 0); copied into the
        # instance's session when its D-H Key arrives (as libotr does).
        self._master_ake = Ake(key, rng)
        self._current: int | None = None
        self._held: list[tuple[str, float]] = []
        self._offer_tag = True

    # ------------------------------------------------------------------ status

    @property
    def current(self) -> InstanceSession | None:
        """The session outgoing messages go to: the most recently secured one."""
        if self._current is None:
            return None
        return self.sessions.get(self._current)

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
        return cur.result.ssid if cur is not None and cur.result is not None else b""

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
        cur = self.current
        state = cur.msgstate if cur is not None else MsgState.PLAINTEXT
        if state is MsgState.ENCRYPTED:
            assert cur is not None
            if "\0" in text:
                # The plaintext's first NUL starts the TLVs (spec "Data Message").
                raise LocalProtocolError("message text must not contain NUL")
            out = self._send_data(cur, text.encode("utf-8"), tlvs, 0, now)
            cur.last_message = (text, now)
            cur.may_retransmit = False
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
        for sess in list(self.sessions.values()):
            if sess.msgstate is MsgState.ENCRYPTED:
                out += self._send_data(sess, b"", (Tlv(tlv.DISCONNECTED),), IGNORE_UNREADABLE, now)
            if sess.msgstate is not MsgState.PLAINTEXT:
                self._to_plaintext(sess)
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
        sess, smp = self._smp_session()
        res = smp.start(_secret_bytes(secret), question)
        return self._smp_out(sess, res.tlvs, res.events, now)

    def smp_respond(self, secret: str | bytes, now: float = 0.0) -> list[Event]:
        """Answer the peer's SMP request (after :class:`otr.events.SmpRequested`)."""
        sess, smp = self._smp_session()
        res = smp.respond(_secret_bytes(secret))
        return self._smp_out(sess, res.tlvs, res.events, now)

    def smp_abort(self, now: float = 0.0) -> list[Event]:
        sess, smp = self._smp_session()
        res = smp.abort()
        return self._smp_out(sess, res.tlvs, res.events, now)

    def use_extra_key(self, use: int, usedata: bytes = b"", now: float = 0.0) -> list[Event]:
        """Spec "Extra symmetric key": tell the peer (TLV 8) and return the key as an
        :class:`otr.events.ExtraSymmetricKey` event (origin "local")."""
        sess = self.current
        if sess is None or sess.msgstate is not MsgState.ENCRYPTED or sess.data is None:
            raise LocalProtocolError("no private conversation")
        if not 0 <= use <= 0xFFFFFFFF:
            raise LocalProtocolError("use must fit in 32 bits")
        value = use.to_bytes(4, "big") + usedata
        key = sess.data.sending_extra_key()
        out = self._send_data(
            sess, b"", (Tlv(tlv.EXTRA_SYMMETRIC_KEY, value),), IGNORE_UNREADABLE, now
        )
        return [ev.ExtraSymmetricKey(key, use, usedata, "local"), *out]

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should next be called (held messages expire)."""
        if not self._held:
            return None
        return self._held[0][1] + RESEND_INTERVAL

    def handle_timer(self, now: float) -> list[Event]:
        """Report held messages that could not be sent encrypted in time."""
        out: list[Event] = []
        keep = []
        for text, t in self._held:
            if now - t >= RESEND_INTERVAL:
                out.append(ev.MessageNotSent(text, "no private conversation was established"))
            else:
                keep.append((text, t))
        self._held = keep
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
            return self._start_ake_for(versions)
        if kind is K.TAGGED_PLAINTEXT:
            found = envelope.find_whitespace_tag(text)
            stripped, versions = found if found is not None else (text, frozenset())
            out = self._plaintext(stripped)
            if self.policy.whitespace_start_ake and self.msgstate is not MsgState.ENCRYPTED:
                out += self._start_ake_for(versions)
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
        cur = self.current
        if cur is not None and cur.msgstate is MsgState.ENCRYPTED:
            cur.may_retransmit = True
        if self.policy.error_start_ake and self._offer_versions():
            out.append(ev.SendMessage(self._query_text()))
        return out

    def _start_ake_for(self, versions: frozenset[int]) -> list[Event]:
        """Query or tag: send a v3 (else v2) D-H Commit (spec "Receiving a Query Message")."""
        policy = self.policy
        if 3 in versions and policy.allow_v3:
            version = 3
        elif 2 in versions and policy.allow_v2:
            version = 2
        else:
            return []
        commit = self._master_ake.start(version)
        wire = wire3.encode_message(version, self.our_instance, 0, commit)
        return self._emit(envelope.encode_otr_message(wire), version, 0)

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
        sess = self._session(sender)
        whole = sess.reassembler.feed(frag)
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
            decoded = wire3.decode_message(binary)
        except RemoteProtocolError:
            if binary[2:3] == bytes((wire3.DATA,)) and self.msgstate is MsgState.ENCRYPTED:
                # libotr answers a malformed data message with an error message.
                return [ev.MessageUnreadable("malformed data message"), *self._error(ERR_MALFORMED)]
            raise
        header = decoded.header
        version = header.version
        if frag_version is not None and frag_version != version:
            return [ev.MessageUnreadable("fragment and message versions differ")]
        if version not in self.policy.versions:
            # Spec: "If the message is version 2 and ALLOW_V2 is not set, ignore".
            return []
        if version == 3:
            problem = self._check_instances(
                header.sender_instance,
                header.receiver_instance,
                header.type == wire3.DH_COMMIT,
            )
            if problem is not None:
                return problem
            their = header.sender_instance
        else:
            their = 0
        sess = self._session(their)
        if frag_version is None:
            sess.reassembler.reset()
        msg = decoded.message
        if isinstance(msg, wire3.DataMessage):
            return self._receive_data(sess, msg.flags, binary, now)
        return self._receive_ake(sess, version, msg, now)

    def _receive_ake(
        self, sess: InstanceSession, version: int, msg: object, now: float
    ) -> list[Event]:
        master = self._master_ake
        if (
            sess.ake.state is AuthState.AUTHSTATE_NONE
            and master.state is AuthState.AUTHSTATE_AWAITING_DHKEY
            and master.version == version
            and isinstance(msg, wire3.DHKey | wire3.DHCommit)
        ):
            # Our D-H Commit went out to "any instance": this instance answers it.
            sess.ake = copy.copy(master)
        step = sess.ake.receive(version, msg)
        out: list[Event] = []
        if step.reply is not None:
            wire = wire3.encode_message(version, self.our_instance, sess.their_instance, step.reply)
            out += self._emit(envelope.encode_otr_message(wire), version, sess.their_instance)
        if step.result is not None:
            out += self._secured(sess, step.result, now)
        return out

    def _secured(self, sess: InstanceSession, result: AkeResult, now: float) -> list[Event]:
        """AKE success: msgstate ENCRYPTED, report, send held / stored messages."""
        refreshed = sess.msgstate is MsgState.ENCRYPTED
        if sess.smp is not None:
            sess.smp.reset()
        sess.version = result.version
        sess.result = result
        sess.data = DataSession(
            result, result.version, self.our_instance, sess.their_instance, self.rng
        )
        sess.msgstate = MsgState.ENCRYPTED
        fp = result.their_pubkey.fingerprint()
        sess.their_fingerprint = fp
        sess.smp = Smp(self.our_fingerprint, fp, result.ssid, self.rng)
        self._current = sess.their_instance
        if self._master_ake.state is not AuthState.AUTHSTATE_NONE:
            self._master_ake = Ake(self.key, self.rng)
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
                version=result.version,
                ssid=result.ssid,
                their_fingerprint=fp,
                our_fingerprint=self.our_fingerprint,
                their_instance=sess.their_instance,
                trust=trust,
                refreshed=refreshed,
                ssid_first_half_bold=result.ssid_first_half_bold,
            )
        )
        # Messages held under REQUIRE_ENCRYPTION, then a recent stored message
        # (spec: "If there is a recent stored message, encrypt it and send it").
        for text, t in self._held:
            if now - t < RESEND_INTERVAL:
                out += self._send_data(sess, text.encode("utf-8"), (), 0, now)
                sess.last_message = (text, now)
            else:
                out.append(ev.MessageNotSent(text, "no private conversation was established"))
        if self._held:
            self._held.clear()
        elif (
            sess.may_retransmit
            and sess.last_message is not None
            and now - sess.last_message[1] < RESEND_INTERVAL
        ):
            text = sess.last_message[0]
            out += self._send_data(sess, text.encode("utf-8"), (), 0, now)
            out.append(ev.Warning("The last message was resent."))
        sess.may_retransmit = False
        return out

    def _receive_data(
        self, sess: InstanceSession, flags: int, binary: bytes, now: float
    ) -> list[Event]:
        """Spec "Receiving a Data Message"."""
        ignore = bool(flags & IGNORE_UNREADABLE)
        if sess.msgstate is not MsgState.ENCRYPTED or sess.data is None:
            # libotr only tells the user here (the message may be for another
            # v2 instance); it sends no error to the peer.
            if ignore:
                return []
            return [
                ev.MessageUnreadable("encrypted message received outside a private conversation")
            ]
        try:
            result = sess.data.decrypt(binary)
        except RemoteProtocolError:
            if ignore:
                return []
            return [
                ev.MessageUnreadable("unreadable encrypted message"),
                *self._error(ERR_UNREADABLE),
            ]
        return self._deliver(sess, result, now)

    def _receive_data_fast(self, text: str, now: float) -> list[Event] | None:
        """The common case of :meth:`_receive_data`, straight from the wire text: an
        unfragmented Data Message for an instance we are in ENCRYPTED state with,
        that verifies.  Anything else returns None before any state has changed, and
        the general path handles (and reports) it."""
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
        sess = self.sessions.get(sender)
        if (
            sess is None
            or sess.data is None
            or sess.msgstate is not MsgState.ENCRYPTED
            or version not in self.policy.versions
        ):
            return None
        try:
            result = sess.data.decrypt(binary)
        except RemoteProtocolError:
            return None
        sess.reassembler.reset()
        return self._deliver(sess, result, now)

    def _deliver(self, sess: InstanceSession, result: Decrypted, now: float) -> list[Event]:
        """A verified Data Message: the text, then its TLVs (spec "Receiving a Data
        Message", "Socialist Millionaires' Protocol", "Extra symmetric key")."""
        plaintext = result.plaintext
        if b"\0" in plaintext:
            return self._deliver_tlvs(sess, result, now)
        text = plaintext.decode("utf-8", errors="replace")
        if not text:
            return []
        out: list[Event] = [ev.MessageReceived(text, True, (), sess.their_instance)]
        if now - sess.last_sent >= HEARTBEAT_INTERVAL:
            out += self._heartbeat(sess, now)
        return out

    def _heartbeat(self, sess: InstanceSession, now: float) -> list[Event]:
        """libotr's heartbeat (ERRATA A6): after a non-empty message, if we sent
        nothing for a while, send an empty IGNORE_UNREADABLE message so the peer
        can rotate keys."""
        if now - sess.last_sent < HEARTBEAT_INTERVAL:
            return []
        return self._send_data(sess, b"", (), IGNORE_UNREADABLE, now)

    def _deliver_tlvs(self, sess: InstanceSession, result: Decrypted, now: float) -> list[Event]:
        text_bytes, tlv_bytes = tlv.split_plaintext(result.plaintext)
        out: list[Event] = []
        try:
            tlvs = tlv.decode_tlvs(tlv_bytes) if tlv_bytes else []
        except RemoteProtocolError:
            tlvs = []
            out.append(ev.Warning("malformed TLVs ignored"))
        text = text_bytes.decode("utf-8", errors="replace")
        if text:
            out.append(ev.MessageReceived(text, True, tuple(tlvs), sess.their_instance))
        smp_tlvs: list[Tlv] = []
        finished = False
        for t in tlvs:
            if t.type == tlv.DISCONNECTED:
                finished = True
            elif tlv.SMP1 <= t.type <= tlv.SMP1Q and sess.smp is not None:
                res = sess.smp.receive(t)
                smp_tlvs += res.tlvs
                out += self._smp_events(sess, res.events)
            elif t.type == tlv.EXTRA_SYMMETRIC_KEY and len(t.value) >= 4:
                out.append(
                    ev.ExtraSymmetricKey(
                        result.extra_key, int.from_bytes(t.value[:4], "big"), t.value[4:], "remote"
                    )
                )
        if smp_tlvs and not finished:
            out += self._send_data(sess, b"", smp_tlvs, IGNORE_UNREADABLE, now)
        if finished:
            sess.msgstate = MsgState.FINISHED
            sess.data = None
            if sess.smp is not None:
                sess.smp.reset()
            out.append(ev.SessionFinished(sess.their_instance))
        elif text:
            out += self._heartbeat(sess, now)
        return out

    # -- helpers

    def _session(self, their: int) -> InstanceSession:
        sess = self.sessions.get(their)
        if sess is None:
            sess = InstanceSession(their, Ake(self.key, self.rng))
            self.sessions[their] = sess
        return sess

    def _send_data(
        self,
        sess: InstanceSession,
        message: bytes,
        tlvs: Sequence[Tlv],
        flags: int,
        now: float,
    ) -> list[Event]:
        assert sess.data is not None
        plaintext = tlv.join_plaintext(message, tlvs) if tlvs else message
        wire = sess.data.encrypt(plaintext, flags)
        sess.last_sent = now
        return self._emit(wire, sess.version, sess.their_instance)

    def _emit(self, wire: str, version: int, their: int) -> list[Event]:
        limit = self.policy.max_message_size
        if limit and len(wire) > limit:
            pieces = fragment_message(wire, limit, version, self.our_instance, their)
            return [ev.SendMessage(p) for p in pieces]
        return [ev.SendMessage(wire)]

    def _error(self, text: str) -> list[Event]:
        return [ev.SendMessage(envelope.format_error(text))]

    def _to_plaintext(self, sess: InstanceSession) -> None:
        sess.msgstate = MsgState.PLAINTEXT
        sess.data = None
        if sess.smp is not None:
            sess.smp.reset()
        sess.ake = Ake(self.key, self.rng)
        sess.last_message = None

    def _query_text(self) -> str:
        text = envelope.format_query(self._offer_versions(), self.account)
        limit = self.policy.max_message_size
        if limit and len(text) > limit:
            # Too long for the transport: send the bare "?OTRv23?" rather than
            # fragmenting free text (libotr's fragments of it break on commas).
            text = text.split("\n", 1)[0]
        return text

    def _offer_versions(self) -> frozenset[int]:
        return frozenset(v for v in self.policy.versions if v in (2, 3))

    def _smp_session(self) -> tuple[InstanceSession, Smp]:
        sess = self.current
        if sess is None or sess.msgstate is not MsgState.ENCRYPTED or sess.smp is None:
            raise LocalProtocolError("SMP needs a private conversation")
        return sess, sess.smp

    def _smp_out(
        self, sess: InstanceSession, tlvs: Sequence[Tlv], events: Sequence[Event], now: float
    ) -> list[Event]:
        out = self._smp_events(sess, events)
        if tlvs:
            out = self._send_data(sess, b"", tlvs, IGNORE_UNREADABLE, now) + out
        return out

    def _smp_events(self, sess: InstanceSession, events: Sequence[Event]) -> list[Event]:
        # libotr's set_smp_trust: the outcome sets the fingerprint's trust, except
        # on the side that only answered the peer's question (it learnt nothing
        # about the peer's identity).
        smp = sess.smp
        answered_question = smp is not None and smp.received_question
        for e in events:
            if isinstance(e, ev.SmpSucceeded | ev.SmpFailed) and not answered_question:
                trust = "smp" if isinstance(e, ev.SmpSucceeded) else ""
                self.trust.set_trust(
                    self.account, self.protocol, self.peer, sess.their_fingerprint, trust
                )
        return list(events)


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
