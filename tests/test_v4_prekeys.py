"""Prekey Messages, Prekey Ensembles and the retriever's selection (otr.v4.prekeys)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import SPEC_VECTORS
from otr.crypto import dh3072, ed448
from otr.errors import DecodeError, InvalidGroupElement
from otr.v4.keys import Ed448KeyPair
from otr.v4.prekeys import (
    EnsembleError,
    EnsembleRejection,
    PrekeyEnsemble,
    PrekeyMessage,
    generate_prekey_message,
    select_ensembles,
)
from otr.v4.profiles import build_prekey_profile
from prekey_util import NOW, make_party, make_rng


def _otr4j_draws() -> list[dict]:  # type: ignore[type-arg]
    doc = json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())
    draws: list[dict] = doc["transcripts"][0]["random_draws"]["bob"]  # type: ignore[type-arg]
    return draws


def test_key_generation_matches_otr4j_draws() -> None:
    """Known answer: the ECDH and DH key pairs otr4j derived from its own random
    draws (transcript T1) come out of generate_prekey_message fed the same bytes."""
    draws = _otr4j_draws()
    ecdh = next(d for d in draws if d["len"] == 57 and "ECDH" in d["what"])
    dh = next(d for d in draws if d["len"] == 80 and d["n"] == ecdh["n"] + 1)
    stream = iter([b"\x00\x00\x00\x2a", bytes.fromhex(ecdh["bytes"]), bytes.fromhex(dh["bytes"])])
    secrets = generate_prekey_message(0x1234, lambda n: next(stream))
    pm = secrets.public()
    assert pm.identifier == 0x2A
    assert pm.y.encode().hex() == ecdh["derived"]["public"]
    assert secrets.ecdh.secret == int.from_bytes(bytes.fromhex(ecdh["derived"]["secret"]), "little")
    assert f"{pm.b:x}" == dh["derived"]["public"].lstrip("0")


def test_prekey_message_layout_and_roundtrip() -> None:
    pm = generate_prekey_message(0x01020304, make_rng(1)).public()
    data = pm.encode()
    assert data[:3] == b"\x00\x04\x0f"
    assert data[3:7] == pm.identifier.to_bytes(4, "big")
    assert data[7:11] == b"\x01\x02\x03\x04"
    assert data[11:68] == pm.y.encode()
    assert PrekeyMessage.decode(data) == pm
    for cut in (0, 3, 10, 67, len(data) - 1):
        with pytest.raises(DecodeError):
            PrekeyMessage.decode(data[:cut])
    with pytest.raises(DecodeError):
        PrekeyMessage.decode(data + b"\x00")
    with pytest.raises(DecodeError):
        PrekeyMessage.decode(b"\x00\x03" + data[2:])
    with pytest.raises(DecodeError):
        PrekeyMessage.decode(data[:2] + b"\x35" + data[3:])


def test_prekey_message_rejects_invalid_values() -> None:
    pm = generate_prekey_message(0x100, make_rng(2)).public()
    data = bytearray(pm.encode())
    data[11:68] = ed448.IDENTITY.encode()
    with pytest.raises(InvalidGroupElement):
        PrekeyMessage.decode(bytes(data))
    for bad in (1, dh3072.DH_P - 1, int(dh3072.DH_P) + 5):
        forged = replace(pm, b=int(bad)).encode()
        with pytest.raises(InvalidGroupElement):
            PrekeyMessage.decode(forged)
    # a quadratic non-residue (the Jacobi check): g3 is a residue, -g3 is not
    with pytest.raises(InvalidGroupElement):
        replace(pm, b=int(dh3072.DH_P - 2)).validate()


def _ensemble(seed: int, tag: int = 0x1000, **kw: float) -> PrekeyEnsemble:
    party = make_party("bob@example.org", tag, seed, **kw)
    pm = generate_prekey_message(tag, make_rng(seed + 100)).public()
    return PrekeyEnsemble(party.client_profile, party.prekey_profile, pm)


def test_valid_ensemble_roundtrip() -> None:
    e = _ensemble(1)
    e.validate(NOW)
    from otr.wire.buffer import Reader

    assert PrekeyEnsemble.read(Reader(e.encode())).encode() == e.encode()


def test_ensemble_rejections() -> None:
    e = _ensemble(1)
    other = _ensemble(2, tag=0x2000)
    cases = {
        EnsembleRejection.INSTANCE_TAG_MISMATCH: replace(e, prekey_message=other.prekey_message),
        EnsembleRejection.PREKEY_PROFILE_INVALID: replace(
            e, prekey_profile=replace(other.prekey_profile, instance_tag=0x1000)
        ),
    }
    # a prekey profile signed by another key, with the right tag
    foreign = build_prekey_profile(
        Ed448KeyPair.generate(make_rng(9)), 0x1000, int(NOW) + 99, e.prekey_profile.shared_prekey
    )
    cases_foreign = replace(e, prekey_profile=foreign)
    for reason, ensemble in cases.items():
        with pytest.raises(EnsembleError) as info:
            ensemble.validate(NOW)
        assert info.value.reason is reason
    with pytest.raises(EnsembleError) as info:
        cases_foreign.validate(NOW)
    assert info.value.reason is EnsembleRejection.PREKEY_PROFILE_INVALID
    expired = _ensemble(3, expires=NOW - 1)
    with pytest.raises(EnsembleError) as info:
        expired.validate(NOW)
    assert info.value.reason is EnsembleRejection.CLIENT_PROFILE_INVALID
    with pytest.raises(EnsembleError) as info:
        e.validate(NOW, supported_versions=frozenset({5}))
    assert info.value.reason is EnsembleRejection.VERSION_UNSUPPORTED
    bad_pm = replace(e, prekey_message=replace(e.prekey_message, b=int(dh3072.DH_P - 2)))
    with pytest.raises(EnsembleError) as info:
        bad_pm.validate(NOW)
    assert info.value.reason is EnsembleRejection.PREKEY_MESSAGE_INVALID


def test_select_keeps_latest_expiry_per_tag_and_key_and_drops_bad() -> None:
    party = make_party("bob@example.org", 0x1000, 5)
    later = build_prekey_profile(party.keypair, 0x1000, int(NOW) + 30 * 86400, party.shared.public)
    pm1 = generate_prekey_message(0x1000, make_rng(6)).public()
    pm2 = generate_prekey_message(0x1000, make_rng(7)).public()
    a = PrekeyEnsemble(party.client_profile, party.prekey_profile, pm1)
    b = PrekeyEnsemble(party.client_profile, later, pm2)
    other_tag = _ensemble(8, tag=0x3000)
    expired = _ensemble(9, tag=0x4000, expires=NOW - 10)
    chosen = select_ensembles([a, b, a, other_tag, expired, b], NOW)
    assert chosen == [b, other_tag]
    assert select_ensembles([], NOW) == []
