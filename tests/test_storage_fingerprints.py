"""otr.fingerprints: libotr's trust file; the TrustStore a Conversation uses."""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LibotrUserState, load_libotr_so
from otr.conversation import TrustStore
from otr.events import Trust
from otr.storage import FingerprintEntry, FingerprintStore, KeyFileError

A = bytes.fromhex("aa" * 20)
B = bytes.fromhex("bb" * 20)
C = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")

# As libotr 4.1.1 writes it (otrl_privkey_write_fingerprints): contexts sorted by
# username, account, protocol; the trust field is always present, possibly empty.
LIBOTR_FILE = (
    b"amy\tme@x\tirc\t" + b"e" * 40 + b"\t\n"
    b"bob\tal@x\tprpl-jabber\t" + b"f" * 40 + b"\tfoo\tbar\n"
    b"bob\tme@x\tprpl-jabber\t" + b"d" * 40 + b"\t\n"
    b"bob\tme@x\tprpl-jabber\t" + b"c" * 40 + b"\tsmp\n"
    b"bob\tme@x\tprpl-jabber\t" + b"b" * 40 + b"\t\n"
    b"zed\tme@x\tprpl-jabber\t" + b"a" * 40 + b"\tverified\n"
)


# -- libotr itself, through ctypes, when available (conftest.load_libotr_so) ---------


