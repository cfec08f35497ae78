"""Client and Prekey Profiles: build/encode/decode round trips, signatures
checked with `cryptography`, every rejection reason, our pinned vectors."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS, load_v4_generator
from otr.crypto import ed448
from otr.crypto.dsa import DSAPrivateKey
from otr.crypto.ed448 import G, Point, Q
from otr.errors import DecodeError, InvalidGroupElement
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair, ForgingKey, fingerprint
from otr.v4.profiles import (
    ClientProfile,
    PrekeyProfile,
    ProfileError,
    ProfileRejection,
    build_client_profile,
    build_prekey_profile,
)
from otr.wire.buffer import Reader, Writer, encode_data
from otr.wire.v4 import types as wt
from otr4j_transcripts import load_transcripts

VECTORS = Path(__file__).parent / "vectors"
OWN_CLIENT = json.loads((VECTORS / "otrv4_client_profiles.json").read_text())
OWN_PREKEY = json.loads((VECTORS / "otrv4_prekey_profiles.json").read_text())
LIBOTR_NG = json.loads((SPEC_VECTORS / "otrv4-libotr-ng-kat.json").read_text())["vectors"]
TRANSCRIPTS = load_transcripts()


GEN = load_v4_generator()
NOW = 1_700_000_000
EXP = NOW + 7 * 86400
TAG = 0x12345678
H = Ed448KeyPair.generate(GEN.PinnedRng("test-profiles-H"))
F = ForgingKey.generate(GEN.PinnedRng("test-profiles-F")).public
DSA: DSAPrivateKey = GEN.dsa_key("test-profiles-dsa")
T2 = Point.from_xy(0, ed448.P - 1)


# --- raw field helpers (to build profiles the builder refuses to make) -----------------


def f_tag(tag: int = TAG) -> bytes:
    return b"\x00\x01" + tag.to_bytes(4, "big")


def f_key(
    point: Point, ftype: int = 2, key_type: int = 0x0010, order: Literal["little", "big"] = "little"
) -> bytes:
    return ftype.to_bytes(2, "big") + key_type.to_bytes(2, order) + point.encode()


def f_forging(point: Point = F) -> bytes:
    return f_key(point, 3, 0x0012)


def f_versions(v: bytes = b"4") -> bytes:
    return b"\x00\x04" + encode_data(v)


def f_exp(exp: int = EXP) -> bytes:
    return b"\x00\x05" + exp.to_bytes(8, "big", signed=True)


def f_dsa(key: DSAPrivateKey = DSA) -> bytes:
    return b"\x00\x06" + key.public.encode()


def f_trans(sig: bytes) -> bytes:
    return b"\x00\x07" + sig


def standard(public: Point | None = None) -> list[bytes]:
    return [f_tag(), f_key(public or H.public), f_forging(), f_versions(), f_exp()]


def assemble(
    fields: list[bytes],
    signer: Ed448KeyPair = H,
    count: int | None = None,
    signature: bytes | None = None,
) -> bytes:
    body = (len(fields) if count is None else count).to_bytes(4, "big") + b"".join(fields)
    return body + (signer.sign(canonical(fields)) if signature is None else signature)


def canonical(fields: list[bytes]) -> bytes:
    """What otr4j signs (ERRATA D.2): the fields sorted by type, without the count."""
    return b"".join(sorted(fields, key=lambda f: f[:2]))


def reason_of_decode(data: bytes) -> ProfileRejection:
    with pytest.raises(ProfileError) as info:
        ClientProfile.decode(data)
    return info.value.reason


def reason_of_validate(data: bytes, **kw: Any) -> ProfileRejection:
    profile = ClientProfile.decode(data)
    with pytest.raises(ProfileError) as info:
        profile.validate(kw.pop("now", NOW), **kw)
    assert info.value.reason.value in str(info.value)
    return info.value.reason


def sign_with_torsion_key(sk: int, public_enc: bytes, message: bytes) -> bytes:
    """An Ed448 signature that verifies (cofactored) under a mixed-torsion key."""
    r = ed448.random_scalar(os.urandom)
    big_r = (G * r).encode()
    k = hashlib.shake_256(b"SigEd448\x00\x00" + big_r + public_enc + message).digest(114)
    s = (r + int.from_bytes(k, "little") * sk) % Q
    return big_r + s.to_bytes(57, "little")


# --- Client Profile: round trips ---------------------------------------------------------


def test_v4_only_round_trip() -> None:
    p = build_client_profile(H, F, TAG, "4", EXP)
    data = p.encode()
    assert data[:4] == (5).to_bytes(4, "big")
    assert data == assemble(standard())  # the layout of the module docstring
    q = ClientProfile.decode(data)
    assert q == p and q.encode() == data
    q.validate(NOW, sender_instance_tag=TAG)
    assert q.dsa_public_key is None and q.transitional_signature is None
    assert q.supported_versions == {4}
    assert q.fingerprint() == fingerprint(H.public, F)


def test_signature_verifies_with_cryptography() -> None:
    p = build_client_profile(H, F, TAG, "4", EXP)
    data = p.encode()
    assert len(p.signature) == 114 and data.endswith(p.signature)
    # otr4j's form: the fields without the 4-byte count (ERRATA D.2)
    Ed448PublicKey.from_public_bytes(H.public_bytes).verify(p.signature, data[4:-114])
    assert p.signed_message == data[4:-114]
    pp = build_prekey_profile(H, TAG, EXP, F)
    Ed448PublicKey.from_public_bytes(H.public_bytes).verify(pp.signature, pp.encode()[:-114])


def test_v3_compatible_round_trip() -> None:
    p = build_client_profile(H, F, TAG, "34", EXP, dsa_key=DSA, rng=os.urandom)
    q = ClientProfile.decode(p.encode())
    assert q == p
    assert q.dsa_public_key == DSA.public
    assert q.transitional_signature is not None and len(q.transitional_signature) == 40
    # The transitional signature covers fields 0x0001-0x0006 (types included, no count).
    fields = standard()
    fields[3] = f_versions(b"34")
    assert q.transitional_message == b"".join([*fields, f_dsa()])
    assert DSA.public.verify(q.transitional_message, q.transitional_signature)
    assert q.body == (7).to_bytes(4, "big") + q.transitional_message + f_trans(
        q.transitional_signature
    )
    q.validate(NOW, sender_instance_tag=TAG)
    assert q.supported_versions == {3, 4}


def test_transitional_signature_without_dsa_key() -> None:
    p = build_client_profile(
        H, F, TAG, "43", EXP, dsa_key=DSA, include_dsa_public_key=False, rng=os.urandom
    )
    q = ClientProfile.decode(p.encode())
    assert q.dsa_public_key is None and q.transitional_signature is not None
    q.validate(NOW)
    assert not q.verify_transitional_signature()  # no key to check it with yet
    assert q.verify_transitional_signature(DSA.public)  # key learned from an OTRv3 session


def test_read_from_a_longer_message() -> None:
    data = build_client_profile(H, F, TAG, "4", EXP).encode()
    r = Reader(data + b"rest of the DAKE message")
    assert ClientProfile.read(r).encode() == data
    assert r.get_rest() == b"rest of the DAKE message"


def test_field_order_is_preserved() -> None:
    fields = standard()
    fields.reverse()
    data = assemble(fields)
    q = ClientProfile.decode(data)
    assert q.encode() == data
    assert q.signed_message == canonical(fields) != b"".join(fields)
    q.validate(NOW)


def test_signature_forms_otr4j_does_not_make_are_rejected() -> None:
    fields = standard()
    body = (5).to_bytes(4, "big") + b"".join(fields)
    # libotr-ng's form: the count included
    assert reason_of_validate(body + H.sign(body)) is ProfileRejection.SIGNATURE_INVALID
    # wire order instead of canonical order
    fields.reverse()
    body = (5).to_bytes(4, "big") + b"".join(fields)
    data = body + H.sign(b"".join(fields))
    assert reason_of_validate(data) is ProfileRejection.SIGNATURE_INVALID


@given(
    st.integers(0x100, 0xFFFFFFFF),
    st.sampled_from(["4", "34", "43", "4x"]),
    st.integers(NOW + 1, 2**63 - 1),
)
def test_round_trip_property(tag: int, versions: str, exp: int) -> None:
    p = build_client_profile(H, F, tag, versions, exp)
    q = ClientProfile.decode(p.encode())
    assert q == p
    q.validate(NOW, sender_instance_tag=tag)


def test_builder_refuses_invalid_input() -> None:
    with pytest.raises(ValueError):
        build_client_profile(H, F, 0xFF, "4", EXP)
    with pytest.raises(ValueError):
        build_client_profile(H, F, TAG, "3", EXP)
    with pytest.raises(ValueError):
        build_client_profile(H, F, TAG, "234", EXP)
    with pytest.raises(ValueError):
        build_prekey_profile(H, 0, EXP, F)


# --- Client Profile: otr4j's profiles (the transcripts) ---------------------------------


@pytest.mark.parametrize(
    ("transcript", "party"),
    [(t, p) for t in TRANSCRIPTS for p in ("alice", "bob")],
    ids=lambda x: x["id"] if isinstance(x, dict) else x,
)
def test_otr4j_client_profiles(transcript: dict[str, Any], party: str) -> None:
    who = transcript["parties"][party]
    data = bytes.fromhex(who["client_profile"])
    profile = ClientProfile.decode(data)
    assert profile.encode() == data
    profile.validate(transcript["now_unix"], sender_instance_tag=who["instance_tag"])
    assert profile.instance_tag == who["instance_tag"]
    assert profile.expiration == who["client_profile_expiration"]
    assert profile.public_key.encode().hex() == who["long_term"]["public"]
    assert profile.forging_key.encode().hex() == who["forging"]["public"]
    assert profile.fingerprint().hex() == who["fingerprint"]
    h = Ed448KeyPair.from_symmetric_key(bytes.fromhex(who["long_term"]["symmetric_key"]))
    assert h.public == profile.public_key
    assert h.secret == int.from_bytes(bytes.fromhex(who["long_term"]["secret_scalar"]), "little")
    with pytest.raises(ProfileError) as info:
        profile.validate(who["client_profile_expiration"])
    assert info.value.reason is ProfileRejection.EXPIRED
    dsa = who.get("dsa")
    if dsa is not None and dsa["in_profile"]:
        assert profile.supported_versions == {3, 4}
        assert profile.dsa_public_key is not None
        assert profile.dsa_public_key.y == int(dsa["y"], 16)
        assert profile.verify_transitional_signature()
    else:
        assert profile.supported_versions == {4}
        assert profile.dsa_public_key is None and profile.transitional_signature is None
    # Ours, rebuilt from the same keys and fields, is byte-identical when no DSA
    # signature (whose nonce otr4j did not record) is involved.
    if profile.transitional_signature is None:
        forging = ForgingKey(profile.forging_key).public
        rebuilt = build_client_profile(
            h, forging, profile.instance_tag, profile.versions, profile.expiration
        )
        assert rebuilt.encode() == data


# --- Client Profile: every rejection reason -----------------------------------------------


def test_reason_malformed() -> None:
    data = build_client_profile(H, F, TAG, "4", EXP).encode()
    for cut in (0, 3, 10, 100, len(data) - 1):
        assert reason_of_decode(data[:cut]) is ProfileRejection.MALFORMED
    assert reason_of_decode(data + b"\x00") is ProfileRejection.MALFORMED
    assert reason_of_decode(assemble(standard(), count=8)) is ProfileRejection.MALFORMED
    # a count larger than the fields present: the signature is read as fields
    assert reason_of_decode(assemble(standard(), count=6)) in (
        ProfileRejection.UNKNOWN_FIELD,
        ProfileRejection.DUPLICATE_FIELD,
        ProfileRejection.MALFORMED,
    )


def test_reason_unknown_field() -> None:
    data = assemble([*standard(), b"\x00\x08" + bytes(4)])
    assert reason_of_decode(data) is ProfileRejection.UNKNOWN_FIELD


def test_reason_duplicate_field() -> None:
    assert reason_of_decode(assemble([*standard(), f_tag()])) is ProfileRejection.DUPLICATE_FIELD


@pytest.mark.parametrize("missing", range(5))
def test_reason_missing_field(missing: int) -> None:
    fields = standard()
    del fields[missing]
    assert reason_of_decode(assemble(fields)) is ProfileRejection.MISSING_FIELD


def test_reason_bad_key_type() -> None:
    fields = standard()
    fields[1] = f_key(H.public, order="big")  # libotr-ng's 00 10 (ERRATA B16)
    assert reason_of_decode(assemble(fields)) is ProfileRejection.BAD_KEY_TYPE
    fields = standard()
    fields[2] = f_key(F, 3, 0x0010)  # a forging key must carry 0x0012
    assert reason_of_decode(assemble(fields)) is ProfileRejection.BAD_KEY_TYPE


def test_libotr_ng_profile_rejected_for_its_big_endian_key_type() -> None:
    (v,) = [v for v in LIBOTR_NG if "message t" in v["name"]]
    (profile_hex,) = [x for k, x in v["inputs"].items() if k.startswith("bob_client_profile")]
    assert reason_of_decode(bytes.fromhex(profile_hex)) is ProfileRejection.BAD_KEY_TYPE


def test_reason_signature_missing() -> None:
    data = assemble(standard(), signature=bytes(114))
    assert reason_of_validate(data) is ProfileRejection.SIGNATURE_MISSING


def test_reason_signature_invalid() -> None:
    other = Ed448KeyPair.generate(os.urandom)
    assert reason_of_validate(assemble(standard(), signer=other)) is (
        ProfileRejection.SIGNATURE_INVALID
    )
    data = bytearray(build_client_profile(H, F, TAG, "4", EXP).encode())
    data[4 + 6 + 61 + 61 + 7 + 2 + 7] ^= 1  # low byte of the expiration
    assert ClientProfile.decode(bytes(data)).expiration == EXP ^ 1
    assert reason_of_validate(bytes(data)) is ProfileRejection.SIGNATURE_INVALID
    data = bytearray(build_client_profile(H, F, TAG, "4", EXP).encode())
    data[-1] ^= 1
    assert reason_of_validate(bytes(data)) is ProfileRejection.SIGNATURE_INVALID


def test_reason_instance_tag() -> None:
    fields = standard()
    fields[0] = f_tag(0xFF)
    assert reason_of_validate(assemble(fields)) is ProfileRejection.INSTANCE_TAG_INVALID
    data = assemble(standard())
    assert reason_of_validate(data, sender_instance_tag=TAG + 1) is (
        ProfileRejection.INSTANCE_TAG_MISMATCH
    )
    ClientProfile.decode(data).validate(NOW, sender_instance_tag=TAG)


def test_reason_expired() -> None:
    data = assemble(standard())
    assert reason_of_validate(data, now=EXP) is ProfileRejection.EXPIRED
    assert reason_of_validate(data, now=EXP + 10**6) is ProfileRejection.EXPIRED
    profile = ClientProfile.decode(data)
    profile.validate(EXP - 1)
    profile.validate(EXP + 3600, grace=86400)  # locally used after expiry (spec: ~1 day)
    assert reason_of_validate(data, now=EXP + 86400, grace=86400) is ProfileRejection.EXPIRED
    fields = standard()
    fields[4] = f_exp(-1)  # signed: before 1970
    assert reason_of_validate(assemble(fields)) is ProfileRejection.EXPIRED


@pytest.mark.parametrize(
    ("versions", "reason"),
    [
        (b"", ProfileRejection.VERSIONS_MISSING_V4),
        (b"3", ProfileRejection.VERSIONS_MISSING_V4),
        (b"2", ProfileRejection.VERSIONS_MISSING_V4),
        (b"0", ProfileRejection.VERSIONS_MISSING_V4),
    ],
)
def test_reason_versions(versions: bytes, reason: ProfileRejection) -> None:
    fields = standard()
    fields[3] = f_versions(versions)
    assert reason_of_validate(assemble(fields)) is reason


@pytest.mark.parametrize("versions", [b"24", b"413", b"04", b"49"])
def test_versions_one_and_two_accepted_as_otr4j_does(versions: bytes) -> None:
    # ERRATA D.1 B.17: otr4j skips '0' and unknown digits and does not reject 1/2.
    fields = standard()
    fields[3] = f_versions(versions)
    profile = ClientProfile.decode(assemble(fields))
    profile.validate(NOW)
    assert profile.supported_versions == ({3, 4} if b"3" in versions else {4})


def test_versions_other_characters_ignored() -> None:
    fields = standard()
    fields[3] = f_versions(b"4\x00")  # libotr-ng's stored form (ERRATA B17)
    profile = ClientProfile.decode(assemble(fields))
    profile.validate(NOW)
    assert profile.supported_versions == {4}


def test_reason_public_key_invalid() -> None:
    # On the curve but not in the prime-order subgroup; OpenSSL's (cofactored)
    # verification accepts the signature, the point check must not.
    mixed = H.public + T2
    body_fields = standard(public=mixed)
    body = (5).to_bytes(4, "big") + b"".join(body_fields)
    sig = sign_with_torsion_key(H.secret, mixed.encode(), body[4:])
    assert reason_of_validate(body + sig) is ProfileRejection.PUBLIC_KEY_INVALID
    # Not a point at all: rejected while decoding.
    bad = standard()
    bad[1] = b"\x00\x02\x10\x00" + b"\xff" * 57
    assert reason_of_decode(assemble(bad)) is ProfileRejection.PUBLIC_KEY_INVALID


@pytest.mark.parametrize(
    "forging",
    [ed448.IDENTITY, T2, Point.from_xy(1, 0), F + T2],
    ids=["identity", "order2", "order4", "mixed"],
)
def test_reason_forging_key_invalid(forging: Point) -> None:
    fields = standard()
    fields[2] = f_forging(forging)
    assert reason_of_validate(assemble(fields)) is ProfileRejection.FORGING_KEY_INVALID


def test_reason_forging_key_not_a_point() -> None:
    fields = standard()
    fields[2] = b"\x00\x03\x12\x00" + (ed448.P + 1).to_bytes(57, "little")
    assert reason_of_decode(assemble(fields)) is ProfileRejection.FORGING_KEY_INVALID


def test_reason_dsa_key_invalid() -> None:
    small = DSAPrivateKey.from_numbers(23, 11, 4, pow(4, 3, 23), 3)  # far too small
    fields = [*standard(), f_dsa(small)]
    assert reason_of_decode(assemble(fields)) is ProfileRejection.DSA_KEY_INVALID


def test_reason_transitional_signature_missing() -> None:
    data = assemble([*standard(), f_dsa()])
    assert reason_of_validate(data) is ProfileRejection.TRANSITIONAL_SIGNATURE_MISSING


def test_reason_transitional_signature_invalid() -> None:
    fields = [*standard(), f_dsa()]
    wrong = DSA.sign(b"something else", os.urandom)
    data = assemble([*fields, f_trans(wrong)])
    assert reason_of_validate(data) is ProfileRejection.TRANSITIONAL_SIGNATURE_INVALID
    # The check is optional in the spec; it can be skipped.
    ClientProfile.decode(data).validate(NOW, verify_transitional=False)
    good = DSA.sign(b"".join(fields), os.urandom)
    ClientProfile.decode(assemble([*fields, f_trans(good)])).validate(NOW)


def test_validation_order_follows_the_spec() -> None:
    # expired AND versions wrong AND bad forging key: the spec checks expiry first.
    fields = standard()
    fields[2] = f_forging(ed448.IDENTITY)
    fields[3] = f_versions(b"3")
    data = assemble(fields)
    assert reason_of_validate(data, now=EXP) is ProfileRejection.EXPIRED
    assert reason_of_validate(data) is ProfileRejection.VERSIONS_MISSING_V4


# --- Prekey Profile --------------------------------------------------------------------------


D = Ed448KeyPair.generate(GEN.PinnedRng("test-profiles-D"))


def test_prekey_profile_round_trip() -> None:
    p = build_prekey_profile(H, TAG, EXP, D.public)
    data = p.encode()
    assert len(data) == 4 + 8 + 2 + 57 + 114
    assert data[12:14] == b"\x11\x00"  # ED448-SHARED-PREKEY type, little-endian
    assert data[:12] == TAG.to_bytes(4, "big") + EXP.to_bytes(8, "big")
    q = PrekeyProfile.decode(data)
    assert q == p and q.encode() == data
    q.validate(H.public, NOW, sender_instance_tag=TAG)
    r = Reader(data + b"more")
    assert PrekeyProfile.read(r) == p and r.get_rest() == b"more"


def _prekey_reason(data: bytes, public: Point = H.public, **kw: Any) -> ProfileRejection:
    with pytest.raises(ProfileError) as info:
        PrekeyProfile.decode(data).validate(public, kw.pop("now", NOW), **kw)
    return info.value.reason


def _prekey_bytes(tag: int = TAG, exp: int = EXP, d: bytes | None = None) -> bytes:
    body = tag.to_bytes(4, "big") + exp.to_bytes(8, "big", signed=True)
    body += d if d is not None else b"\x11\x00" + D.public.encode()
    return body + H.sign(body)


def test_prekey_profile_reasons() -> None:
    data = _prekey_bytes()
    for cut in (0, 11, 20, len(data) - 1):
        with pytest.raises(ProfileError) as info:
            PrekeyProfile.decode(data[:cut])
        assert info.value.reason is ProfileRejection.MALFORMED
    with pytest.raises(ProfileError) as info:
        PrekeyProfile.decode(data + b"\x00")
    assert info.value.reason is ProfileRejection.MALFORMED
    with pytest.raises(ProfileError) as info:
        PrekeyProfile.decode(_prekey_bytes(d=b"\x00\x11" + D.public.encode()))
    assert info.value.reason is ProfileRejection.BAD_KEY_TYPE
    with pytest.raises(ProfileError) as info:
        PrekeyProfile.decode(_prekey_bytes(d=b"\x11\x00" + b"\xff" * 57))
    assert info.value.reason is ProfileRejection.SHARED_PREKEY_INVALID
    zero_sig = data[:-114] + bytes(114)
    assert _prekey_reason(zero_sig) is ProfileRejection.SIGNATURE_MISSING
    other = Ed448KeyPair.generate(os.urandom).public
    assert _prekey_reason(data, public=other) is ProfileRejection.SIGNATURE_INVALID
    assert _prekey_reason(_prekey_bytes(tag=5)) is ProfileRejection.INSTANCE_TAG_INVALID
    assert _prekey_reason(data, sender_instance_tag=TAG + 1) is (
        ProfileRejection.INSTANCE_TAG_MISMATCH
    )
    assert _prekey_reason(data, now=EXP) is ProfileRejection.EXPIRED
    PrekeyProfile.decode(data).validate(H.public, EXP, grace=60)
    for bad in (ed448.IDENTITY, T2, D.public + T2):
        d = b"\x11\x00" + bad.encode()
        assert _prekey_reason(_prekey_bytes(d=d)) is ProfileRejection.SHARED_PREKEY_INVALID


# --- our pinned vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("v", OWN_CLIENT["vectors"], ids=lambda v: v["name"])
def test_own_client_profile_vectors(v: dict[str, Any]) -> None:
    data = bytes.fromhex(v["profile_hex"])
    profile = ClientProfile.decode(data)
    profile.validate(v["valid_at"], sender_instance_tag=v["instance_tag"])
    assert profile.encode() == data
    assert profile.versions == v["versions"].encode()
    assert profile.fingerprint().hex() == v["fingerprint_hex"]
    h = Ed448KeyPair.from_symmetric_key(bytes.fromhex(v["sym_key_hex"]))
    forging = ForgingKey.random_point(GEN.PinnedRng(v["forging_key_rng_label"]))
    assert forging.public.encode().hex() == v["forging_key_hex"]
    dsa = GEN.dsa_key(v["dsa_label"]) if "dsa_label" in v else None
    rebuilt = build_client_profile(
        h,
        forging.public,
        v["instance_tag"],
        v["versions"],
        v["expiration"],
        dsa_key=dsa,
        include_dsa_public_key=v.get("dsa_public_key_in_profile", True),
        rng=GEN.PinnedRng(v.get("dsa_sign_rng_label", "unused")),
    )
    assert rebuilt.encode() == data
    if dsa is not None:
        assert f"{dsa.public.y:x}" == v["dsa_y_hex"]
        assert profile.verify_transitional_signature(dsa.public)


@pytest.mark.parametrize("v", OWN_PREKEY["vectors"], ids=lambda v: hex(v["instance_tag"]))
def test_own_prekey_profile_vectors(v: dict[str, Any]) -> None:
    h = Ed448KeyPair.from_symmetric_key(bytes.fromhex(v["long_term_sym_key_hex"]))
    d = Ed448KeyPair.from_symmetric_key(bytes.fromhex(v["shared_prekey_sym_key_hex"]))
    data = bytes.fromhex(v["profile_hex"])
    profile = PrekeyProfile.decode(data)
    profile.validate(h.public, v["valid_at"], sender_instance_tag=v["instance_tag"])
    assert profile.shared_prekey == d.public
    assert build_prekey_profile(h, v["instance_tag"], v["expiration"], d.public).encode() == data
    x = ECDHKeyPair.generate(GEN.PinnedRng(v["ecdh_rng_label"]))
    assert x.public.encode().hex() == v["ecdh_public_hex"]
    assert x.shared_secret(profile.shared_prekey).hex() == v["ecdh_with_shared_prekey_hex"]


def test_own_vectors_are_current() -> None:
    built = GEN.build_all()
    for key, name in GEN.FILES.items():
        assert GEN.render(built[key]) == (VECTORS / name).read_text(), name


# --- v4 wire types ---------------------------------------------------------------------------


def test_wire_types_round_trip() -> None:
    w = Writer()
    wt.put_point(w, D.public)
    wt.put_scalar(w, Q - 1)
    wt.put_typed_key(w, wt.PUBKEY_TYPE_ED448, H.public)
    wt.put_timestamp(w, -5)
    wt.put_eddsa_sig(w, bytes(range(114)))
    data = w.getvalue()
    assert len(data) == 57 + 57 + wt.TYPED_KEY_BYTES + 8 + 114
    assert data[114:116] == b"\x10\x00"
    r = Reader(data)
    assert wt.get_point(r) == D.public
    assert wt.get_scalar(r) == Q - 1
    assert wt.get_typed_key(r, wt.PUBKEY_TYPE_ED448) == H.public
    assert wt.get_timestamp(r) == -5
    assert wt.get_eddsa_sig(r) == bytes(range(114))
    assert r.remaining() == 0


def test_wire_types_errors() -> None:
    with pytest.raises(DecodeError, match="type"):
        wt.get_typed_key(Reader(b"\x00\x10" + H.public_bytes), wt.PUBKEY_TYPE_ED448)
    with pytest.raises(InvalidGroupElement):
        wt.get_point(Reader(ed448.IDENTITY.encode()))
    with pytest.raises(InvalidGroupElement):
        wt.get_scalar(Reader(Q.to_bytes(57, "little")))
    with pytest.raises(DecodeError):
        wt.get_point(Reader(bytes(56)))
    with pytest.raises(ValueError):
        wt.put_timestamp(Writer(), 2**63)
    with pytest.raises(ValueError):
        wt.put_eddsa_sig(Writer(), bytes(113))
    assert wt.encode_typed_key(wt.PUBKEY_TYPE_ED448_FORGING, F)[:2] == b"\x12\x00"
