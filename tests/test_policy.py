"""Policies: libotr's bit values and named combinations (libotr proto.h)."""

from __future__ import annotations

import pytest

from otr.policy import Policy, PolicyFlag

# libotr 4.1.1 proto.h values.
LIBOTR = {"NEVER": 0x00, "MANUAL": 0x06, "OPPORTUNISTIC": 0x76, "ALWAYS": 0x6E, "DEFAULT": 0x76}


@pytest.mark.parametrize("name,flags", sorted(LIBOTR.items()))
def test_named_policies_match_libotr(name: str, flags: int) -> None:
    assert int(Policy.named(name).flags) == flags
    assert Policy.from_flags(flags).flags == PolicyFlag(flags)


def test_default_is_opportunistic() -> None:
    assert Policy() == Policy.named("DEFAULT")


def test_versions_and_enabled() -> None:
    assert Policy.named("NEVER").enabled is False
    assert Policy.named("MANUAL").versions == {2, 3}
    assert Policy.named("MANUAL").with_versions({3}).versions == {3}


def test_unknown_name() -> None:
    with pytest.raises(ValueError):
        Policy.named("SOMETIMES")
