"""KDF/HWC/HCMAC: the construction, the usage tables against the spec text, the
final-spec-compatible libotr-ng values, and our own pinned vectors."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SHARED, SPEC_VECTORS
from otr.crypto import kdf
from otr.wire.buffer import encode_mpi

LIBOTR_NG = json.loads((SPEC_VECTORS / "otrv4-libotr-ng-kat.json").read_text())["vectors"]
FINAL = [v for v in LIBOTR_NG if v["final_spec_compatible"]]
OWN = json.loads((Path(__file__).parent / "vectors" / "otrv4_kdf.json").read_text())


def _vector(name_part: str) -> dict[str, Any]:
    (v,) = [v for v in LIBOTR_NG if name_part in v["name"]]
    return v


def _spec_table(path: Path, first: str) -> dict[str, int]:
    text = path.read_text()
    start = text.index(first)
    block = text[start : text.index("```", start)]
    return {m[1]: int(m[2], 16) for m in re.finditer(r"\* (usage_\w+) = (0x[0-9A-Fa-f]+)", block)}


def test_usage_table_matches_final_spec() -> None:
    table = _spec_table(SHARED / "spec" / "otr-v4.md", "* usage_fingerprint = 0x00")
    assert len(table) == 27
    assert table == kdf.USAGE_IDS
    assert kdf.USAGE_AUTH == 0x1A and kdf.USAGE_EXTRA_SYMM_KEY == 0x17  # not libotr-ng's 0x1C/0x19


def test_usage_table_matches_prekey_server_spec() -> None:
    table = _spec_table(SHARED / "spec" / "otr-v4-prekey-server.md", "* usage_Fingerprint = 0x00")
    assert len(table) == 24
    assert table == kdf.PS_USAGE_IDS


@given(st.integers(0, 255), st.binary(max_size=200), st.integers(0, 200))
def test_construction(usage: int, values: bytes, size: int) -> None:
    expected = hashlib.shake_256(b"OTRv4" + bytes((usage,)) + values).digest(size)
    assert kdf.kdf(usage, values, size) == expected
    assert kdf.hwc(usage, values, size) == expected
    assert kdf.hcmac(usage, values, size) == expected
    assert kdf.kdf(usage, [values[:7], values[7:]], size) == expected
    assert kdf.kdf(usage, bytearray(values), size) == expected
    ps = hashlib.shake_256(b"OTR-Prekey-Server" + bytes((usage,)) + values).digest(size)
    assert kdf.kdf(usage, values, size, domain=kdf.PREKEY_SERVER_DOMAIN) == ps


def test_size_is_in_bytes_and_prefix_property() -> None:
    long = kdf.kdf(kdf.USAGE_SSID, b"K", 64)
    assert len(long) == 64 and kdf.kdf(kdf.USAGE_SSID, b"K", 8) == long[:8]
    assert kdf.shake256(b"x", 114) == hashlib.shake_256(b"x").digest(114)


def test_argument_checks() -> None:
    with pytest.raises(ValueError):
        kdf.kdf(256, b"", 1)
    with pytest.raises(ValueError):
        kdf.kdf(-1, b"", 1)
    with pytest.raises(ValueError):
        kdf.kdf(0, b"", -1)
    with pytest.raises(ValueError):
        kdf.shake256(b"", -1)


# --- libotr-ng values marked final_spec_compatible ------------------------------------


def test_final_spec_compatible_entries_are_all_covered() -> None:
    # t construction, SSID, brace keys, 383-byte k_dh (the last one: test_crypto_dh3072.py)
    assert len(FINAL) == 4


def test_libotr_ng_ssid() -> None:
    v = _vector("SSID")
    k = bytes.fromhex(v["inputs"]["K_hex"])
    assert kdf.hwc(kdf.USAGE_SSID, k, 8).hex() == v["outputs"]["ssid_hex"]


def test_libotr_ng_brace_keys() -> None:
    v = _vector("brace keys")
    inputs, outputs = v["inputs"], v["outputs"]
    k_dh = bytes.fromhex(inputs["k_dh_hex (minimal-length big-endian)"])
    assert len(k_dh) == inputs["k_dh_length"]
    brace1 = kdf.kdf(kdf.USAGE_THIRD_BRACE_KEY, k_dh, 32)
    assert brace1.hex() == outputs["brace_key_1_hex"]
    brace2 = kdf.kdf(kdf.USAGE_BRACE_KEY, brace1, 32)
    assert brace2.hex() == outputs["brace_key_2_hex"]


@pytest.mark.parametrize("flag", [0, 1], ids=["auth_r", "auth_i"])
def test_libotr_ng_dake_t(flag: int) -> None:
    v = _vector("ring-signature message t")
    i = v["inputs"]
    bob = bytes.fromhex(i["bob_client_profile_hex (initiator, sent Identity message)"])
    alice = bytes.fromhex(i["alice_client_profile_hex (responder, sent Auth-R)"])
    y = bytes.fromhex(i["Y_hex (Bob ECDH, POINT)"])
    x = bytes.fromhex(i["X_hex (Alice ECDH, POINT)"])
    b = int(i["B_hex (Bob DH, 384-byte big-endian)"], 16)
    a = int(i["A_hex (Alice DH, 384-byte big-endian)"], 16)
    phi = bytes.fromhex(i["phi_hex"])
    if flag == 0:
        usages = (
            kdf.USAGE_AUTH_R_BOB_CLIENT_PROFILE,
            kdf.USAGE_AUTH_R_ALICE_CLIENT_PROFILE,
            kdf.USAGE_AUTH_R_PHI,
        )
        expected = v["outputs"]["t_auth_r_hex"]
    else:
        usages = (
            kdf.USAGE_AUTH_I_BOB_CLIENT_PROFILE,
            kdf.USAGE_AUTH_I_ALICE_CLIENT_PROFILE,
            kdf.USAGE_AUTH_I_PHI,
        )
        expected = v["outputs"]["t_auth_i_hex"]
    t = b"".join(
        (
            bytes((flag,)),
            kdf.hwc(usages[0], bob, 64),
            kdf.hwc(usages[1], alice, 64),
            y,
            x,
            encode_mpi(b),
            encode_mpi(a),
            kdf.hwc(usages[2], phi, 64),
        )
    )
    assert len(t) == 1083
    assert t.hex() == expected


def test_extra_symmetric_key_table_trap() -> None:
    """libotr-ng's value uses the old usage ID 0x19; the final spec's is 0x17 (ERRATA C).
    The final-spec value comes from the vector file's note (computed by its compiler)."""
    v = _vector("extra symmetric key")
    assert v["final_spec_compatible"] is False
    chain_key = bytes.fromhex(v["inputs"]["chain_key_s_hex"])
    old = kdf.kdf(0x19, b"\xff" + chain_key, 64)
    assert old.hex() == v["outputs"]["extra_symm_key_hex"]
    final = kdf.kdf(kdf.USAGE_EXTRA_SYMM_KEY, b"\xff" + chain_key, 64)
    assert final != old
    note = " ".join(v["notes"])
    assert final.hex() in note


# --- our own pinned vectors -----------------------------------------------------------


def test_own_kdf_vectors() -> None:
    assert len(OWN["kdf"]) == 27 * 4 + 24
    for v in OWN["kdf"]:
        domain = v["domain"].encode()
        names = kdf.USAGE_IDS if domain == kdf.OTRV4_DOMAIN else kdf.PS_USAGE_IDS
        assert names[v["usage_name"]] == v["usage_id"]
        out = kdf.kdf(v["usage_id"], bytes.fromhex(v["values_hex"]), v["size"], domain=domain)
        assert out.hex() == v["output_hex"], v["usage_name"]
