"""The OTRv4 Socialist Millionaires' Protocol over Ed448 (otr-v4.md "Socialist
Millionaires Protocol (SMP)" ... "Receiving a SMP Message 4"; ERRATA B20, D.2 "SMP v4").

:class:`Smp` has the interface and the events of :class:`otr.smp.v3.Smp`, so a session
can drive either: :meth:`Smp.start`, :meth:`Smp.respond`, :meth:`Smp.abort` and
:meth:`Smp.receive` return an :class:`~otr.smp.machine.SmpStep`; the transitions shared
with OTRv3 (peer abort, out-of-order message, cheating) are
:class:`~otr.smp.machine.SmpMachine`'s.  Events: receiving message 1 reports
:class:`~otr.events.SmpRequested` (with the question, or None); receiving message 2
reports ``SmpInProgress(60)`` and answers with message 3; receiving message 3 answers
with message 4 and reports ``SmpSucceeded`` or ``SmpFailed``, and so does receiving
message 4.  A failed point, scalar or proof check, or a malformed message, sends an abort
TLV and reports :class:`~otr.events.SmpCheated`; the state is unchanged until every check
of a message has passed.

Where the spec and otr4j (the only other final-spec implementation) differ, this module
follows otr4j, as checked against the recorded otr4j conversation T3:

* TLVs 2-5 carry SMP messages 1-4, TLV 6 is the abort; there is no "1Q": message 1 always
  starts with the question as DATA (see :mod:`otr.smp.v4_messages`).  TLV 7 is not an
  SMP message in OTRv4 (it is the extra symmetric key) and is ignored here.
* The secret (spec "Secret Information") is
  ``KDF(usage_SMP_secret = 0x19, 0x01 || initiator fp || responder fp || SSID ||
  DATA(answer), 64)`` read little-endian and reduced mod q: 64 bytes, not pruned, and the
  answer as DATA - the spec says HWC(.., 57) then prune, over the bare answer
  (otr4j ``SMP.java`` ``generateSecret``; :func:`smp_secret`).
* ``HashToScalar(i || v)`` is ``KDF(i, v, 57)`` mod q with the SMP's own numbers 0x01 ...
  0x08 as the usage byte (they overlap the KDF usage table; otr4j does the same) and the
  points as 57-byte POINTs.
* Random values in Z_q (a2, a3, b2, b3, r2 ... r7) are drawn as otr4j draws them:
  ``SHAKE-256(57 random bytes, 57)``, pruned, read little-endian, mod q
  (:func:`otr.crypto.ed448.random_scalar`), in otr4j's order, so recorded draws reproduce
  otr4j's messages byte for byte.

For the session that drives it: the TLVs of one :class:`~otr.smp.machine.SmpStep` go in
one data message, with the IGNORE_UNREADABLE flag as otr4j sets it on SMP messages
(ERRATA D.2); received TLVs 2-6 go to :meth:`Smp.receive` in their order in the
message; :meth:`Smp.reset` when the session leaves ENCRYPTED_MESSAGES (spec "The SMP
State Machine").

Events are OTRv3's (above), not otr4j's: otr4j reports an ``SMP_COMPLETED`` event after
every SMP message with the current, still undecided status (ERRATA D.2); a session that
talks to otr4j needs nothing from those.

Checks beyond the decoding of every received POINT (on the curve, not the identity, in
the prime-order subgroup) and SCALAR (below q): ``Qa - Qb`` must not be the identity
(otherwise Rb and both "Ra" values degenerate to the identity; the spec's "check that Rb
is on the curve"), and the success test ``Rab == Pa - Pb`` compares encodings in
constant time.

:meth:`Smp.start` while an exchange is under way (or a request is waiting for an answer)
sends an abort TLV before the new message 1, as the spec's "User requests to begin SMP"
says (otr4j aborts too).  Our receiver and otr4j's handle the TLVs of a data message in
order, so the abort cancels the old exchange and message 1 starts the new one.  (The
OTRv3 machine does not do this, for libotr's sake; see :mod:`otr.smp.v3`.)

Speed: G2 = G2b * a2 and G3 = G3b * a3 (and Bob's G2a * b2, G3a * b3) are never formed:
``G2 * k`` is computed as ``G2b * (a2 k mod q)``, which is exact because every received
point lies in the group of order q.  Point arithmetic is libdecaf's (pycryptodome's
without it; see :mod:`otr.crypto.ed448`): multiples of G come from a precomputed table,
a sum of two multiples is one double multiplication, constant-time wherever a scalar is
secret; only the proof checks (``G d + P c`` with public d and c) use the faster
variable-time form.  The Python integer arithmetic on scalars is not constant-time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from ..crypto import kdf
from ..crypto.ed448 import (
    G,
    Point,
    Q,
    base_mul_add_public,
    encode_scalar,
    hash_to_scalar,
    mul_add,
    random_scalar,
)
from ..crypto.primitives import consttime_equal
from ..errors import AuthenticationFailed, InvalidGroupElement, LocalProtocolError
from ..events import Event, SmpFailed, SmpInProgress, SmpRequested, SmpSucceeded, Tlv
from ..v4.keys import FINGERPRINT_BYTES
from ..wire.buffer import encode_data
from ..wire.tlv import MAX_TLV_VALUE, SMP1, SMP2, SMP3, SMP_ABORT
from .machine import SSID_BYTES, SmpMachine, SmpState, SmpStep
from .v4_messages import SmpMessage, SmpMessage1, SmpMessage2, SmpMessage3, SmpMessage4

__all__ = [
    "PROGRESS_AFTER_SMP2",
    "SMP_VERSION",
    "SSID_BYTES",
    "Smp",
    "SmpState",
    "SmpStep",
    "smp_secret",
]

SMP_VERSION: Final = 1
"""Spec "Secret Information": "The version described here is 1"."""
PROGRESS_AFTER_SMP2: Final = 60
"""As OTRv3 (libotr): ``SmpInProgress(60)`` after handling message 2."""
_SECRET_BYTES: Final = 64
_MAX_QUESTION: Final = MAX_TLV_VALUE - len(
    SmpMessage1(b"", G, 0, 0, G, 0, 0).encode()
)  # what fits beside the values in one TLV


def smp_secret(initiator_fp: bytes, responder_fp: bytes, ssid: bytes, answer: bytes) -> int:
    """The SMP secret x (initiator) or y (responder), as otr4j computes it (module doc):
    ``KDF(0x19, 0x01 || initiator fp || responder fp || SSID || DATA(answer), 64)`` as a
    little-endian integer mod q."""
    digest = kdf.kdf(
        kdf.USAGE_SMP_SECRET,
        (bytes((SMP_VERSION,)), initiator_fp, responder_fp, ssid, encode_data(answer)),
        _SECRET_BYTES,
    )
    return int.from_bytes(digest, "little") % Q


def _h(i: int, *points: Point) -> int:
    """Spec "SMP Hash Function": HashToScalar(i || points)."""
    return hash_to_scalar(i, b"".join(p.encode() for p in points))


def _check_proof(c: int, i: int, *points: Point, name: str) -> None:
    if not consttime_equal(encode_scalar(c), encode_scalar(_h(i, *points))):
        raise AuthenticationFailed(f"zero-knowledge proof {name} failed")


class _Power:
    """A point known as ``base * k`` with k secret (G2 = G2b * a2, ...): ``times(e)`` is
    ``base * (k e mod q)``, one scalar multiplication (module doc, "Speed")."""

    __slots__ = ("_base", "_k")

    def __init__(self, base: Point, k: int) -> None:
        self._base = base
        self._k = k

    def times(self, e: int) -> Point:
        return self._base * (self._k * e % Q)

    def plus(self, e: int, other: Point, b: int) -> Point:
        """``base (k e) + other b`` (constant time)."""
        return mul_add(self._base, self._k * e, other, b)


@dataclass
class _Alice:
    """The initiator's values: spec "SMP Message 1" step 8, then "SMP Message 3" step 10."""

    x: int
    a2: int
    a3: int
    g3b: Point | None = None
    pab: Point | None = None
    """Pa - Pb."""
    qab: Point | None = None
    """Qa - Qb."""


