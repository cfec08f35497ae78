"""base^exponent mod p for the Diffie-Hellman groups (OTRv3's 1536-bit MODP group,
OTRv4's 3072-bit group), with a secret exponent.

With the C accelerator (``otr._bignum``, see :mod:`otr.accelerator`) this is
OpenSSL's ``BN_mod_exp_mont_consttime`` with a Montgomery context built once per
modulus: its running time does not depend on the exponent's bits (only on its
length), and it is faster than gmpy2's ``powmod`` on the machines this project is
measured on (``bench/run_all.py``).  Without it, or for inputs outside
``0 <= base < p``, ``exponent >= 0``, the result comes from gmpy2 (GMP), which
is not constant-time.  Both give the same value; ``tests/test_crypto_modexp.py``
checks it.
"""

from __future__ import annotations

from typing import Any

import gmpy2
from gmpy2 import mpz

from ..accelerator import bignum

__all__ = ["ModExp"]


class ModExp:
    """Exponentiation modulo one odd prime ``p``."""

    def __init__(self, p: int | Any) -> None:
        self.p = mpz(p)
        self._bytes = (int(p).bit_length() + 7) // 8
        self._native = bignum.Modulus(int(p).to_bytes(self._bytes, "big")) if bignum else None

    def __call__(self, base: int | Any, exponent: int | Any) -> Any:
        """base^exponent mod p, as an ``mpz``."""
        native = self._native
        if native is not None and 0 <= base < self.p and exponent >= 0:
            e = int(exponent)
            out = native.pow(
                int(base).to_bytes(self._bytes, "big"), e.to_bytes((e.bit_length() + 7) // 8, "big")
            )
            return mpz(int.from_bytes(out, "big"))
        return gmpy2.powmod(base, exponent, self.p)
