"""Fixed-base modular exponentiation with a byte-window table (GMP through gmpy2).

Both D-H groups (:mod:`otr.crypto.modp`, :mod:`otr.crypto.dh3072`) raise their
generator to many secret exponents; a table of ``base^(b * 256^i)`` for every
byte value ``b`` and byte position ``i`` turns each exponentiation into at most
one multiplication per exponent byte, several times faster than a plain powmod.
The table is built on first use (256 values per byte position).
"""

from __future__ import annotations

from typing import Any

import gmpy2
from gmpy2 import mpz

__all__ = ["FixedBase"]


class FixedBase:
    """``base^e mod modulus``; exponents up to ``window_bytes`` bytes use the table."""

    __slots__ = ("_table", "base", "modulus", "window_bytes")

    def __init__(self, base: int | Any, modulus: int | Any, window_bytes: int) -> None:
        self.base = mpz(base)
        self.modulus = mpz(modulus)
        self.window_bytes = window_bytes
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

    def pow(self, exponent: int | Any) -> Any:
        """``base^exponent mod modulus``; a plain powmod outside the table's range."""
        e = int(exponent)
        if e < 0 or e.bit_length() > 8 * self.window_bytes:
            return gmpy2.powmod(self.base, e, self.modulus)
        table = self._table
        if table is None:
            table = self._table = self._build_table()
        p = self.modulus
        r = mpz(1)
        off = 0
        for b in e.to_bytes((e.bit_length() + 7) // 8, "little"):
            if b:
                r = r * table[off + b] % p
            off += 256
        return r