@dataclass
class _Bob:
    """The responder's values: the verified message 1, then "SMP Message 2" step 14."""

    g2a: Point
    g3a: Point
    b3: int = 0
    g2: _Power | None = None
    g3: _Power | None = None
    pb: Point | None = None
    qb: Point | None = None


class Smp(SmpMachine[_Alice, _Bob]):
    """The OTRv4 SMP state machine of one conversation (spec "The SMP State Machine").

    ``our_fingerprint``/``their_fingerprint``: the 56-byte OTRv4 fingerprints
    (:func:`otr.v4.keys.fingerprint`) of the two parties in this conversation; ``ssid``:
    the 8-byte SSID of the DAKE; ``rng``: the randomness source.
    """

    FINGERPRINT_BYTES: ClassVar[int] = FINGERPRINT_BYTES

    # ----------------------------------------------------------------------------------
    # Public API (request_pending, reset, abort and receive: SmpMachine)

    def start(self, secret: bytes, question: str | None = None) -> SmpStep:
        """Spec "User requests to begin SMP": send SMP message 1 (TLV 2), with the
        question if one is given (an empty question is no question).  An exchange under
        way is aborted first (module doc)."""
        qbytes = b"" if question is None else question.encode("utf-8")
        if len(qbytes) > _MAX_QUESTION:
            raise LocalProtocolError("the SMP question is too long")
        under_way = self.state is not SmpState.SMPSTATE_EXPECT1 or self._bob is not None
        x = smp_secret(self._our_fp, self._their_fp, self._ssid, secret)
        # Steps 2-4: a2, a3, r2, r3 (otr4j's order).
        a2, a3, r2, r3 = (self._random() for _ in range(4))
        # Steps 5-7: G2a = G a2, G3a = G a3, c2 = H(1, G r2), d2 = r2 - a2 c2, c3 likewise.
        c2 = _h(1, G * r2)
        c3 = _h(2, G * r3)
        msg = SmpMessage1(qbytes, G * a2, c2, (r2 - a2 * c2) % Q, G * a3, c3, (r3 - a3 * c3) % Q)
        self.reset()
        # Step 8: keep x, a2 and a3.
        self._alice = _Alice(x, a2, a3)
        self.received_question = False
        self.state = SmpState.SMPSTATE_EXPECT2
        tlvs = (Tlv(SMP_ABORT),) if under_way else ()
        return SmpStep((*tlvs, _tlv(msg)))

    def respond(self, secret: bytes) -> SmpStep:
        """Answer the peer's request (after :class:`~otr.events.SmpRequested`): spec "SMP
        Message 2"."""
        bob = self._bob
        if bob is None or self.state is not SmpState.SMPSTATE_EXPECT1:
            raise LocalProtocolError("no SMP request to answer")
        y = smp_secret(self._their_fp, self._our_fp, self._ssid, secret)
        # Steps 3-5: b2, b3, r2 ... r6 (otr4j's order).
        b2, b3, r2, r3, r4, r5, r6 = (self._random() for _ in range(7))
        # Steps 6-8.
        c2 = _h(3, G * r2)
        c3 = _h(4, G * r3)
        # Step 9: G2 = G2a b2, G3 = G3a b3 (kept as powers).
        g2 = _Power(bob.g2a, b2)
        g3 = _Power(bob.g3a, b3)
        # Steps 10-11: Pb = G3 r4, Qb = G r4 + G2 y.
        pb = g3.times(r4)
        qb = G * r4 + g2.times(y)
        # Step 12: cp = H(5, G3 r5, G r5 + G2 r6), d5 = r5 - r4 cp, d6 = r6 - y cp.
        cp = _h(5, g3.times(r5), G * r5 + g2.times(r6))
        msg = SmpMessage2(
            G * b2,
            c2,
            (r2 - b2 * c2) % Q,
            G * b3,
            c3,
            (r3 - b3 * c3) % Q,
            pb,
            qb,
            cp,
            (r5 - r4 * cp) % Q,
            (r6 - y * cp) % Q,
        )
        # Step 13: keep G3a, G2, G3, b3, Pb and Qb.
        bob.b3, bob.g2, bob.g3, bob.pb, bob.qb = b3, g2, g3, pb, qb
        self.state = SmpState.SMPSTATE_EXPECT3
        return SmpStep((_tlv(msg),))

    # ----------------------------------------------------------------------------------
    # Received messages (spec "Receiving a SMP Message n")

    def _handle(self, tlv: Tlv) -> SmpStep:
        if tlv.type == SMP1:
            return self._on_msg1(SmpMessage1.decode(tlv.value))
        if tlv.type == SMP2:
            return self._on_msg2(SmpMessage2.decode(tlv.value))
        if tlv.type == SMP3:
            return self._on_msg3(SmpMessage3.decode(tlv.value))
        return self._on_msg4(SmpMessage4.decode(tlv.value))

    def _on_msg1(self, m: SmpMessage1) -> SmpStep:
        """Verify Alice's proofs; the answer waits for :meth:`respond`."""
        # 1. G2a, G3a are valid points (decoding).  2-3. The proofs.
        _check_proof(m.c2, 1, base_mul_add_public(m.d2, m.g2a, m.c2), name="c2")
        _check_proof(m.c3, 2, base_mul_add_public(m.d3, m.g3a, m.c3), name="c3")
        question = m.question.decode("utf-8", errors="replace") if m.question else None
        self.reset()
        self._bob = _Bob(m.g2a, m.g3a)
        self.received_question = question is not None
        return SmpStep((), (SmpRequested(question),))

    def _on_msg2(self, m: SmpMessage2) -> SmpStep:
        """Verify Bob's proofs, send SMP message 3."""
        alice = self._alice
        assert alice is not None
        # 1. G2b, G3b, Pb, Qb are valid points (decoding).  2-3. The proofs for b2, b3.
        _check_proof(m.c2, 3, base_mul_add_public(m.d2, m.g2b, m.c2), name="c2")
        _check_proof(m.c3, 4, base_mul_add_public(m.d3, m.g3b, m.c3), name="c3")
        # G2 = G2b a2, G3 = G3b a3 ("SMP Message 3" step 4).
        g2 = _Power(m.g2b, alice.a2)
        g3 = _Power(m.g3b, alice.a3)
        # 4. cp = H(5, G3 d5 + Pb cp, G d5 + G2 d6 + Qb cp).
        _check_proof(
            m.cp,
            5,
            g3.plus(m.d5, m.pb, m.cp),
            G * m.d5 + g2.times(m.d6) + m.qb * m.cp,
            name="cp",
        )
        # Create SMP message 3.  2. r4 ... r7 (otr4j's order).
        r4, r5, r6, r7 = (self._random() for _ in range(4))
        x, a3 = alice.x, alice.a3
        # 6. Pa = G3 r4, Qa = G r4 + G2 x.
        pa = g3.times(r4)
        qa = G * r4 + g2.times(x)
        qab = qa - m.qb
        if qab.is_identity():  # Qa = Qb: only a dishonest Bob can cause it
            raise InvalidGroupElement("Qa - Qb is the identity")
        # 7. cp = H(6, G3 r5, G r5 + G2 r6), d5 = r5 - r4 cp, d6 = r6 - x cp.
        cp = _h(6, g3.times(r5), G * r5 + g2.times(r6))
        # 8. Ra = (Qa - Qb) a3.  9. cr = H(7, G r7, (Qa - Qb) r7), d7 = r7 - a3 cr.
        cr = _h(7, G * r7, qab * r7)
        msg = SmpMessage3(
            pa,
            qa,
            cp,
            (r5 - r4 * cp) % Q,
            (r6 - x * cp) % Q,
            qab * a3,
            cr,
            (r7 - a3 * cr) % Q,
        )
        # 10. Keep G3b, Pa - Pb, Qa - Qb and a3.
        alice.g3b, alice.pab, alice.qab = m.g3b, pa - m.pb, qab
        self.state = SmpState.SMPSTATE_EXPECT4
        return SmpStep((_tlv(msg),), (SmpInProgress(PROGRESS_AFTER_SMP2),))

    def _on_msg3(self, m: SmpMessage3) -> SmpStep:
        """Verify Alice's proofs, send SMP message 4, decide."""
        bob = self._bob
        assert bob is not None and bob.g2 is not None and bob.g3 is not None
        assert bob.pb is not None and bob.qb is not None
        # 1. Pa, Qa, Ra are valid points (decoding).
        # 2. cp = H(6, G3 d5 + Pa cp, G d5 + G2 d6 + Qa cp).
        _check_proof(
            m.cp,
            6,
            bob.g3.plus(m.d5, m.pa, m.cp),
            G * m.d5 + bob.g2.times(m.d6) + m.qa * m.cp,
            name="cp",
        )
        qab = m.qa - bob.qb
        if qab.is_identity():  # "SMP Message 4" step 4: Rb must be a valid point
            raise InvalidGroupElement("Qa - Qb is the identity")
        # 3. cr = H(7, G d7 + G3a cr, (Qa - Qb) d7 + Ra cr).
        _check_proof(
            m.cr,
            7,
            base_mul_add_public(m.d7, bob.g3a, m.cr),
            mul_add(qab, m.d7, m.ra, m.cr),
            name="cr",
        )
        # Create SMP message 4.  2. r7.  4. Rb = (Qa - Qb) b3.
        # 5. cr = H(8, G r7, (Qa - Qb) r7), d7 = r7 - b3 cr.
        r7 = self._random()
        b3 = bob.b3
        cr = _h(8, G * r7, qab * r7)
        msg = SmpMessage4(qab * b3, cr, (r7 - b3 * cr) % Q)
        # Success iff Rab = Ra b3 equals Pa - Pb.
        success = _same(m.ra * b3, m.pa - bob.pb)
        self.reset()
        return SmpStep((_tlv(msg),), (_outcome(success),))

    def _on_msg4(self, m: SmpMessage4) -> SmpStep:
        """Verify Bob's proof, decide."""
        alice = self._alice
        assert alice is not None and alice.g3b is not None
        assert alice.qab is not None and alice.pab is not None
        # 1. Rb is a valid point (decoding).
        # 2. cr = H(8, G d7 + G3b cr, (Qa - Qb) d7 + Rb cr).
        _check_proof(
            m.cr,
            8,
            base_mul_add_public(m.d7, alice.g3b, m.cr),
            mul_add(alice.qab, m.d7, m.rb, m.cr),
            name="cr",
        )
        # Rab = Rb a3; success iff Rab == Pa - Pb.
        success = _same(m.rb * alice.a3, alice.pab)
        self.reset()
        return SmpStep((), (_outcome(success),))

    # ----------------------------------------------------------------------------------

    def _random(self) -> int:
        return random_scalar(self._rng)


def _tlv(msg: SmpMessage) -> Tlv:
    return Tlv(msg.TLV_TYPE, msg.encode())


def _same(a: Point, b: Point) -> bool:
    return consttime_equal(a.encode(), b.encode())


def _outcome(success: bool) -> Event:
    return SmpSucceeded() if success else SmpFailed()
