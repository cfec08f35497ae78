"""The OTRv2/v3 protocol state machine of one remote instance (spec "The protocol
state machine": "Receiving a D-H Commit / D-H Key / Reveal Signature / Signature /
Data Message", "User types a message to be sent", "User requests to end an OTR
conversation", "The SMP state machine", "Extra symmetric key").

:class:`V3Session` implements :class:`otr.instance.InstanceSession` (the interface
the front door, :class:`otr.Conversation`, talks to); :class:`V3Protocol` implements
:class:`otr.instance.VersionProtocol`: our long-term DSA key, our instance tag and the
AKE we start before knowing which remote instance will answer (our D-H Commit
carries receiver instance 0; libotr copies it into the instance that answers, and
so do we).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

from .. import events as ev
from ..crypto.dsa import DSAPrivateKey
from ..errors import EntropyError, LocalProtocolError, RemoteProtocolError
from ..events import Event, Tlv
from ..instance import MsgState, Output, Secured, Transmit
from ..instance_smp import SmpSessionMixin
from ..limits import Limits, encoded_length_bound
from ..smp.v3 import Smp, SmpStep
from ..wire import envelope, tlv
from ..wire import v3 as wire3
from ..wire.fragment import Reassembler, fragment_count, fragment_message
from .ake import Ake, AkeResult, AuthState
from .session import DataSession, Decrypted

__all__ = [
    "ERR_MALFORMED",
    "ERR_NOT_IN_PRIVATE",
    "ERR_UNREADABLE",
    "HEARTBEAT_INTERVAL",
    "IGNORE_UNREADABLE",
    "V3Protocol",
    "V3Session",
]

HEARTBEAT_INTERVAL = 60.0
"""libotr's heartbeat interval in seconds (ERRATA A6)."""
IGNORE_UNREADABLE = 0x01
"""Data message flag (spec "Data Message")."""

# libotr 4.1.1's error texts (OTRL_ERRCODE_*), sent after "?OTR Error: ".
ERR_UNREADABLE = "You transmitted an unreadable encrypted message."
ERR_MALFORMED = "You transmitted a malformed data message."
ERR_NOT_IN_PRIVATE = "You sent encrypted data to a peer who wasn't expecting it."

Rng = Callable[[int], bytes]


class V3Protocol:
    """OTRv2 and OTRv3 for one conversation (see the module docstring)."""

    versions = frozenset((2, 3))

    def __init__(self, key: DSAPrivateKey, our_instance: int, rng: Rng) -> None:
        self.key = key
        self.our_instance = our_instance
        self.rng = rng
        self.our_fingerprint = key.public.fingerprint()
        self.master_ake = Ake(key, rng)

    def new_session(self, version: int, their_instance: int) -> V3Session:
        return V3Session(self, their_instance)

    def start(self, version: int, now: float) -> list[Output]:
        """Send a v3 or v2 D-H Commit to any instance (spec "Receiving a Query Message")."""
        commit = self.master_ake.start(version)
        wire = wire3.encode_message(version, self.our_instance, 0, commit)
        return [Transmit(envelope.encode_otr_message(wire))]

    def addressed_to_any(self, version: int, mtype: int) -> bool:
        return mtype == wire3.DH_COMMIT

    def fragment(self, wire: str, version: int, max_size: int, their_instance: int) -> list[str]:
        return fragment_message(wire, max_size, version, self.our_instance, their_instance)

    def fragments_needed(self, plaintext_bytes: int, version: int, max_size: int) -> int:
        return fragment_count(encoded_length_bound(plaintext_bytes), max_size, version)

    def new_reassembler(self, version: int, limits: Limits) -> Reassembler:
        return Reassembler(limits.max_fragments, limits.max_reassembly_chars)

    def error(self, text: str) -> Event:
        return ev.SendMessage(envelope.format_error(text))


