"""What the three libotr files have in common: reading and saving a whole file
(:class:`KeyFile`), and the line discipline of the two line-oriented ones,
``otr.fingerprints`` and ``otr.instance_tags`` (:func:`text_lines`,
:func:`reject_stray_bytes`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Self

from .atomic import atomic_write
from .sexp import KeyFileError

__all__ = [
    "FINGERPRINTS_FILE",
    "INSTAG_FILE",
    "PRIVKEY_FILE",
    "KeyFile",
    "reject_stray_bytes",
    "text_lines",
]

PRIVKEY_FILE = "otr.private_key"
"""File names libotr's Pidgin plugin uses in ``~/.purple``."""
FINGERPRINTS_FILE = "otr.fingerprints"
INSTAG_FILE = "otr.instance_tags"


class KeyFile:
    """A store kept in one file: :meth:`from_file` and :meth:`save` on top of the
    subclass's :meth:`from_bytes` and :meth:`to_bytes`."""

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str | None = None) -> Self:
        """Parse the file's contents; ``source`` names it in errors."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The file's contents."""
        raise NotImplementedError

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Self:
        """Read a file; OSError when it cannot be read, KeyFileError when malformed."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data, source=os.fspath(path))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_bytes` to ``path`` atomically, mode 0600."""
        atomic_write(path, self.to_bytes(), 0o600)


def text_lines(data: bytes, source: str | None) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of ``data`` with their 1-based numbers, a CR before the
    LF removed.  Every line must end with LF: libotr ignores an unterminated last
    line, so it is a :class:`KeyFileError` here."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("from_bytes() takes bytes")
    lines = bytes(data).split(b"\n")
    for number, line in enumerate(lines, start=1):
        if number == len(lines):
            if line:
                raise KeyFileError(
                    "last line has no line feed (libotr would ignore it)",
                    source=source,
                    line=number,
                )
            return
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            yield number, line


def reject_stray_bytes(line: bytes, source: str | None, number: int) -> None:
    """A NUL or a CR inside a line is a :class:`KeyFileError` naming its column."""
    for bad, name in ((b"\x00", "NUL byte"), (b"\r", "carriage return")):
        k = line.find(bad)
        if k >= 0:
            raise KeyFileError(f"stray {name}", source=source, line=number, column=k + 1)
