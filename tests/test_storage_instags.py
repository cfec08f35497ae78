"""otr.instance_tags: libotr's instance-tag file."""

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
from otr.storage import MIN_VALID_INSTAG, InstanceTagStore, KeyFileError

HEADER = (
    b"# WARNING! You shouldn't copy this file to another computer. "
    b"It is unnecessary and can cause problems.\n"
)
# As libotr 4.1.1 wrote it (otrl_instag_generate twice: the newest tag comes first).
LIBOTR_FILE = HEADER + b"bob\txmpp\tdad686c9\nalice@example.org\tprpl-jabber\t26a143c9\n"


# -- libotr itself, through ctypes, when available (conftest.load_libotr_so) ---------


def _load_libotr() -> Any:
    lib = load_libotr_so()
    if lib is None:
        return None
    lib.otrl_instag_read.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.otrl_instag_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.otrl_instag_generate.argtypes = [ctypes.c_void_p] + [ctypes.c_char_p] * 3
    lib.otrl_instag_find.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.otrl_instag_find.restype = ctypes.c_void_p
    return lib


LIBOTR = _load_libotr()
needs_libotr = pytest.mark.skipif(LIBOTR is None, reason="libotr (libotr.so.5) not available")


class _InsTag(ctypes.Structure):
    _fields_ = [  # libotr's OtrlInsTag (instag.h)
        ("next", ctypes.c_void_p),
        ("tous", ctypes.c_void_p),
        ("accountname", ctypes.c_char_p),
        ("protocol", ctypes.c_char_p),
        ("instag", ctypes.c_uint32),
    ]


class Libotr(LibotrUserState):
    def __init__(self) -> None:
        super().__init__(LIBOTR)

    def read(self, path: Path) -> None:
        assert LIBOTR.otrl_instag_read(self.us, os.fsencode(path)) == 0

    def generate(self, path: Path, account: bytes, protocol: bytes) -> None:
        assert LIBOTR.otrl_instag_generate(self.us, os.fsencode(path), account, protocol) == 0

    def find(self, account: bytes, protocol: bytes) -> int | None:
        p = LIBOTR.otrl_instag_find(self.us, account, protocol)
        return None if not p else int(ctypes.cast(p, ctypes.POINTER(_InsTag)).contents.instag)


# -- the file ----------------------------------------------------------------------------


def test_libotr_file_round_trips() -> None:
    store = InstanceTagStore.from_bytes(LIBOTR_FILE)
    assert store.entries() == [
        ("bob", "xmpp", 0xDAD686C9),
        ("alice@example.org", "prpl-jabber", 0x26A143C9),
    ]
    assert store.get("bob", "xmpp") == 0xDAD686C9
    assert store.get("bob", "irc") is None
    assert store.to_bytes() == LIBOTR_FILE
    assert InstanceTagStore().to_bytes() == HEADER
    assert InstanceTagStore.from_bytes(b"").entries() == []


def test_set_ensure_remove() -> None:
    store = InstanceTagStore.from_bytes(LIBOTR_FILE)
    store.set("alice@example.org", "prpl-jabber", 0x100)  # keeps its place
    assert store.entries()[1] == ("alice@example.org", "prpl-jabber", 0x100)
    # a new account's tag goes first, as libotr's otrl_instag_generate puts it
    rng_bytes = iter([b"\x00\x00\x00\xff", b"\x12\x34\x56\x78"])
    assert store.ensure("carol", "irc", rng=lambda n: next(rng_bytes)) == 0x12345678
    assert store.entries()[0] == ("carol", "irc", 0x12345678)
    assert store.ensure("carol", "irc") == 0x12345678  # already there
    assert store.ensure("dave", "irc") >= MIN_VALID_INSTAG
    assert store.remove("carol", "irc") and not store.remove("carol", "irc")
    assert len(store) == 3 and repr(store) == "<InstanceTagStore 3 tags>"


def test_duplicates_last_line_wins_and_set_merges() -> None:
    data = HEADER + b"a\tp\t00000101\nb\tp\t00000200\na\tp\t00000102\n"
    store = InstanceTagStore.from_bytes(data)
    assert store.get("a", "p") == 0x102
    assert store.to_bytes() == data
    store.set("a", "p", 0x103)
    assert store.to_bytes() == HEADER + b"a\tp\t00000103\nb\tp\t00000200\n"


def test_lenient_forms() -> None:
    data = b"# any comment\n\na\tp\tABCDEF01\r\n"
    store = InstanceTagStore.from_bytes(data)
    assert store.entries() == [("a", "p", 0xABCDEF01)]
    assert store.to_bytes() == HEADER + b"a\tp\tabcdef01\n"


