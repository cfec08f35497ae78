"""Fixed-base modular exponentiation (GMP through gmpy2): a cheap comb first, a big
byte-window table only when long exponents need it.

Both D-H groups (:mod:`otr.crypto.modp`, :mod:`otr.crypto.dh3072`) raise their
generator to many secret exponents.  Two precomputations make that faster than a
plain powmod, with very different costs:

* :class:`Comb`, a Lim-Lee comb with 8 teeth: for exponents of ``8 * cols`` bits,
  256 precomputed products of ``base^(2^(cols * i))``; one squaring and at most one
  multiplication per column (``2 * cols`` multiplications per exponentiation).
  Building it costs about one plain exponentiation (7 powerings of ``cols`` bits and
  247 multiplications) and 256 numbers of memory (about 60 KB at 1536 bits).
* the byte-window table of :class:`FixedBase`: ``base^(b * 256^i)`` for every byte
  value ``b`` and byte position ``i``; at most one multiplication per exponent byte
  (half the comb's work), but ``255 * window_bytes`` multiplications to build (about
  70 ms and 12 MB for the 1536-bit group's 193 bytes).

:class:`FixedBase` uses the comb for exponents up to ``comb_bits`` (the D-H private
keys: 320 bits in OTRv3, 640 in OTRv4), so that the first key exchange of a process
pays about a millisecond instead of building the table; the table is built only
when an exponent longer than ``comb_bits`` (and within ``window_bytes``) first
arrives - in OTRv3 the 1536-bit random exponents of SMP - and from then on serves
every exponent.  Beyond ``window_bytes`` (and for negative exponents) a plain powmod.

As with GMP's powmod, the table look-ups depend on exponent bits: none of this is
constant-time, which pure Python cannot offer anyway.
"""

from __future__ import annotations

import sys
from typing import Any

import gmpy2
from gmpy2 import mpz

__all__ = ["Comb", "FixedBase"]

_TEETH = 8
"""Rows of the comb (so a column's index is one byte)."""
_SPREAD = tuple(bytes((b >> k) & 1 for k in range(8)) for b in range(256))
"""_SPREAD[b]: the 8 bits of b as 8 bytes, least significant first."""


def _numbers_size(values: list[Any]) -> int:
    """Bytes held by a list of numbers (the list and each number object)."""
    return sys.getsizeof(values) + sum(sys.getsizeof(v) for v in values)


class Comb:
    """Lim-Lee comb with 8 teeth: ``pow(e)`` = ``base^e mod modulus`` for
    ``0 <= e < 2^(8 * cols)``, with ``cols = ceil(bits / 8)``.

    The exponent is cut into 8 rows of ``cols`` bits; column ``j`` (bit ``j`` of every
    row) indexes a table of the 256 products of ``base^(2^(cols * i))``.
    """

    __slots__ = ("_cols", "_modulus", "_table")

    def __init__(self, base: int | Any, modulus: int | Any, bits: int) -> None:
        self._modulus = p = mpz(modulus)
        self._cols = cols = -(-bits // _TEETH)
        rows = [mpz(base) % p]
        step = mpz(1) << cols
        for _ in range(_TEETH - 1):
            rows.append(gmpy2.powmod(rows[-1], step, p))
        table: list[Any] = [mpz(1)] * (1 << _TEETH)
        for i, row in enumerate(rows):
            bit = 1 << i
            table[bit] = row
            for j in range(1, bit):
                table[bit | j] = table[j] * row % p
        self._table = table

    @property
    def bits(self) -> int:
        """Exponents must be below ``2^bits``."""
        return _TEETH * self._cols

    @property
    def memory(self) -> int:
        """Bytes held by the precomputed table."""
        return _numbers_size(self._table)

    def pow(self, e: int | Any) -> Any:
        cols = self._cols
        # bits[n] = bit n of e (one byte each); row i is bits[cols i : cols (i + 1)].
        bits = b"".join(map(_SPREAD.__getitem__, int(e).to_bytes(cols, "little")))
        columns = 0
        for i in range(_TEETH):
            columns |= int.from_bytes(bits[i * cols : (i + 1) * cols], "little") << i
        table = self._table
        p = self._modulus
        acc = mpz(1)
        for idx in columns.to_bytes(cols, "little")[::-1]:
            acc = acc * acc % p
            if idx:
                acc = acc * table[idx] % p
        return acc


class FixedBase:
    """``base^e mod modulus``: a :class:`Comb` for exponents up to ``comb_bits`` until
    a longer one (up to ``window_bytes`` bytes) first needs the byte-window table,
    which then serves all; a plain powmod beyond (see the module docstring)."""

    __slots__ = ("_comb", "_table", "base", "comb_bits", "modulus", "window_bytes")

    def __init__(
        self, base: int | Any, modulus: int | Any, window_bytes: int, comb_bits: int = 0
    ) -> None:
        self.base = mpz(base)
        self.modulus = mpz(modulus)
        self.window_bytes = window_bytes
        self.comb_bits = comb_bits
        self._comb: Comb | None = None
        self._table: list[Any] | None = None

    def _build_table(self) -> list[Any]:
        # table[256*i + b] = base^(b * 256^i) mod modulus, for every byte position i.
        p = self.modulus
        table: list[Any] = []
        base = self.base
        for _ in range(self.window_bytes):
            row = [mpz(1), base]
            for _ in range(2, 256):
                row.append(row[-1] * base % p)
            table.extend(row)
            base = row[-1] * base % p
        return table

    @property
    def memory(self) -> dict[str, int]:
        """Bytes held by each precomputation built so far (``comb``, ``table``)."""
        return {
            "comb": self._comb.memory if self._comb is not None else 0,
            "table": _numbers_size(self._table) if self._table is not None else 0,
        }

    def pow(self, exponent: int | Any) -> Any:
        """``base^exponent mod modulus``; a plain powmod outside the table's range."""
        e = int(exponent)
        length = e.bit_length()
        if e < 0 or length > 8 * self.window_bytes:
            return gmpy2.powmod(self.base, e, self.modulus)
        table = self._table
        if table is None:
            if length <= self.comb_bits:
                comb = self._comb
                if comb is None:
                    comb = self._comb = Comb(self.base, self.modulus, self.comb_bits)
                return comb.pow(e)
            table = self._table = self._build_table()
        p = self.modulus
        r = mpz(1)
        off = 0
        for b in e.to_bytes((length + 7) // 8, "little"):
            if b:
                r = r * table[off + b] % p
            off += 256
        return r
