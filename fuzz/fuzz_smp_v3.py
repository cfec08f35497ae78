"""Fuzz target: the OTRv3 SMP state machine (otr.smp.v3.Smp.receive) with each SMP TLV
type in each state (snapshots of a real exchange; see
:func:`scenarios.check_smp_receive` for the input layout and the invariants)."""

from __future__ import annotations

import scenarios

ALLOWED: tuple[type[BaseException], ...] = ()
SEEDS = ("smp_v3",)


def one_input(data: bytes) -> None:
    scenarios.check_smp_receive(3, data)
