"""The OTRv2/v3 per-instance state machine (``otr.v3.protocol``), driven directly
without the front door: AKE through ``V3Protocol.start``, data, SMP verdicts, end."""

from __future__ import annotations

import pytest

from otr import events as ev
from otr.errors import LocalProtocolError
from otr.instance import MsgState, Output, Secured, SmpVerdict, Transmit
from otr.v3.protocol import V3Protocol, V3Session
from otr.wire import envelope, registry
from v3_util import CountingRng, dsa_key

A_TAG, B_TAG = 0x1111, 0x2222


def _wires(outputs: list[Output]) -> list[str]:
    return [o.wire for o in outputs if isinstance(o, Transmit)]


def _feed(sess: V3Session, wire: str, now: float = 0.0) -> list[Output]:
    header, msg = registry.decode(envelope.decode_otr_message(wire))
    return sess.receive(header.version, msg, envelope.decode_otr_message(wire), now)


def _pair(version: int = 3) -> tuple[V3Session, V3Session]:
    pa = V3Protocol(dsa_key("a"), A_TAG, CountingRng("a"))
    pb = V3Protocol(dsa_key("b"), B_TAG, CountingRng("b"))
    a_tag, b_tag = (A_TAG, B_TAG) if version == 3 else (0, 0)
    a = pa.new_session(version, b_tag)
    b = pb.new_session(version, a_tag)
    (commit,) = _wires(pa.start(version, 0.0))
    (dhkey,) = _wires(_feed(b, commit))
    out = _feed(a, dhkey)  # a copies the master AKE and sends Reveal Signature
    (reveal,) = _wires(out)
    out_b = _feed(b, reveal)
    (sig,) = _wires(out_b)
    assert any(isinstance(o, Secured) for o in out_b)
    out_a = _feed(a, sig)
    assert [type(o) for o in out_a] == [Secured]
    return a, b


@pytest.mark.parametrize("version", [2, 3])
def test_ake_then_data_both_ways(version: int) -> None:
    a, b = _pair(version)
    assert a.msgstate is b.msgstate is MsgState.ENCRYPTED
    assert a.ssid == b.ssid and len(a.ssid) == 8 and a.established
    assert a.their_fingerprint == dsa_key("b").public.fingerprint()
    (wire,) = _wires(a.send(b"hello", (), 1.0))
    got = _feed(b, wire, 1.0)
    assert got[0] == ev.MessageReceived("hello", True, (), b.their_instance)
    assert b.their_instance == (A_TAG if version == 3 else 0)
    (wire,) = _wires(b.send(b"back", (), 2.0))
    assert b.receive_fast(b"garbage", 2.0) is None
    fast = a.receive_fast(envelope.decode_otr_message(wire), 2.0)
    assert fast is not None and fast[0] == ev.MessageReceived("back", True, (), a.their_instance)


def test_unreadable_data_is_reported_with_an_error_message() -> None:
    a, b = _pair()
    (wire,) = _wires(a.send(b"once", (), 1.0))
    _feed(b, wire)
    again = _feed(b, wire)  # a replay
    assert isinstance(again[0], ev.MessageUnreadable)
    assert isinstance(again[1], ev.SendMessage) and again[1].text.startswith("?OTR Error:")


def test_smp_success_yields_a_verdict_on_the_asking_side_only() -> None:
    a, b = _pair()
    (m1,) = _wires(a.smp_start(b"s", "q?", 1.0))
    out = _feed(b, m1)
    assert ev.SmpRequested("q?") in out
    (m2,) = _wires(b.smp_respond(b"s", 1.0))
    (m3,) = _wires(_feed(a, m2))
    out_b = _feed(b, m3)
    (m4,) = _wires(out_b)
    assert ev.SmpSucceeded() in out_b and not any(isinstance(o, SmpVerdict) for o in out_b)
    out_a = _feed(a, m4)
    assert out_a == [SmpVerdict(True), ev.SmpSucceeded()]


def test_end_sends_disconnect_and_peer_finishes() -> None:
    a, b = _pair()
    (wire,) = _wires(a.end(1.0))
    assert a.msgstate is MsgState.PLAINTEXT
    out = _feed(b, wire)
    assert ev.SessionFinished(b.their_instance) in out and b.msgstate is MsgState.FINISHED
    with pytest.raises(LocalProtocolError):
        b.smp_start(b"s", None, 1.0)
    with pytest.raises(LocalProtocolError):
        b.extra_key(1, b"", 1.0)
