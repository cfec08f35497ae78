"""The local identity (``otr.v4.identity``): keys, fingerprints, Client Profile renewal.

Known answers: the parties of otr4j's transcript T3 (their recorded RFC 8032 symmetric
keys, instance tags, fingerprints and otr4j-made Client Profiles)."""

from __future__ import annotations

import json
import os

import pytest

from conftest import SPEC_VECTORS
from otr.crypto.dsa import DSAPrivateKey
from otr.v4.identity import (
    PROFILE_RENEW_BEFORE,
    PROFILE_VALIDITY,
    Identity,
    V4Keys,
    random_instance_tag,
)
from otr.v4.keys import Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile
from v3_util import CountingRng, dsa_key

T3 = next(
    t
    for t in json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())["transcripts"]
    if t["id"] == "T3"
)
NOW = 1_800_000_000.0


def t3_identity(party: str, *, with_profile: bool = True) -> Identity:
    info = T3["parties"][party]
    long_term = Ed448KeyPair.from_symmetric_key(bytes.fromhex(info["long_term"]["symmetric_key"]))
    forging = Ed448KeyPair.from_symmetric_key(bytes.fromhex(info["forging"]["symmetric_key"]))
    profile = ClientProfile.decode(bytes.fromhex(info["client_profile"])) if with_profile else None
    return Identity(
        info["account"],
        info["protocol"],
        info["instance_tag"],
        None,
        V4Keys(long_term, ForgingKey(forging.public, forging)),
        profile,
    )


@pytest.mark.parametrize("party", ["alice", "bob"])
def test_t3_keys_give_otr4js_fingerprint_and_fit_its_profile(party: str) -> None:
    info = T3["parties"][party]
    identity = t3_identity(party)
    assert identity.v4 is not None
    assert identity.v4.long_term.public_bytes.hex() == info["long_term"]["public"]
    assert identity.fingerprint is not None and identity.fingerprint.hex() == info["fingerprint"]
    assert identity.client_profile is not None
    assert identity.client_profile.expiration == info["client_profile_expiration"]
    assert identity.v3_fingerprint is None
    assert identity.default_versions() == "4"


def test_generate_v4_identity() -> None:
    identity = Identity.generate("alice@example.org", "xmpp", CountingRng("a"), NOW)
    assert identity.v4 is not None and identity.dsa_key is None
    profile = identity.client_profile
    assert profile is not None
    profile.validate(NOW)
    assert profile.expiration == int(NOW) + PROFILE_VALIDITY
    assert profile.versions == b"4" and profile.instance_tag == identity.instance_tag
    assert profile.fingerprint() == identity.fingerprint
    assert identity.v4.forging.keypair is None  # the forging secret is dropped
    assert identity.profile_renewal_due() == profile.expiration - PROFILE_RENEW_BEFORE
    # Everything comes from the rng: the same draws give the same identity.
    again = Identity.generate("alice@example.org", "xmpp", CountingRng("a"), NOW)
    assert again.fingerprint == identity.fingerprint
    assert again.instance_tag == identity.instance_tag
    assert again.client_profile is not None and again.client_profile.encode() == profile.encode()


def test_generate_with_dsa_key_is_otrv3_compatible() -> None:
    key = dsa_key("identity")
    identity = Identity.generate("a", "p", os.urandom, NOW, dsa_key=key, keep_forging_secret=True)
    profile = identity.client_profile
    assert profile is not None and profile.versions == b"34"
    assert profile.dsa_public_key == key.public and profile.transitional_signature is not None
    assert profile.verify_transitional_signature()
    profile.validate(NOW)
    assert identity.v3_fingerprint == key.public.fingerprint()
    assert identity.v4 is not None and identity.v4.forging.keypair is not None


def test_v3_only_identity() -> None:
    identity = Identity.generate("a", "p", os.urandom, NOW, dsa_key=dsa_key("v3"), v4=False)
    assert identity.v4 is None and identity.client_profile is None
    assert identity.fingerprint is None and identity.profile_renewal_due() is None
    assert identity.renew_profile(NOW, os.urandom) is False


