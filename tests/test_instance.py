"""The per-version session interface (``otr.instance``): the OTRv2/v3 implementation
satisfies it, and the front door's outputs mean what the interface says."""

from __future__ import annotations

from otr.instance import InstanceSession, MsgState, Secured, SmpVerdict, Transmit, VersionProtocol
from otr.v3.protocol import V3Protocol, V3Session
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
