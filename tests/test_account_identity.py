"""The account's identity in its key directory (otr.account.identity): key,
trust and per-instance tags in libotr's files, modes, reloading."""

from __future__ import annotations

from pathlib import Path

import pytest

from otr.account import Identity
from otr.events import Trust
from otr.storage import FingerprintStore
from v3_util import dsa_key

ALICE, BOB = "alice@example.org", "bob@example.org"


def identity(tmp_path: Path, who: str) -> Identity:
    return Identity.load(tmp_path / who, who, "xmpp", generate=lambda: dsa_key(who))


def test_identity_files_persist_and_tags_are_per_instance(tmp_path: Path) -> None:
    ident = identity(tmp_path, ALICE)
    assert {p.name for p in (tmp_path / ALICE).iterdir()} == {"otr.private_key"}
    assert (tmp_path / ALICE).stat().st_mode & 0o777 == 0o700
    assert (tmp_path / ALICE / "otr.private_key").stat().st_mode & 0o777 == 0o600
    t1, t2 = ident.instance_tag("laptop"), ident.instance_tag("phone")
    assert t1 != t2 and min(t1, t2) >= 0x100
    again = Identity.load(tmp_path / ALICE, ALICE, "xmpp", generate=None)
    assert again.fingerprint == ident.fingerprint
    assert again.instance_tag("laptop") == t1 and again.instance_tag("phone") == t2
    assert Identity.has_key(tmp_path / ALICE, ALICE, "xmpp")
    assert not Identity.has_key(tmp_path / ALICE, BOB, "xmpp")
    with pytest.raises(LookupError):
        Identity.load(tmp_path / ALICE, BOB, "xmpp", generate=None)


def test_trust_changes_are_written_at_once(tmp_path: Path) -> None:
    ident = identity(tmp_path, ALICE)
    fp = bytes(range(20))
    ident.trust.add(ALICE, "xmpp", BOB, fp)
    on_disk = FingerprintStore.from_file(tmp_path / ALICE / "otr.fingerprints")
    assert on_disk.get_trust(ALICE, "xmpp", BOB, fp) is Trust.UNVERIFIED
    ident.set_verified(BOB, fp)
    on_disk = FingerprintStore.from_file(tmp_path / ALICE / "otr.fingerprints")
    assert on_disk.get_trust(ALICE, "xmpp", BOB, fp) is Trust.VERIFIED
    assert identity(tmp_path, ALICE).known_fingerprints(BOB) == [fp]
    ident.set_verified(BOB, fp, verified=False)
    assert identity(tmp_path, ALICE).trust.get_trust(ALICE, "xmpp", BOB, fp) is Trust.UNVERIFIED
