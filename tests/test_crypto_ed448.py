"""Ed448 group: constants, RFC 8032 vectors checked with our own arithmetic,
encoding round trips, full point validation, scalars, HashToScalar."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import gmpy2
import pytest
from Crypto.PublicKey import ECC
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS, load_v4_generator
from otr import accelerator
from otr.crypto import ed448, kdf
from otr.crypto.ed448 import COFACTOR, IDENTITY, G, P, Point, Q
from otr.errors import DecodeError, InvalidGroupElement

RFC8032 = json.loads((SPEC_VECTORS / "rfc8032-ed448-vectors.json").read_text())["vectors"]
OWN = json.loads((Path(__file__).parent / "vectors" / "otrv4_kdf.json").read_text())

scalars = st.integers(min_value=1, max_value=Q - 1)

# The 4-torsion: identity (0, 1), order 2 (0, -1), order 4 (+-1, 0).
T2 = Point.from_xy(0, P - 1)
T4 = Point.from_xy(1, 0)
T4_NEG = Point.from_xy(P - 1, 0)


def _on_curve(x: int, y: int) -> bool:
    return (x * x + y * y - 1 - ed448.D * x * x * y * y) % P == 0


# --- constants ---------------------------------------------------------------------


def test_constants() -> None:
    assert P == 2**448 - 2**224 - 1
    assert gmpy2.is_prime(P) and gmpy2.is_prime(Q)
    assert Q < P and COFACTOR == 4
    assert (ed448.D - P) == -39081
    x, y = G.xy
    assert _on_curve(x, y)
    assert (G * Q).is_identity()
    assert not G.is_identity()
    assert IDENTITY.xy == (0, 1)
    # RFC 8032's encoding of the base point B.
    assert G.encode().hex() == (
        "14fa30f25b790898adc8d74e2c13bdfdc4397ce61cffd33ad7c2a0051e9c7887"
        "4098a36c7373ea4b62c7c9563720768824bcb66e71463f6900"
    )


def test_torsion_points_have_small_order() -> None:
    assert (T2 * 2).is_identity() and not T2.is_identity()
    assert (T4 * 4).is_identity() and T4 * 2 == T2
    assert T4 + T4_NEG == IDENTITY
    for t in (T2, T4, T4_NEG):
        assert not t.in_prime_order_subgroup()


# --- RFC 8032 vectors (all 11, verified with our own group arithmetic) -------------


def _dom4(prehash: bool, context: bytes) -> bytes:
    return b"SigEd448" + bytes((1 if prehash else 0, len(context))) + context


@pytest.mark.parametrize("v", RFC8032, ids=lambda v: f"rfc8032-{v['index']}")
def test_rfc8032_vector_with_our_arithmetic(v: dict[str, object]) -> None:
    secret = bytes.fromhex(str(v["secret_key_hex"]))
    public = bytes.fromhex(str(v["public_key_hex"]))
    message = bytes.fromhex(str(v["message_hex"]))
    sig = bytes.fromhex(str(v["signature_hex"]))
    context = bytes.fromhex(str(v["context_hex"]))
    # key generation (RFC 8032 5.2.5)
    h = kdf.shake256(secret, 114)
    sk = int.from_bytes(ed448.prune(h[:57]), "little")
    assert (G * sk).encode() == public
    # verification (RFC 8032 5.2.7): S*G == R + k*A
    a = ed448.decode_point(public)
    r = ed448.decode_point(sig[:57])
    s = ed448.decode_scalar(sig[57:])
    m = kdf.shake256(message, 64) if v["prehash"] else message
    k = int.from_bytes(
        kdf.shake256(_dom4(bool(v["prehash"]), context) + sig[:57] + public + m, 114), "little"
    )
    assert G * s == r + a * k
    assert G * s != r + a * (k + 1)


# --- encoding ----------------------------------------------------------------------


@given(scalars)
def test_decode_encode_round_trip(k: int) -> None:
    p = G * k
    enc = ed448.encode_point(p)
    assert len(enc) == 57
    q = ed448.decode_point(enc)
    assert q == p and q.encode() == enc and q.xy == p.xy
    assert hash(q) == hash(p)


@given(scalars, scalars)
def test_group_laws(a: int, b: int) -> None:
    assert G * a + G * b == G * ((a + b) % Q)
    assert G * a - G * b == G * ((a - b) % Q)
    assert -(G * a) == G * (Q - a)
    assert a * G == G * a
    assert (G * a) * b == G * (a * b % Q)
    assert G * (-a) == -(G * a)


@given(st.binary(min_size=57, max_size=57))
def test_random_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        p = ed448.decode_point(data)
    except InvalidGroupElement:
        return
    assert p.encode() == data
    assert not p.is_identity() and p.in_prime_order_subgroup()


def test_decode_wrong_length() -> None:
    for n in (0, 56, 58):
        with pytest.raises(DecodeError):
            ed448.decode_point(bytes(n))


# --- invalid points ----------------------------------------------------------------


def _encode_xy(x: int, y: int) -> bytes:
    return (y | ((x & 1) << 455)).to_bytes(57, "little")


def test_identity_rejected() -> None:
    enc = IDENTITY.encode()
    assert enc == b"\x01" + bytes(56)
    assert ed448.decode_point_unchecked(enc).is_identity()
    with pytest.raises(InvalidGroupElement, match="identity"):
        ed448.decode_point(enc)
    with pytest.raises(InvalidGroupElement, match="identity"):
        ed448.validate_point(IDENTITY)


@pytest.mark.parametrize("t", [T2, T4, T4_NEG], ids=["order2", "order4", "order4neg"])
def test_small_order_points_rejected(t: Point) -> None:
    enc = t.encode()
    assert ed448.decode_point_unchecked(enc) == t
    with pytest.raises(InvalidGroupElement, match="subgroup"):
        ed448.decode_point(enc)


@given(scalars, st.sampled_from([T2, T4, T4_NEG]))
def test_mixed_torsion_points_rejected(k: int, t: Point) -> None:
    p = G * k + t
    x, y = p.xy
    assert _on_curve(x, y)
    assert ed448.decode_point_unchecked(p.encode()) == p
    with pytest.raises(InvalidGroupElement, match="subgroup"):
        ed448.decode_point(p.encode())


def _slow_subgroup_check(p: Point) -> bool:
    return bool(p._as_ecc() * Q == IDENTITY._as_ecc())


@given(scalars, st.sampled_from([None, T2, T4, T4_NEG]))
def test_subgroup_test_agrees_with_multiplying_by_q(k: int, t: Point | None) -> None:
    # One point of each coset of the prime-order subgroup (E = Z/4 x Z/q).
    p = G * k if t is None else G * k + t
    fresh = Point(p._as_ecc())  # no cached answer
    x, y = p.xy
    assert ed448._in_four_e(x, y) is (t is None)
    assert fresh.in_prime_order_subgroup() is _slow_subgroup_check(p) is (t is None)


@given(st.binary(min_size=57, max_size=57))
def test_subgroup_test_on_decoded_points(data: bytes) -> None:
    try:
        p = ed448.decode_point_unchecked(data)
    except InvalidGroupElement:
        return
    assert Point(p._as_ecc()).in_prime_order_subgroup() is _slow_subgroup_check(p)


def test_subgroup_test_small_points() -> None:
    for t, inside in ((IDENTITY, True), (T2, False), (T4, False), (T4_NEG, False)):
        x, y = t.xy
        assert ed448._in_four_e(x, y) is inside
    # Many points in every coset, with the identity's neighbours G and -G.
    for k in range(1, 200):
        for t in (None, T2, T4, T4_NEG):
            p = G * k if t is None else G * k + t
            assert ed448._in_four_e(*p.xy) is (t is None), (k, t)


def test_off_curve_rejected() -> None:
    found = 0
    for y in range(2, 200):
        yy = y * y % P
        ratio = (yy - 1) * pow(ed448.D * yy - 1, -1, P) % P
        if pow(ratio, (P - 1) // 2, P) != 1:  # no square root: no point with this y
            found += 1
            for sign in (0, 1):
                with pytest.raises(InvalidGroupElement, match="not on the curve"):
                    ed448.decode_point_unchecked(_encode_xy(sign, y))
    assert found > 10
    with pytest.raises(InvalidGroupElement):
        Point.from_xy(1, 1)


def test_non_canonical_encodings_rejected() -> None:
    x, y = (G * 7).xy
    # y + p still fits below bit 455: the same point with a non-canonical y.
    with pytest.raises(InvalidGroupElement, match="non-canonical"):
        ed448.decode_point_unchecked(((y + P) | ((x & 1) << 455)).to_bytes(57, "little"))
    with pytest.raises(InvalidGroupElement, match="non-canonical"):
        ed448.decode_point_unchecked(P.to_bytes(57, "little"))  # y = p (== 0)
    with pytest.raises(InvalidGroupElement, match="non-canonical"):
        ed448.decode_point_unchecked((P + 1).to_bytes(57, "little"))  # y = p + 1 (== 1)
    with pytest.raises(InvalidGroupElement, match="non-canonical"):
        ed448.decode_point_unchecked(((1 << 455) - 1).to_bytes(57, "little"))
    # "negative zero": x = 0 with the sign bit set (identity and the order-2 point).
    for yy in (1, P - 1):
        with pytest.raises(InvalidGroupElement, match="negative zero"):
            ed448.decode_point_unchecked((yy | (1 << 455)).to_bytes(57, "little"))


def test_from_xy_range_checked() -> None:
    gx, gy = G.xy
    with pytest.raises(InvalidGroupElement, match="range"):
        Point.from_xy(gx + P, gy)
    with pytest.raises(InvalidGroupElement, match="range"):
        Point.from_xy(-1, 1)
    assert Point.from_xy(gx, gy) == G


def test_validation_result_is_cached() -> None:
    p = ed448.decode_point_unchecked((G * 5).encode())
    assert not p._subgroup
    assert ed448.validate_point(p) is p
    assert p._subgroup
    assert (p * 3)._subgroup and (p + G)._subgroup and (-p)._subgroup
    assert not (p + T2)._subgroup


def test_point_operator_type_errors() -> None:
    with pytest.raises(TypeError):
        G * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        G + 1  # type: ignore[operator]
    assert G != "G"
    assert G * 0 == IDENTITY and G * Q == IDENTITY
    assert "Point(" in repr(G)


# --- libdecaf (otr._decaf) against pycryptodome ------------------------------------
# pycryptodome is the oracle here: its own C arithmetic on the curve, independent of
# libdecaf.  Every result is compared through its encoding.

needs_decaf = pytest.mark.skipif(accelerator.decaf is None, reason="otr._decaf not built")


def _pyc(point: Point) -> Any:
    """The point as a pycryptodome EccPoint, computed without libdecaf."""
    x, y = ed448._decode_xy(point.encode())
    return ECC.EccPoint(x, y, curve="Ed448")  # type: ignore[attr-defined]


def _enc(ecc: Any) -> bytes:
    x, y = ecc.xy
    return (int(y) | ((int(x) & 1) << 455)).to_bytes(57, "little")


def test_decaf_is_used_when_built() -> None:
    if os.environ.get("OTR_REQUIRE_ACCELERATOR"):
        assert accelerator.decaf is not None
    p = G * 5
    assert (p._dp is not None) == (accelerator.decaf is not None)


@needs_decaf
@given(scalars, scalars, scalars)
def test_decaf_arithmetic_matches_pycryptodome(a: int, b: int, k: int) -> None:
    g = _pyc(G)
    pa = ed448.decode_point(_enc(g * a))  # from the wire: libdecaf's "ratio 1" form
    pb = G * b  # a product: the "ratio 4" form
    assert pa._dp is None and pb._dp is not None
    assert (G * k).encode() == _enc(g * k)
    assert (pa * k).encode() == _enc(g * (a * k % Q))
    assert (pb * k).encode() == _enc(g * (b * k % Q))
    for x, y in ((pa, pb), (pb, pa), (pa, pa), (pb, pb)):
        assert (x + y).encode() == _enc(_pyc(x) + _pyc(y))
        assert (x - y).encode() == _enc(_pyc(x) + (-_pyc(y)))
    assert (-pa).encode() == _enc(-_pyc(pa)) and (-pb).encode() == _enc(-_pyc(pb))
    want = _enc(g * a + _pyc(pb) * k)
    assert (G * a + pb * k).encode() == want
    assert ed448.base_mul_add_public(a, pb, k).encode() == want
    assert ed448.mul_add(pa, b, pb, k).encode() == _enc(_pyc(pa) * b + _pyc(pb) * k)


@needs_decaf
@given(scalars)
def test_decaf_equality_across_forms(k: int) -> None:
    wire = ed448.decode_point((G * k).encode())
    made = G * 1 * k  # ratio 4, no encoding cached
    assert made._enc is None
    assert wire._as_dp().eq(made._dp) and wire == made
    summed = wire + G - G  # ratio 1 form, no encoding cached
    assert summed._enc is None and summed == made and summed.encode() == wire.encode()
    assert summed.xy == (G * k).xy  # the pycryptodome form is made from the encoding
    assert not (wire - made)._as_dp().eq(G._as_dp())
    assert (wire - made).is_identity() and (wire - made) == IDENTITY


@needs_decaf
def test_decaf_identity_and_torsion() -> None:
    # libdecaf's decoder refuses the identity's encoding; the Point uses its constant.
    assert (IDENTITY + G) == G and (G + IDENTITY * 3).encode() == G.encode()
    assert (G - G).encode() == IDENTITY.encode()
    # Points outside the prime-order subgroup never reach libdecaf (it cannot hold them).
    mixed = G * 7 + T4
    assert mixed._dp is None and not mixed._subgroup
    assert (mixed * 5).encode() == _enc(_pyc(mixed) * 5)
    assert (mixed * 4) == G * 28


@needs_decaf
def test_decaf_rejects_bad_arguments() -> None:
    decaf = accelerator.decaf
    assert decaf is not None
    with pytest.raises(ValueError):
        decaf.Point448.decode(b"\xff" * 57)
    with pytest.raises(ValueError):
        decaf.Point448.decode(b"\x00" * 56)
    with pytest.raises(TypeError):
        decaf.BASE.mul(5)
    with pytest.raises(ValueError):
        decaf.BASE.mul(b"\x01" * 115)
    with pytest.raises(TypeError):
        decaf.BASE.add(G)
    with pytest.raises(TypeError):
        decaf.double_mul(decaf.BASE, b"\x01")
    assert decaf.base_mul(b"\x01").encode() == G.encode()
    assert decaf.BASE.encode() == G.encode() and decaf.IDENTITY.is_identity()


# --- scalars -----------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=Q - 1))
def test_scalar_round_trip(s: int) -> None:
    enc = ed448.encode_scalar(s)
    assert len(enc) == 57 and enc[-1] == 0
    assert ed448.decode_scalar(enc) == s
    assert ed448.scalar_from_bytes_mod_q(enc) == s


def test_scalar_range() -> None:
    with pytest.raises(ValueError):
        ed448.encode_scalar(Q)
    with pytest.raises(ValueError):
        ed448.encode_scalar(-1)
    with pytest.raises(InvalidGroupElement):
        ed448.decode_scalar(Q.to_bytes(57, "little"))
    with pytest.raises(InvalidGroupElement):
        ed448.decode_scalar(b"\xff" * 57)
    with pytest.raises(DecodeError):
        ed448.decode_scalar(bytes(56))
    assert ed448.scalar_from_bytes_mod_q((Q + 5).to_bytes(57, "little")) == 5


def test_prune() -> None:
    h = ed448.prune(b"\xff" * 57)
    assert h[0] == 0xFC and h[55] == 0xFF and h[56] == 0
    h = ed448.prune(bytes(57))
    assert h[55] == 0x80 and int.from_bytes(h, "little") == 1 << 447
    with pytest.raises(ValueError):
        ed448.prune(bytes(56))


def test_random_scalar_follows_the_spec() -> None:
    value = bytes(range(57))
    expected = int.from_bytes(ed448.prune(hashlib.shake_256(value).digest(57)), "little") % Q
    assert ed448.random_scalar(lambda n: value[:n]) == expected
    with pytest.raises(ValueError):
        ed448.random_scalar(lambda n: bytes(n - 1))


def test_random_scalar_own_vectors() -> None:
    rng = load_v4_generator().PinnedRng(OWN["random_scalar_rng_label"])
    got = [ed448.encode_scalar(ed448.random_scalar(rng)).hex() for _ in OWN["random_scalars_hex"]]
    assert got == OWN["random_scalars_hex"]


def test_hash_to_scalar() -> None:
    data = b"some data"
    h = hashlib.shake_256(b"OTRv4" + bytes((0x1A,)) + data).digest(57)
    assert ed448.hash_to_scalar(0x1A, data) == int.from_bytes(h, "little") % Q
    h = hashlib.shake_256(b"OTR-Prekey-Server" + bytes((0x11,)) + data).digest(57)
    assert (
        ed448.hash_to_scalar(0x11, data, domain=b"OTR-Prekey-Server")
        == int.from_bytes(h, "little") % Q
    )
    for v in OWN["hash_to_scalar"]:
        s = ed448.hash_to_scalar(v["usage_id"], bytes.fromhex(v["data_hex"]))
        assert ed448.encode_scalar(s).hex() == v["scalar_hex"]
