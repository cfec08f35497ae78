"""The per-version session interface (``otr.instance``): the OTRv2/v3 implementation
satisfies it, and the front door's outputs mean what the interface says."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest

from otr import events as ev
from otr.conversation import Conversation
from otr.errors import LocalProtocolError
from otr.events import Tlv
from otr.instance import (
    InstanceSession,
    MsgState,
    Output,
    Secured,
    SmpVerdict,
    Transmit,
    VersionProtocol,
)
from otr.limits import Limits
from otr.policy import Policy
from otr.v3.protocol import V3Protocol, V3Session
from otr.wire import envelope, registry
from otr.wire.fragment import Reassembler
from v3_util import CountingRng, dsa_key


def test_v3_implements_the_interface() -> None:
    proto: VersionProtocol = V3Protocol(dsa_key("a"), 0x1000, CountingRng())
    sess: InstanceSession = proto.new_session(3, 0x2000)
    assert isinstance(sess, V3Session)
    assert sess.msgstate is MsgState.PLAINTEXT and sess.version == 0
    assert sess.ssid == b"" and sess.their_fingerprint == b"" and not sess.established
    assert sess.next_deadline() is None and sess.handle_timer(0.0) == []
    assert proto.versions == frozenset((2, 3))


def test_effects_are_plain_values() -> None:
    assert Transmit("?OTR:AA.") == Transmit("?OTR:AA.")
    s = Secured(3, b"\x01" * 8, b"\x02" * 20, refreshed=False)
    assert s.ssid_first_half_bold is False
    assert SmpVerdict(True) != SmpVerdict(False)


# A toy protocol family for version 4 (not OTRv4!): it shows that a new version
# plugs into the front door through the interface alone.
_TOY_TYPE = 0xEE


class _ToySession:
    def __init__(self, our: int, their: int) -> None:
        self.our, self.their_instance = our, their
        self.version = 0
        self.msgstate = MsgState.PLAINTEXT
        self.ssid = b""
        self.their_fingerprint = b""
        self.established = False
        self.sent: list[bytes] = []

    def receive(self, version: int, message: object, binary: bytes, now: float) -> list[Output]:
        assert message == ("toy", b"hello")
        self.version, self.msgstate, self.established = 4, MsgState.ENCRYPTED, True
        self.ssid, self.their_fingerprint = b"\x07" * 8, b"\x56" * 56
        return [Secured(4, self.ssid, self.their_fingerprint, refreshed=False)]

    def receive_fast(self, binary: bytes, now: float) -> list[Output] | None:
        return None

    def send(self, message: bytes, tlvs: Sequence[Tlv], now: float) -> list[Output]:
        self.sent.append(message)
        return [Transmit(_toy_wire(self.our, self.their_instance, message))]

    def end(self, now: float) -> list[Output]:
        self.msgstate = MsgState.PLAINTEXT
        return []

    def smp_start(self, secret: bytes, question: str | None, now: float) -> list[Output]:
        return [ev.SmpInProgress(1)]

    def smp_respond(self, secret: bytes, now: float) -> list[Output]:
        return []

    def smp_abort(self, now: float) -> list[Output]:
        return []

    def extra_key(self, use: int, usedata: bytes, now: float) -> list[Output]:
        return []

    def next_deadline(self) -> float | None:
        return 50.0 if self.established else None

    def handle_timer(self, now: float) -> list[Output]:
        self.msgstate = MsgState.FINISHED
        return [ev.SessionFinished(self.their_instance)]


def _toy_wire(sender: int, receiver: int, body: bytes) -> str:
    binary = b"\x00\x04" + bytes((_TOY_TYPE,)) + struct.pack(">II", sender, receiver) + body
    return envelope.encode_otr_message(binary)


class _ToyProtocol:
    versions = frozenset((4,))

    def __init__(self, our: int) -> None:
        self.our = our

    def new_session(self, version: int, their_instance: int) -> _ToySession:
        return _ToySession(self.our, their_instance)

    def start(self, version: int, now: float) -> list[Output]:
        return [Transmit(_toy_wire(self.our, 0, b"start"))]

    def addressed_to_any(self, version: int, mtype: int) -> bool:
        return False

    def fragment(self, wire: str, version: int, max_size: int, their_instance: int) -> list[str]:
        return [wire[i : i + max_size] for i in range(0, len(wire), max_size)]

    def fragments_needed(self, plaintext_bytes: int, version: int, max_size: int) -> int:
        return 1

    def new_reassembler(self, version: int, limits: Limits) -> Reassembler:
        return Reassembler(limits.max_fragments, limits.max_reassembly_chars)


def test_a_new_version_plugs_in_through_the_interface() -> None:
    registry.register(4, _TOY_TYPE, lambda binary: ("toy", binary[11:]))
    conv = Conversation(dsa_key("a"), policy=Policy(allow_v4=True), rng=CountingRng("toy"))
    toy = _ToyProtocol(conv.our_instance)
    proto: VersionProtocol = toy
    conv.add_protocol(proto)
    # A query offering 3 and 4 starts the highest common version.
    out = conv.receive("?OTRv34?")
    assert out == [ev.SendMessage(_toy_wire(conv.our_instance, 0, b"start"))]
    # The peer's instance 0x4444 answers; the front door routes by (4, 0x4444).
    got = conv.receive(_toy_wire(0x4444, conv.our_instance, b"hello"))
    (secured,) = [e for e in got if isinstance(e, ev.SessionSecured)]
    assert secured.version == 4 and len(secured.their_fingerprint) == 56
    assert conv.version == 4 and conv.their_instance == 0x4444 and conv.is_encrypted
    assert conv.send("hi") == [ev.SendMessage(_toy_wire(conv.our_instance, 0x4444, b"hi"))]
    assert conv.smp_start("s") == [ev.SmpInProgress(1)]
    assert conv.next_deadline() == 50.0
    assert conv.handle_timer(50.0) == [ev.SessionFinished(0x4444)]
    with pytest.raises(LocalProtocolError):
        conv.add_protocol(proto)  # too late: the conversation has started
