"""Batch zero-knowledge proofs of knowledge for published prekey values
(otr-v4-prekey-server.md "Proofs": "Prekey Profile proof", "Prekey Messages
proofs" ECDH and DH; Henry's RME common-base Schnorr batch protocol made
non-interactive with Fiat-Shamir).

::

    lambda = 352 bits = 44 bytes per t_i;   m = KDF(usage_proof_context, SK, 64)
    ECDH:  A = G*r, c = KDF(u, A || Y_1 || ... || Y_N || m, 64),
           t_1..t_N = KDF(usage_proof_c_lambda, c, N*44) in 44-byte pieces,
           v = r + sum(t_i * y_i) mod q;   verify: A = G*v - sum(Y_i * t_i)
    DH:    A = g3^r, c = KDF(usage_proof_message_dh, MPI(A) || MPI(B_1) || ... || m, 64),
           v = r + sum(t_i * b_i) mod dh_q;  verify: A = g3^v * (prod B_i^t_i)^-1

The Prekey Profile proof is the ECDH proof with N = 1 and
``usage_proof_shared_ecdh``.  Spec errors resolved here (ERRATA B26):

* ``lambda`` is in bits while the KDF's size is in bytes: each ``t_i`` is 44 bytes.
* ``r`` "56 bytes": an ECDH ``r`` is a random scalar drawn as every OTRv4
  random scalar (57 bytes, hashed, pruned, mod q); a DH ``r`` is 80 random
  bytes big-endian, as a DH secret.  Neither may be zero.
* The DH proof's ``v`` sums ``t_i * b_i`` (the spec writes ``y_i``).
* Encodings the spec leaves open: points as POINT, DH values as MPI; each
  ``t_i`` is read little-endian in the ECDH proofs (as a SCALAR) and
  big-endian in the DH proof (as an MPI).  352 bits are below both q and dh_q,
  so no reduction is needed.

A batch proof covers all N values at once: it either verifies for all of them
or for none, and a failure cannot tell which value was wrong.  The server
therefore accepts or rejects a publication's Prekey Messages as a whole.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import gmpy2
from gmpy2 import mpz

from ..crypto import dh3072, ed448, kdf
from ..crypto.ed448 import G, Point, Rng
from ..errors import DecodeError
from ..wire.buffer import Reader, Writer, encode_mpi
from ..wire.v4 import types as wt

__all__ = [
    "C_BYTES",
    "LAMBDA_BYTES",
    "DHProof",
    "ECDHProof",
    "proof_context",
    "prove_dh",
    "prove_ecdh",
    "verify_dh",
    "verify_ecdh",
]

LAMBDA_BYTES: Final = 352 // 8
"""lambda = 352 bits: the size of each t_i in bytes."""
C_BYTES: Final = 64


def _kdf(usage: int, values: bytes | Sequence[bytes], size: int) -> bytes:
    return kdf.kdf(usage, values, size, domain=kdf.PREKEY_SERVER_DOMAIN)


def proof_context(sk: bytes) -> bytes:
    """``m = KDF(usage_proof_context, SK, 64)``."""
    return _kdf(kdf.PS_USAGE_PROOF_CONTEXT, sk, 64)


def _coefficients(c: bytes, n: int, byteorder: str) -> list[int]:
    p = _kdf(kdf.PS_USAGE_PROOF_C_LAMBDA, c, n * LAMBDA_BYTES)
    return [
        int.from_bytes(p[i : i + LAMBDA_BYTES], byteorder)  # type: ignore[arg-type]
        for i in range(0, len(p), LAMBDA_BYTES)
    ]


@dataclass(frozen=True)
class ECDHProof:
    """PROOF-ECDH: 64-byte C || SCALAR V."""

    c: bytes
    v: int

    def encode(self) -> bytes:
        return self.c + ed448.encode_scalar(self.v)

    @classmethod
    def read(cls, r: Reader) -> ECDHProof:
        return cls(r.get_raw(C_BYTES), wt.get_scalar(r))


@dataclass(frozen=True)
class DHProof:
    """PROOF-DH: 64-byte C || MPI V."""

    c: bytes
    v: int

    def encode(self) -> bytes:
        return Writer().put_raw(self.c).put_mpi(self.v).getvalue()

    @classmethod
    def read(cls, r: Reader) -> DHProof:
        c = r.get_raw(C_BYTES)
        v = r.get_mpi()
        if v >= dh3072.DH_Q:
            raise DecodeError("DH proof value out of range")
        return cls(c, v)


def _ecdh_challenge(usage: int, a: Point, publics: Sequence[Point], m: bytes) -> bytes:
    return _kdf(usage, [a.encode(), *(p.encode() for p in publics), m], C_BYTES)


def prove_ecdh(
    secrets: Sequence[int],
    publics: Sequence[Point],
    m: bytes,
    rng: Rng,
    *,
    usage: int = kdf.PS_USAGE_PROOF_MESSAGE_ECDH,
) -> ECDHProof:
    """Prove knowledge of every ``secrets[i]`` with ``publics[i] = G * secrets[i]``.
    ``usage`` is ``usage_proof_message_ecdh`` (Prekey Messages) or
    ``usage_proof_shared_ecdh`` (the Prekey Profile's D)."""
    if len(secrets) != len(publics) or not secrets:
        raise ValueError("need one secret per public value, at least one")
    r = 0
    while r == 0:
        r = ed448.random_scalar(rng)
    c = _ecdh_challenge(usage, G * r, publics, m)
    ts = _coefficients(c, len(publics), "little")
    v = (r + sum(t * s for t, s in zip(ts, secrets, strict=True))) % ed448.Q
    return ECDHProof(c, v)


def verify_ecdh(
    proof: ECDHProof,
    publics: Sequence[Point],
    m: bytes,
    *,
    usage: int = kdf.PS_USAGE_PROOF_MESSAGE_ECDH,
) -> bool:
    """True iff ``proof`` shows knowledge of the secrets of all ``publics``
    (points already validated by their decoder)."""
    if not publics or len(proof.c) != C_BYTES or not 0 <= proof.v < ed448.Q:
        return False
    ts = _coefficients(proof.c, len(publics), "little")
    a = G * proof.v
    for t, y in zip(ts, publics, strict=True):
        a = a - y * t
    if a.is_identity():
        return False
    return hmac.compare_digest(_ecdh_challenge(usage, a, publics, m), proof.c)


def _dh_challenge(a: int, publics: Sequence[int], m: bytes) -> bytes:
    return _kdf(
        kdf.PS_USAGE_PROOF_MESSAGE_DH,
        [encode_mpi(a), *(encode_mpi(int(b)) for b in publics), m],
        C_BYTES,
    )


def prove_dh(secrets: Sequence[int], publics: Sequence[int], m: bytes, rng: Rng) -> DHProof:
    """Prove knowledge of every ``secrets[i]`` with ``publics[i] = g3^secrets[i]``."""
    if len(secrets) != len(publics) or not secrets:
        raise ValueError("need one secret per public value, at least one")
    r = 0
    while r == 0:
        raw = rng(dh3072.PRIVATE_KEY_BYTES)
        if len(raw) != dh3072.PRIVATE_KEY_BYTES:
            raise ValueError("rng returned the wrong number of bytes")
        r = int.from_bytes(raw, "big")
    c = _dh_challenge(int(dh3072.powmod_g(r)), publics, m)
    ts = _coefficients(c, len(publics), "big")
    v = (r + sum(t * b for t, b in zip(ts, secrets, strict=True))) % dh3072.DH_Q
    return DHProof(c, int(v))


def verify_dh(proof: DHProof, publics: Sequence[int], m: bytes) -> bool:
    """True iff ``proof`` shows knowledge of the secrets of all ``publics``
    (values already checked to be group elements by their decoder)."""
    if not publics or len(proof.c) != C_BYTES or not 0 <= proof.v < dh3072.DH_Q:
        return False
    ts = _coefficients(proof.c, len(publics), "big")
    p = dh3072.DH_P
    product = mpz(1)
    for t, b in zip(ts, publics, strict=True):
        product = product * gmpy2.powmod(mpz(b), t, p) % p
    inverse = gmpy2.invert(product, p)
    a = int(dh3072.powmod_g(proof.v) * inverse % p)
    return hmac.compare_digest(_dh_challenge(a, publics, m), proof.c)
