"""OTRv3 long-term DSA keys (spec "Public keys, signatures, and fingerprints").

Signatures are over the value *as an integer reduced mod q* (ERRATA A1), which
is what libotr does when it hands the 32-byte MAC to libgcrypt as a raw MPI.
Libraries implementing FIPS 186 truncate the hash instead, so signing and
verification are written here on top of GMP; key generation uses
`cryptography` (OpenSSL) for the domain parameters.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import gmpy2

from ..errors import DecodeError
from ..wire.buffer import Reader, encode_mpi

__all__ = [
    "PUBKEY_TYPE_DSA",
    "DSAPrivateKey",
    "DSAPublicKey",
    "decode_pubkey",
    "generate_dsa_key",
    "human_fingerprint",
]

PUBKEY_TYPE_DSA = 0x0000
Rng = Callable[[int], bytes]


def _rand_below(rng: Rng, n: int) -> int:
    """Uniform integer in [1, n-1] from ``rng`` (rejection sampling)."""
    nbytes = (n.bit_length() + 7) // 8 + 8
    while True:
        k = int.from_bytes(rng(nbytes), "big") % n
        if k:
            return k


@dataclass(frozen=True)
class DSAPublicKey:
    p: int
    q: int
    g: int
    y: int

    def encode(self) -> bytes:
        """PUBKEY: SHORT type 0x0000 || MPI p || MPI q || MPI g || MPI y."""
        return b"\x00\x00" + self._mpis()

    def _mpis(self) -> bytes:
        return encode_mpi(self.p) + encode_mpi(self.q) + encode_mpi(self.g) + encode_mpi(self.y)

    def fingerprint(self) -> bytes:
        """SHA-1 of the PUBKEY encoding without its type field (type 0x0000)."""
        return hashlib.sha1(self._mpis()).digest()

    def verify(self, message: bytes, sig: bytes) -> bool:
        """Verify ``sig`` (r || s, each len(q) bytes) over int(message) mod q."""
        qlen = (self.q.bit_length() + 7) // 8
        if len(sig) != 2 * qlen:
            return False
        r = int.from_bytes(sig[:qlen], "big")
        s = int.from_bytes(sig[qlen:], "big")
        q = self.q
        if not (0 < r < q and 0 < s < q):
            return False
        h = int.from_bytes(message, "big") % q
        w = int(gmpy2.invert(s, q))
        u1 = h * w % q
        u2 = r * w % q
        v = gmpy2.powmod(self.g, u1, self.p) * gmpy2.powmod(self.y, u2, self.p) % self.p % q
        return bool(v == r)

    def check(self) -> None:
        """Sanity checks on a received key: sizes and ranges (the AKE's signature
        check does the rest).  Raises DecodeError."""
        if not (
            self.p.bit_length() >= 1024
            and 160 <= self.q.bit_length() <= 256
            and 1 < self.g < self.p
            and 1 < self.y < self.p
            and self.p.bit_length() <= 3072
        ):
            raise DecodeError("unacceptable DSA public key")


def decode_pubkey(reader: Reader) -> DSAPublicKey:
    """Read a PUBKEY; only type 0x0000 (DSA) is defined."""
    if reader.get_short() != PUBKEY_TYPE_DSA:
        raise DecodeError("unknown public key type")
    key = DSAPublicKey(reader.get_mpi(), reader.get_mpi(), reader.get_mpi(), reader.get_mpi())
    key.check()
    return key


@dataclass(frozen=True)
class DSAPrivateKey:
    public: DSAPublicKey
    x: int

    def sign(self, message: bytes, rng: Rng = secrets.token_bytes) -> bytes:
        """Sign int(message) mod q; returns r || s, each padded to len(q) bytes."""
        pub = self.public
        q = pub.q
        qlen = (q.bit_length() + 7) // 8
        h = int.from_bytes(message, "big") % q
        while True:
            k = _rand_below(rng, q)
            r = int(gmpy2.powmod(pub.g, k, pub.p)) % q
            if r == 0:
                continue
            s = int(gmpy2.invert(k, q)) * (h + self.x * r) % q
            if s == 0:
                continue
            return r.to_bytes(qlen, "big") + s.to_bytes(qlen, "big")

    @classmethod
    def from_numbers(cls, p: int, q: int, g: int, y: int, x: int) -> DSAPrivateKey:
        if int(gmpy2.powmod(g, x, p)) != y:
            raise ValueError("inconsistent DSA key")
        return cls(DSAPublicKey(p, q, g, y), x)


def generate_dsa_key() -> DSAPrivateKey:
    """A fresh 1024-bit / 160-bit DSA key, as libotr generates."""
    from cryptography.hazmat.primitives.asymmetric import dsa

    key = dsa.generate_private_key(key_size=1024)
    nums = key.private_numbers()
    pn = nums.public_numbers
    pp = pn.parameter_numbers
    return DSAPrivateKey(DSAPublicKey(pp.p, pp.q, pp.g, pn.y), nums.x)


def human_fingerprint(fp: bytes) -> str:
    """libotr's human form: five groups of 8 uppercase hex digits."""
    h = fp.hex().upper()
    return " ".join(h[i : i + 8] for i in range(0, len(h), 8))
