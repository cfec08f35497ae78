"""What the OTRv3 and OTRv4 SMP state machines share (otr-v3.md "The SMP state machine";
otr-v4.md "The SMP State Machine": "OTRv4 does not change the state machine for SMP from
OTRv3").

* :class:`SmpState` - the spec's ``SMPSTATE_EXPECT1`` ... ``SMPSTATE_EXPECT4``.
* :class:`SmpStep` - the effect of one call: TLVs for the peer and events for the user.
* :class:`SmpMachine` - the transitions both versions have in common, driven by the
  version's table of "which TLV type is expected in which state":

  * a received SMP abort (TLV 6) resets to ``SMPSTATE_EXPECT1`` and reports
    ``SmpAborted(by_peer=True)``, in any state;
  * an SMP TLV the current state does not expect resets and answers with an abort TLV
    (spec: "set smpstate to SMPSTATE_EXPECT1 and send a type 6 TLV"), reported as
    ``SmpAborted(by_peer=False)``: nobody cheated, this happens when both sides start at
    once;
  * a message that fails to decode or whose point, scalar or proof check fails (any
    :class:`~otr.errors.RemoteProtocolError` the version's handler raises) resets,
    answers with an abort TLV and reports :class:`~otr.events.SmpCheated` with the reason;
  * the user's abort always sends TLV 6 and resets.

A version subclasses :class:`SmpMachine`, sets ``FINGERPRINT_BYTES`` (and
``EXPECTED`` when it has more SMP TLVs than 2-5) and implements
:meth:`SmpMachine._handle`; the initiator's and responder's per-exchange values live in
``_alice`` / ``_bob`` (None when not in use).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from ..errors import RemoteProtocolError
from ..events import Event, SmpAborted, SmpCheated, Tlv
from ..wire.tlv import SMP1, SMP2, SMP3, SMP4, SMP_ABORT

__all__ = ["SSID_BYTES", "SmpMachine", "SmpState", "SmpStep"]

SSID_BYTES = 8
"""The secure session id is 8 bytes in both versions."""


class SmpState(enum.Enum):
    """Spec "Expected Message": which SMP TLV is accepted next."""

    SMPSTATE_EXPECT1 = 1
    """Only SMP message 1 (v3 also 1Q); also the idle state."""
    SMPSTATE_EXPECT2 = 2
    """Only SMP message 2 (TLV 3)."""
    SMPSTATE_EXPECT3 = 3
    """Only SMP message 3 (TLV 4)."""
    SMPSTATE_EXPECT4 = 4
    """Only SMP message 4 (TLV 5)."""


@dataclass(frozen=True)
class SmpStep:
    """The effect of one SMP call."""

    tlvs: tuple[Tlv, ...] = ()
    """TLVs to send to the peer, in one data message."""
    events: tuple[Event, ...] = ()
    """Events for the user, in order."""


AliceT = TypeVar("AliceT")
BobT = TypeVar("BobT")


class SmpMachine(Generic[AliceT, BobT]):
    """The shared part of one conversation's SMP state machine (see the module doc)."""

    EXPECTED: ClassVar[Mapping[int, SmpState]] = {
        SMP1: SmpState.SMPSTATE_EXPECT1,
        SMP2: SmpState.SMPSTATE_EXPECT2,
        SMP3: SmpState.SMPSTATE_EXPECT3,
        SMP4: SmpState.SMPSTATE_EXPECT4,
    }
    """TLV type -> the state in which that SMP message is accepted."""
    FINGERPRINT_BYTES: ClassVar[int]
    """The length of the version's fingerprints (20 for OTRv3, 56 for OTRv4)."""

    def __init__(
        self,
        our_fingerprint: bytes,
        their_fingerprint: bytes,
        ssid: bytes,
        rng: Callable[[int], bytes],
    ) -> None:
        """``our_fingerprint``/``their_fingerprint``: the fingerprints of the long-term
        keys in use; ``ssid``: the 8-byte secure session id of the conversation; ``rng``:
        the randomness source."""
        n = self.FINGERPRINT_BYTES
        if len(our_fingerprint) != n or len(their_fingerprint) != n or len(ssid) != SSID_BYTES:
            raise ValueError(f"SMP needs {n}-byte fingerprints and an {SSID_BYTES}-byte ssid")
        self._our_fp = bytes(our_fingerprint)
        self._their_fp = bytes(their_fingerprint)
        self._ssid = bytes(ssid)
        self._rng = rng
        self.state = SmpState.SMPSTATE_EXPECT1
        self.received_question = False
        """True if the last exchange was started by the peer with a question.  libotr
        does not mark the peer's fingerprint as verified (nor unverified) on the
        answering side of a question (``message.c``, ``received_question``)."""
        self._alice: AliceT | None = None
        self._bob: BobT | None = None

    @property
    def request_pending(self) -> bool:
        """A verified SMP message 1 is waiting for ``respond``."""
        return self._bob is not None and self.state is SmpState.SMPSTATE_EXPECT1

    def reset(self) -> None:
        """Back to SMPSTATE_EXPECT1, forgetting all secrets and partial computations."""
        self.state = SmpState.SMPSTATE_EXPECT1
        self._alice = None
        self._bob = None

    def abort(self) -> SmpStep:
        """Spec "User requests to abort SMP": send TLV 6 in all cases, go to EXPECT1."""
        self.reset()
        return SmpStep((Tlv(SMP_ABORT),))

    def receive(self, tlv: Tlv) -> SmpStep:
        """Handle an SMP TLV from the peer; never raises.  TLV types that are not SMP
        messages of this version are ignored (empty step)."""
        if tlv.type == SMP_ABORT:
            # Spec "SMP Abort Message": back to EXPECT1.
            self.reset()
            return SmpStep((), (SmpAborted(by_peer=True),))
        expected = self.EXPECTED.get(tlv.type)
        if expected is None:
            return SmpStep()
        if self.state is not expected:
            # Spec: "If smpstate is not SMPSTATE_EXPECTn: set smpstate to
            # SMPSTATE_EXPECT1 and send a type 6 TLV (SMP abort)".
            self.reset()
            return SmpStep((Tlv(SMP_ABORT),), (SmpAborted(by_peer=False),))
        try:
            return self._handle(tlv)
        except RemoteProtocolError as exc:
            self.reset()
            return SmpStep((Tlv(SMP_ABORT),), (SmpCheated(str(exc)),))

    def _handle(self, tlv: Tlv) -> SmpStep:
        """Process an expected SMP message; raise a RemoteProtocolError to cheat-abort.
        Must change no state before every check has passed."""
        raise NotImplementedError
