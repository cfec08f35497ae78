"""atomic_write: temporary file + fsync + rename, permissions, no debris on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from otr.storage import atomic_write


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_file_0600(tmp_path: Path) -> None:
    target = tmp_path / "otr.private_key"
    atomic_write(target, b"(privkeys\n)\n")
    assert target.read_bytes() == b"(privkeys\n)\n"
    assert _mode(target) == 0o600
    assert os.listdir(tmp_path) == ["otr.private_key"]


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic_write(tmp_path / "a", b"x")
        atomic_write(tmp_path / "b", b"x", mode=0o644)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a") == 0o600
    assert _mode(tmp_path / "b") == 0o644


def test_replaces_and_tightens_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old contents that are longer")
    target.chmod(0o644)
    atomic_write(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o600


def test_failure_leaves_original_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"original")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["f"]


def test_failure_during_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"original")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["f"]


def test_symlink_target_is_replaced_link_kept(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real)
    atomic_write(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nope" / "f", b"x")


def test_rejects_text(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "f", "text")  # type: ignore[arg-type]
