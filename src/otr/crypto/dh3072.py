"""The 3072-bit Diffie-Hellman group of OTRv4 (otr-v4.md "3072-bit Diffie-Hellman
Parameters", "Verifying that an integer is in the DH group", "Generating ECDH and
DH keys", "Shared Secrets"; RFC 3526 group 15).

Used for the brace key.  Arithmetic goes through GMP (gmpy2).  As in
:mod:`otr.crypto.modp`, exponentiation of the generator uses
:class:`~otr.crypto.fixed_base.FixedBase`: the 80-byte private keys use a comb built on
first use (about 3 ms and 110 KB instead of the byte table's 80 ms and 9 MB), so the
first DAKE of a process stays cheap, at about a quarter of a plain powmod's cost; after
256 keys the byte-window table takes over (half the comb's cost per key).

Validation of a received value ``x`` is the spec's: ``g3 <= x <= dh_p - g3`` and
``x ^ dh_q mod dh_p == 1``.  Because ``dh_p`` is a safe prime (``dh_q = (dh_p-1)/2``
is prime), the second test is Euler's criterion: ``x ^ dh_q == 1`` exactly when
``x`` is a quadratic residue, i.e. when the Jacobi symbol ``(x / dh_p)`` is 1.
GMP computes that symbol in microseconds instead of a 3072-bit powering
(about 17 ms), with an identical result.

``k_dh`` enters the KDF as its minimal-length big-endian encoding (no leading
zero bytes): the spec does not say, libotr-ng and otr4j both do this
(ERRATA B3, verified by the 383-byte vector).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import gmpy2
from gmpy2 import mpz

from ..errors import InvalidGroupElement
from .fixed_base import FixedBase
from .modexp import ModExp

__all__ = [
    "DH_P",
    "DH_Q",
    "G3",
    "G_POWERS",
    "MODULUS_BYTES",
    "PRIVATE_KEY_BYTES",
    "DHKeyPair",
    "check_group_element",
    "encode_k_dh",
    "is_group_element",
    "powmod",
    "powmod_g",
    "shared_secret",
]

Rng = Callable[[int], bytes]

DH_P: Final[Any] = mpz(
    "0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    0,
)
"""The prime modulus dh_p (RFC 3526, 3072-bit MODP group)."""
DH_Q: Final[Any] = (DH_P - 1) // 2
"""The subgroup order dh_q = (dh_p - 1) / 2 (prime)."""
G3: Final[Any] = mpz(2)
"""The generator g3 = 2."""
MODULUS_BYTES: Final = 384
PRIVATE_KEY_BYTES: Final = 80
"""``generateDH()`` picks an 80-byte random private value r."""

G_POWERS = FixedBase(G3, DH_P, PRIVATE_KEY_BYTES, comb_bits=8 * PRIVATE_KEY_BYTES)
"""The generator's precomputation (``G_POWERS.memory`` says what it holds)."""


def powmod_g(exponent: int | Any) -> Any:
    """g3^exponent mod dh_p; exponents below 2^640 use the comb."""
    return G_POWERS.pow(exponent)


_POWMOD = ModExp(DH_P)
"""Constant-time through OpenSSL when accelerated (:mod:`otr.crypto.modexp`)."""


def powmod(base: int | Any, exponent: int | Any) -> Any:
    """base^exponent mod dh_p."""
    return _POWMOD(base, exponent)


def is_group_element(x: int | Any) -> bool:
    """The spec's group-membership test (range, then order dh_q; see module doc)."""
    if not G3 <= x <= DH_P - G3:
        return False
    return bool(gmpy2.jacobi(mpz(x), DH_P) == 1)


def check_group_element(x: int | Any) -> None:
    """Raise :class:`InvalidGroupElement` unless ``x`` is a valid DH public value."""
    if not G3 <= x <= DH_P - G3:
        raise InvalidGroupElement("DH value out of range")
    if gmpy2.jacobi(mpz(x), DH_P) != 1:
        raise InvalidGroupElement("DH value is not in the prime-order subgroup")


def shared_secret(our_secret: int | Any, their_public: int | Any) -> int:
    """``k_dh = their_public ^ our_secret mod dh_p`` after validating ``their_public``."""
    check_group_element(their_public)
    return int(_POWMOD(their_public, our_secret))


def encode_k_dh(k_dh: int) -> bytes:
    """``k_dh`` serialized big-endian with no leading zero bytes (ERRATA B3)."""
    k = int(k_dh)
    if k < 0:
        raise ValueError("negative k_dh")
    return k.to_bytes((k.bit_length() + 7) // 8, "big")


@dataclass(frozen=True)
class DHKeyPair:
    """A 3072-bit DH key pair (``generateDH()``)."""

    secret: int = field(repr=False)
    public: int

    @classmethod
    def generate(cls, rng: Rng) -> DHKeyPair:
        """Pick 80 random bytes r; public = g3^r mod dh_p."""
        r = rng(PRIVATE_KEY_BYTES)
        if len(r) != PRIVATE_KEY_BYTES:
            raise ValueError("rng returned the wrong number of bytes")
        return cls.from_secret(int.from_bytes(r, "big"))

    @classmethod
    def from_secret(cls, secret: int) -> DHKeyPair:
        if secret <= 0:
            raise ValueError("DH secret must be positive")
        return cls(secret, int(powmod_g(secret)))

    def shared_secret(self, their_public: int) -> int:
        """``k_dh`` with a validated peer value (see :func:`shared_secret`)."""
        return shared_secret(self.secret, their_public)
