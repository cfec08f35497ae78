"""The README's ```python blocks run as written, in order, in one namespace (as a reader
would try them in one Python session; each block imports what it uses, and a block that
continues an earlier one says so), with stand-ins for the application's ``transport``,
``show`` and ``show_fingerprint``, and HOME in a temporary folder so that the key-file
examples write there.  A failure's traceback gives the README's line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_TEXT = README.read_text(encoding="utf-8")
BLOCKS = [
    # Blank lines in front so that a traceback's line numbers are the README's.
    "\n" * _TEXT.count("\n", 0, m.start(1)) + m.group(1)
    for m in re.finditer(r"^```python\n(.*?)^```", _TEXT, re.S | re.M)
]


class Transport:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, text: str) -> None:
        self.sent.append(text)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


def test_readme_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    transport = Transport()
    shown: list[tuple[Any, ...]] = []
    namespace: dict[str, Any] = {
        "__name__": "readme_example",
        "transport": transport,
        "show": lambda *a, **k: shown.append((a, k)),
        "show_fingerprint": lambda *a: shown.append(a),
    }
    for block in BLOCKS:
        exec(compile(block, str(README), "exec"), namespace)
        if "transport.send" in block:
            assert transport.sent and transport.sent[0].startswith("?OTRv")
        if ".purple" in block:
            assert (tmp_path / ".purple" / "otr.private_key").exists()
            assert (tmp_path / ".purple" / "otr.instance_tags").exists()
