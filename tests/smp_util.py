"""Shared scenarios for the SMP state machines (``otr.smp.v3`` and ``otr.smp.v4``): both
versions have the same state machine, interface and events, so the same exchanges,
aborts, restarts and simultaneous starts are checked on both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otr.events import (
    SmpAborted,
    SmpCheated,
    SmpFailed,
    SmpInProgress,
    SmpRequested,
    SmpSucceeded,
    Tlv,
)
from otr.smp.machine import SmpState, SmpStep

E1, E2, E3, E4 = (
    SmpState.SMPSTATE_EXPECT1,
    SmpState.SMPSTATE_EXPECT2,
    SmpState.SMPSTATE_EXPECT3,
    SmpState.SMPSTATE_EXPECT4,
)
SMP1, SMP2, SMP3, SMP4, SMP_ABORT = 2, 3, 4, 5, 6
ABORT = Tlv(SMP_ABORT)
PROGRESS_AFTER_SMP2 = 60


@dataclass(frozen=True)
class Version:
    """How one SMP version is set up: ``alice()``/``bob()`` make the two parties (with
    fresh randomness), ``smp1_type(question)`` is the TLV type of message 1 and
    ``asked(question)`` the question the peer's SmpRequested carries."""

    alice: Callable[[], Any]
    bob: Callable[[], Any]
    smp1_type: Callable[[str | None], int]
    asked: Callable[[str | None], str | None]


def only(step: SmpStep, tlv_type: int) -> Tlv:
    assert len(step.tlvs) == 1 and step.tlvs[0].type == tlv_type, step
    return step.tlvs[0]


def run_smp(
    v: Version, a: Any, b: Any, sa: bytes, sb: bytes, question: str | None = None
) -> list[SmpStep]:
    """A full exchange, checking every state and event on the way."""
    s1 = a.start(sa, question)
    assert s1.events == () and a.state is E2
    r1 = b.receive(only(s1, v.smp1_type(question)))
    asked = v.asked(question)
    assert r1 == SmpStep((), (SmpRequested(asked),))
    assert b.state is E1 and b.request_pending and b.received_question is (asked is not None)
    s2 = b.respond(sb)
    assert s2.events == () and b.state is E3
    s3 = a.receive(only(s2, SMP2))
    assert s3.events == (SmpInProgress(PROGRESS_AFTER_SMP2),) and a.state is E4
    s4 = b.receive(only(s3, SMP3))
    s5 = a.receive(only(s4, SMP4))
    assert s5.tlvs == ()
    result = SmpSucceeded() if sa == sb else SmpFailed()
    assert s4.events == (result,) and s5.events == (result,)
    assert a.state is E1 and b.state is E1 and not a.request_pending and not b.request_pending
    return [s1, r1, s2, s3, s4, s5]


def succeeds_afterwards(v: Version, smp: Any, is_alice: bool) -> None:
    """The machine is usable again: a fresh exchange with a new peer object succeeds,
    with ``smp`` as initiator."""
    partner = v.bob() if is_alice else v.alice()
    run_smp(v, smp, partner, b"again", b"again", "fresh?")


def assert_cheated(step: SmpStep, smp: Any) -> str:
    assert step.tlvs == (ABORT,), step
    assert len(step.events) == 1 and isinstance(step.events[0], SmpCheated), step
    assert smp.state is E1 and not smp.request_pending
    reason: str = step.events[0].reason
    return reason


def assert_out_of_order(step: SmpStep, smp: Any) -> None:
    assert step == SmpStep((ABORT,), (SmpAborted(by_peer=False),))
    assert smp.state is E1 and not smp.request_pending


def advance(v: Version, stage: int) -> tuple[Any, Any]:
    """Alice and Bob after ``stage`` steps: 0 Alice sent message 1, 1 Bob got it, 2 Bob
    answered (message 2), 3 Alice sent message 3."""
    a, b = v.alice(), v.bob()
    m = a.start(b"s").tlvs[0]
    if stage >= 1:
        b.receive(m)
    if stage >= 2:
        m = b.respond(b"s").tlvs[0]
    if stage >= 3:
        a.receive(m)
    return a, b


def check_abort_mid_way(v: Version, stage: int, aborter: str) -> None:
    a, b = advance(v, stage)
    me, other = (a, b) if aborter == "alice" else (b, a)
    assert me.abort() == SmpStep((ABORT,))
    assert me.state is E1 and not me.request_pending
    assert other.receive(ABORT) == SmpStep((), (SmpAborted(by_peer=True),))
    assert other.state is E1 and not other.request_pending
    run_smp(v, a, b, b"t", b"t")
    run_smp(v, b, a, b"u", b"v")


def check_abort_when_idle(v: Version) -> None:
    a = v.alice()
    assert a.abort() == SmpStep((ABORT,)) and a.state is E1
    assert a.receive(ABORT).events == (SmpAborted(by_peer=True),)


def check_simultaneous_start(v: Version) -> None:
    a, b = v.alice(), v.bob()
    ma, mb = a.start(b"x").tlvs[0], b.start(b"x").tlvs[0]
    ra, rb = a.receive(mb), b.receive(ma)
    assert_out_of_order(ra, a)
    assert_out_of_order(rb, b)
    assert a.receive(rb.tlvs[0]).events == (SmpAborted(by_peer=True),)
    assert b.receive(ra.tlvs[0]).events == (SmpAborted(by_peer=True),)
    run_smp(v, a, b, b"y", b"y")


def check_new_request_replaces_a_pending_one(v: Version) -> None:
    a1, a2, b = v.alice(), v.alice(), v.bob()
    b.receive(a1.start(b"one").tlvs[0])
    assert b.receive(a2.start(b"two", "?").tlvs[0]).events == (SmpRequested("?"),)
    assert b.received_question is True
    s3 = a2.receive(b.respond(b"two").tlvs[0])
    assert b.receive(s3.tlvs[0]).events == (SmpSucceeded(),)


def check_reset_forgets_the_exchange(v: Version) -> None:
    a, b = v.alice(), v.bob()
    b.receive(a.start(b"s").tlvs[0])
    a.reset()
    b.reset()
    assert a.state is E1 and not b.request_pending
