"""SQLite back end: the embedded default, one database file in WAL mode
(readers never block the writer; several processes may share the file).
``BEGIN IMMEDIATE`` takes the write lock at the start of every write
transaction, so concurrent pops are serialised and never see the same row;
``busy_timeout`` makes contenders wait instead of failing.

Durability.  A pop is committed before its reply is built, so a crash of the
server process at any point never hands a prekey out twice.  With the default
``synchronous=NORMAL`` (SQLite's recommendation for WAL) a *power loss or OS
crash* may roll back the last commits - including the "delivered" mark of a
prekey whose reply already left, which could then be handed out again.
``durable=True`` selects ``synchronous=FULL`` (an fsync per commit): no such
window, at the disk's fsync rate per *commit*: the server answers the
retrievals that arrive during a commit from the next one (group commit,
:mod:`otr.prekey.batching`), so a durable store still serves thousands of
retrievals per second.  Several processes may share the file, but SQLite
serialises writers: a second process adds no throughput (``bench/bench_prekey.py``
shows 1 and 2 processes); PostgreSQL is the back end that scales with processes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .sql import SqlStorage

__all__ = ["SqliteStorage"]


class SqliteStorage(SqlStorage):
    """Storage in the SQLite file ``path`` (created with its schema on first use)."""

    def __init__(
        self, path: str | Path, *, busy_timeout: float = 30.0, durable: bool = False
    ) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self.durable = durable
        super().__init__()

    def _connect(self) -> Any:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return _Conn(conn)

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)


class _Conn:
    """An autocommit sqlite3 connection with explicit BEGIN/COMMIT/ROLLBACK
    (the module's implicit transactions would defeat BEGIN IMMEDIATE)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def commit(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()
