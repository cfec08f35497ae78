"""Fuzz target: OTRv4 Prekey Profiles (otr.v4.profiles.PrekeyProfile): decoding and the
spec's "Validating a Prekey Profile" against the owner's long-term key.

Invariants: every rejection is a ProfileError; a decoded profile re-encodes to exactly
the received bytes; validation raises ProfileError or nothing.
"""

from __future__ import annotations

import functools

from otr.crypto.ed448 import Point
from otr.v4.keys import Ed448KeyPair
from otr.v4.profiles import PrekeyProfile, ProfileError

ALLOWED = (ProfileError,)
SEEDS = ("prekey_profile",)

OWNER_SYM_KEY = bytes.fromhex(
    "17efb794d0dcee476acbea84827d4c850be1d8f7e8fc4421a2a2b3086cdc8cc5ddec48a797f35fbe83"
    "9fb7f8db7e459b39aa28c60a758fc7ac"
)
"""The long-term key of tests/vectors/otrv4_prekey_profiles.json's first profile (seed)."""


@functools.cache
def owner() -> Point:
    return Ed448KeyPair.from_symmetric_key(OWNER_SYM_KEY).public


def one_input(data: bytes) -> None:
    profile = PrekeyProfile.decode(data)
    assert profile.encode() == data, "profile does not re-encode to the received bytes"
    profile.validate(owner(), profile.expiration - 1, sender_instance_tag=profile.instance_tag)
