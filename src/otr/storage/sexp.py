"""S-expressions as libgcrypt reads and writes them (the ``otr.private_key`` syntax).

libotr keeps its DSA keys as one S-expression, parsed with ``gcry_sexp_new`` and
printed piecewise with ``gcry_sexp_sprint(..., GCRYSEXP_FMT_ADVANCED, ...)``.
This module is a strict reader for the subset of libgcrypt's syntax that can
appear in such a file, and a printer that reproduces the advanced format byte
for byte, so that a file libotr wrote can be read and written back unchanged.

Data model: an atom is :class:`bytes`; a list is an :class:`SList` (a ``list``
subclass that remembers the line and column of its opening parenthesis).

Reader -- accepted atom syntaxes (libgcrypt's, minus display hints ``[..]``):

* tokens: a letter or one of ``-./_:*+=``, then letters, digits and those signs;
* quoted strings ``"..."`` with the escapes ``\\b \\t \\v \\n \\f \\r \\" \\' \\\\``,
  three-digit octal ``\\ooo``, ``\\xHH`` and backslash-newline (a line
  continuation, dropped);
* hexadecimal ``#61 62#`` (whitespace allowed between digits, even count);
* base64 ``|YWJj|``;
* verbatim ``3:abc`` (canonical encoding).

Whitespace is space, tab, CR, LF, VT and FF.  Exactly one top-level list is
allowed, with optional whitespace around it; anything else raises
:class:`SExpError` carrying the line and column.

Printer -- libgcrypt's advanced format, as observed from libgcrypt 1.10:

* ``(`` not at depth 0 is preceded by a newline and one space per enclosing
  list;
* after an atom comes a space unless the next item is ``)``;
* after ``)`` comes a newline plus indentation unless the next item is ``(`` or
  the end; the whole expression ends with a newline;
* an atom prints as a token when every byte is a letter, digit or one of
  ``-./_:*+=`` and it does not start with a digit; as hexadecimal (``#..#``,
  upper case) when it starts with a byte >= 0x80 or 0x00, or contains a
  control byte other than BS, HT, VT, LF, FF, CR, or a byte in 0x7F-0xA0;
  otherwise as a quoted string (the empty atom is ``""``).  A NUL byte after
  the first one is neither binary nor a token breaker to libgcrypt (its
  ``strchr`` tests match the terminator), so it prints ``\\x00`` inside a
  string; where libgcrypt would print such an atom as a bare token with a raw
  NUL (which libotr's ``fprintf("%s")`` would then cut short), we print the
  quoted string instead.  The reader, like libgcrypt's, lets a NUL byte start
  or continue a token.  No name can contain NUL; for a key number this needs
  every byte printable, which does not happen in practice.

So ``(private-key (dsa (p #00FC..#) ...))`` prints as
``(private-key \\n (dsa \\n  (p #00FC..#)\\n  ...  (x #..#)\\n  )\\n )\\n``
(note the space before each newline that follows an atom).
"""

from __future__ import annotations

import binascii
import bisect
from typing import TypeAlias

from ..errors import OtrError

__all__ = [
    "Atom",
    "KeyFileError",
    "SExp",
    "SExpError",
    "SList",
    "bytes_to_text",
    "encode_atom",
    "parse",
    "sprint_advanced",
    "text_to_bytes",
]


