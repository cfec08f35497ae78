"""Fuzz target: OTRv4 Client Profiles (otr.v4.profiles.ClientProfile): decoding and the
spec's "Validating a Client Profile".

Invariants: every rejection is a ProfileError (with its ProfileRejection reason); a
decoded profile re-encodes to exactly the received bytes; validation at the profile's
own time raises ProfileError or nothing.
"""

from __future__ import annotations

from otr.v4.profiles import ClientProfile, ProfileError, ProfileRejection

ALLOWED = (ProfileError,)
SEEDS = ("client_profile",)


def one_input(data: bytes) -> None:
    try:
        profile = ClientProfile.decode(data)
    except ProfileError as exc:
        assert isinstance(exc.reason, ProfileRejection)
        raise
    assert profile.encode() == data, "profile does not re-encode to the received bytes"
    profile.validate(profile.expiration - 1, sender_instance_tag=profile.instance_tag)
    profile.fingerprint()
