"""The README's ```python blocks run as written (each in a fresh namespace, with stand-ins for
the application's ``transport``, ``show`` and ``show_fingerprint``, and HOME in a temporary
folder so that the key-file example writes there)."""

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


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(1, len(BLOCKS) + 1)])
def test_readme_block_runs(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    transport = Transport()
    shown: list[tuple[Any, ...]] = []
    namespace: dict[str, Any] = {
        "__name__": "readme_example",
        "transport": transport,
        "show": lambda *a, **k: shown.append((a, k)),
        "show_fingerprint": lambda *a: shown.append(a),
    }
    exec(compile(block, str(README), "exec"), namespace)
    if "transport.send" in block:
        assert transport.sent and transport.sent[0].startswith("?OTRv")
    if ".purple" in block:
        assert (tmp_path / ".purple" / "otr.private_key").exists()
        assert (tmp_path / ".purple" / "otr.instance_tags").exists()
