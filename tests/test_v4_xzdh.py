"""The non-interactive DAKE's cryptography (otr.v4.xzdh)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from otr.crypto import kdf
from otr.errors import AuthenticationFailed, RemoteProtocolError
from otr.v4 import xzdh
from otr.v4.prekeys import PrekeyEnsemble, generate_prekey_message
from otr.v4.profiles import ProfileError
from otr.wire.v4.non_interactive import NonInteractiveAuth
from prekey_util import NOW, make_party, make_rng

BOB = make_party("bob@example.org", 0x1234, 1)
ALICE = make_party("alice@example.org", 0x5678, 2)
PREKEY = generate_prekey_message(BOB.tag, make_rng(3))
ENSEMBLE = PrekeyEnsemble(BOB.client_profile, BOB.prekey_profile, PREKEY.public())


def _alice(seed: int = 4) -> xzdh.AliceResult:
    return xzdh.alice_start(
        ENSEMBLE,
        our_profile=ALICE.client_profile,
        our_keypair=ALICE.keypair,
        our_id=ALICE.identity,
        their_id=BOB.identity,
        rng=make_rng(seed),
    )


def _bob(message: NonInteractiveAuth, **kw: object) -> xzdh.XZDHKeys:
    args: dict[str, object] = dict(
        prekey=PREKEY,
        our_profile=BOB.client_profile,
        our_prekey_profile=BOB.prekey_profile,
        our_keypair=BOB.keypair,
        shared_prekey=BOB.shared,
        now=NOW,
        our_id=BOB.identity,
        their_id=ALICE.identity,
    )
    args.update(kw)
    return xzdh.bob_receive(message, **args)  # type: ignore[arg-type]


def test_both_sides_derive_the_same_keys() -> None:
    result = _alice()
    wire = NonInteractiveAuth.decode(result.message.encode())
    keys = _bob(wire)
    assert keys == result.keys
    assert len(keys.k) == 64 and len(keys.ssid) == 8 and len(keys.brace_key) == 32
    assert keys.ssid == kdf.kdf(0x04, keys.k, 8)
    assert keys.root_key == kdf.kdf(0x12, keys.k, 64) and keys.chain_key == kdf.kdf(
        0x13, keys.k, 64
    )
    assert wire.prekey_identifier == PREKEY.identifier and wire.receiver_tag == BOB.tag
    assert wire.first_ecdh == result.our_ecdh_first.public
    assert _alice(5).keys != result.keys  # fresh ephemerals


def test_t_layout() -> None:
    pm = PREKEY.public()
    r = _alice().message
    t = xzdh.xzdh_t(
        BOB.client_profile, ALICE.client_profile, pm.y, r.x, pm.b, r.a, BOB.shared.public, b"phi"
    )
    assert t[:64] == kdf.kdf(0x0E, BOB.client_profile.encode(), 64)  # no flag byte
    assert t[64:128] == kdf.kdf(0x0F, ALICE.client_profile.encode(), 64)
    assert t[128:185] == pm.y.encode() and t[185:242] == r.x.encode()
    assert t[-121:-64] == BOB.shared.public.encode() and t[-64:] == kdf.kdf(0x10, b"phi", 64)


def test_bob_rejects_forgeries() -> None:
    m = _alice().message
    with pytest.raises(AuthenticationFailed):
        _bob(replace(m, auth_mac=bytes(64)))
    with pytest.raises(AuthenticationFailed):
        _bob(replace(m, sigma=replace(m.sigma, r2=(m.sigma.r2 + 1))))
    with pytest.raises(AuthenticationFailed):  # another phi (e.g. other ids)
        _bob(m, their_id="mallory@example.org")
    with pytest.raises(RemoteProtocolError):
        _bob(replace(m, receiver_tag=0x999))
    with pytest.raises(RemoteProtocolError):
        _bob(replace(m, prekey_identifier=m.prekey_identifier ^ 1))
    with pytest.raises(ProfileError):  # sender tag is not the profile's owner
        _bob(replace(m, sender_tag=0x4444))
    with pytest.raises(ProfileError):  # Alice's profile expired
        _bob(m, now=NOW + 100 * 86400)
    other = generate_prekey_message(BOB.tag, make_rng(9))
    with pytest.raises(RemoteProtocolError):
        _bob(m, prekey=other)
    with pytest.raises(AuthenticationFailed):  # the right id but other secrets
        _bob(m, prekey=replace(other, identifier=PREKEY.identifier))
    with pytest.raises(ValueError):
        _bob(m, shared_prekey=ALICE.shared)


def test_explicit_phi() -> None:
    result = xzdh.alice_start(
        ENSEMBLE,
        our_profile=ALICE.client_profile,
        our_keypair=ALICE.keypair,
        phi=b"agreed",
        rng=make_rng(6),
    )
    assert _bob(result.message, phi=b"agreed") == result.keys
    with pytest.raises(AuthenticationFailed):
        _bob(result.message, phi=b"other")