def test_renewal_twelve_hours_before_expiry() -> None:
    identity = Identity.generate("a", "p", os.urandom, NOW)
    first = identity.client_profile
    assert first is not None
    assert identity.renew_profile(NOW + 3600, os.urandom) is False
    due = identity.profile_renewal_due()
    assert due == first.expiration - 12 * 3600
    assert identity.renew_profile(due - 1, os.urandom) is False
    assert identity.client_profile is first
    assert identity.renew_profile(due, os.urandom) is True
    second = identity.client_profile
    assert second is not None and second is not first
    assert second.expiration == int(due) + 14 * 24 * 3600
    second.validate(due)
    # Long after expiry, too.
    assert identity.renew_profile(second.expiration + 10**6, os.urandom) is True


def test_renewal_when_the_profile_no_longer_fits() -> None:
    identity = Identity.generate("a", "p", os.urandom, NOW, dsa_key=dsa_key("fit"))
    assert identity.client_profile is not None
    assert identity.client_profile.versions == b"34"
    # Other versions asked for (standalone mode).
    assert identity.renew_profile(NOW, os.urandom, versions="4") is True
    assert identity.client_profile.versions == b"4"
    assert identity.client_profile.dsa_public_key is None
    assert identity.renew_profile(NOW, os.urandom, versions="4") is False
    # Back to the default.
    assert identity.renew_profile(NOW, os.urandom) is True
    # A new instance tag.
    identity.instance_tag = 0x12345678
    assert identity.renew_profile(NOW, os.urandom) is True
    assert identity.client_profile.instance_tag == 0x12345678
    # A profile that does not validate (here: otr4j's, at a time it has expired).
    t3 = t3_identity("alice")
    assert t3.renew_profile(T3["parties"]["alice"]["client_profile_expiration"], os.urandom)
    assert t3.client_profile is not None
    t3.client_profile.validate(T3["parties"]["alice"]["client_profile_expiration"])


def test_otrv3_versions_need_the_dsa_key() -> None:
    identity = Identity.generate("a", "p", os.urandom, NOW)
    with pytest.raises(ValueError, match="DSA"):
        identity.renew_profile(NOW, os.urandom, versions="34")


def test_invalid_identities() -> None:
    keys = V4Keys.generate(os.urandom)
    with pytest.raises(ValueError, match="instance tag"):
        Identity("a", "p", 0xFF, None, keys)
    with pytest.raises(ValueError, match="DSA key, OTRv4 keys or both"):
        Identity("a", "p", 0x100)
    other = t3_identity("bob")
    assert other.client_profile is not None
    with pytest.raises(ValueError, match="does not belong"):
        Identity("a", "p", 0x100, None, keys, other.client_profile)
    with pytest.raises(ValueError, match="does not belong"):  # a profile needs OTRv4 keys
        Identity("a", "p", 0x100, dsa_key("x"), None, other.client_profile)
    with pytest.raises(ValueError, match="does not belong"):  # another instance tag
        Identity("a", "p", 0x101, None, other.v4, other.client_profile)


def test_profile_with_another_dsa_key_is_accepted_then_renewed() -> None:
    # A profile made with another DSA key (or none) belongs to the identity's OTRv4 keys;
    # the next renewal makes it match the DSA key held now.
    v3v4 = Identity.generate("a", "p", os.urandom, NOW, dsa_key=dsa_key("y"))
    for key in (dsa_key("z"), None):
        identity = Identity("a", "p", v3v4.instance_tag, key, v3v4.v4, v3v4.client_profile)
        assert identity.renew_profile(NOW, os.urandom) is True
        assert identity.client_profile is not None
        expected = None if key is None else key.public
        assert identity.client_profile.dsa_public_key == expected


def test_random_instance_tag_skips_reserved_values() -> None:
    draws = iter([b"\x00\x00\x00\x05", b"\x00\x00\x00\xff", b"\x00\x00\x01\x00"])
    assert random_instance_tag(lambda n: next(draws)) == 0x100


def test_repr_shows_no_secrets() -> None:
    key: DSAPrivateKey = dsa_key("repr")
    identity = Identity.generate("alice", "xmpp", os.urandom, NOW, dsa_key=key)
    text = repr(identity)
    assert "alice" in text and "v3" in text and "v4" in text
    assert identity.v4 is not None
    assert identity.v4.long_term.sym_key.hex() not in text.lower()
    assert str(key.x) not in text and f"{key.x:x}" not in text
