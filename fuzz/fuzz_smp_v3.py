"""Fuzz target: the OTRv3 SMP state machine (otr.smp.v3.Smp.receive) with each SMP TLV
type in each state.

Input: byte 0 picks the state (fresh EXPECT1, EXPECT1 with a request pending, EXPECT2,
EXPECT3, EXPECT4: snapshots of a real exchange), byte 1 the TLV type (0-7), the rest is
the TLV value.  Invariants (spec "The SMP state machine"): ``receive`` never raises;
what it returns encodes as TLVs; a cheat or an unexpected message resets to EXPECT1
and answers with an SMP abort TLV; only a genuine final message succeeds.
"""

from __future__ import annotations

import scenarios

from otr import events as ev
from otr.events import Tlv
from otr.smp.v3 import SmpState
from otr.wire import tlv

ALLOWED: tuple[type[BaseException], ...] = ()
SEEDS = ("smp_v3",)

STATES = scenarios.SMP_STATES


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    run = scenarios.smp_run()
    smp = scenarios.fork_smp(run.states[STATES[data[0] % len(STATES)]])
    step = smp.receive(Tlv(data[1] % 8, data[2 : 2 + tlv.MAX_TLV_VALUE]))
    assert isinstance(smp.state, SmpState)
    tlv.encode_tlvs(step.tlvs)
    assert all(isinstance(e, ev.Event) for e in step.events)
    if any(isinstance(e, ev.SmpCheated | ev.SmpAborted) for e in step.events):
        assert smp.state is SmpState.SMPSTATE_EXPECT1
        assert not smp.request_pending
    if any(isinstance(e, ev.SmpCheated) for e in step.events) or any(
        isinstance(e, ev.SmpAborted) and not e.by_peer for e in step.events
    ):
        assert step.tlvs == (Tlv(tlv.SMP_ABORT),)
