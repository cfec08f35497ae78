"""The SMP state machine shared by OTRv3 and OTRv4 (``otr.smp.machine``), on its own:
a toy version whose messages carry one byte ("ok" or "cheat") shows each shared
transition; the real versions run the same scenarios in tests/smp_util.py."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest

from otr.errors import AuthenticationFailed, DecodeError, InvalidGroupElement
from otr.events import SmpAborted, SmpCheated, SmpRequested, Tlv
from otr.smp.machine import SSID_BYTES, SmpMachine, SmpState, SmpStep
from otr.smp.v3 import Smp as SmpV3
from otr.smp.v4 import Smp as SmpV4

E1, E2, E3, E4 = (
    SmpState.SMPSTATE_EXPECT1,
    SmpState.SMPSTATE_EXPECT2,
    SmpState.SMPSTATE_EXPECT3,
    SmpState.SMPSTATE_EXPECT4,
)
ABORT = Tlv(6)
FAILURES = {
    b"decode": DecodeError("malformed message"),
    b"auth": AuthenticationFailed("proof failed"),
    b"point": InvalidGroupElement("bad point"),
}


class Toy(SmpMachine[str, str]):
    """Message n moves to EXPECT(n+1) (4 back to EXPECT1); a value naming a failure
    raises it."""

    FINGERPRINT_BYTES: ClassVar[int] = 3
    NEXT: ClassVar[dict[int, SmpState]] = {2: E2, 3: E3, 4: E4, 5: E1}

    def _handle(self, tlv: Tlv) -> SmpStep:
        failure = FAILURES.get(tlv.value)
        if failure is not None:
            raise failure
        self.state = self.NEXT[tlv.type]
        if tlv.type == 2:
            self._bob = "request"
            self.state = E1
            return SmpStep((), (SmpRequested(None),))
        return SmpStep((Tlv(tlv.type + 1, b"ok"),))


def toy(state: SmpState = E1) -> Toy:
    smp = Toy(b"abc", b"def", bytes(SSID_BYTES), os.urandom)
    smp.state = state
    return smp


def test_expected_tables() -> None:
    assert dict(SmpMachine.EXPECTED) == {2: E1, 3: E2, 4: E3, 5: E4}
    assert dict(SmpV4.EXPECTED) == dict(SmpMachine.EXPECTED)
    assert dict(SmpV3.EXPECTED) == {**SmpMachine.EXPECTED, 7: E1}  # OTRv3's SMP1Q
    assert (SmpV3.FINGERPRINT_BYTES, SmpV4.FINGERPRINT_BYTES) == (20, 56)


@pytest.mark.parametrize("state", [E1, E2, E3, E4])
def test_peer_abort_resets_in_every_state(state: SmpState) -> None:
    smp = toy(state)
    smp._alice = "x"
    assert smp.receive(ABORT) == SmpStep((), (SmpAborted(by_peer=True),))
    assert smp.state is E1 and smp._alice is None and smp._bob is None


@pytest.mark.parametrize("state", [E1, E2, E3, E4])
def test_unexpected_message_is_answered_with_an_abort(state: SmpState) -> None:
    for t, expected in SmpMachine.EXPECTED.items():
        smp = toy(state)
        step = smp.receive(Tlv(t, b"ok"))
        if expected is state:
            assert step.tlvs != (ABORT,)
        else:
            assert step == SmpStep((ABORT,), (SmpAborted(by_peer=False),))
            assert smp.state is E1


@pytest.mark.parametrize("value", list(FAILURES))
def test_remote_errors_become_cheating(value: bytes) -> None:
    smp = toy(E3)
    smp._bob = "values"
    step = smp.receive(Tlv(4, value))
    assert step == SmpStep((ABORT,), (SmpCheated(str(FAILURES[value])),))
    assert smp.state is E1 and not smp.request_pending and smp._bob is None


def test_other_tlv_types_change_nothing() -> None:
    smp = toy(E2)
    for t in (0, 1, 7, 8, 0xFFFF):
        assert smp.receive(Tlv(t, b"x")) == SmpStep()
    assert smp.state is E2


def test_request_pending_and_local_abort() -> None:
    smp = toy()
    assert not smp.request_pending
    assert smp.receive(Tlv(2, b"ok")).events == (SmpRequested(None),)
    assert smp.request_pending
    assert smp.abort() == SmpStep((ABORT,))
    assert not smp.request_pending and smp.state is E1


def test_constructor_checks_lengths() -> None:
    for args in ((b"ab", b"def", bytes(8)), (b"abc", b"de", bytes(8)), (b"abc", b"def", b"")):
        with pytest.raises(ValueError, match="3-byte fingerprints and an 8-byte ssid"):
            Toy(*args, os.urandom)


def test_versions_must_provide_start_and_respond() -> None:
    smp = toy()
    with pytest.raises(NotImplementedError):
        smp.start(b"s")
    with pytest.raises(NotImplementedError):
        smp.respond(b"s")
    with pytest.raises(NotImplementedError):
        SmpMachine._handle(smp, Tlv(2, b""))