class KeyFileError(OtrError, ValueError):
    """A key, fingerprint or instance-tag file (or byte string) is malformed.

    ``source`` names the file (or ``<bytes>``), ``line`` and ``column`` are
    1-based positions when known.  ``str()`` gives one readable line such as
    ``otr.private_key: line 3, column 7: unterminated string``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.source is not None:
            where.append(self.source)
        if self.line is not None:
            pos = f"line {self.line}"
            if self.column is not None:
                pos += f", column {self.column}"
            where.append(pos)
        return ": ".join([*where, self.message])

    def with_source(self, source: str) -> KeyFileError:
        """The same error, attributed to ``source`` (a file name)."""
        return type(self)(self.message, source=source, line=self.line, column=self.column)


class SExpError(KeyFileError):
    """Syntax error in an S-expression."""


Atom: TypeAlias = bytes


class SList(list["SExp"]):
    """A list node.  ``line``/``column`` locate its ``(`` (0 when built in memory)."""

    line: int = 0
    column: int = 0

    def __init__(self, items: list[SExp] | tuple[SExp, ...] = (), line: int = 0, column: int = 0):
        super().__init__(items)
        self.line = line
        self.column = column

    def head(self) -> bytes | None:
        """The first element when it is an atom (the list's "name"), else None."""
        if self and isinstance(self[0], bytes):
            return self[0]
        return None


SExp: TypeAlias = "bytes | SList"

_WHITESPACE = b" \t\r\n\v\f"
_LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = b"0123456789"
_TOKEN_SPECIALS = b"-./_:*+="
# libgcrypt tests token characters with strchr(), which also matches a string's
# terminating NUL: a NUL byte starts or continues a token, when reading and printing.
# We never print such a token (see the module doc): _PRINT_TOKEN_CHARS has no NUL.
_PRINT_TOKEN_CHARS = frozenset(_LETTERS + _DIGITS + _TOKEN_SPECIALS)
_TOKEN_START = frozenset(_LETTERS + _TOKEN_SPECIALS + b"\0")
_TOKEN_CHARS = _PRINT_TOKEN_CHARS | {0}
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {
    ord("b"): 0x08,
    ord("t"): 0x09,
    ord("v"): 0x0B,
    ord("n"): 0x0A,
    ord("f"): 0x0C,
    ord("r"): 0x0D,
    ord('"'): 0x22,
    ord("'"): 0x27,
    ord("\\"): 0x5C,
}
_PRINT_ESCAPES = {v: b"\\" + bytes([k]) for k, v in _SIMPLE_ESCAPES.items()}
_PRINT_ESCAPES[0x00] = b"\\x00"
# Control bytes libgcrypt still prints inside a quoted string (escaped).
_ESCAPABLE_CONTROLS = frozenset(b"\b\t\v\n\f\r")
_MAX_DEPTH = 64


def _is_binary_byte(b: int) -> bool:
    # NUL is not "binary" after the first byte: libgcrypt tests membership with strchr(),
    # which also matches a string's terminating NUL.
    return (b < 0x20 and b != 0 and b not in _ESCAPABLE_CONTROLS) or 0x7F <= b <= 0xA0


def encode_atom(atom: bytes) -> bytes:
    """One atom in libgcrypt's advanced format: token, quoted string or ``#HEX#``."""
    if not atom:
        return b'""'
    if atom[0] & 0x80 or atom[0] == 0 or any(_is_binary_byte(b) for b in atom):
        return b"#" + atom.hex().upper().encode("ascii") + b"#"
    if atom[0] not in _DIGITS and all(b in _PRINT_TOKEN_CHARS for b in atom):
        return atom
    out = bytearray(b'"')
    for b in atom:
        esc = _PRINT_ESCAPES.get(b)
        if esc is not None:
            out += esc
        else:
            out.append(b)
    out += b'"'
    return bytes(out)


def sprint_advanced(expr: SList) -> bytes:
    """``gcry_sexp_sprint(expr, GCRYSEXP_FMT_ADVANCED)``, byte for byte (see module doc)."""
    out = bytearray()
    # Flatten into libgcrypt's event stream: "(" / ")" / atom, then walk it.
    events: list[bytes | bool | None] = []  # True = open, False = close, bytes = atom

    def flatten(node: SList, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise ValueError("S-expression nested too deeply")
        events.append(True)
        for item in node:
            if isinstance(item, SList):
                flatten(item, depth + 1)
            else:
                events.append(bytes(item))
        events.append(False)

    flatten(expr, 0)
    events.append(None)  # end
    depth = 0
    for i, ev in enumerate(events[:-1]):
        nxt = events[i + 1]
        if ev is True:
            if depth:
                out += b"\n" + b" " * depth
            out += b"("
            depth += 1
        elif ev is False:
            out += b")"
            depth -= 1
            if nxt is not True and nxt is not None:
                out += b"\n" + b" " * depth
        else:
            assert isinstance(ev, bytes)
            out += encode_atom(ev)
            if nxt is not False:
                out += b" "
    out += b"\n"
    return bytes(out)


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self._newlines: list[int] | None = None

    def where(self, pos: int) -> tuple[int, int]:
        """1-based (line, column) of byte offset ``pos``."""
        if self._newlines is None:
            self._newlines = [i for i, b in enumerate(self.data) if b == 0x0A]
        line = bisect.bisect_left(self._newlines, pos)
        start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, pos - start + 1

    def error(self, message: str, pos: int | None = None) -> SExpError:
        line, column = self.where(self.pos if pos is None else pos)
        return SExpError(message, line=line, column=column)

    def skip_ws(self) -> None:
        data = self.data
        while self.pos < len(data) and data[self.pos] in _WHITESPACE:
            self.pos += 1

    def parse(self) -> SList:
        self.skip_ws()
        if self.pos >= len(self.data):
            raise self.error("empty input, expected an S-expression")
        if self.data[self.pos] != 0x28:  # (
            raise self.error(f"expected '(', found {self.describe(self.pos)}")
        result = self.parse_list()
        self.skip_ws()
        if self.pos != len(self.data):
            raise self.error(f"trailing data after the S-expression: {self.describe(self.pos)}")
        return result

    def describe(self, pos: int) -> str:
        if pos >= len(self.data):
            return "end of input"
        b = self.data[pos]
        if 0x21 <= b <= 0x7E:
            return repr(chr(b))
        return f"byte 0x{b:02x}"

    def parse_list(self) -> SList:
        # Iterative, so that deep nesting cannot exhaust Python's stack.
        start = self.pos
        line, column = self.where(start)
        stack: list[SList] = [SList(line=line, column=column)]
        self.pos += 1
        data = self.data
        while True:
            self.skip_ws()
            if self.pos >= len(data):
                sl = stack[-1]
                raise self.error(
                    f"unexpected end of input: '(' at line {sl.line}, column {sl.column} "
                    "is never closed"
                )
            c = data[self.pos]
            if c == 0x28:  # (
                if len(stack) >= _MAX_DEPTH:
                    raise self.error("S-expression nested too deeply")
                line, column = self.where(self.pos)
                node = SList(line=line, column=column)
                stack[-1].append(node)
                stack.append(node)
                self.pos += 1
            elif c == 0x29:  # )
                self.pos += 1
                done = stack.pop()
                if not stack:
                    return done
            else:
                stack[-1].append(self.parse_atom())

    def parse_atom(self) -> bytes:
        data = self.data
        start = self.pos
        c = data[start]
        if c in _TOKEN_START:
            end = start + 1
            while end < len(data) and data[end] in _TOKEN_CHARS:
                end += 1
            self.pos = end
            return data[start:end]
        if c == 0x22:  # "
            return self.parse_string()
        if c == 0x23:  # #
            return self.parse_hex()
        if c == 0x7C:  # |
            return self.parse_base64()
        if c in _DIGITS:
            return self.parse_verbatim()
        if c == 0x5B:  # [
            raise self.error("display hints ('[...]') are not supported")
        raise self.error(f"unexpected {self.describe(start)}")

    def parse_string(self) -> bytes:
        data = self.data
        start = self.pos
        i = start + 1
        out = bytearray()
        while True:
            if i >= len(data):
                raise self.error("unterminated string", start)
            c = data[i]
            if c == 0x22:
                self.pos = i + 1
                return bytes(out)
            if c != 0x5C:
                out.append(c)
                i += 1
                continue
            # backslash escape
            if i + 1 >= len(data):
                raise self.error("unterminated string", start)
            e = data[i + 1]
            if e in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[e])
                i += 2
            elif e in b"01234567":
                digits = data[i + 1 : i + 4]
                if len(digits) != 3 or any(d not in b"01234567" for d in digits):
                    raise self.error("bad octal escape (need three octal digits)", i)
                value = int(digits, 8)
                if value > 0xFF:
                    raise self.error("octal escape out of range", i)
                out.append(value)
                i += 4
            elif e == ord("x"):
                digits = data[i + 2 : i + 4]
                if len(digits) != 2 or any(d not in _HEX_DIGITS for d in digits):
                    raise self.error("bad \\x escape (need two hex digits)", i)
                out.append(int(digits, 16))
                i += 4
            elif e in (0x0A, 0x0D):
                # line continuation: \<LF>, \<CR>, \<CR><LF>, \<LF><CR>
                i += 2
                if i < len(data) and data[i] in (0x0A, 0x0D) and data[i] != e:
                    i += 1
            else:
                raise self.error(f"unknown escape: backslash then {self.describe(i + 1)}", i)

    def parse_hex(self) -> bytes:
        data = self.data
        start = self.pos
        end = data.find(b"#", start + 1)
        if end < 0:
            raise self.error("unterminated hexadecimal atom ('#' without its closing '#')", start)
        digits = bytearray()
        for k in range(start + 1, end):
            b = data[k]
            if b in _HEX_DIGITS:
                digits.append(b)
            elif b not in _WHITESPACE:
                raise self.error(f"bad hexadecimal digit {self.describe(k)}", k)
        if len(digits) % 2:
            raise self.error("odd number of hexadecimal digits", start)
        self.pos = end + 1
        return bytes.fromhex(digits.decode("ascii"))

    def parse_base64(self) -> bytes:
        data = self.data
        start = self.pos
        end = data.find(b"|", start + 1)
        if end < 0:
            raise self.error("unterminated base64 atom ('|' without its closing '|')", start)
        body = data[start + 1 : end].rstrip(b"=")
        if len(body) % 4 == 1:
            raise self.error("bad base64 atom", start)
        try:
            value = binascii.a2b_base64(body + b"=" * (-len(body) % 4), strict_mode=True)
        except binascii.Error:
            raise self.error("bad base64 atom", start) from None
        self.pos = end + 1
        return value

    def parse_verbatim(self) -> bytes:
        data = self.data
        start = self.pos
        i = start
        while i < len(data) and data[i] in _DIGITS:
            i += 1
        if i >= len(data) or data[i] != 0x3A:  # :
            raise self.error("a length prefix must be followed by ':' (e.g. 3:abc)", start)
        text = data[start:i]
        if len(text) > 1 and text[0] == 0x30:
            raise self.error("length prefix with a leading zero", start)
        n = int(text)
        if n == 0:
            raise self.error("zero length prefix", start)
        if i + 1 + n > len(data):
            raise self.error("verbatim atom runs past the end of input", start)
        self.pos = i + 1 + n
        return data[i + 1 : i + 1 + n]


def parse(data: bytes) -> SList:
    """Parse one S-expression (a list); raises :class:`SExpError` with line and column."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse() takes bytes")
    return _Parser(bytes(data)).parse()


# -- names -------------------------------------------------------------------
# libotr handles account names, protocols and usernames as C strings: bytes
# without NUL, in practice UTF-8.  The Python API uses str; bytes that are not
# UTF-8 survive a round trip as lone surrogates ("surrogateescape").


_CHAR_NAMES = {0x00: "a NUL byte", 0x09: "a tab", 0x0A: "a line feed", 0x0D: "a carriage return"}


def text_to_bytes(value: str, what: str, forbidden: bytes = b"") -> bytes:
    """Encode an API string for a libotr file; ValueError if it cannot be stored."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains a lone surrogate, which has no UTF-8 form") from None
    for b in b"\x00" + forbidden:
        if b in raw:
            raise ValueError(f"{what} must not contain {_CHAR_NAMES.get(b, repr(chr(b)))}")
    return raw


def bytes_to_text(raw: bytes) -> str:
    """Decode a name read from a libotr file (non-UTF-8 bytes become lone surrogates)."""
    return raw.decode("utf-8", "surrogateescape")
