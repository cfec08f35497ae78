"""PostgreSQL back end (psycopg 3, synchronous): one database shared by several
server processes, as the spec requires of all prekey servers of one domain.

Retrievals pop with ``FOR UPDATE SKIP LOCKED``: concurrent transactions lock
different rows and never wait for or hand out the same Prekey Message.
Publications take a transaction-scoped advisory lock on the identity, so the
per-identity caps (read, then write) hold under concurrency.  Every
transaction runs at READ COMMITTED; with the server's default
``synchronous_commit=on`` a commit is durable when it returns (so no pop is
ever undone, not even by a power loss), at the disk's fsync rate (shared by
concurrent transactions: group commit).  A DSN with
``?options=-c%20synchronous_commit%3Doff`` trades that for throughput with
the same window as SQLite's default (see :mod:`.sqlite`)."""

from __future__ import annotations

from typing import Any

import psycopg

from .sql import SqlStorage

__all__ = ["PostgresStorage"]


class PostgresStorage(SqlStorage):
    """Storage in the PostgreSQL database at ``dsn`` (``postgresql://...``);
    the schema is created on first use."""

    blob_type = "BYTEA"
    real_type = "DOUBLE PRECISION"
    pop_lock_clause = " FOR UPDATE SKIP LOCKED"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        super().__init__()

    def _connect(self) -> Any:
        return psycopg.connect(self.dsn, autocommit=False)

    def _begin_write(self, cur: Any) -> None:
        """psycopg opens the transaction with the first statement."""

    def _lock_identity(self, cur: Any, identity: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (identity,))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation)
