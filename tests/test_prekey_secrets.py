"""The publisher's prekey secret store (otr.prekey.secrets)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from otr.prekey.secrets import PrekeySecretStore, SecretStoreError, StoredPrekey
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair
from otr.v4.prekeys import generate_prekey_message
from prekey_util import make_rng


def test_file_roundtrip_one_use_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "prekeys.json"
    store = PrekeySecretStore(path)
    secrets = [generate_prekey_message(0x1234, make_rng(i)) for i in range(3)]
    store.add_prekeys([StoredPrekey.of(s) for s in secrets])
    shared = Ed448KeyPair.generate(make_rng(9))
    store.add_shared_prekey(0x1234, 2_000_000_000, shared.sym_key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = PrekeySecretStore(path)
    assert len(again) == 3
    peeked = again.prekey(secrets[1].identifier)
    assert peeked is not None and len(again) == 3
    got = again.take_prekey(secrets[1].identifier)
    assert got is not None
    assert got.public() == secrets[1].public()
    assert got.ecdh.shared_secret(ECDHKeyPair.generate(make_rng(5)).public)  # usable
    assert again.take_prekey(secrets[1].identifier) is None
    assert len(PrekeySecretStore(path)) == 2  # the removal was saved
    kp = PrekeySecretStore(path).shared_prekey(shared.public_bytes)
    assert kp is not None and kp.public == shared.public
    again.purge_shared(2_000_000_001)
    assert PrekeySecretStore(path).shared_prekey(shared.public_bytes) is None
    again.discard_prekeys([secrets[0].identifier])
    assert not PrekeySecretStore(path).has_prekey(secrets[0].identifier)


@pytest.mark.parametrize(
    "content",
    [b"{", b'{"version": 2}', b'{"version": 1, "prekeys": [{"id": 1}], "shared": []}', b"\xff"],
)
def test_malformed_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SecretStoreError):
        PrekeySecretStore(path)