@pytest.mark.parametrize(
    ("data", "message", "line", "column"),
    [
        (HEADER + b"a\tp\t00000101", "no line feed", 2, None),
        (b"a\tp\n", "separated by tabs", 1, None),
        (b"a\tp\t1\t2\n", "separated by tabs", 1, None),
        (b"junk\n", "separated by tabs", 1, None),
        (b"a\tp\t101\n", "8 hexadecimal digits", 1, 5),
        (b"a\tp\t0x000101\n", "8 hexadecimal digits", 1, 5),
        (b"a\tp\t000000ff\n", "below 0x100", 1, 5),
        (b"a\tp\t00000101\rx\n", "carriage return", 1, 13),
        (b"a\x00\tp\t00000101\n", "NUL", 1, 2),
    ],
)
def test_malformed(data: bytes, message: str, line: int, column: int | None) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        InstanceTagStore.from_bytes(data, source="otr.instance_tags")
    assert (info.value.line, info.value.column) == (line, column)


def test_bad_arguments() -> None:
    store = InstanceTagStore()
    with pytest.raises(ValueError, match="0x100"):
        store.set("a", "p", 0xFF)
    with pytest.raises(ValueError, match="0x100"):
        store.set("a", "p", 1 << 32)
    with pytest.raises(TypeError):
        store.set("a", "p", True)
    with pytest.raises(ValueError, match="tab"):
        store.set("a\tb", "p", 0x100)
    with pytest.raises(TypeError):
        InstanceTagStore.from_bytes("text")  # type: ignore[arg-type]


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "otr.instance_tags"
    store = InstanceTagStore()
    store.set("alice@example.org", "prpl-jabber", 0x26A143C9)
    store.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == HEADER + b"alice@example.org\tprpl-jabber\t26a143c9\n"
    assert InstanceTagStore.from_file(path).get("alice@example.org", "prpl-jabber") == 0x26A143C9
    with pytest.raises(FileNotFoundError):
        InstanceTagStore.from_file(tmp_path / "missing")


# -- properties --------------------------------------------------------------------------

field = st.text(
    st.characters(blacklist_characters="\x00\t\r\n", blacklist_categories=("Cs",)), max_size=6
).filter(lambda s: not s.startswith("#"))
tags = st.integers(MIN_VALID_INSTAG, 0xFFFFFFFF)


@given(st.lists(st.tuples(field, field, tags), max_size=6))
def test_round_trip(rows: list[tuple[str, str, int]]) -> None:
    store = InstanceTagStore()
    for account, protocol, tag in rows:
        store.set(account, protocol, tag)
    data = store.to_bytes()
    again = InstanceTagStore.from_bytes(data)
    assert again.to_bytes() == data
    for account, protocol, _ in rows:
        assert again.get(account, protocol) == store.get(account, protocol)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_key_file_error(data: bytes) -> None:
    with contextlib.suppress(KeyFileError):
        InstanceTagStore.from_bytes(data)


@given(st.lists(st.sampled_from([b"\t", b"\n", b"\r", b"#", b"a", b"00000100", b"\x00", b"f"])))
def test_token_soup_only_raises_key_file_error(parts: list[bytes]) -> None:
    with contextlib.suppress(KeyFileError):
        InstanceTagStore.from_bytes(b"".join(parts))


# -- against libotr (ctypes) -------------------------------------------------------------


@pytest.mark.interop
@needs_libotr
def test_libotr_generated_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "otr.instance_tags"
    lib = Libotr()
    try:
        lib.generate(path, b"alice@example.org", b"prpl-jabber")
        lib.generate(path, "été".encode(), b"xmpp")
        expected = {
            ("alice@example.org", "prpl-jabber"): lib.find(b"alice@example.org", b"prpl-jabber"),
            ("été", "xmpp"): lib.find("été".encode(), b"xmpp"),
        }
    finally:
        lib.close()
    data = path.read_bytes()
    store = InstanceTagStore.from_bytes(data)
    assert store.to_bytes() == data
    assert {(a, p): store.get(a, p) for a, p, _ in store.entries()} == expected
    assert store.entries()[0][0] == "été"  # the newest tag first


@pytest.mark.interop
@needs_libotr
@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(field.filter(bool), field.filter(bool), tags), max_size=5))
def test_libotr_reads_our_file(tmp_path_factory: Any, rows: list[tuple[str, str, int]]) -> None:
    path = tmp_path_factory.mktemp("it") / "otr.instance_tags"
    store = InstanceTagStore()
    for account, protocol, tag in rows:
        store.set(account, protocol, tag)
    store.save(path)
    lib = Libotr()
    try:
        lib.read(path)
        for account, protocol, _ in rows:
            assert lib.find(account.encode(), protocol.encode()) == store.get(account, protocol)
    finally:
        lib.close()
