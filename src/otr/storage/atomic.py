"""Crash-safe file replacement.

libotr writes its files in place (``fopen(..., "w")`` then ``fprintf``), so a
crash can leave a truncated ``otr.private_key``.  We never do: the new content
goes to a temporary file in the same directory, is flushed and fsync'ed, and
then atomically renamed over the old file with :func:`os.replace`; the
directory is fsync'ed too so that the rename itself survives a power loss.
Readers therefore see either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_write"]


def _fsync_dir(directory: str) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; the file ends up with permissions ``mode``.

    The temporary file is created with mode 0600 (``tempfile.mkstemp``) and only
    then changed to ``mode``, so a private key is never readable by others, not
    even briefly.  When ``path`` is a symbolic link, the file it points to is
    replaced and the link is kept.  On any error the temporary file is removed
    and the original file is left untouched.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("atomic_write() takes bytes")
    target = os.path.realpath(os.fspath(path))
    directory, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