class V3Session(SmpSessionMixin):
    """The message state, AKE, data-message keys and SMP of one remote instance
    (spec "Instance Tags"; OTRv2 peers use instance 0).  The user's SMP calls and
    libotr's trust rule for SMP outcomes come from
    :class:`otr.instance_smp.SmpSessionMixin`."""

    SMP_FLAGS = IGNORE_UNREADABLE

    def __init__(self, protocol: V3Protocol, their_instance: int) -> None:
        self._protocol = protocol
        self.their_instance = their_instance
        self.ake = Ake(protocol.key, protocol.rng)
        self.msgstate = MsgState.PLAINTEXT
        self.version = 0
        self.data: DataSession | None = None
        self.smp: Smp | None = None
        self.result: AkeResult | None = None
        self.their_fingerprint = b""
        self.last_sent = float("-inf")

    # ------------------------------------------------------------------ status

    @property
    def _smp_machine(self) -> Smp | None:
        return self.smp

    @property
    def ssid(self) -> bytes:
        return self.result.ssid if self.result is not None else b""

    @property
    def established(self) -> bool:
        return self.result is not None

    # ------------------------------------------------------------ network side

    def receive(self, version: int, message: object, binary: bytes, now: float) -> list[Output]:
        if isinstance(message, wire3.DataMessage):
            return self._receive_data(message.flags, binary, now)
        return self._receive_ake(version, message, now)

    def _receive_ake(self, version: int, msg: object, now: float) -> list[Output]:
        proto = self._protocol
        master = proto.master_ake
        ake = self.ake
        if (
            ake.state is AuthState.AUTHSTATE_NONE
            and master.state is AuthState.AUTHSTATE_AWAITING_DHKEY
            and master.version == version
            and isinstance(msg, wire3.DHKey | wire3.DHCommit)
        ):
            # Our D-H Commit went out to "any instance": this instance answers it.
            ake = master
        # Run the step on a copy, and keep it only once everything (the reply, the
        # new data-message keys) is made: a failure leaves this instance unchanged.
        trial = copy.copy(ake)
        step = trial.receive(version, msg)
        out: list[Output] = []
        if step.reply is not None:
            wire = wire3.encode_message(
                version, proto.our_instance, self.their_instance, step.reply
            )
            out.append(Transmit(envelope.encode_otr_message(wire)))
        if step.result is not None:
            data = DataSession(
                step.result,
                step.result.version,
                proto.our_instance,
                self.their_instance,
                proto.rng,
            )
            self.ake = trial
            out += self._secured(step.result, data)
        else:
            self.ake = trial
        return out

    def _secured(self, result: AkeResult, data: DataSession) -> list[Output]:
        """AKE success: msgstate ENCRYPTED with fresh data-message keys and SMP."""
        proto = self._protocol
        fp = result.their_pubkey.fingerprint()
        smp = Smp(proto.our_fingerprint, fp, result.ssid, proto.rng)
        refreshed = self.msgstate is MsgState.ENCRYPTED
        if self.smp is not None:
            self.smp.reset()
        self.version = result.version
        self.result = result
        self.data = data
        self.msgstate = MsgState.ENCRYPTED
        self.their_fingerprint = fp
        self.smp = smp
        if proto.master_ake.state is not AuthState.AUTHSTATE_NONE:
            proto.master_ake = Ake(proto.key, proto.rng)
        return [
            Secured(
                version=result.version,
                ssid=result.ssid,
                their_fingerprint=fp,
                refreshed=refreshed,
                ssid_first_half_bold=result.ssid_first_half_bold,
            )
        ]

    def _receive_data(self, flags: int, binary: bytes, now: float) -> list[Output]:
        """Spec "Receiving a Data Message"."""
        ignore = bool(flags & IGNORE_UNREADABLE)
        if self.msgstate is not MsgState.ENCRYPTED or self.data is None:
            # Spec: "If msgstate is MSGSTATE_PLAINTEXT or MSGSTATE_FINISHED: Inform
            # the user that an unreadable encrypted message was received, and reply
            # with an Error Message" (libotr: OTRL_ERRCODE_MSG_NOT_IN_PRIVATE).  This
            # is how a peer that lost its session (restarted) makes us start again.
            # OTRv2 messages carry no instance tags and may be for another of our
            # clients: as libotr, we only tell the user.
            if ignore:
                return []
            unreadable = ev.MessageUnreadable(
                "encrypted message received outside a private conversation"
            )
            if binary[1] == 2:
                return [unreadable]
            return [
                ev.MessageUnreadable(unreadable.reason, peer_told=True),
                self._protocol.error(ERR_NOT_IN_PRIVATE),
            ]
        try:
            result = self.data.decrypt(binary)
        except RemoteProtocolError:
            if ignore:
                return []
            return [
                ev.MessageUnreadable("unreadable encrypted message", peer_told=True),
                self._protocol.error(ERR_UNREADABLE),
            ]
        return self._deliver(result, now)

    def receive_fast(self, binary: bytes, now: float) -> list[Output] | None:
        """The common case of a data message: ENCRYPTED, and it verifies."""
        data = self.data
        if data is None or self.msgstate is not MsgState.ENCRYPTED:
            return None
        try:
            result = data.decrypt(binary)
        except RemoteProtocolError:
            return None
        return self._deliver(result, now)

    def _deliver(self, result: Decrypted, now: float) -> list[Output]:
        """A verified Data Message: the text, then its TLVs (spec "Receiving a Data
        Message", "Socialist Millionaires' Protocol", "Extra symmetric key")."""
        plaintext = result.plaintext
        if b"\0" in plaintext:
            return self._deliver_tlvs(result, now)
        text = plaintext.decode("utf-8", errors="replace")
        if not text:
            return []
        out: list[Output] = [ev.MessageReceived(text, True, (), self.their_instance)]
        if now - self.last_sent >= HEARTBEAT_INTERVAL:
            out += self._heartbeat(now)
        return out

    def _heartbeat(self, now: float) -> list[Output]:
        """libotr's heartbeat (ERRATA A6): after a non-empty message, if we sent
        nothing for a while, send an empty IGNORE_UNREADABLE message so the peer
        can rotate keys."""
        if now - self.last_sent < HEARTBEAT_INTERVAL:
            return []
        return self._send_data(b"", (), IGNORE_UNREADABLE, now)

    def _deliver_tlvs(self, result: Decrypted, now: float) -> list[Output]:
        text_bytes, tlv_bytes = tlv.split_plaintext(result.plaintext)
        out: list[Output] = []
        try:
            tlvs = tlv.decode_tlvs(tlv_bytes) if tlv_bytes else []
        except RemoteProtocolError:
            tlvs = []
            out.append(ev.Warning("malformed TLVs ignored"))
        text = text_bytes.decode("utf-8", errors="replace")
        if text:
            out.append(ev.MessageReceived(text, True, tuple(tlvs), self.their_instance))
        smp_tlvs: list[Tlv] = []
        finished = False
        for t in tlvs:
            if t.type == tlv.DISCONNECTED:
                finished = True
            elif tlv.SMP1 <= t.type <= tlv.SMP1Q and self.smp is not None:
                try:
                    res = self.smp.receive(t)
                except EntropyError:
                    # No randomness for our reply (nothing changed in SMP): abort the
                    # exchange cleanly rather than lose the rest of this message.
                    res = self.smp.abort()
                    res = SmpStep(res.tlvs, (ev.SmpAborted(by_peer=False),))
                smp_tlvs += res.tlvs
                out += self._smp_events(res.events)
            elif t.type == tlv.EXTRA_SYMMETRIC_KEY and len(t.value) >= 4:
                out.append(
                    ev.ExtraSymmetricKey(
                        result.extra_key, int.from_bytes(t.value[:4], "big"), t.value[4:], "remote"
                    )
                )
        if smp_tlvs and not finished:
            out += self._send_data(b"", smp_tlvs, IGNORE_UNREADABLE, now)
        if finished:
            self.msgstate = MsgState.FINISHED
            self.data = None
            if self.smp is not None:
                self.smp.reset()
            out.append(ev.SessionFinished(self.their_instance))
        elif text:
            out += self._heartbeat(now)
        return out

    # --------------------------------------------------------------- user side

    def send(self, message: bytes, tlvs: Sequence[Tlv], now: float) -> list[Output]:
        return self._send_data(message, tlvs, 0, now)

    def end(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self.msgstate is MsgState.ENCRYPTED:
            out += self._send_data(b"", (Tlv(tlv.DISCONNECTED),), IGNORE_UNREADABLE, now)
        if self.msgstate is not MsgState.PLAINTEXT:
            self.msgstate = MsgState.PLAINTEXT
            self.data = None
            if self.smp is not None:
                self.smp.reset()
            self.ake = Ake(self._protocol.key, self._protocol.rng)
        return out

    def extra_key(self, use: int, usedata: bytes, now: float) -> list[Output]:
        if self.data is None:
            raise LocalProtocolError("no private conversation")
        key = self.data.sending_extra_key()
        value = use.to_bytes(4, "big") + usedata
        out = self._send_data(b"", (Tlv(tlv.EXTRA_SYMMETRIC_KEY, value),), IGNORE_UNREADABLE, now)
        return [ev.ExtraSymmetricKey(key, use, usedata, "local"), *out]

    def next_deadline(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> list[Output]:
        return []

    # ----------------------------------------------------------------- helpers

    def _send_data(
        self, message: bytes, tlvs: Sequence[Tlv], flags: int, now: float
    ) -> list[Output]:
        assert self.data is not None
        plaintext = tlv.join_plaintext(message, tlvs) if tlvs else message
        wire = self.data.encrypt(plaintext, flags)
        self.last_sent = now
        return [Transmit(wire)]
