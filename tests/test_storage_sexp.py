"""S-expression reader/printer: libgcrypt's syntax and its advanced-format output."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from otr.errors import OtrError
from otr.storage import KeyFileError, SExpError
from otr.storage.sexp import SList, encode_atom, parse, sprint_advanced

# -- libgcrypt through ctypes (the reference printer), when available ----------------


def _load_gcrypt() -> Any:
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("gcrypt") or "libgcrypt.so.20")
    except OSError:
        return None
    lib.gcry_check_version.restype = ctypes.c_char_p
    lib.gcry_check_version.argtypes = [ctypes.c_char_p]
    if not lib.gcry_check_version(None):
        return None
    lib.gcry_sexp_sscan.argtypes = [
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.gcry_sexp_sscan.restype = ctypes.c_uint
    lib.gcry_sexp_sprint.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.gcry_sexp_sprint.restype = ctypes.c_size_t
    lib.gcry_sexp_release.argtypes = [ctypes.c_void_p]
    return lib


GCRYPT = _load_gcrypt()
needs_gcrypt = pytest.mark.skipif(GCRYPT is None, reason="libgcrypt not available")
GCRYSEXP_FMT_ADVANCED = 3


def gcrypt_sprint(text: bytes) -> bytes:
    handle = ctypes.c_void_p()
    err = GCRYPT.gcry_sexp_sscan(ctypes.byref(handle), None, text, len(text))
    assert err == 0, f"libgcrypt rejected {text!r}: {err}"
    try:
        n = GCRYPT.gcry_sexp_sprint(handle, GCRYSEXP_FMT_ADVANCED, None, 0)
        buf = ctypes.create_string_buffer(n)
        m = GCRYPT.gcry_sexp_sprint(handle, GCRYSEXP_FMT_ADVANCED, buf, n)
        return buf.raw[:m]
    finally:
        GCRYPT.gcry_sexp_release(handle)


def canonical(node: SList) -> bytes:
    """The canonical (length-prefixed) encoding, which both parsers read unambiguously."""
    out = b"("
    for item in node:
        out += canonical(item) if isinstance(item, SList) else b"%d:%s" % (len(item), item)
    return out + b")"


# -- strategies ------------------------------------------------------------------

atoms = st.one_of(
    st.binary(min_size=1, max_size=12),
    st.sampled_from([b"p", b"dsa", b"prpl-jabber", b"alice@example.org", b"1abc", b"-x"]),
    st.text(max_size=8).map(lambda s: s.encode("utf-8")).filter(bool),
)


def trees(max_leaves: int = 12) -> st.SearchStrategy[SList]:
    nodes = st.recursive(
        atoms,
        lambda children: st.lists(children, max_size=4).map(SList),
        max_leaves=max_leaves,
    )
    # libgcrypt reads an empty top-level list as nothing at all: give the top an atom.
    return st.tuples(atoms, st.lists(nodes, max_size=4)).map(lambda t: SList([t[0], *t[1]]))


_GCRYPT_TOKEN_BYTES = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-./_:*+=\x00"
)


def has_raw_nul_token(node: Any) -> bool:
    """An atom libgcrypt prints as a bare token holding a raw NUL (we quote it instead)."""
    if isinstance(node, SList):
        return any(has_raw_nul_token(x) for x in node)
    return (
        b"\x00" in node
        and node[0] not in b"0123456789\x00"
        and all(b in _GCRYPT_TOKEN_BYTES for b in node)
    )


def normalise(node: Any) -> Any:
    if isinstance(node, SList):
        return [normalise(x) for x in node]
    return node


# -- reader -----------------------------------------------------------------------


def test_parse_all_atom_syntaxes() -> None:
    text = b'(a tok-1.x "q\\"\\n\\101\\x41" #61 62# |YWJj| 3:a(b "" ##)'
    assert parse(text) == [b"a", b"tok-1.x", b'q"\nAA', b"ab", b"abc", b"a(b", b"", b""]


def test_parse_nested_and_positions() -> None:
    tree = parse(b"(privkeys\n (account\n(name x)))\n")
    assert tree == [b"privkeys", [b"account", [b"name", b"x"]]]
    account = tree[1]
    assert isinstance(account, SList)
    assert (tree.line, tree.column) == (1, 1)
    assert (account.line, account.column) == (2, 2)
    inner = account[1]
    assert isinstance(inner, SList) and (inner.line, inner.column) == (3, 1)
    assert tree.head() == b"privkeys" and SList([SList()]).head() is None


def test_line_continuation_in_strings() -> None:
    assert parse(b'(a "x\\\ny" "x\\\r\ny")') == [b"a", b"xy", b"xy"]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        (b"", "empty input", 1, 1),
        (b"  \n ", "empty input", 2, 2),
        (b"abc", "expected '('", 1, 1),
        (b"(a b", "never closed", 1, 5),
        (b"(a b))", "trailing data", 1, 6),
        (b"(a)(b)", "trailing data", 1, 4),
        (b'(a\n  "unterminated)', "unterminated string", 2, 3),
        (b'(a "\\q")', "unknown escape", 1, 5),
        (b'(a "\\18")', "octal", 1, 5),
        (b'(a "\\777")', "out of range", 1, 5),
        (b'(a "\\x4")', "\\x escape", 1, 5),
        (b"(a #616#)", "odd number", 1, 4),
        (b"(a #6G#)", "hexadecimal digit", 1, 6),
        (b"(a #61", "unterminated hexadecimal", 1, 4),
        (b"(a |YWJj)", "unterminated base64", 1, 4),
        (b"(a |Y|)", "bad base64", 1, 4),
        (b"(a 1abc)", "length prefix", 1, 4),
        (b"(a 0:)", "zero length", 1, 4),
        (b"(a 01:x)", "leading zero", 1, 4),
        (b"(a 9:abc)", "past the end", 1, 4),
        (b"(a [hint]b)", "display hints", 1, 4),
        (b"(a b@c)", "unexpected '@'", 1, 5),
        (b"(" * 100 + b")" * 100, "too deeply", 1, 65),
    ],
)
def test_parse_errors(text: bytes, message: str, line: int, column: int) -> None:
    with pytest.raises(SExpError) as info:
        parse(text)
    e = info.value
    assert message in str(e)
    assert (e.line, e.column) == (line, column)
    assert isinstance(e, KeyFileError) and isinstance(e, OtrError) and isinstance(e, ValueError)


def test_error_rendering() -> None:
    e = KeyFileError("bad", source="f", line=3, column=7)
    assert str(e) == "f: line 3, column 7: bad"
    assert str(KeyFileError("bad")) == "bad"
    assert str(KeyFileError("bad", line=2).with_source("g")) == "g: line 2: bad"


def test_parse_rejects_str() -> None:
    with pytest.raises(TypeError):
        parse("(a)")  # type: ignore[arg-type]


@given(st.binary(max_size=200))
def test_parse_arbitrary_bytes_only_raises_sexp_error(data: bytes) -> None:
    with contextlib.suppress(SExpError):
        parse(data)


@given(st.lists(st.sampled_from([b"(", b")", b"a", b" ", b'"', b"\\", b"#", b"|", b"3:", b"\n"])))
def test_parse_token_soup_only_raises_sexp_error(parts: list[bytes]) -> None:
    with contextlib.suppress(SExpError):
        parse(b"".join(parts))


# -- printer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atom", "printed"),
    # observed from libgcrypt 1.10's gcry_sexp_sprint(GCRYSEXP_FMT_ADVANCED)
    [
        (b"alice@example.org", b'"alice@example.org"'),
        (b"prpl-jabber", b"prpl-jabber"),
        (b"xmpp", b"xmpp"),
        (b"1abc", b'"1abc"'),
        (b"", b'""'),
        (b"a b", b'"a b"'),
        (b'a"b', b'"a\\"b"'),
        (b"a\\b", b'"a\\\\b"'),
        (b"'q", b'"\\\'q"'),
        (b"a\tb\x0b\x0c\r\x08\n", b'"a\\tb\\v\\f\\r\\b\\n"'),
        (b"\x01x", b"#0178#"),
        ("café".encode(), b'"caf\xc3\xa9"'),
        ("à".encode(), b"#C3A0#"),
        (b"a\x7f", b"#617F#"),
        (b"\x00\xfc", b"#00FC#"),
        (b"-x", b"-x"),
        (b"\x08\x00", b'"\\b\\x00"'),  # libgcrypt: NUL is not binary after the first byte
        (b"a\x00\xff", b'"a\\x00\xff"'),
        (b"a\x00\x01", b"#610001#"),
        (b"a\x00", b'"a\\x00"'),  # libgcrypt prints a raw NUL in a bare token here
        (b"a:b*+=/._", b"a:b*+=/._"),
    ],
)
def test_encode_atom(atom: bytes, printed: bytes) -> None:
    assert encode_atom(atom) == printed
    assert parse(b"(a " + printed + b")")[1] == atom


def test_sprint_layout() -> None:
    assert sprint_advanced(SList([b"name", b"bob"])) == b"(name bob)\n"
    assert sprint_advanced(parse(b"(a (b) c)")) == b"(a \n (b)\n c)\n"
    assert sprint_advanced(parse(b"((a))")) == b"(\n (a)\n )\n"
    key = parse(b"(private-key (dsa (p #00FC#) (x #01#)))")
    assert sprint_advanced(key) == (b"(private-key \n (dsa \n  (p #00FC#)\n  (x #01#)\n  )\n )\n")


@given(trees())
def test_sprint_parse_round_trip(tree: SList) -> None:
    printed = sprint_advanced(tree)
    assert normalise(parse(printed)) == normalise(tree)
    assert sprint_advanced(parse(printed)) == printed


@needs_gcrypt
@given(trees())
def test_sprint_matches_libgcrypt(tree: SList) -> None:
    assume(not has_raw_nul_token(tree))
    assert sprint_advanced(tree) == gcrypt_sprint(canonical(tree))


@needs_gcrypt
@given(trees(max_leaves=6))
def test_parse_agrees_with_libgcrypt(tree: SList) -> None:
    # libgcrypt reads our advanced output back to the same tree, and we read its
    # output back to the same tree (it prints identically unless it chose a bare
    # token with a raw NUL, which we quote).
    printed = sprint_advanced(tree)
    theirs = gcrypt_sprint(printed)
    assert normalise(parse(theirs)) == normalise(tree)
    if not has_raw_nul_token(tree):
        assert theirs == printed


@needs_gcrypt
@pytest.mark.parametrize("text", [b"(a \x00)", b"(A\x00)", b"(A\x00B)", b"(a\x00\x00 b)"])
def test_nul_in_tokens_is_read_as_libgcrypt_reads_it(text: bytes) -> None:
    # libgcrypt's strchr() token test matches the terminating NUL: a NUL byte
    # starts or continues a token.
    assert parse(gcrypt_sprint(text)) == parse(text)


# controls around the escapable ones, quotes, backslash, digits, token signs, 0x7F-0xA1, 0xFF
_BOUNDARY_BYTES = b"\x00\x01\x07\x08\t\n\x0b\x0c\r\x0e\x1f \"'\\09a-:@~\x7f\x80\xa0\xa1\xff"


@needs_gcrypt
def test_atoms_exhaustively_against_libgcrypt() -> None:
    candidates = [bytes([b]) for b in range(256)]
    candidates += [bytes([a, b]) for a in _BOUNDARY_BYTES for b in _BOUNDARY_BYTES]
    for atom in candidates:
        tree = SList([b"n", atom])
        printed = sprint_advanced(tree)
        assert parse(printed)[1] == atom
        if not has_raw_nul_token(tree):
            assert printed == gcrypt_sprint(canonical(tree)), atom
