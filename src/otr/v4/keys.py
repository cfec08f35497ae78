"""OTRv4 keys (otr-v4.md "Public keys, Shared Prekeys, Forging keys and
Fingerprints", "Generating ECDH and DH keys", "Generating Shared Secrets",
"Create a Client Profile Signature" / "Verify a Client Profile Signature").

* :class:`Ed448KeyPair` - long-term key (``sym_h`` -> ``sk_h``, ``H``) and, by the
  same procedure, the shared prekey (``sym_d`` -> ``sk_d``, ``D``): RFC 8032 key
  generation from a 57-byte symmetric key: ``h = SHAKE-256(sym_key, 114)``, the
  first 57 bytes pruned and read little-endian give ``sk``, ``H = G * sk``.  The
  public key is identical to the one OpenSSL (``cryptography``) derives.
  Signing is pure Ed448 (RFC 8032 section 5.2.6, flag 0, empty context), done
  by ``cryptography``; it is what profiles use.
* :class:`ForgingKey` - the forging key ``F``: either an honest key pair whose
  secret may be kept or dropped (:meth:`ForgingKey.generate`), or a random
  point with no known secret (:meth:`ForgingKey.random_point`: 57 random bytes
  decoded and validated as a POINT, retried until valid).
* :class:`ECDHKeyPair` - ``generateECDH()`` and ``ECDH(a, B)``.  The degenerate
  result is the identity point, not "all zero" (ERRATA B2); the peer's point is
  validated (not identity, order q) before use.  ``multiply_by_cofactor``
  gives the prekey-server variant (``B = B * cofactor`` first).
* :func:`fingerprint` - ``HWC(usage_fingerprint || byte(H) || byte(F), 56)``
  with ``byte(X)`` the bare 57-byte POINT encodings, as otr4j does (libotr-ng
  hashes the typed 59-byte keys instead - ERRATA B27; the spec defines ``H``
  and ``F`` themselves as POINTs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey

from ..crypto import ed448, kdf
from ..crypto.ed448 import G, Point, Rng
from ..errors import InvalidGroupElement

__all__ = [
    "FINGERPRINT_BYTES",
    "SYMMETRIC_KEY_BYTES",
    "ECDHKeyPair",
    "Ed448KeyPair",
    "ForgingKey",
    "ecdh",
    "eddsa_verify",
    "fingerprint",
    "human_fingerprint",
    "secret_scalar",
]

SYMMETRIC_KEY_BYTES: Final = 57
FINGERPRINT_BYTES: Final = 56


def _random(rng: Rng, n: int) -> bytes:
    out = rng(n)
    if len(out) != n:
        raise ValueError("rng returned the wrong number of bytes")
    return out


def secret_scalar(sym_key: bytes) -> tuple[int, bytes]:
    """RFC 8032 section 5.2.5: ``(sk, prefix)`` from a 57-byte symmetric key.

    ``h = SHAKE-256(sym_key, 114)``; ``sk`` is the pruned first half read
    little-endian (returned reduced mod q, which changes no scalar product with
    a point of order q); ``prefix`` is the second half (used in signing).
    """
    if len(sym_key) != SYMMETRIC_KEY_BYTES:
        raise ValueError("an Ed448 symmetric key is 57 bytes")
    h = kdf.shake256(sym_key, 2 * SYMMETRIC_KEY_BYTES)
    sk = int.from_bytes(ed448.prune(h[:57]), "little") % ed448.Q
    return sk, h[57:]


@dataclass(frozen=True)
class Ed448KeyPair:
    """An Ed448 key pair from a 57-byte symmetric key (long-term key or shared prekey)."""

    sym_key: bytes = field(repr=False)
    secret: int = field(repr=False)
    """``sk`` (reduced mod q)."""
    public: Point
    _signer: Ed448PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_signer", Ed448PrivateKey.from_private_bytes(self.sym_key))

    @classmethod
    def from_symmetric_key(cls, sym_key: bytes) -> Ed448KeyPair:
        """The key pair of ``sym_key`` (``sym_h`` or ``sym_d``), RFC 8032 section 5.2.5."""
        sk, _prefix = secret_scalar(sym_key)
        return cls(bytes(sym_key), sk, G * sk)

    @classmethod
    def generate(cls, rng: Rng) -> Ed448KeyPair:
        """57 bytes of randomness as ``sym_key``."""
        return cls.from_symmetric_key(_random(rng, SYMMETRIC_KEY_BYTES))

    @property
    def public_bytes(self) -> bytes:
        """``H`` (or ``D``) as a 57-byte POINT."""
        return self.public.encode()

    def sign(self, message: bytes) -> bytes:
        """Pure Ed448 (flag 0, empty context) signature over ``message``: 114 bytes."""
        return self._signer.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return eddsa_verify(self.public, message, signature)


def eddsa_verify(public: Point | bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 section 5.2.7 verification (pure Ed448, empty context).

    Any decoding failure (public key, R, or S >= q) means "invalid".
    """
    pub = public.encode() if isinstance(public, Point) else bytes(public)
    if len(pub) != ed448.POINT_BYTES or len(signature) != 114:
        return False
    try:
        Ed448PublicKey.from_public_bytes(pub).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class ForgingKey:
    """The forging key ``F``; ``keypair`` is None when no secret is known or kept."""

    public: Point
    keypair: Ed448KeyPair | None = field(default=None, repr=False)

    @classmethod
    def generate(cls, rng: Rng, *, keep_secret: bool = False) -> ForgingKey:
        """An honest key pair (RFC 8032 key generation); drop its secret unless asked."""
        kp = Ed448KeyPair.generate(rng)
        return cls(kp.public, kp if keep_secret else None)

    @classmethod
    def random_point(cls, rng: Rng) -> ForgingKey:
        """A point with no known discrete logarithm: draw 57 random bytes, decode
        them as a POINT and keep the first that is valid (the spec's first
        method; about one draw in a thousand succeeds, most fail on the length
        of y, which costs nothing)."""
        while True:
            try:
                return cls(ed448.decode_point(_random(rng, ed448.POINT_BYTES)))
            except InvalidGroupElement:
                continue


