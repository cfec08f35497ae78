"""Ed448 group: constants, RFC 8032 vectors checked with our own arithmetic,
encoding round trips, full point validation, scalars, HashToScalar."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS, load_v4_generator
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
    return bool(p._ecc * Q == IDENTITY._ecc)


@given(scalars, st.sampled_from([None, T2, T4, T4_NEG]))
def test_subgroup_test_agrees_with_multiplying_by_q(k: int, t: Point | None) -> None:
    # One point of each coset of the prime-order subgroup (E = Z/4 x Z/q).
    p = G * k if t is None else G * k + t
    fresh = Point(p._ecc)  # no cached answer
    x, y = p.xy
    assert ed448._in_four_e(x, y) is (t is None)
    assert fresh.in_prime_order_subgroup() is _slow_subgroup_check(p) is (t is None)


@given(st.binary(min_size=57, max_size=57))
def test_subgroup_test_on_decoded_points(data: bytes) -> None:
    try:
        p = ed448.decode_point_unchecked(data)
    except InvalidGroupElement:
        return
    assert Point(p._ecc).in_prime_order_subgroup() is _slow_subgroup_check(p)


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
