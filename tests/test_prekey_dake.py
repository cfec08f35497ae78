"""DAKE-1/2/3 with the prekey server and its MACs (otr.prekey.dake)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from otr.crypto import kdf
from otr.errors import AuthenticationFailed, RemoteProtocolError
from otr.prekey import dake
from otr.prekey import messages as msg
from otr.prekey.dake import SessionKeys
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair
from otr.v4.profiles import ProfileError
from otr.wire.buffer import encode_data
from prekey_util import NOW, SERVER_ID, make_party, make_rng

SERVER = Ed448KeyPair.generate(make_rng(100))
ALICE = make_party("alice@example.org", 0x4321, 101)


def _run(rng_seed: int = 1):  # type: ignore[no-untyped-def]
    rng = make_rng(rng_seed)
    dake1, cstate = dake.client_start(
        publisher=ALICE.identity,
        server_identity=SERVER_ID,
        instance_tag=ALICE.tag,
        client_profile=ALICE.client_profile,
        rng=rng,
        expected_fingerprint=dake.server_fingerprint(SERVER.public),
    )
    dake2, sstate = dake.server_respond(
        msg.Dake1.decode(dake1.encode()),
        server_key=SERVER,
        server_identity=SERVER_ID,
        publisher=ALICE.identity,
        now=NOW,
        rng=rng,
    )
    return rng, cstate, dake2, sstate


def test_full_dake_agrees_on_keys() -> None:
    rng, cstate, dake2, sstate = _run()
    keys, sigma = dake.client_accept_dake2(
        cstate, msg.Dake2.decode(dake2.encode()), ALICE.keypair, rng
    )
    assert keys == sstate.keys and len(keys.sk) == 64 and len(keys.prekey_mac_k) == 64
    assert keys.prekey_mac_k == kdf.kdf(0x08, keys.sk, 64, domain=b"OTR-Prekey-Server")
    dake3 = msg.Dake3(ALICE.tag, sigma, b"")
    dake.server_verify_dake3(sstate, dake3, SERVER.public)
    with pytest.raises(RemoteProtocolError):
        dake.server_verify_dake3(sstate, replace(dake3, sender_tag=ALICE.tag + 1), SERVER.public)
    with pytest.raises(AuthenticationFailed):
        dake.server_verify_dake3(
            sstate, replace(dake3, sigma=replace(sigma, r1=(sigma.r1 + 1))), SERVER.public
        )
    # DAKE-3 signed over another S (a different session) fails
    _, _, _, other = _run(2)
    with pytest.raises(AuthenticationFailed):
        dake.server_verify_dake3(other, dake3, SERVER.public)


def test_t_layout_and_phi() -> None:
    p = dake.phi("alice@example.org", "prekey.example.org")
    assert p == encode_data(b"alice@example.org") + encode_data(b"prekey.example.org")
    i, s = ECDHKeyPair.generate(make_rng(3)).public, ECDHKeyPair.generate(make_rng(4)).public
    t2 = dake.dake_t(0, b"cp", b"id", i, s, p)
    t3 = dake.dake_t(1, b"cp", b"id", i, s, p)
    assert len(t2) == 1 + 64 * 3 + 57 * 2 and t2[0] == 0 and t3[0] == 1
    ps = b"OTR-Prekey-Server"
    assert t2[1:65] == kdf.kdf(0x02, b"cp", 64, domain=ps)
    assert t3[65:129] == kdf.kdf(0x06, b"id", 64, domain=ps)
    assert t2[129:186] == i.encode() and t2[186:243] == s.encode()
    assert t3[243:] == kdf.kdf(0x07, p, 64, domain=ps)
    with pytest.raises(ValueError):
        dake.dake_t(2, b"", b"", i, s, p)
    assert dake.server_fingerprint(SERVER.public) == kdf.kdf(0x00, SERVER.public.encode(), 56)


def test_client_rejects_lying_dake2() -> None:
    rng, cstate, dake2, _ = _run()
    with pytest.raises(RemoteProtocolError):
        dake.client_accept_dake2(cstate, replace(dake2, receiver_tag=1), ALICE.keypair, rng)
    with pytest.raises(AuthenticationFailed):
        dake.client_accept_dake2(
            cstate, replace(dake2, server_identity="evil.example.org"), ALICE.keypair, rng
        )
    impostor = Ed448KeyPair.generate(make_rng(7)).public
    with pytest.raises(AuthenticationFailed):  # wrong fingerprint
        dake.client_accept_dake2(cstate, replace(dake2, server_key=impostor), ALICE.keypair, rng)
    unpinned = replace(cstate, expected_fingerprint=None)
    with pytest.raises(AuthenticationFailed):  # signature no longer matches the key
        dake.client_accept_dake2(unpinned, replace(dake2, server_key=impostor), ALICE.keypair, rng)
    with pytest.raises(AuthenticationFailed):
        dake.client_accept_dake2(
            cstate,
            replace(dake2, sigma=replace(dake2.sigma, c1=dake2.sigma.c2)),
            ALICE.keypair,
            rng,
        )


def test_server_rejects_bad_dake1_profile() -> None:
    rng = make_rng(9)
    dake1, _ = dake.client_start(
        publisher=ALICE.identity,
        server_identity=SERVER_ID,
        instance_tag=ALICE.tag,
        client_profile=ALICE.client_profile,
        rng=rng,
    )
    with pytest.raises(ProfileError):  # sender tag is not the profile's owner tag
        dake.server_respond(
            replace(dake1, sender_tag=0x999),
            server_key=SERVER,
            server_identity=SERVER_ID,
            publisher=ALICE.identity,
            now=NOW,
            rng=rng,
        )
    with pytest.raises(ProfileError):  # expired
        dake.server_respond(
            dake1,
            server_key=SERVER,
            server_identity=SERVER_ID,
            publisher=ALICE.identity,
            now=NOW + 100 * 86400,
            rng=rng,
        )


def test_macs_bind_their_inputs() -> None:
    keys = SessionKeys(b"s" * 64, b"k" * 64)
    ps = b"OTR-Prekey-Server"
    assert keys.storage_info_mac() == kdf.kdf(0x0A, b"k" * 64 + b"\x09", 64, domain=ps)
    assert keys.status_mac(5, 7) == kdf.kdf(
        0x0B, b"k" * 64 + b"\x0b" + bytes([0, 0, 0, 5, 0, 0, 0, 7]), 64, domain=ps
    )
    assert keys.success_mac(5) != keys.failure_mac(5) != keys.success_mac(6)
    base = dict(
        count=1, prekey_messages=b"m", client_profile=b"c", prekey_profile=b"p", proofs=b"x"
    )
    ref = keys.publication_mac(**base)  # type: ignore[arg-type]
    expected = kdf.kdf(
        0x09,
        b"k" * 64
        + b"\x08\x01"
        + kdf.kdf(0x0E, b"m", 64, domain=ps)
        + b"\x01"
        + kdf.kdf(0x0F, b"c", 64, domain=ps)
        + b"\x01"
        + kdf.kdf(0x10, b"p", 64, domain=ps)
        + kdf.kdf(0x16, b"x", 64, domain=ps),
        64,
        domain=ps,
    )
    assert ref == expected
    for key, value in (
        ("count", 2),
        ("prekey_messages", b"n"),
        ("client_profile", None),
        ("prekey_profile", b"q"),
        ("proofs", b""),
    ):
        assert keys.publication_mac(**{**base, key: value}) != ref  # type: ignore[arg-type]
