"""otr.storage.keyfile: the line discipline of libotr's text files, and file I/O."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from otr.storage.keyfile import KeyFile, reject_stray_bytes, text_lines
from otr.storage.sexp import KeyFileError


def test_text_lines_numbers_strips_cr_and_skips_blank_lines() -> None:
    data = b"a\tb\n\r\n\nc\r\n"
    assert list(text_lines(data, "f")) == [(1, b"a\tb"), (4, b"c")]
    assert list(text_lines(b"", None)) == []


def test_text_lines_needs_a_final_line_feed() -> None:
    with pytest.raises(KeyFileError) as info:
        list(text_lines(b"a\nb", "f"))
    assert (info.value.source, info.value.line) == ("f", 2)
    with pytest.raises(TypeError):
        list(text_lines("a\n", None))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "name", "column"), [(b"ab\0c", "NUL", 3), (b"a\rb", "carriage", 2)]
)
def test_reject_stray_bytes(line: bytes, name: str, column: int) -> None:
    reject_stray_bytes(b"clean\tline", None, 1)
    with pytest.raises(KeyFileError, match=name) as info:
        reject_stray_bytes(line, "f", 7)
    assert (info.value.line, info.value.column) == (7, column)


class _Lines(KeyFile):
    def __init__(self, data: bytes) -> None:
        self.data = data

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str | None = None) -> _Lines:
        return cls(data)

    def to_bytes(self) -> bytes:
        return self.data


def test_save_and_from_file(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _Lines(b"x\n").save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _Lines.from_file(path).data == b"x\n"
    with pytest.raises(OSError):
        _Lines.from_file(tmp_path / "missing")
