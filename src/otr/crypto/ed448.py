"""The Ed448-Goldilocks group as OTRv4 uses it (otr-v4.md "Elliptic Curve
Parameters", "Verifying that a point is on the curve", "Considerations while
working with elliptic curve parameters", "Encoding and Decoding" (Scalar, Point),
"HashToScalar", "Elliptic Curve Operations"; RFC 8032 section 5.2).

This module is the one place that owns Ed448.  Point arithmetic (addition,
negation, scalar multiplication) runs in C: through libdecaf when the optional
extension ``otr._decaf`` is built (Debian ``libdecaf-dev``), otherwise through
pycryptodome's ``ECC.EccPoint`` on curve ``"Ed448"``.  Encoding, decoding and
validation follow the spec and are written here so they are exact and auditable;
a point reaches libdecaf only once it is known to lie in the prime-order subgroup
(libdecaf's group is that subgroup: it cannot represent the others).

Speed (2-core test machine): a multiple of G 28 us from libdecaf's table against
80 us in pycryptodome; a variable-base multiple 96 us against about 290 us;
``G a + P b`` with public scalars (:func:`base_mul_add_public`, verification) 91 us;
``P a + R b`` in constant time (:func:`mul_add`) 129 us.  With secret scalars,
``G * a + P * b`` through the operators (a table multiplication, a variable-base
one and an addition, about 125 us) is already cheaper than a double
multiplication.  libdecaf's multiplications are constant-time in the scalar;
:func:`base_mul_add_public` is not and takes only public scalars.

* :class:`Point` holds a point (its docstring lists the forms): immutable,
  hashable, ``P + Q``, ``P - Q``, ``-P``, ``P * k`` / ``k * P``.  Every point
  remembers whether it is known to lie in the prime-order subgroup (true by
  construction for multiples of :data:`G` and for points that passed
  :func:`validate_point`), so repeated validation of the same object costs
  nothing.
* :func:`decode_point` performs the full validation the spec asks for on every
  received point: canonical encoding (y < p, no "negative zero"), on the curve
  (square-root step of RFC 8032 and again the curve equation in C - ERRATA B28),
  not the identity, and ``q * P == I`` (prime-order subgroup; rejects the small
  order and mixed-torsion points the cofactor 4 allows).
* Scalars are Python ``int`` in ``[0, q)``.  :func:`decode_scalar` is strict
  (rejects values ``>= q``, which no honest encoder produces);
  :func:`scalar_from_bytes_mod_q` is the spec's "decode and mod q" for hash
  outputs.  :func:`random_scalar` is the spec's hash-and-prune procedure for
  random values in Z_q, reduced mod q.  :func:`hash_to_scalar` is HashToScalar
  (57-byte HWC output read little-endian, reduced mod q - ERRATA B5).

Python big-integer and pycryptodome code paths (scalar arithmetic, the
fallback) are not guaranteed to be constant-time; OTRv4 secrets handled here
are ephemeral or long-term scalars of a chat client, which is the same
trade-off the rest of this package makes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

import gmpy2
from Crypto.PublicKey import ECC

from ..accelerator import decaf as _DECAF
from ..errors import DecodeError, InvalidGroupElement
from . import kdf as _kdf

__all__ = [
    "COFACTOR",
    "IDENTITY",
    "POINT_BYTES",
    "SCALAR_BYTES",
    "D",
    "G",
    "P",
    "Point",
    "Q",
    "Rng",
    "base_mul_add_public",
    "decode_point",
    "decode_point_unchecked",
    "decode_scalar",
    "encode_point",
    "encode_scalar",
    "hash_to_scalar",
    "mul_add",
    "prune",
    "random_scalar",
    "scalar_from_bytes_mod_q",
    "validate_point",
]

Rng = Callable[[int], bytes]
"""Randomness source: ``rng(n)`` returns ``n`` random bytes (e.g. ``os.urandom``)."""

P: Final = 2**448 - 2**224 - 1
"""The field prime p."""
Q: Final = 2**446 - 13818066809895115352007386748515426880336692474882178609894547503885
"""The prime order q (RFC 8032's L) of the base point."""
COFACTOR: Final = 4
D: Final = P - 39081
"""The curve constant d = -39081 (mod p); the curve is x^2 + y^2 = 1 + d*x^2*y^2."""
POINT_BYTES: Final = 57
SCALAR_BYTES: Final = 57

_GX = int(
    "22458004029592430018760433409989603624678964163256413424612546168695"
    "0415467406032909029192869357953282578032075146446173674602635247710"
)
_GY = int(
    "29881921007848149267601793044393067343754404015408024209592824137233"
    "1506189835876003536878655418784733982303233503462500531545062832660"
)
_CURVE = "Ed448"
_SIGN_BIT = 1 << 455
_Y_MASK = _SIGN_BIT - 1
_GROUP_EXPONENT = COFACTOR * Q  # every curve point's order divides 4q
_MPZ_P = gmpy2.mpz(P)
_MPZ_D = gmpy2.mpz(D)
_SQRT_EXP = gmpy2.mpz((P - 3) // 4)


def _ecc(x: int, y: int) -> Any:
    try:
        # Public API (documented), though the module does not re-export it for mypy.
        return ECC.EccPoint(x, y, curve=_CURVE)  # type: ignore[attr-defined]
    except ValueError as exc:  # pycryptodome checks the curve equation
        raise InvalidGroupElement("point is not on the curve") from exc


_IDENTITY_ECC: Final = _ecc(0, 1)
_IDENTITY_ENC: Final = (1).to_bytes(POINT_BYTES, "little")


class Point:
    """An Ed448-Goldilocks point (immutable).

    Build points with :data:`G` arithmetic, :func:`decode_point` (validated),
    :func:`decode_point_unchecked` or :meth:`from_xy` (both unvalidated: call
    :func:`validate_point` before trusting them).

    A point is held in up to three forms, each made from another when first needed:
    its 57-byte encoding, a pycryptodome ``EccPoint`` and, for points known to lie
    in the prime-order subgroup when ``otr._decaf`` is built, a libdecaf point
    (module doc, "Speed").
    """

    __slots__ = ("_dp", "_ecc", "_enc", "_subgroup")

    _ecc: Any
    _enc: bytes | None
    _subgroup: bool
    _dp: Any

    def __init__(
        self, ecc: Any, encoding: bytes | None = None, subgroup: bool = False, dp: Any = None
    ) -> None:
        # Internal: use the module's constructors.  At least one of ecc, encoding and
        # dp is given; dp only for a point of the prime-order subgroup.
        self._ecc = ecc
        self._enc = encoding
        self._subgroup = subgroup
        self._dp = dp

    @classmethod
    def from_xy(cls, x: int, y: int) -> Point:
        """The point (x, y); both must be in [0, p-1] and satisfy the curve equation.

        Raises :class:`InvalidGroupElement` otherwise.  The result is *not*
        checked for being the identity or in the prime-order subgroup.
        """
        if not (0 <= x < P and 0 <= y < P):
            raise InvalidGroupElement("point coordinate out of range")
        return cls(_ecc(x, y))

    def _as_ecc(self) -> Any:
        ecc = self._ecc
        if ecc is None:
            x, y = _decode_xy(self.encode())
            ecc = self._ecc = _ecc(x, y)
        return ecc

    def _as_dp(self) -> Any:
        # Only for points of the prime-order subgroup, with _DECAF built.
        dp = self._dp
        if dp is None:
            assert _DECAF is not None
            enc = self.encode()
            # libdecaf's EdDSA decoder refuses the identity's encoding.
            dp = _DECAF.IDENTITY if enc == _IDENTITY_ENC else _DECAF.Point448.decode(enc)
            self._dp = dp
        return dp

    @property
    def x(self) -> int:
        return int(self._as_ecc().x)

    @property
    def y(self) -> int:
        return int(self._as_ecc().y)

    @property
    def xy(self) -> tuple[int, int]:
        x, y = self._as_ecc().xy
        return int(x), int(y)

    def encode(self) -> bytes:
        """The 57-byte POINT encoding (RFC 8032 section 5.2.2)."""
        enc = self._enc
        if enc is None:
            if self._dp is not None:
                enc = self._dp.encode()
            else:
                x, y = self._ecc.xy
                enc = (int(y) | ((int(x) & 1) << 455)).to_bytes(POINT_BYTES, "little")
            self._enc = enc
        return enc

    def is_identity(self) -> bool:
        if self._dp is not None:
            return bool(self._dp.is_identity())
        if self._enc is not None:
            return self._enc == _IDENTITY_ENC  # encodings are canonical
        return bool(self._ecc == _IDENTITY_ECC)

    def in_prime_order_subgroup(self) -> bool:
        """``q * P == I``, decided with two quadratic characters and a square root
        (:func:`_in_four_e`, about a fifth of a scalar multiplication); cached once
        known."""
        if not self._subgroup:
            x, y = self.xy
            fast = _in_four_e(x, y)
            self._subgroup = bool(self._as_ecc() * Q == _IDENTITY_ECC) if fast is None else fast
        return self._subgroup

    def _fast(self, other: Point) -> bool:
        return _DECAF is not None and self._subgroup and other._subgroup

    def __add__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        if self._fast(other):
            return Point(None, None, True, self._as_dp().add(other._as_dp()))
        return Point(self._as_ecc() + other._as_ecc(), None, self._subgroup and other._subgroup)

    def __sub__(self, other: Point) -> Point:
        if not isinstance(other, Point):
            return NotImplemented
        if self._fast(other):
            return Point(None, None, True, self._as_dp().sub(other._as_dp()))
        return Point(self._as_ecc() + (-other._as_ecc()), None, self._subgroup and other._subgroup)

    def __neg__(self) -> Point:
        if _DECAF is not None and self._subgroup:
            return Point(None, None, True, self._as_dp().neg())
        return Point(-self._as_ecc(), None, self._subgroup)

    def __mul__(self, k: int) -> Point:
        """Scalar multiplication ``P * k`` for any integer k (negative allowed)."""
        try:
            k = operator.index(k)
        except TypeError:
            return NotImplemented
        k %= Q if self._subgroup else _GROUP_EXPONENT
        if k == 0:
            return IDENTITY
        if _DECAF is not None and self._subgroup:
            kb = k.to_bytes(SCALAR_BYTES, "little")
            if self is G:
                return Point(None, None, True, _DECAF.base_mul(kb))
            return Point(None, None, True, self._as_dp().mul(kb))
        return Point(self._as_ecc() * k, None, self._subgroup)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        if self._enc is not None and other._enc is not None:
            return self._enc == other._enc  # encodings are canonical
        if self._fast(other):
            return bool(self._as_dp().eq(other._as_dp()))
        return self.encode() == other.encode()

    def __hash__(self) -> int:
        return hash(self.encode())

    def __repr__(self) -> str:
        return f"Point({self.encode().hex()})"


def _scalar_bytes(k: int) -> bytes:
    return (k % Q).to_bytes(SCALAR_BYTES, "little")


def mul_add(p1: Point, a: int, p2: Point, b: int) -> Point:
    """``p1 * a + p2 * b`` in constant time: libdecaf's double multiplication when
    built (about two thirds of two multiplications)."""
    if _DECAF is not None and p1._subgroup and p2._subgroup:
        dp = _DECAF.double_mul(p1._as_dp(), _scalar_bytes(a), p2._as_dp(), _scalar_bytes(b))
        return Point(None, None, True, dp)
    return p1 * a + p2 * b


def base_mul_add_public(a: int, point: Point, b: int) -> Point:
    """``G * a + point * b`` for public scalars only (verifying ring signatures and
    SMP proofs): libdecaf's variable-time double multiplication when built, which
    may leak the scalars through timing."""
    if _DECAF is not None and point._subgroup:
        return Point(
            None,
            None,
            True,
            _DECAF.base_double_mul_public(_scalar_bytes(a), point._as_dp(), _scalar_bytes(b)),
        )
    return G * a + point * b


_SQRT_P34 = gmpy2.mpz((P + 1) // 4)  # p = 3 mod 4: a^((p+1)/4) is a square root of a


def _in_four_e(x: int, y: int) -> bool | None:
    """Whether the curve point (x, y) lies in the subgroup of order q, i.e. in 4E.

    The group of Ed448's points is Z/4 x Z/q (the 4-torsion is generated by (1, 0));
    the subgroup of order q is 4E.  Two facts decide membership without multiplying by
    q (a 2-descent; both are checked against ``q * P == I`` in the tests):

    * Q = (X, Y) is in 2E iff 1 - d X^2 is a square: for Q = 2R with R = (x, y) the
      doubling formulas give (1 + Y)/(1 - Y) = (1 - x^2)/(1 - y^2), which the curve
      equation turns into (1 - d) * square, and (1 - d X^2)(1 - d Y^2) = 1 - d with
      1 - d a non-square;
    * Q in 2E is in 4E iff its rational halves R (2R = Q) are in 2E.  With
      a = (1 + Y)/(1 - Y), v = y_R^2 solves d a v^2 + (d (1 - a) - (1 + a)) v + a = 0
      (the doubling relation and the curve equation), whose roots multiply to the
      non-square 1/d: the rational half's v is the root that is a square, and its
      x_R^2 = 1 - a + a v.

    Returns None if an impossible case shows up (then the caller multiplies by q).
    """
    p, d = _MPZ_P, _MPZ_D
    x, y = gmpy2.mpz(x), gmpy2.mpz(y)
    if x == 0:  # the identity (0, 1) or the point of order 2 (0, -1)
        return y == 1
    if gmpy2.legendre((1 - d * x * x) % p, p) != 1:
        return False  # not even in 2E (includes y = 0, the points of order 4)
    # x != 0 implies y != +-1, so 1 - y and a are invertible and nonzero.
    a = (1 + y) * gmpy2.invert(1 - y, p) % p
    qa = d * a % p
    qb = (d * (1 - a) - (1 + a)) % p
    disc = (qb * qb - 4 * qa * a) % p
    root = gmpy2.powmod(disc, _SQRT_P34, p)
    if root * root % p != disc:
        return None
    inv = gmpy2.invert(2 * qa, p)
    v = (root - qb) * inv % p
    if gmpy2.legendre(v, p) != 1:
        v = (-root - qb) * inv % p
    if gmpy2.legendre(v, p) != 1:
        return None
    u = (1 - a + a * v) % p
    return bool(gmpy2.legendre((1 - d * u) % p, p) == 1)


G: Final = Point(_ecc(_GX, _GY), None, True)
"""The base point (RFC 8032's B), generator of the order-q subgroup."""
IDENTITY: Final = Point(_IDENTITY_ECC, None, True)
"""The neutral element I = (0, 1)."""


def encode_point(point: Point) -> bytes:
    """POINT: 57 bytes, y little-endian with the low bit of x in bit 455."""
    return point.encode()


def _decode_xy(data: bytes) -> tuple[int, int]:
    """RFC 8032 section 5.2.3 decoding of 57 bytes to (x, y); see
    :func:`decode_point_unchecked`."""
    if len(data) != POINT_BYTES:
        raise DecodeError("a POINT is 57 bytes")
    v = int.from_bytes(data, "little")
    x0 = v >> 455
    y = v & _Y_MASK
    if y >= P:
        raise InvalidGroupElement("non-canonical point encoding (y >= p)")
    yy = gmpy2.mpz(y) * y % _MPZ_P
    num = (yy - 1) % _MPZ_P
    den = (_MPZ_D * yy - 1) % _MPZ_P
    # x = num^3 * den * (num^5 * den^3)^((p-3)/4), the spec's single-powering root.
    num3 = num * num % _MPZ_P * num % _MPZ_P
    den3 = den * den % _MPZ_P * den % _MPZ_P
    x = num3 * den % _MPZ_P
    x = x * gmpy2.powmod(num3 * num % _MPZ_P * num % _MPZ_P * den3 % _MPZ_P, _SQRT_EXP, _MPZ_P)
    x %= _MPZ_P
    if den * x % _MPZ_P * x % _MPZ_P != num:
        raise InvalidGroupElement("point is not on the curve")
    if x == 0 and x0 == 1:
        raise InvalidGroupElement("non-canonical point encoding (negative zero)")
    if int(x) & 1 != x0:
        x = _MPZ_P - x
    return int(x), y


def decode_point_unchecked(data: bytes) -> Point:
    """Decode a POINT per RFC 8032 section 5.2.3 without the group checks.

    Fails (:class:`InvalidGroupElement`) on y >= p, on a y with no matching x
    (not on the curve) and on x = 0 with the sign bit set; the length must be
    57 bytes (:class:`DecodeError`).  The identity and points outside the
    prime-order subgroup are accepted: use :func:`decode_point` for input.
    """
    x, y = _decode_xy(data)
    return Point(_ecc(x, y), bytes(data))


def validate_point(point: Point) -> Point:
    """The spec's "Verifying that a point is on the curve": not the identity, on
    the curve (guaranteed by construction, see :func:`decode_point_unchecked`
    and :meth:`Point.from_xy`), and ``q * P == I``.  Returns the point; raises
    :class:`InvalidGroupElement`."""
    if point.is_identity():
        raise InvalidGroupElement("point is the identity")
    if not point.in_prime_order_subgroup():
        raise InvalidGroupElement("point is not in the prime-order subgroup")
    return point


def decode_point(data: bytes) -> Point:
    """Decode and fully validate a received POINT (see the module docstring)."""
    return validate_point(decode_point_unchecked(data))


def encode_scalar(s: int) -> bytes:
    """SCALAR: 57 bytes little-endian; ``s`` must be in [0, q)."""
    if not 0 <= s < Q:
        raise ValueError("scalar out of range")
    return s.to_bytes(SCALAR_BYTES, "little")


def decode_scalar(data: bytes) -> int:
    """Decode a received SCALAR strictly: 57 bytes, value < q (canonical).

    Every scalar OTRv4 sends is computed mod q, so a value >= q is malformed
    (accepting it would make ring signatures and SMP proofs malleable).
    """
    if len(data) != SCALAR_BYTES:
        raise DecodeError("a SCALAR is 57 bytes")
    s = int.from_bytes(data, "little")
    if s >= Q:
        raise InvalidGroupElement("scalar out of range (>= q)")
    return s


def scalar_from_bytes_mod_q(data: bytes) -> int:
    """The spec's scalar decoding: a little-endian integer, reduced mod q."""
    return int.from_bytes(data, "little") % Q


def hash_to_scalar(usage_id: int, data: bytes, *, domain: bytes = _kdf.OTRV4_DOMAIN) -> int:
    """HashToScalar(usageID || d): ``HWC(usageID || d, 57)`` as a little-endian
    integer, reduced mod q (ERRATA B5)."""
    return scalar_from_bytes_mod_q(_kdf.hwc(usage_id, data, SCALAR_BYTES, domain=domain))


def prune(buf: bytes) -> bytes:
    """RFC 8032 / spec pruning of a 57-byte buffer: clear the two low bits of the
    first byte, clear the last byte, set the top bit of the second to last."""
    if len(buf) < SCALAR_BYTES:
        raise ValueError("need 57 bytes to prune")
    h = bytearray(buf[:SCALAR_BYTES])
    h[0] &= 0xFC
    h[56] = 0
    h[55] |= 0x80
    return bytes(h)


def random_scalar(rng: Rng) -> int:
    """A random value in Z_q as the spec asks ("Considerations while working with
    elliptic curve parameters"): 57 random bytes, ``SHAKE-256(value, 57)``,
    pruned, read little-endian, then reduced mod q so it encodes as a SCALAR."""
    value = rng(SCALAR_BYTES)
    if len(value) != SCALAR_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    return scalar_from_bytes_mod_q(prune(_kdf.shake256(value, SCALAR_BYTES)))
