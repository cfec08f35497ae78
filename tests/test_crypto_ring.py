"""Ring signatures: any of the three keys signs, every change breaks
verification, RING-SIG encoding, our pinned vectors, and libotr-ng's
(non-final) conventions reproduced with our group arithmetic."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS, load_v4_generator
from otr.crypto import ed448, kdf, ring
from otr.crypto.ed448 import G, Point, Q
from otr.crypto.ring import RingSignature
from otr.errors import DecodeError, InvalidGroupElement
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair
from otr4j_transcripts import load_transcripts

OWN = json.loads((Path(__file__).parent / "vectors" / "otrv4_ring_signatures.json").read_text())
LIBOTR_NG = json.loads((SPEC_VECTORS / "otrv4-libotr-ng-kat.json").read_text())["vectors"]

KEYS = [Ed448KeyPair.generate(os.urandom) for _ in range(2)]
EPHEMERAL = ECDHKeyPair.generate(os.urandom)
# A DAKE-like ring {F_b, H_a, Y}; secrets for all three are known here.
SECRETS = [KEYS[0].secret, KEYS[1].secret, EPHEMERAL.secret]
RING = [KEYS[0].public, KEYS[1].public, EPHEMERAL.public]
SIGMA = ring.rsig(SECRETS[1], RING[1], RING, b"the message", os.urandom)
T2 = Point.from_xy(0, ed448.P - 1)


@given(st.integers(0, 2), st.binary(max_size=64))
def test_any_of_the_three_keys_signs(signer: int, message: bytes) -> None:
    sigma = ring.rsig(SECRETS[signer], RING[signer], RING, message, os.urandom)
    assert ring.rvrf(RING, sigma, message)
    assert ring.rvrf(RING, RingSignature.decode(sigma.encode()), message)
    assert not ring.rvrf(RING, sigma, message + b"x")


def test_sigma_is_valid() -> None:
    assert ring.rvrf(RING, SIGMA, b"the message")
    assert len(SIGMA.encode()) == ring.RING_SIG_BYTES == 342


@pytest.mark.parametrize("message", [b"", b"the messagf", b"the message\x00", b"he message"])
def test_changed_message_fails(message: bytes) -> None:
    assert not ring.rvrf(RING, SIGMA, message)


@pytest.mark.parametrize("index", range(6))
def test_changed_scalar_fails(index: int) -> None:
    scalars = list(SIGMA.scalars())
    scalars[index] = (scalars[index] + 1) % Q
    assert not ring.rvrf(RING, RingSignature(*scalars), b"the message")


@given(st.integers(0, 341), st.integers(1, 255))
def test_changed_signature_bytes_fail(pos: int, xor: int) -> None:
    enc = bytearray(SIGMA.encode())
    enc[pos] ^= xor
    try:
        sigma = RingSignature.decode(bytes(enc))
    except InvalidGroupElement:
        return  # out-of-range scalar: rejected while parsing
    assert not ring.rvrf(RING, sigma, b"the message")


def test_changed_keys_fail() -> None:
    other = Ed448KeyPair.generate(os.urandom).public
    for i in range(3):
        keys = list(RING)
        keys[i] = other
        assert not ring.rvrf(keys, SIGMA, b"the message")
    assert not ring.rvrf([RING[1], RING[0], RING[2]], SIGMA, b"the message")
    assert not ring.rvrf([RING[0], RING[2], RING[1]], SIGMA, b"the message")


def test_other_scheme_fails() -> None:
    assert not ring.rvrf(RING, SIGMA, b"the message", scheme=ring.PREKEY_SERVER)
    raw = ring.RingScheme(message_as_data=False)
    assert not ring.rvrf(RING, SIGMA, b"the message", scheme=raw)
    sigma = ring.rsig(SECRETS[0], RING[0], RING, b"m", os.urandom, scheme=ring.PREKEY_SERVER)
    assert ring.rvrf(RING, sigma, b"m", scheme=ring.PREKEY_SERVER)
    assert not ring.rvrf(RING, sigma, b"m")


def test_challenge_hash_input_layout() -> None:
    ts = [G * 3, G * 4, G * 5]
    m = b"msg"
    data = (
        G.encode()
        + Q.to_bytes(57, "little")
        + b"".join(p.encode() for p in RING)
        + b"".join(t.encode() for t in ts)
        + len(m).to_bytes(4, "big")
        + m
    )
    assert ring.challenge(RING, ts, m) == ed448.hash_to_scalar(0x1A, data)


def test_invalid_ring_keys() -> None:
    bad_rings = [
        [RING[0], RING[1] + T2, RING[2]],  # mixed torsion
        [RING[0], RING[1], ed448.IDENTITY],
    ]
    for keys in bad_rings:
        assert not ring.rvrf(keys, SIGMA, b"the message")
        with pytest.raises(InvalidGroupElement):
            ring.rsig(SECRETS[0], RING[0], keys, b"m", os.urandom)
    with pytest.raises(ValueError):
        ring.rvrf(RING[:2], SIGMA, b"m")


def test_signer_must_match() -> None:
    with pytest.raises(ValueError, match="does not match"):
        ring.rsig(SECRETS[0], RING[1], RING, b"m", os.urandom)
    outsider = Ed448KeyPair.generate(os.urandom)
    with pytest.raises(ValueError, match="not in the ring"):
        ring.rsig(outsider.secret, outsider.public, RING, b"m", os.urandom)


def test_out_of_range_scalars_rejected() -> None:
    scalars = list(SIGMA.scalars())
    scalars[1] += Q  # same value mod q: must not verify (malleability)
    assert not ring.rvrf(RING, RingSignature(*scalars), b"the message")
    enc = SIGMA.encode()
    with pytest.raises(InvalidGroupElement):
        RingSignature.decode(enc[:57] + Q.to_bytes(57, "little") + enc[114:])
    with pytest.raises(DecodeError):
        RingSignature.decode(enc[:-1])


def test_randomised() -> None:
    a = ring.rsig(SECRETS[0], RING[0], RING, b"m", os.urandom)
    b = ring.rsig(SECRETS[0], RING[0], RING, b"m", os.urandom)
    assert a != b


# --- our pinned vectors ----------------------------------------------------------


@pytest.mark.parametrize("v", OWN["vectors"], ids=lambda v: f"{v['scheme']}-{v['signer_index']}")
def test_own_vectors(v: dict[str, Any]) -> None:
    gen = load_v4_generator()
    scheme = ring.OTRV4 if v["scheme"] == "OTRv4" else ring.PREKEY_SERVER
    keys = [ed448.decode_point(bytes.fromhex(h)) for h in v["ring_hex"]]
    signer = Ed448KeyPair.from_symmetric_key(bytes.fromhex(v["signer_sym_key_hex"]))
    assert signer.public == keys[v["signer_index"]]
    message = bytes.fromhex(v["message_hex"])
    sigma = RingSignature.decode(bytes.fromhex(v["sigma_hex"]))
    assert ring.rvrf(keys, sigma, message, scheme=scheme)
    again = ring.rsig(
        signer.secret, signer.public, keys, message, gen.PinnedRng(v["rng_label"]), scheme=scheme
    )
    assert again.encode().hex() == v["sigma_hex"]


def test_own_vectors_count() -> None:
    assert len(OWN["vectors"]) == 6


# --- libotr-ng conventions (NOT final-spec expectations, ERRATA B4 / C) -----------


def _libotr_ng(name_part: str) -> dict[str, Any]:
    (v,) = [v for v in LIBOTR_NG if name_part in v["name"]]
    assert v["final_spec_compatible"] is False
    return v


def _libotr_ng_challenge(domain: bytes, usage: int, points: list[bytes], m: bytes) -> int:
    data = G.encode() + Q.to_bytes(56, "big") + b"".join(points) + m
    return int.from_bytes(kdf.kdf(usage, data, 64, domain=domain), "little") % Q


def test_libotr_ng_challenge_reproduced_with_its_conventions() -> None:
    v = _libotr_ng("ring-signature challenge")
    (points_hex,) = [x for k, x in v["inputs"].items() if k.startswith("A1,A2,A3")]
    for n, h in enumerate(points_hex, start=1):  # keys of the secrets 01 00.., 02 00.., ...
        assert Ed448KeyPair.from_symmetric_key(bytes([n]) + bytes(56)).public_bytes.hex() == h
    points = [bytes.fromhex(h) for h in points_hex]
    c = _libotr_ng_challenge(b"OTRv4", 0x1C, points, v["inputs"]["m"].encode())
    assert c.to_bytes(57, "little").hex() == v["outputs"]["c_hex (scalar, little-endian)"]
    # ... and our final-spec challenge differs.
    keys = [ed448.decode_point(p) for p in points]
    assert ring.challenge(keys[:3], keys[3:], v["inputs"]["m"].encode()) != c


def test_libotr_ng_prekey_server_signature_verifies_only_with_its_conventions() -> None:
    v = _libotr_ng("Go prekey server")
    keys = [ed448.decode_point(bytes.fromhex(v["inputs"][f"A{n}_hex"])) for n in (1, 2, 3)]
    sigma_hex = next(x for k, x in v["outputs"].items() if k.startswith("sigma_hex"))
    raw = bytes.fromhex(sigma_hex)
    assert len(raw) == 6 * 56  # 56-byte scalars: not a final-spec RING-SIG
    c1, r1, c2, r2, c3, r3 = (int.from_bytes(raw[i : i + 56], "little") for i in range(0, 336, 56))
    m = v["inputs"]["m"].encode()
    # libgoldilocks' "divided by 4" r values: T_i = G*(4*r_i) + A_i*c_i.
    ts = [G * (4 * r) + a * c for a, c, r in zip(keys, (c1, c2, c3), (r1, r2, r3), strict=True)]
    c = _libotr_ng_challenge(b"OTR-Prekey-Server", 0x11, [p.encode() for p in keys + ts], m)
    assert c == (c1 + c2 + c3) % Q
    # The spec's verification equation rejects it.
    sigma = RingSignature(c1 % Q, r1 % Q, c2 % Q, r2 % Q, c3 % Q, r3 % Q)
    assert not ring.rvrf(keys, sigma, m, scheme=ring.PREKEY_SERVER)
    raw_m = ring.RingScheme(kdf.PREKEY_SERVER_DOMAIN, kdf.PS_USAGE_AUTH, message_as_data=False)
    assert not ring.rvrf(keys, sigma, m, scheme=raw_m)


# --- otr4j's ring signatures (the transcripts' Auth-R and Auth-I) ----------------------------


def _otr4j_ring_cases() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    cases = []
    for t in load_transcripts():
        dake = t["dake"]
        if "auth_i" in dake:
            cases.append((t["id"], "auth_r", t, dake["auth_r_sender"]["ring_signature"]))
            cases.append((t["id"], "auth_i", t, dake["auth_i"]))
    return cases


def _sigma(rec: dict[str, Any]) -> RingSignature:
    return RingSignature(
        *(
            int.from_bytes(bytes.fromhex(rec["sigma"][n]), "little")
            for n in ("c1", "r1", "c2", "r2", "c3", "r3")
        )
    )


@pytest.mark.parametrize(
    ("tid", "which", "t", "rec"), _otr4j_ring_cases(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_otr4j_ring_signatures(
    tid: str, which: str, t: dict[str, Any], rec: dict[str, Any]
) -> None:
    """RVrf accepts otr4j's sigma; RSig with otr4j's seven draws gives the same sigma
    (ERRATA D.1 B.4: rings {F_b, H_a, Y} for Auth-R and {H_b, F_a, X} for Auth-I)."""
    parties = t["parties"]
    dake = t["dake"]
    bob, alice = dake["identity_sender"]["party"], dake["auth_r_sender"]["party"]

    def point(h: str) -> Point:
        return ed448.decode_point(bytes.fromhex(h))

    y = point(dake["identity_sender_secrets"]["y"]["public"])
    x = point(dake["auth_r_sender"]["x"]["public"])
    if which == "auth_r":
        signer_party, signer_index = alice, 1
        keys = [
            point(parties[bob]["forging"]["public"]),
            point(parties[alice]["long_term"]["public"]),
            y,
        ]
    else:
        signer_party, signer_index = bob, 0
        keys = [
            point(parties[bob]["long_term"]["public"]),
            point(parties[alice]["forging"]["public"]),
            x,
        ]
    message = bytes.fromhex(rec["t"])
    assert len(message) == rec["t_length"] == 1083
    sigma = _sigma(rec)
    assert ring.rvrf(keys, sigma, message)
    assert not ring.rvrf(keys, sigma, message[:-1] + bytes([message[-1] ^ 1]))
    signer = Ed448KeyPair.from_symmetric_key(
        bytes.fromhex(parties[signer_party]["long_term"]["symmetric_key"])
    )
    draws = [
        bytes.fromhex(d["bytes"])
        for d in t["random_draws"][signer_party]
        if "ringSign" in d["site"] and d["step"] == _ring_step(t, signer_party)
    ]
    assert len(draws) == 7
    it = iter(draws)
    again = ring.rsig(signer.secret, keys[signer_index], keys, message, lambda n: next(it))
    assert again == sigma


def _ring_step(t: dict[str, Any], party: str) -> int:
    steps = {d["step"] for d in t["random_draws"][party] if "ringSign" in d["site"]}
    return min(steps)