@dataclass(frozen=True)
class ECDHKeyPair:
    """An ephemeral ECDH key pair (``generateECDH()``)."""

    secret: int = field(repr=False)
    public: Point

    @classmethod
    def generate(cls, rng: Rng) -> ECDHKeyPair:
        """57 random bytes r; ``h = SHAKE-256(r, 114)[:57]`` pruned -> s; public = G * s."""
        return cls.from_random_bytes(_random(rng, SYMMETRIC_KEY_BYTES))

    @classmethod
    def from_random_bytes(cls, r: bytes) -> ECDHKeyPair:
        s, _ = secret_scalar(r)
        return cls(s, G * s)

    def shared_secret(self, their_public: Point, *, multiply_by_cofactor: bool = False) -> bytes:
        """``K_ecdh`` serialized as a POINT (see :func:`ecdh`)."""
        return ecdh(self.secret, their_public, multiply_by_cofactor=multiply_by_cofactor)


def ecdh(secret: int, their_public: Point, *, multiply_by_cofactor: bool = False) -> bytes:
    """``ECDH(a, B)``: ``K_ecdh = a * B`` encoded as a POINT.

    ``B`` is validated first (not the identity, order q).  The result being the
    identity (ERRATA B2's reading of "all-zero") raises
    :class:`InvalidGroupElement`.
    """
    ed448.validate_point(their_public)
    b = their_public * ed448.COFACTOR if multiply_by_cofactor else their_public
    k = b * secret
    if k.is_identity():
        raise InvalidGroupElement("degenerate ECDH shared secret")
    return k.encode()


def fingerprint(public_key: Point, forging_key: Point) -> bytes:
    """The 56-byte OTRv4 fingerprint ``HWC(0x00 || H || F, 56)`` (bare POINTs)."""
    return kdf.hwc(
        kdf.USAGE_FINGERPRINT, (public_key.encode(), forging_key.encode()), FINGERPRINT_BYTES
    )


def human_fingerprint(fp: bytes) -> str:
    """112 uppercase hex digits in groups of 8 (libotr's display style)."""
    h = fp.hex().upper()
    return " ".join(h[i : i + 8] for i in range(0, len(h), 8))
