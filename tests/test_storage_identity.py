"""Our identity file ``otr.identities`` (``otr.storage.identity``)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otr.crypto.ed448 import G, P
from otr.storage import IDENTITY_FILE, IdentityStore, KeyFileError
from otr.v4.identity import Identity, V4Keys
from otr.v4.keys import Ed448KeyPair, ForgingKey
from v3_util import dsa_key

NOW = 1_800_000_000.0


def v4_identity(account: str = "alice@example.org", **kw: object) -> Identity:
    return Identity.generate(account, "xmpp", os.urandom, NOW, **kw)  # type: ignore[arg-type]


def store_of(*identities: Identity) -> IdentityStore:
    store = IdentityStore()
    for i in identities:
        store.set(i)
    return store


def same(a: Identity, b: Identity) -> None:
    assert (a.account, a.protocol, a.instance_tag) == (b.account, b.protocol, b.instance_tag)
    assert a.dsa_key == b.dsa_key
    assert a.fingerprint == b.fingerprint
    if a.v4 is not None:
        assert b.v4 is not None
        assert a.v4.long_term.sym_key == b.v4.long_term.sym_key
        fa, fb = a.v4.forging.keypair, b.v4.forging.keypair
        assert (fa and fa.sym_key) == (fb and fb.sym_key)
    pa, pb = a.client_profile, b.client_profile
    assert (pa and pa.encode()) == (pb and pb.encode())
    assert [p.encode() for p in a.previous_profiles] == [p.encode() for p in b.previous_profiles]


def test_round_trip_every_kind_of_identity(tmp_path: Path) -> None:
    ids = [
        v4_identity(),
        v4_identity("bob@example.org", dsa_key=dsa_key("both"), keep_forging_secret=True),
        Identity.generate("carol", "irc", os.urandom, NOW, dsa_key=dsa_key("v3"), v4=False),
        Identity("dave", "xmpp", 0x100, None, V4Keys.generate(os.urandom)),  # no profile yet
    ]
    store = store_of(*ids)
    data = store.to_bytes()
    again = IdentityStore.from_bytes(data)
    assert again.accounts() == [(i.account, i.protocol) for i in ids]
    for i in ids:
        loaded = again.get(i.account, i.protocol)
        assert loaded is not None
        same(i, loaded)
    assert again.to_bytes() == data
    path = tmp_path / IDENTITY_FILE
    store.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert IdentityStore.from_file(path).to_bytes() == data


def test_previous_profiles_round_trip() -> None:
    renewed = v4_identity()
    first = renewed.client_profile
    assert first is not None and renewed.renew_profile(first.expiration - 3600, os.urandom)
    assert renewed.renew_profile(first.expiration - 1800, os.urandom, versions="4") is False
    again = IdentityStore.from_bytes(store_of(renewed).to_bytes()).get("alice@example.org", "xmpp")
    assert again is not None and len(again.previous_profiles) == 1
    same(renewed, again)
    assert b"(previous-client-profiles #" in store_of(renewed).to_bytes()


def test_layout() -> None:
    identity = v4_identity(keep_forging_secret=False)
    text = store_of(identity).to_bytes().decode()
    lines = text.splitlines()
    assert lines[:5] == [
        "(otr-identities",
        ' (version "1")',
        " (identity",
        '  (account "alice@example.org")',
        "  (protocol xmpp)",
    ]
    assert f"  (instance-tag #{identity.instance_tag:08X}#)" in lines
    assert any(line.startswith("  (ed448-forging-public #") for line in lines)
    assert not any("(ed448-forging #" in line for line in lines)
    assert lines[-2:] == [" )", ")"]


def test_store_api() -> None:
    a, b = v4_identity(), v4_identity("bob")
    store = store_of(a, b)
    assert len(store) == 2 and store.get("alice@example.org", "xmpp") is a
    replacement = v4_identity()
    store.set(replacement)
    assert store.accounts() == [("alice@example.org", "xmpp"), ("bob", "xmpp")]
    assert store.get("alice@example.org", "xmpp") is replacement
    assert store.remove("bob", "xmpp") and not store.remove("bob", "xmpp")
    assert store.identities() == [replacement]
    assert "alice@example.org" in repr(store)
    with pytest.raises(ValueError):
        store.set(Identity("bad\x00name", "xmpp", 0x100, None, V4Keys.generate(os.urandom)))


def good_file() -> bytes:
    return store_of(v4_identity(dsa_key=dsa_key("file"))).to_bytes()


def replace_line(prefix: str, new: str) -> bytes:
    lines = good_file().decode().splitlines(keepends=True)
    out = [new + "\n" if line.lstrip().startswith(prefix) else line for line in lines]
    assert out != lines
    return "".join(out).encode()


def insert_after_account(extra: str) -> bytes:
    return good_file().replace(b"  (protocol xmpp)\n", b"  (protocol xmpp)\n" + extra.encode())


OTHER = Ed448KeyPair.generate(os.urandom)
FOREIGN_PROFILE = v4_identity().client_profile
assert FOREIGN_PROFILE is not None
MALFORMED = {
    "previous profile of another key": (
        insert_after_account(f"  (previous-client-profiles #{FOREIGN_PROFILE.encode().hex()}#)\n"),
        "does not belong",
    ),
    "garbage previous profile": (
        insert_after_account("  (previous-client-profiles #0000#)\n"),
        "unreadable previous Client Profile",
    ),
    "empty previous profiles": (
        insert_after_account("  (previous-client-profiles)\n"),
        "one or more values",
    ),
    "wrong head": (b'(privkeys (version "1"))\n', "expected (otr-identities"),
    "no version": (b"(otr-identities)\n", "must start with (version"),
    "version 2": (replace_line("(version", ' (version "2")'), "unsupported"),
    "unknown field": (insert_after_account('  (colour "blue")\n'), "unexpected value"),
    "bare value": (insert_after_account("  loose\n"), "unexpected value"),
    "duplicate field": (insert_after_account("  (protocol irc)\n"), "appears twice"),
    "short tag": (replace_line("(instance-tag", "  (instance-tag #0101#)"), "4 bytes"),
    "reserved tag": (replace_line("(instance-tag", "  (instance-tag #000000FF#)"), "0x100"),
    "short key": (replace_line("(ed448-long-term", "  (ed448-long-term #00#)"), "57 bytes"),
    "forging not a point": (
        replace_line(
            "(ed448-forging-public",
            f"  (ed448-forging-public #{P.to_bytes(57, 'little').hex()}#)",
        ),
        "not a valid point",
    ),
    "profile of another key": (
        replace_line("(ed448-long-term", f"  (ed448-long-term #{OTHER.sym_key.hex()}#)"),
        "does not belong",
    ),
    "garbage profile": (
        replace_line("(client-profile", "  (client-profile #0000#)"),
        "unreadable Client Profile",
    ),
    "no keys at all": (
        b'(otr-identities (version "1") (identity (account a) (protocol p)'
        b" (instance-tag #00000100#)))\n",
        "neither a DSA key nor OTRv4 keys",
    ),
    "profile without keys": (
        b'(otr-identities (version "1") (identity (account a) (protocol p)'
        b" (instance-tag #00000100#) (client-profile #00#)))\n",
        "without the OTRv4 keys",
    ),
    "forging without long-term": (
        b'(otr-identities (version "1") (identity (account a) (protocol p)'
        b" (instance-tag #00000100#) (ed448-forging-public #"
        + G.encode().hex().encode()
        + b"#)))\n",
        "without (ed448-long-term",
    ),
    "long-term without forging": (
        b'(otr-identities (version "1") (identity (account a) (protocol p)'
        b" (instance-tag #00000100#) (ed448-long-term #" + bytes(57).hex().encode() + b"#)))\n",
        "exactly one of",
    ),
    "missing account": (
        b'(otr-identities (version "1") (identity (protocol p) (instance-tag #00000100#)))\n',
        "lacks (account",
    ),
    "NUL in account": (
        b'(otr-identities (version "1") (identity (account "a\\x00b") (protocol p)'
        b" (instance-tag #00000100#)))\n",
        "NUL",
    ),
    "not an identity": (b'(otr-identities (version "1") (other))\n', "expected (identity"),
    "syntax": (b'(otr-identities (version "1")\n', "unexpected end of input"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files(case: str) -> None:
    data, message = MALFORMED[case]
    with pytest.raises(KeyFileError, match=re.escape(message)):
        IdentityStore.from_bytes(data)


def test_bad_dsa_key_is_reported() -> None:
    data = good_file()
    start = data.index(b"(x #") + 4
    last = data.index(b"#", start) - 1
    # Change x's last hex digit, so x no longer matches y whatever x was (a fixed
    # replacement of the first digits left x unchanged for 1 key in 256).
    digit = b"1" if data[last : last + 1] != b"1" else b"2"
    data = data[:last] + digit + data[last + 1 :]
    with pytest.raises(KeyFileError, match="DSA"):
        IdentityStore.from_bytes(data)


def test_duplicate_identity_and_error_position(tmp_path: Path) -> None:
    one = store_of(v4_identity()).to_bytes()
    body = one[one.index(b" (identity") : one.rindex(b")\n")]
    data = one[: one.rindex(b")\n")] + body + b")\n"
    path = tmp_path / IDENTITY_FILE
    path.write_bytes(data)
    with pytest.raises(KeyFileError, match="second identity") as info:
        IdentityStore.from_file(path)
    line = data[: data.rindex(b" (identity")].count(b"\n") + 1
    assert info.value.line == line and info.value.column == 2
    assert str(path) in str(info.value)


def test_forging_secret_is_kept_when_asked() -> None:
    identity = v4_identity(keep_forging_secret=True)
    loaded = IdentityStore.from_bytes(store_of(identity).to_bytes()).get(
        identity.account, identity.protocol
    )
    assert loaded is not None and loaded.v4 is not None
    assert loaded.v4.forging.keypair is not None
    assert loaded.v4.forging == ForgingKey(
        loaded.v4.forging.keypair.public, loaded.v4.forging.keypair
    )


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_mutated_file_only_raises_key_file_error(data: st.DataObject) -> None:
    good = GOOD
    pos = data.draw(st.integers(0, len(good) - 1))
    how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    if how == "flip":
        mutated = (
            good[:pos] + bytes((good[pos] ^ data.draw(st.integers(1, 255)),)) + good[pos + 1 :]
        )
    elif how == "cut":
        mutated = good[:pos] + good[pos + data.draw(st.integers(1, 40)) :]
    else:
        mutated = good[:pos] + data.draw(st.binary(min_size=1, max_size=8)) + good[pos:]
    try:
        store = IdentityStore.from_bytes(mutated)
    except KeyFileError:
        return
    store.to_bytes()  # whatever loads can be written back


GOOD = good_file()


def test_load_identity_from_a_key_directory(tmp_path: Path) -> None:
    from otr.storage import InstanceTagStore, PrivateKeyStore
    from otr.storage.identity import load_identity

    assert load_identity(tmp_path, "a", "xmpp") is None  # no files at all
    key, own = dsa_key("dir"), dsa_key("own")
    keys = PrivateKeyStore()
    keys.set("a", "xmpp", key)
    keys.set("b", "xmpp", key)
    keys.save(tmp_path / "otr.private_key")
    a = Identity.generate("a", "xmpp", os.urandom, NOW)  # OTRv4 part only
    b = Identity.generate("b", "xmpp", os.urandom, NOW, dsa_key=own)  # holds its own key
    store_of(a, b).save(tmp_path / IDENTITY_FILE)
    loaded = load_identity(tmp_path, "a", "xmpp")
    assert loaded is not None and loaded.dsa_key == key and loaded.fingerprint == a.fingerprint
    loaded_b = load_identity(tmp_path, "b", "xmpp")
    assert loaded_b is not None and loaded_b.dsa_key == own
    # A DSA key without an instance tag is not an identity yet; with one it is.
    keys.set("c", "xmpp", key)
    keys.save(tmp_path / "otr.private_key")
    assert load_identity(tmp_path, "c", "xmpp") is None
    tags = InstanceTagStore()
    tags.set("c", "xmpp", 0x1234)
    tags.save(tmp_path / "otr.instance_tags")
    loaded_c = load_identity(tmp_path, "c", "xmpp")
    assert loaded_c is not None and loaded_c.v4 is None and loaded_c.instance_tag == 0x1234