class _Fingerprint(ctypes.Structure):
    _fields_ = [  # libotr's Fingerprint (context.h)
        ("next", ctypes.c_void_p),
        ("tous", ctypes.c_void_p),
        ("fingerprint", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        ("trust", ctypes.c_char_p),
    ]


def _load_libotr() -> Any:
    lib = load_libotr_so()
    if lib is None:
        return None
    lib.otrl_privkey_read_fingerprints.argtypes = [ctypes.c_void_p, ctypes.c_char_p] + [
        ctypes.c_void_p
    ] * 2
    lib.otrl_privkey_write_fingerprints.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.otrl_context_find.argtypes = (
        [ctypes.c_void_p]
        + [ctypes.c_char_p] * 3
        + [
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
    )
    lib.otrl_context_find.restype = ctypes.c_void_p
    lib.otrl_context_find_fingerprint.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    lib.otrl_context_find_fingerprint.restype = ctypes.POINTER(_Fingerprint)
    lib.otrl_context_set_trust.argtypes = [ctypes.POINTER(_Fingerprint), ctypes.c_char_p]
    return lib


LIBOTR = _load_libotr()
needs_libotr = pytest.mark.skipif(LIBOTR is None, reason="libotr (libotr.so.5) not available")


class Libotr(LibotrUserState):
    def __init__(self) -> None:
        super().__init__(LIBOTR)

    def read(self, path: Path) -> None:
        assert LIBOTR.otrl_privkey_read_fingerprints(self.us, os.fsencode(path), None, None) == 0

    def write(self, path: Path) -> bytes:
        assert LIBOTR.otrl_privkey_write_fingerprints(self.us, os.fsencode(path)) == 0
        return path.read_bytes()

    def _context(self, user: str, account: str, protocol: str, add: bool) -> Any:
        return LIBOTR.otrl_context_find(
            self.us,
            user.encode(),
            account.encode(),
            protocol.encode(),
            0,
            int(add),
            None,
            None,
            None,
        )

    def add(self, user: str, account: str, protocol: str, fp: bytes, trust: str | None) -> None:
        ctx = self._context(user, account, protocol, True)
        f = LIBOTR.otrl_context_find_fingerprint(ctx, fp, 1, None)
        if trust is not None:
            LIBOTR.otrl_context_set_trust(f, trust.encode())

    def trust(self, user: str, account: str, protocol: str, fp: bytes) -> str | None:
        """None when unknown, else the trust string ("" for NULL)."""
        ctx = self._context(user, account, protocol, False)
        if not ctx:
            return None
        f = LIBOTR.otrl_context_find_fingerprint(ctx, fp, 0, None)
        if not f:
            return None
        value = f.contents.trust
        return "" if value is None else value.decode()


# -- the file ----------------------------------------------------------------------------


def test_is_a_trust_store() -> None:
    store: TrustStore = FingerprintStore()
    assert store.get_trust("me@x", "xmpp", "bob", A) is Trust.NEW


def test_libotr_file_round_trips() -> None:
    store = FingerprintStore.from_bytes(LIBOTR_FILE)
    assert store.to_bytes() == LIBOTR_FILE
    assert len(store) == 6
    entries = store.entries()
    assert entries[1] == FingerprintEntry("bob", "al@x", "prpl-jabber", b"\xff" * 20, "foo\tbar")
    assert entries[0].trust == "" and not entries[0].verified and entries[1].verified
    assert store.get_trust("me@x", "prpl-jabber", "bob", b"\xcc" * 20) is Trust.VERIFIED
    assert store.get_trust("me@x", "prpl-jabber", "bob", b"\xbb" * 20) is Trust.UNVERIFIED
    assert store.get_trust("me@x", "prpl-jabber", "bob", A) is Trust.NEW
    assert store.get_trust("me@x", "irc", "bob", b"\xcc" * 20) is Trust.NEW
    assert store.known_fingerprints("me@x", "prpl-jabber", "bob") == [
        b"\xdd" * 20,
        b"\xcc" * 20,
        b"\xbb" * 20,
    ]
    assert store.known_fingerprints("me@x", "prpl-jabber", "nobody") == []


def test_lenient_forms_libotr_also_reads() -> None:
    data = (
        b"bob\tme@x\txmpp\t"
        + C.hex().upper().encode()
        + b"\r\n\nann\tme@x\txmpp\t"
        + b"a" * 40
        + b"\n"
    )
    store = FingerprintStore.from_bytes(data)
    assert store.entries() == [
        FingerprintEntry("bob", "me@x", "xmpp", C, ""),
        FingerprintEntry("ann", "me@x", "xmpp", A, ""),
    ]
    # written back as libotr would: lower case, trust field present, LF only
    assert store.to_bytes() == (
        b"bob\tme@x\txmpp\t" + C.hex().encode() + b"\t\nann\tme@x\txmpp\t" + b"a" * 40 + b"\t\n"
    )
    assert FingerprintStore.from_bytes(b"").entries() == []


def test_duplicate_line_later_trust_wins_like_libotr() -> None:
    line = b"bob\tme@x\txmpp\t" + b"a" * 40
    store = FingerprintStore.from_bytes(line + b"\t\n" + line + b"\tsmp\n")
    assert store.get_trust("me@x", "xmpp", "bob", A) is Trust.VERIFIED
    assert store.known_fingerprints("me@x", "xmpp", "bob") == [A]
    assert store.to_bytes() == line + b"\t\n" + line + b"\tsmp\n"
    store.set_trust("me@x", "xmpp", "bob", A, "")
    assert store.get_trust("me@x", "xmpp", "bob", A) is Trust.UNVERIFIED
    assert store.remove("me@x", "xmpp", "bob", A)
    assert store.to_bytes() == b""


@pytest.mark.parametrize(
    ("data", "message", "line", "column"),
    [
        (b"bob\tme@x\txmpp\t" + b"a" * 40, "no line feed", 1, None),
        (b"\nbob\tme@x\n", "separated by tabs", 2, None),
        (b"bob\tme@x\txmpp\t" + b"a" * 39 + b"\n", "40 or 112 hexadecimal digits", 1, 15),
        (b"b\tm\tx\t" + b"g" * 40 + b"\t\n", "40 or 112 hexadecimal digits", 1, 7),
        (b"b\tm\tx\t" + b"a" * 40 + b"\tsmp\rx\n", "carriage return", 1, 51),
        (b"b\x00\tm\tx\t" + b"a" * 40 + b"\n", "NUL", 1, 2),
    ],
)
def test_malformed(data: bytes, message: str, line: int, column: int | None) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        FingerprintStore.from_bytes(data, source="otr.fingerprints")
    assert (info.value.line, info.value.column) == (line, column)
    assert str(info.value).startswith(f"otr.fingerprints: line {line}")


def test_bad_arguments() -> None:
    store = FingerprintStore()
    with pytest.raises(ValueError, match=r"20 \(OTRv3\) or 56 \(OTRv4\) bytes"):
        store.add("me", "xmpp", "bob", b"short")
    with pytest.raises(ValueError, match="tab"):
        store.add("me", "xmpp", "bo\tb", A)
    with pytest.raises(ValueError, match="line feed"):
        store.set_trust("me", "xmpp", "bob", A, "x\ny")
    with pytest.raises(TypeError):
        FingerprintStore.from_bytes("text")  # type: ignore[arg-type]
    assert len(store) == 0 and repr(store) == "<FingerprintStore 0 fingerprints>"


def test_add_goes_where_libotr_puts_it() -> None:
    store = FingerprintStore.from_bytes(LIBOTR_FILE)
    store.add("me@x", "prpl-jabber", "bob", A)  # front of bob's list
    store.add("me@x", "prpl-jabber", "bob", A)  # already known: no change
    store.add("me@x", "irc", "carl", B)  # new context, sorted: after bob, before zed
    store.add("me@x", "irc", "al", B)  # new context, first
    users = [(e.username, e.fingerprint[:1]) for e in store.entries()]
    assert users == [
        ("al", b"\xbb"),
        ("amy", b"\xee"),
        ("bob", b"\xff"),
        ("bob", b"\xaa"),
        ("bob", b"\xdd"),
        ("bob", b"\xcc"),
        ("bob", b"\xbb"),
        ("carl", b"\xbb"),
        ("zed", b"\xaa"),
    ]


def test_add_entries_merges() -> None:
    ours = FingerprintStore()
    ours.add("me", "xmpp", "bob", A)
    theirs = FingerprintStore()
    theirs.set_trust("me", "xmpp", "bob", A, "smp")
    theirs.add("me", "xmpp", "bob", B)
    assert ours.add_entries(theirs.entries()) == 2
    assert ours.get_trust("me", "xmpp", "bob", A) is Trust.VERIFIED
    assert ours.add_entries(theirs.entries()) == 0
    empty = FingerprintStore()
    empty.add_entries(FingerprintStore.from_bytes(LIBOTR_FILE).entries())
    assert empty.to_bytes() == LIBOTR_FILE


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "otr.fingerprints"
    store = FingerprintStore()
    store.set_trust("alice@example.org", "prpl-jabber", "bob@example.org", C, "verified")
    store.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == (
        b"bob@example.org\talice@example.org\tprpl-jabber\t" + C.hex().encode() + b"\tverified\n"
    )
    again = FingerprintStore.from_file(path)
    assert again.find("alice@example.org", "prpl-jabber", "bob@example.org", C) == (
        FingerprintEntry("bob@example.org", "alice@example.org", "prpl-jabber", C, "verified")
    )
    with pytest.raises(FileNotFoundError):
        FingerprintStore.from_file(tmp_path / "missing")


# -- properties --------------------------------------------------------------------------

field = st.text(
    st.characters(blacklist_characters="\x00\t\r\n", blacklist_categories=("Cs",)), max_size=6
)
trust_text = st.text(
    st.characters(blacklist_characters="\x00\r\n", blacklist_categories=("Cs",)), max_size=6
)
fingerprints = st.sampled_from([A, B, C])


@given(st.lists(st.tuples(field, field, field, fingerprints, trust_text), max_size=8))
def test_round_trip(rows: list[tuple[str, str, str, bytes, str]]) -> None:
    store = FingerprintStore()
    for user, account, protocol, fp, trust in rows:
        store.set_trust(account, protocol, user, fp, trust)
    data = store.to_bytes()
    again = FingerprintStore.from_bytes(data)
    assert again.to_bytes() == data
    assert again.entries() == store.entries()
    for user, account, protocol, fp, _ in rows:
        assert again.get_trust(account, protocol, user, fp) is store.get_trust(
            account, protocol, user, fp
        )


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_key_file_error(data: bytes) -> None:
    with contextlib.suppress(KeyFileError):
        FingerprintStore.from_bytes(data)


@given(st.lists(st.sampled_from([b"\t", b"\n", b"\r", b"a", b"0" * 40, b"x", b"\x00", b"\xff"])))
def test_token_soup_only_raises_key_file_error(parts: list[bytes]) -> None:
    with contextlib.suppress(KeyFileError):
        FingerprintStore.from_bytes(b"".join(parts))


# -- against libotr (ctypes) -------------------------------------------------------------

small_names = st.sampled_from(["bob", "amy", "bob2", "zed", ""])
operations = st.lists(
    st.tuples(
        small_names,
        st.sampled_from(["me@x", "al@x"]),
        st.sampled_from(["xmpp", "irc"]),
        fingerprints,
        st.one_of(st.none(), st.sampled_from(["", "smp", "verified"])),
    ),
    max_size=12,
)


@pytest.mark.interop
@needs_libotr
@settings(max_examples=40, deadline=None)
@given(operations)
def test_same_bytes_as_libotr_for_the_same_updates(tmp_path_factory: Any, ops: list[Any]) -> None:
    path = tmp_path_factory.mktemp("fp") / "otr.fingerprints"
    lib = Libotr()
    ours = FingerprintStore()
    try:
        for user, account, protocol, fp, trust in ops:
            lib.add(user, account, protocol, fp, trust)
            if trust is None:
                ours.add(account, protocol, user, fp)
            else:
                ours.set_trust(account, protocol, user, fp, trust)
        written = lib.write(path)
    finally:
        lib.close()
    assert ours.to_bytes() == written
    assert FingerprintStore.from_bytes(written).to_bytes() == written


@pytest.mark.interop
@needs_libotr
def test_libotr_reads_our_file(tmp_path: Path) -> None:
    path = tmp_path / "otr.fingerprints"
    store = FingerprintStore.from_bytes(LIBOTR_FILE)
    store.set_trust("me@x", "xmpp", "été", C, "smp")
    store.save(path)
    lib = Libotr()
    try:
        lib.read(path)
        for e in store.entries():
            assert lib.trust(e.username, e.account, e.protocol, e.fingerprint) == e.trust
        assert lib.trust("bob", "me@x", "xmpp", C) is None
        rewritten = lib.write(tmp_path / "again")
    finally:
        lib.close()
    # libotr reverses each context's list when it reads and rewrites; the set is the same
    assert sorted(FingerprintStore.from_bytes(rewritten).entries(), key=repr) == sorted(
        store.entries(), key=repr
    )


# -- OTRv4 fingerprints ------------------------------------------------------------------

V4 = bytes(range(56))
V4_OTHER = bytes(range(100, 156))


def mixed_store() -> FingerprintStore:
    store = FingerprintStore.from_bytes(LIBOTR_FILE)
    store.add("me@x", "xmpp", "bob", V4)
    store.set_trust("me@x", "xmpp", "carol", V4_OTHER, "smp")
    return store


def test_v4_fingerprints_beside_libotr_ones() -> None:
    store = mixed_store()
    assert store.get_trust("me@x", "xmpp", "bob", V4) is Trust.UNVERIFIED
    assert store.get_trust("me@x", "xmpp", "carol", V4_OTHER) is Trust.VERIFIED
    assert store.get_trust("me@x", "xmpp", "carol", V4) is Trust.NEW
    assert V4 in store.known_fingerprints("me@x", "xmpp", "bob")
    data = store.to_bytes()
    assert b"bob\tme@x\txmpp\t" + V4.hex().encode() + b"\t\n" in data
    assert FingerprintStore.from_bytes(data).to_bytes() == data
    assert store.libotr_bytes() == FingerprintStore.from_bytes(LIBOTR_FILE).to_bytes()
    assert all(len(line.split(b"\t")[3]) == 112 for line in store.v4_bytes().splitlines())
    assert len(store.v4_bytes().splitlines()) == 2
    assert store.remove("me@x", "xmpp", "bob", V4)
    with pytest.raises(ValueError, match="56"):
        store.add("me@x", "xmpp", "bob", V4[:55])


def test_v4_fingerprints_are_saved_in_a_sibling_file(tmp_path: Path) -> None:
    path = tmp_path / "otr.fingerprints"
    sibling = tmp_path / "otr.fingerprints.v4"
    FingerprintStore.from_bytes(LIBOTR_FILE).save(path)
    assert not sibling.exists()  # a v3-only store writes libotr's file alone
    store = mixed_store()
    store.save(path)
    assert path.read_bytes() == store.libotr_bytes()
    assert b"\t" + V4.hex().encode() not in path.read_bytes()
    assert sibling.read_bytes() == store.v4_bytes()
    assert stat.S_IMODE(sibling.stat().st_mode) == 0o600
    loaded = FingerprintStore.from_file(path)
    assert sorted(loaded.entries(), key=repr) == sorted(store.entries(), key=repr)
    # Forgetting the last v4 fingerprints empties the sibling file.
    for e in loaded.entries():
        if len(e.fingerprint) == 56:
            loaded.remove(e.account, e.protocol, e.username, e.fingerprint)
    loaded.save(path)
    assert sibling.read_bytes() == b""
    assert FingerprintStore.from_file(path).to_bytes() == store.libotr_bytes()


def test_sibling_file_holds_only_v4_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "otr.fingerprints"
    path.write_bytes(b"")
    sibling = tmp_path / "otr.fingerprints.v4"
    sibling.write_bytes(b"bob\tme\txmpp\t" + A.hex().encode() + b"\t\n")
    with pytest.raises(KeyFileError, match="112 hexadecimal digits") as info:
        FingerprintStore.from_file(path)
    assert str(info.value).startswith(f"{sibling}: line 1")


@pytest.mark.interop
@needs_libotr
def test_libotr_skips_v4_lines_and_drops_them_when_it_rewrites(tmp_path: Path) -> None:
    # Why the v4 fingerprints live in a sibling file: libotr reads a mixed file (it skips
    # lines whose fingerprint is not 40 hex digits) but its rewrite loses those lines.
    store = mixed_store()
    mixed = tmp_path / "mixed"
    mixed.write_bytes(store.to_bytes())
    lib = Libotr()
    try:
        lib.read(mixed)
        for e in store.entries():
            expected = e.trust if len(e.fingerprint) == 20 else None
            assert lib.trust(e.username, e.account, e.protocol, e.fingerprint[:20]) == expected
        rewritten = lib.write(tmp_path / "again")
    finally:
        lib.close()
    assert b"\t" + V4.hex().encode() not in rewritten
    assert sorted(FingerprintStore.from_bytes(rewritten).entries(), key=repr) == sorted(
        FingerprintStore.from_bytes(store.libotr_bytes()).entries(), key=repr
    )
