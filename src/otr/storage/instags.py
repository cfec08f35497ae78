"""Our OTRv3 instance tags, in libotr's ``otr.instance_tags`` format.

libotr 4.1.1 (``instag.c``, ``otrl_instag_write_FILEp``) writes a fixed
warning line (``# WARNING! You shouldn't copy this file to another computer.
It is unnecessary and can cause problems.``, on one line), then one line per
account::

    accountname<TAB>protocol<TAB>8 lower-case hex digits<LF>

On reading, libotr skips lines without a tab (such as the warning), takes the
tag from exactly eight hex digits before the CR or LF, and drops tags below
0x100 (0-3 are meta tags, 4-0xFF reserved).  We accept the same lines but raise
:class:`~otr.storage.KeyFileError` (with the line number) where libotr would
silently skip one; lines starting with ``#`` and blank lines are comments.

Order: libotr pushes each line it reads, and each tag it generates, on the
front of a list, finds the first match in that list (so for an account listed
twice the *last* line wins) and writes the list front to back -- a freshly
generated tag comes first.  :class:`InstanceTagStore` keeps the order of the
file (a file libotr wrote comes back byte for byte), gives the last line
precedence, and puts a new account's tag first, as libotr does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from .keyfile import KeyFile, reject_stray_bytes, text_lines
from .sexp import KeyFileError, bytes_to_text, text_to_bytes

__all__ = ["MIN_VALID_INSTAG", "InstanceTagStore"]

MIN_VALID_INSTAG = 0x100
_MAX_INSTAG = 0xFFFFFFFF
_HEADER = (
    b"# WARNING! You shouldn't copy this file to another computer. "
    b"It is unnecessary and can cause problems.\n"
)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_FORBIDDEN = b"\t\r\n"


def _check_tag(tag: int) -> int:
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise TypeError("an instance tag is an int")
    if not MIN_VALID_INSTAG <= tag <= _MAX_INSTAG:
        raise ValueError("an instance tag is between 0x100 and 0xffffffff")
    return tag


class InstanceTagStore(KeyFile):
    """Our instance tag per (account, protocol), as libotr's ``otr.instance_tags``."""

    def __init__(self) -> None:
        self._rows: list[tuple[bytes, bytes, int]] = []

    # -- serialisation ---------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, source: str | None = None) -> InstanceTagStore:
        """Parse the contents of an ``otr.instance_tags`` file (strictly)."""
        store = cls()
        for number, line in text_lines(data, source):

            def fail(message: str, column: int | None = None, number: int = number) -> KeyFileError:
                return KeyFileError(message, source=source, line=number, column=column)

            if line.startswith(b"#") and b"\t" not in line:
                continue
            reject_stray_bytes(line, source, number)
            fields = line.split(b"\t")
            if len(fields) != 3:
                raise fail("expected account, protocol and instance tag separated by tabs")
            account, protocol, hextag = fields
            column = len(account) + len(protocol) + 3
            if len(hextag) != 8 or not all(c in _HEX for c in hextag):
                raise fail("the instance tag must be 8 hexadecimal digits", column)
            tag = int(hextag, 16)
            if tag < MIN_VALID_INSTAG:
                raise fail("instance tags below 0x100 are not valid", column)
            store._rows.append((account, protocol, tag))
        return store

    def to_bytes(self) -> bytes:
        """The file contents, as libotr writes them (warning line included)."""
        return _HEADER + b"".join(b"%s\t%s\t%08x\n" % row for row in self._rows)

    # -- tags ----------------------------------------------------------------------
    @staticmethod
    def _key(account: str, protocol: str) -> tuple[bytes, bytes]:
        return (
            text_to_bytes(account, "account", _FORBIDDEN),
            text_to_bytes(protocol, "protocol", _FORBIDDEN),
        )

    def get(self, account: str, protocol: str) -> int | None:
        """The account's tag, or None (the last line wins, as in libotr)."""
        key = self._key(account, protocol)
        for a, p, tag in reversed(self._rows):
            if (a, p) == key:
                return tag
        return None

    def set(self, account: str, protocol: str, tag: int) -> None:
        """Set the account's tag (>= 0x100).  A known account keeps its place in the file
        (duplicate lines are merged); a new one goes first, as libotr does."""
        _check_tag(tag)
        key = self._key(account, protocol)
        first = next((i for i, r in enumerate(self._rows) if (r[0], r[1]) == key), 0)
        rows = [r for r in self._rows if (r[0], r[1]) != key]
        rows.insert(first, (*key, tag))  # nothing of this account precedes `first`
        self._rows = rows

    def ensure(
        self,
        account: str,
        protocol: str,
        rng: Callable[[int], bytes] = secrets.token_bytes,
    ) -> int:
        """The account's tag, generating a random one (>= 0x100) when there is none."""
        tag = self.get(account, protocol)
        if tag is None:
            tag = 0
            while tag < MIN_VALID_INSTAG:
                tag = int.from_bytes(rng(4), "big")
            self.set(account, protocol, tag)
        return tag

    def remove(self, account: str, protocol: str) -> bool:
        """Forget the account's tag; True if there was one."""
        key = self._key(account, protocol)
        before = len(self._rows)
        self._rows = [r for r in self._rows if (r[0], r[1]) != key]
        return len(self._rows) != before

    def entries(self) -> list[tuple[str, str, int]]:
        """(account, protocol, tag) for every line, in file order."""
        return [(bytes_to_text(a), bytes_to_text(p), t) for a, p, t in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"<InstanceTagStore {len(self._rows)} tags>"
