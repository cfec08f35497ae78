"""The OTRv4 SMP messages, the values of TLVs 2-5 (otr-v4.md "SMP Message 1" ... "SMP
Message 4"; ERRATA B20 and D.2 "SMP v4").

Unlike OTRv3 there is no value count and no MPI: the values are 57-byte POINTs and
SCALARs in a fixed order, and SMP message 1 always begins with the question as DATA
(an empty DATA when there is none; OTRv4 has no TLV 7 "1Q", that number is the extra
symmetric key)::

    SMP1 (TLV 2) = DATA question || G2a || c2 || d2 || G3a || c3 || d3
    SMP2 (TLV 3) = G2b || c2 || d2 || G3b || c3 || d3 || Pb || Qb || cp || d5 || d6
    SMP3 (TLV 4) = Pa || Qa || cp || d5 || d6 || Ra || cr || d7
    SMP4 (TLV 5) = Rb || cr || d7

This is otr4j's layout (``session/smpv4/SMPMessages.java``), byte-identical with the
recorded transcript T3.  Decoding is strict: truncated or trailing input raises
:class:`~otr.errors.DecodeError`; every POINT is fully validated (canonical, on the
curve, not the identity, in the prime-order subgroup) and every SCALAR must be below q
(otr4j would reduce a larger one mod q; no honest encoder sends one and accepting it
would make the proofs malleable), both raising :class:`~otr.errors.InvalidGroupElement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

from ..crypto.ed448 import Point
from ..errors import DecodeError
from ..wire.buffer import Reader, Writer
from ..wire.tlv import SMP1, SMP2, SMP3, SMP4
from ..wire.v4 import types as wt

__all__ = ["SmpMessage", "SmpMessage1", "SmpMessage2", "SmpMessage3", "SmpMessage4"]


@dataclass(frozen=True)
class SmpMessage:
    """Base of the four messages: the fields after the question are POINTs (annotated
    ``Point``) and SCALARs (``int``), encoded in declaration order."""

    TLV_TYPE: ClassVar[int]
    NAME: ClassVar[str]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def encode(self) -> bytes:
        """The TLV value."""
        w = Writer()
        for value in self._values():
            if isinstance(value, Point):
                wt.put_point(w, value)
            elif isinstance(value, int):
                wt.put_scalar(w, value)
            else:  # the question
                w.put_data(value)
        return w.getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse a whole TLV value strictly (see the module docstring)."""
        r = Reader(bytes(data))
        values: list[Any] = []
        try:
            for f in fields(cls):
                if f.type == "Point":
                    values.append(wt.get_point(r))
                elif f.type == "int":
                    values.append(wt.get_scalar(r))
                else:
                    values.append(r.get_data())
            r.finish()
        except DecodeError as exc:
            raise DecodeError(f"malformed {cls.NAME}: {exc}") from None
        return cls(*values)


@dataclass(frozen=True)
class SmpMessage1(SmpMessage):
    """Alice's ECDH halves for G2 and G3, with proofs of knowledge of a2 and a3."""

    TLV_TYPE: ClassVar[int] = SMP1
    NAME: ClassVar[str] = "SMP message 1"

    question: bytes = field(repr=False)
    """The question in UTF-8 (empty: none)."""
    g2a: Point
    c2: int
    d2: int
    g3a: Point
    c3: int
    d3: int


@dataclass(frozen=True)
class SmpMessage2(SmpMessage):
    """Bob's ECDH halves with proofs, and Pb, Qb with the proof that they are honest."""

    TLV_TYPE: ClassVar[int] = SMP2
    NAME: ClassVar[str] = "SMP message 2"

    g2b: Point
    c2: int
    d2: int
    g3b: Point
    c3: int
    d3: int
    pb: Point
    qb: Point
    cp: int
    d5: int
    d6: int


@dataclass(frozen=True)
class SmpMessage3(SmpMessage):
    """Alice's Pa, Qa and Ra with their proofs."""

    TLV_TYPE: ClassVar[int] = SMP3
    NAME: ClassVar[str] = "SMP message 3"

    pa: Point
    qa: Point
    cp: int
    d5: int
    d6: int
    ra: Point
    cr: int
    d7: int


@dataclass(frozen=True)
class SmpMessage4(SmpMessage):
    """Bob's Rb with its proof."""

    TLV_TYPE: ClassVar[int] = SMP4
    NAME: ClassVar[str] = "SMP message 4"

    rb: Point
    cr: int
    d7: int
