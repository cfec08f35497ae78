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
  (half the comb's work), but 255 multiplications per byte position to build (the
  1536-bit group's 193 positions: about 70 ms and 12 MB).

:class:`FixedBase` uses the comb for exponents up to ``comb_bits`` (the D-H private
keys: 320 bits in OTRv3, 640 in OTRv4), so that the first key exchanges of a process
pay about a millisecond instead of building the table.  The table's rows are built
when an exponent first needs them: a longer exponent (in OTRv3 the 1536-bit random
exponents of SMP), or a short one once the comb has served ``upgrade_after`` of them
(a long-lived process then gets the faster table).  Beyond ``window_bytes`` (and for
negative exponents) a plain powmod.

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
    """``base^e mod modulus`` for ``0 <= e < 2^(8 * window_bytes)`` from precomputations,
    a plain powmod beyond (and for negative exponents); see the module docstring.

    Exponents up to ``comb_bits`` use a :class:`Comb` until it has served
    ``upgrade_after`` of them; longer ones, and all of them after that, use the
    byte-window table, whose rows are built as exponents first need them (row ``i``
    serves byte ``i``).  ``upgrade_after`` = 256 is where building the rows a short
    exponent needs (255 multiplications each) has cost what the table saves (one
    multiplication per byte against the comb's two): a rent-or-buy choice that never
    spends more than twice the better of the two in hindsight.
    """

    __slots__ = (
        "_comb",
        "_comb_uses",
        "_next_row_base",
        "_table",
        "base",
        "comb_bits",
        "modulus",
        "upgrade_after",
        "window_bytes",
    )

    def __init__(
        self,
        base: int | Any,
        modulus: int | Any,
        window_bytes: int,
        comb_bits: int = 0,
        upgrade_after: int = 256,
    ) -> None:
        self.base = mpz(base)
        self.modulus = mpz(modulus)
        self.window_bytes = window_bytes
        self.comb_bits = comb_bits
        self.upgrade_after = upgrade_after
        self._comb: Comb | None = None
        self._comb_uses = 0
        self._table: list[Any] = []
        """table[256*i + b] = base^(b * 256^i) mod modulus, for the rows i built so far."""
        self._next_row_base = self.base % self.modulus
        """base^(256^rows): the first entry of the next row."""

    @property
    def rows(self) -> int:
        """Byte positions of the table built so far."""
        return len(self._table) // 256

    def _build_rows(self, rows: int) -> None:
        p = self.modulus
        base = self._next_row_base
        table = self._table
        for _ in range(rows - self.rows):
            row = [mpz(1), base]
            for _ in range(2, 256):
                row.append(row[-1] * base % p)
            table.extend(row)
            base = row[-1] * base % p
        self._next_row_base = base

    @property
    def memory(self) -> dict[str, int]:
        """Bytes held by each precomputation built so far (``comb``, ``table``)."""
        return {
            "comb": self._comb.memory if self._comb is not None else 0,
            "table": _numbers_size(self._table) if self._table else 0,
        }

    def pow(self, exponent: int | Any) -> Any:
        """``base^exponent mod modulus``."""
        e = int(exponent)
        length = e.bit_length()
        nbytes = (length + 7) // 8
        if e < 0 or nbytes > self.window_bytes:
            return gmpy2.powmod(self.base, e, self.modulus)
        if nbytes > self.rows:
            if length <= self.comb_bits and self._comb_uses < self.upgrade_after:
                comb = self._comb
                if comb is None:
                    comb = self._comb = Comb(self.base, self.modulus, self.comb_bits)
                self._comb_uses += 1
                return comb.pow(e)
            # Rows for every exponent the comb serves, at least (so this happens once).
            self._build_rows(max(nbytes, (self.comb_bits + 7) // 8))
        table = self._table
        p = self.modulus
        r = mpz(1)
        off = 0
        for b in e.to_bytes(nbytes, "little"):
            if b:
                r = r * table[off + b] % p
            off += 256
        return r
