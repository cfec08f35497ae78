"""OTRv4 ring signatures: ``RSig`` and ``RVrf`` over three Ed448 public keys
(otr-v4.md appendix "Ring Signature Authentication", "HashToScalar",
"Serializing the Ring Signature Proof of Authentication").

A signature of knowledge of the secret of one of ``{A1, A2, A3}``, bound to a
message ``m``; the DAKEs use it with rings such as ``{F_b, H_a, Y}``::

    signer knows a_i for A_i (i in 1..3), the others are j, k:
      t_i, c_j, c_k, r_j, r_k random in Z_q   (hashed and pruned, ed448.random_scalar)
      T_i = G*t_i,  T_j = G*r_j + A_j*c_j,  T_k = G*r_k + A_k*c_k
      c   = HashToScalar(usage_auth || G || q || A1 || A2 || A3 || T1 || T2 || T3 || m)
      c_i = c - c_j - c_k (mod q),  r_i = t_i - c_i*a_i (mod q)
      sigma = (c1, r1, c2, r2, c3, r3)          RING-SIG, six 57-byte SCALARs
    RVrf: T_l = G*r_l + A_l*c_l for l = 1..3, recompute c, accept iff
          c == c1 + c2 + c3 (mod q)

The hash input is under-specified (ERRATA B4).  We follow otr4j, which tracks
the final spec: ``usage_auth`` = 0x1A, ``G`` as its 57-byte POINT, ``q`` as the
integer q in 57 bytes little-endian (as a SCALAR it would be 0), the points as
POINTs, ``m`` as DATA (4-byte big-endian length, then m), and a 57-byte HWC
output reduced mod q for both RSig and RVrf.  :class:`RingScheme` makes the
domain, the usage ID and the message encoding explicit; :data:`PREKEY_SERVER`
is the prekey-server protocol's variant ("OTR-Prekey-Server", usage 0x11).
libotr-ng's signatures (older usage table, 56-byte scalars, "divided by 4"
r values - ERRATA C) do not verify under either scheme.

Randomness is drawn as otr4j draws it: seven scalars t, c1, r1, c2, r2, c3,
r3 (each ``ed448.random_scalar``), the signer's own c_i and r_i then replaced,
so recorded draws reproduce otr4j's signatures byte for byte.

Hash inputs and the order of the sigma components never depend on which key
signed.  The branch on the signer's position is not constant-time (Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..errors import DecodeError, InvalidGroupElement
from ..wire.buffer import encode_data
from . import kdf
from .ed448 import (
    SCALAR_BYTES,
    G,
    Point,
    Q,
    Rng,
    base_mul_add_public,
    decode_scalar,
    encode_scalar,
    hash_to_scalar,
    random_scalar,
    validate_point,
)

__all__ = [
    "OTRV4",
    "PREKEY_SERVER",
    "RING_SIG_BYTES",
    "RingScheme",
    "RingSignature",
    "challenge",
    "rsig",
    "rvrf",
]

RING_SIG_BYTES: Final = 6 * SCALAR_BYTES
"""RING-SIG length: c1 || r1 || c2 || r2 || c3 || r3 = 342 bytes."""

_G_ENC: Final = G.encode()
_Q_ENC: Final = Q.to_bytes(SCALAR_BYTES, "little")


@dataclass(frozen=True)
class RingScheme:
    """The parameters of the challenge hash that the spec leaves open."""

    domain: bytes = kdf.OTRV4_DOMAIN
    """KDF domain prefix."""
    usage_auth: int = kdf.USAGE_AUTH
    """Usage ID of the challenge hash."""
    message_as_data: bool = True
    """Write ``m`` as DATA (otr4j) rather than raw bytes."""


OTRV4: Final = RingScheme()
"""The OTRv4 DAKE scheme (final usage table, otr4j's encodings)."""
PREKEY_SERVER: Final = RingScheme(domain=kdf.PREKEY_SERVER_DOMAIN, usage_auth=kdf.PS_USAGE_AUTH)
"""The prekey-server DAKE scheme (otr-v4-prekey-server.md, usage_auth 0x11)."""


@dataclass(frozen=True)
class RingSignature:
    """sigma = (c1, r1, c2, r2, c3, r3), scalars in [0, q)."""

    c1: int
    r1: int
    c2: int
    r2: int
    c3: int
    r3: int

    def scalars(self) -> tuple[int, int, int, int, int, int]:
        return (self.c1, self.r1, self.c2, self.r2, self.c3, self.r3)

    def encode(self) -> bytes:
        """RING-SIG: six SCALARs, 342 bytes."""
        return b"".join(encode_scalar(s) for s in self.scalars())

    @classmethod
    def decode(cls, data: bytes) -> RingSignature:
        """Parse a RING-SIG; each scalar must be canonical (< q)."""
        if len(data) != RING_SIG_BYTES:
            raise DecodeError("a RING-SIG is 342 bytes")
        c1, r1, c2, r2, c3, r3 = (
            decode_scalar(data[i : i + SCALAR_BYTES])
            for i in range(0, RING_SIG_BYTES, SCALAR_BYTES)
        )
        return cls(c1, r1, c2, r2, c3, r3)


def challenge(
    ring: Sequence[Point], ts: Sequence[Point], message: bytes, scheme: RingScheme = OTRV4
) -> int:
    """``c = HashToScalar(usage_auth || G || q || A1 || A2 || A3 || T1 || T2 || T3 || m)``."""
    m = encode_data(message) if scheme.message_as_data else bytes(message)
    data = b"".join((_G_ENC, _Q_ENC, *(a.encode() for a in ring), *(t.encode() for t in ts), m))
    return hash_to_scalar(scheme.usage_auth, data, domain=scheme.domain)


def _check_ring(ring: Sequence[Point]) -> tuple[Point, Point, Point]:
    if len(ring) != 3:
        raise ValueError("a ring has exactly three public keys")
    for a in ring:
        validate_point(a)
    return ring[0], ring[1], ring[2]


def rsig(
    secret: int,
    public: Point,
    ring: Sequence[Point],
    message: bytes,
    rng: Rng,
    *,
    scheme: RingScheme = OTRV4,
    check_secret: bool = True,
) -> RingSignature:
    """``RSig(A_i, a_i, {A1, A2, A3}, m)``: sign ``message`` with ``secret`` (a_i),
    whose public key ``public`` (A_i = G * a_i) must be one of the three ring keys.

    The ring keys are validated (on the curve, not the identity, order q);
    :class:`InvalidGroupElement` if one is not, :class:`ValueError` if
    ``public`` does not match ``secret`` (unless ``check_secret`` is False, for a
    caller whose key pair guarantees it; the check costs a scalar multiplication)
    or is not in the ring.
    """
    a1, a2, a3 = _check_ring(ring)
    a_i = secret % Q
    if check_secret and G * a_i != public:
        raise ValueError("secret does not match the signer's public key")
    keys = (a1, a2, a3)
    try:
        i = keys.index(public)
    except ValueError:
        raise ValueError("the signer's public key is not in the ring") from None
    j, k = (n for n in range(3) if n != i)
    # otr4j's draws (ERRATA D.1 B.4): all seven random scalars in the order
    # t, c1, r1, c2, r2, c3, r3; the signer's own c_i and r_i are then
    # overwritten.  Drawing the same bytes reproduces otr4j's sigma exactly.
    t_i = random_scalar(rng)
    c = [0, 0, 0]
    r = [0, 0, 0]
    for n in range(3):
        c[n] = random_scalar(rng)
        r[n] = random_scalar(rng)
    ts: list[Point] = [G, G, G]
    ts[i] = G * t_i
    ts[j] = G * r[j] + keys[j] * c[j]
    ts[k] = G * r[k] + keys[k] * c[k]
    ch = challenge(keys, ts, message, scheme)
    c[i] = (ch - c[j] - c[k]) % Q
    r[i] = (t_i - c[i] * a_i) % Q
    return RingSignature(c[0], r[0], c[1], r[1], c[2], r[2])


def rvrf(
    ring: Sequence[Point],
    sigma: RingSignature,
    message: bytes,
    *,
    scheme: RingScheme = OTRV4,
) -> bool:
    """``RVrf({A1, A2, A3}, sigma, m)``: True iff ``sigma`` is a valid ring
    signature on ``message`` by the secret of one of the three keys.

    Invalid ring keys or out-of-range scalars make verification fail.
    """
    try:
        keys = _check_ring(ring)
    except InvalidGroupElement:
        return False
    scalars = sigma.scalars()
    if not all(0 <= s < Q for s in scalars):
        return False
    cs = scalars[0::2]
    rs = scalars[1::2]
    # Public scalars: the variable-time double multiplication is safe here.
    ts = [base_mul_add_public(r_l, a_l, c_l) for a_l, c_l, r_l in zip(keys, cs, rs, strict=True)]
    return challenge(keys, ts, message, scheme) == sum(cs) % Q
