"""The SMP part of an :class:`otr.instance.InstanceSession`, shared by the protocol
versions: the user's ``smp_start`` / ``smp_respond`` / ``smp_abort``, sending the SMP
TLVs in one IGNORE_UNREADABLE data message, and turning outcomes into
:class:`~otr.instance.SmpVerdict` as libotr does (``set_smp_trust``: the outcome sets
the peer fingerprint's trust, except on the side that only answered the peer's
question - it learnt nothing about the peer's identity).

A session mixes in :class:`SmpSessionMixin`, keeps its SMP machine (:mod:`otr.smp.v3`
or :mod:`otr.smp.v4`) behind ``_smp_machine`` and implements ``_send_data``
(:class:`otr.v3.protocol.V3Session` and :class:`otr.v4.session.V4Session` do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from . import events as ev
from .errors import LocalProtocolError
from .events import Event, Tlv
from .instance import MsgState, Output, SmpVerdict
from .smp.machine import SmpStep

__all__ = ["SmpLike", "SmpSessionMixin"]


class SmpLike(Protocol):
    """What the mixin needs of an SMP machine (both versions' ``Smp``)."""

    received_question: bool

    def start(self, secret: bytes, question: str | None = None) -> SmpStep: ...

    def respond(self, secret: bytes) -> SmpStep: ...

    def abort(self) -> SmpStep: ...


class SmpSessionMixin:
    """``smp_start``, ``smp_respond``, ``smp_abort`` and the SMP outputs of a session."""

    SMP_FLAGS: ClassVar[int] = 0x01
    """Flags of the data messages carrying SMP TLVs (IGNORE_UNREADABLE)."""
    msgstate: MsgState

    @property
    def _smp_machine(self) -> SmpLike | None:
        raise NotImplementedError

    def _send_data(
        self, message: bytes, tlvs: Sequence[Tlv], flags: int, now: float
    ) -> list[Output]:
        raise NotImplementedError

    def smp_start(self, secret: bytes, question: str | None, now: float) -> list[Output]:
        res = self._smp().start(secret, question)
        return self._smp_out(res.tlvs, res.events, now)

    def smp_respond(self, secret: bytes, now: float) -> list[Output]:
        res = self._smp().respond(secret)
        return self._smp_out(res.tlvs, res.events, now)

    def smp_abort(self, now: float) -> list[Output]:
        res = self._smp().abort()
        return self._smp_out(res.tlvs, res.events, now)

    def _smp(self) -> SmpLike:
        smp = self._smp_machine
        if self.msgstate is not MsgState.ENCRYPTED or smp is None:
            raise LocalProtocolError("SMP needs a private conversation")
        return smp

    def _smp_out(self, tlvs: Sequence[Tlv], events: Sequence[Event], now: float) -> list[Output]:
        out = self._smp_events(events)
        if tlvs:
            out = self._send_data(b"", tlvs, self.SMP_FLAGS, now) + out
        return out

    def _smp_events(self, events: Sequence[Event]) -> list[Output]:
        smp = self._smp_machine
        answered_question = smp is not None and smp.received_question
        out: list[Output] = []
        for e in events:
            if isinstance(e, ev.SmpSucceeded | ev.SmpFailed) and not answered_question:
                out.append(SmpVerdict(isinstance(e, ev.SmpSucceeded)))
            out.append(e)
        return out
