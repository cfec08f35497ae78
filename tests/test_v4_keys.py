"""OTRv4 keys: RFC 8032 key generation and signatures (checked against the
vectors and against `cryptography`), forging keys, ECDH, fingerprints."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS
from otr.crypto import ed448
from otr.crypto.ed448 import G, Point, Q
from otr.errors import InvalidGroupElement
from otr.v4 import keys
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair, ForgingKey

RFC8032 = json.loads((SPEC_VECTORS / "rfc8032-ed448-vectors.json").read_text())["vectors"]
PURE = [v for v in RFC8032 if v["otrv4_profile_signature_form"]]


class CountingRng:
    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.n = 0

    def __call__(self, n: int) -> bytes:
        self.n += 1
        return hashlib.shake_256(self.seed + self.n.to_bytes(4, "big")).digest(n)


# --- long-term keys ------------------------------------------------------------------


@pytest.mark.parametrize("v", RFC8032, ids=lambda v: f"rfc8032-{v['index']}")
def test_rfc8032_public_keys(v: dict[str, object]) -> None:
    kp = Ed448KeyPair.from_symmetric_key(bytes.fromhex(str(v["secret_key_hex"])))
    assert kp.public_bytes.hex() == v["public_key_hex"]
    assert G * kp.secret == kp.public


@pytest.mark.parametrize("v", PURE, ids=lambda v: f"rfc8032-{v['index']}")
def test_rfc8032_pure_signatures(v: dict[str, object]) -> None:
    kp = Ed448KeyPair.from_symmetric_key(bytes.fromhex(str(v["secret_key_hex"])))
    message = bytes.fromhex(str(v["message_hex"]))
    sig = kp.sign(message)
    assert sig.hex() == v["signature_hex"]
    assert keys.eddsa_verify(kp.public, message, sig)
    assert keys.eddsa_verify(kp.public_bytes, message, sig)
    assert not keys.eddsa_verify(kp.public, message + b"\x00", sig)


def test_pure_vector_count() -> None:
    assert len(RFC8032) == 11 and len(PURE) >= 5


@given(st.binary(min_size=57, max_size=57), st.binary(max_size=100))
def test_keys_and_signatures_match_cryptography(sym: bytes, message: bytes) -> None:
    kp = Ed448KeyPair.from_symmetric_key(sym)
    theirs = Ed448PrivateKey.from_private_bytes(sym)
    assert kp.public_bytes == theirs.public_key().public_bytes_raw()
    sig = kp.sign(message)
    Ed448PublicKey.from_public_bytes(kp.public_bytes).verify(sig, message)  # raises if bad
    assert sig == theirs.sign(message)  # Ed448 signing is deterministic
    assert kp.verify(message, sig)


def test_secret_scalar_follows_rfc8032() -> None:
    sym = bytes(range(57))
    h = hashlib.shake_256(sym).digest(114)
    buf = bytearray(h[:57])
    buf[0] &= 0xFC
    buf[56] = 0
    buf[55] |= 0x80
    sk, prefix = keys.secret_scalar(sym)
    assert sk == int.from_bytes(buf, "little") % Q and prefix == h[57:]
    with pytest.raises(ValueError):
        keys.secret_scalar(bytes(56))


def test_generate_uses_the_rng() -> None:
    a = Ed448KeyPair.generate(CountingRng(b"a"))
    assert a == Ed448KeyPair.generate(CountingRng(b"a"))
    assert a != Ed448KeyPair.generate(CountingRng(b"b"))
    assert a.sym_key == CountingRng(b"a")(57)
    assert a.sym_key.hex() not in repr(a) and str(a.secret) not in repr(a)
    with pytest.raises(ValueError):
        Ed448KeyPair.generate(lambda n: bytes(n + 1))


def test_eddsa_verify_rejects_garbage() -> None:
    kp = Ed448KeyPair.generate(os.urandom)
    sig = kp.sign(b"m")
    assert not keys.eddsa_verify(kp.public, b"m", sig[:-1])
    assert not keys.eddsa_verify(kp.public_bytes[:-1], b"m", sig)
    assert not keys.eddsa_verify(b"\xff" * 57, b"m", sig)  # not a point
    bad = bytearray(sig)
    bad[60] ^= 1
    assert not keys.eddsa_verify(kp.public, b"m", bytes(bad))
    # S + q: same value mod q but non-canonical, must be rejected.
    s = int.from_bytes(sig[57:], "little") + Q
    assert not keys.eddsa_verify(kp.public, b"m", sig[:57] + s.to_bytes(57, "little"))


# --- forging keys --------------------------------------------------------------------


def test_forging_key_with_and_without_secret() -> None:
    kept = ForgingKey.generate(os.urandom, keep_secret=True)
    assert kept.keypair is not None and kept.keypair.public == kept.public
    dropped = ForgingKey.generate(os.urandom)
    assert dropped.keypair is None
    ed448.validate_point(dropped.public)


def test_forging_key_as_random_point() -> None:
    rng = CountingRng(b"forging")
    f = ForgingKey.random_point(rng)
    assert f.keypair is None
    assert ed448.decode_point(f.public.encode()) == f.public
    assert rng.n > 1  # most random strings are not valid points
    assert ForgingKey.random_point(CountingRng(b"forging")) == f


# --- ECDH ----------------------------------------------------------------------------


def test_generate_ecdh_follows_the_spec() -> None:
    r = bytes(range(57))
    kp = ECDHKeyPair.generate(lambda n: r[:n])
    h = bytearray(hashlib.shake_256(r).digest(114)[:57])
    h[0] &= 0xFC
    h[56] = 0
    h[55] |= 0x80
    s = int.from_bytes(h, "little")
    assert kp.public == G * s and kp.secret == s % Q
    # RFC 8032 key generation: the same as an Ed448 key from r.
    assert kp.public == Ed448KeyPair.from_symmetric_key(r).public


@given(st.binary(min_size=57, max_size=57), st.binary(min_size=57, max_size=57))
def test_ecdh_agreement(ra: bytes, rb: bytes) -> None:
    a = ECDHKeyPair.from_random_bytes(ra)
    b = ECDHKeyPair.from_random_bytes(rb)
    k = a.shared_secret(b.public)
    assert k == b.shared_secret(a.public) == (G * (a.secret * b.secret % Q)).encode()
    assert len(k) == 57
    kc = a.shared_secret(b.public, multiply_by_cofactor=True)
    assert kc == b.shared_secret(a.public, multiply_by_cofactor=True) != k


def test_ecdh_rejects_bad_points_and_degenerate_results() -> None:
    a = ECDHKeyPair.generate(os.urandom)
    torsion = Point.from_xy(1, 0)
    for bad in (ed448.IDENTITY, torsion, a.public + torsion):
        with pytest.raises(InvalidGroupElement):
            a.shared_secret(bad)
    for degenerate in (0, Q):
        with pytest.raises(InvalidGroupElement, match="degenerate"):
            keys.ecdh(degenerate, a.public)


# --- fingerprints --------------------------------------------------------------------


def test_fingerprint() -> None:
    h = Ed448KeyPair.generate(os.urandom).public
    f = ForgingKey.generate(os.urandom).public
    fp = keys.fingerprint(h, f)
    expected = hashlib.shake_256(b"OTRv4\x00" + h.encode() + f.encode()).digest(56)
    assert fp == expected and len(fp) == keys.FINGERPRINT_BYTES == 56
    assert keys.fingerprint(f, h) != fp
    human = keys.human_fingerprint(fp)
    assert len(human.split()) == 14 and human.replace(" ", "") == fp.hex().upper()
