"""PostgreSQL back end (psycopg 3, synchronous): one database shared by several
server processes, as the spec requires of all prekey servers of one domain.

A retrieval is one statement on an autocommit connection (so one round trip
and its own transaction): a CTE picks the unexpired profiles of the identity
and, per instance tag, one undelivered Prekey Message ``FOR UPDATE SKIP
LOCKED``, and the UPDATE marks those delivered ``RETURNING`` the ensembles.
Concurrent retrievals lock different rows and never wait for or hand out the
same Prekey Message.  A popped row's old version stays in the partial index
of undelivered rows until (auto)vacuum removes it; index scans skip such
entries once they are dead to every snapshot, so an identity drained at a
high rate costs a little more per pop between vacuums.

Publications take a transaction-scoped advisory lock on the identity, so the
per-identity caps (read, then write) hold under concurrency.  Every
transaction runs at READ COMMITTED; with the server's default
``synchronous_commit=on`` a commit is durable when it returns (so no pop is
ever undone, not even by a power loss), at the disk's fsync rate (shared by
concurrent transactions: group commit).  A DSN with
``?options=-c%20synchronous_commit%3Doff`` trades that for throughput with
the same window as SQLite's default (see :mod:`.sqlite`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from .base import TakeRequest
from .sql import SqlStorage

__all__ = ["PostgresStorage"]

_TAKE = """
WITH profiles AS (
    SELECT c.instance_tag, c.body AS cp, p.body AS pp
      FROM client_profiles c
      JOIN prekey_profiles p ON p.identity = c.identity AND p.instance_tag = c.instance_tag
     WHERE c.identity = %(identity)s AND c.expiration > %(now_int)s AND p.expiration > %(now_int)s
     ORDER BY c.instance_tag
     LIMIT %(limit)s
), picked AS (
    SELECT profiles.instance_tag, profiles.cp, profiles.pp, m.identifier
      FROM profiles CROSS JOIN LATERAL (
           SELECT identifier FROM prekey_messages
            WHERE identity = %(identity)s AND instance_tag = profiles.instance_tag
              AND delivered_at IS NULL
            LIMIT 1 FOR UPDATE SKIP LOCKED) m
)
UPDATE prekey_messages u SET delivered_at = %(now)s, requester = %(requester)s
  FROM picked
 WHERE u.identity = %(identity)s AND u.instance_tag = picked.instance_tag
   AND u.identifier = picked.identifier
RETURNING u.instance_tag, picked.cp, picked.pp, u.body
"""


def _ensembles(rows: list[Any]) -> list[bytes]:
    rows.sort(key=lambda row: row[0])
    return [bytes(cp) + bytes(pp) + bytes(body) for _tag, cp, pp, body in rows]


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

    def take_batch(self, requests: Sequence[TakeRequest], now: float) -> list[list[bytes]]:
        conn = self._conn("auto", lambda: psycopg.connect(self.dsn, autocommit=True))
        params = [
            {
                "identity": r.identity,
                "now_int": int(now),
                "now": now,
                "requester": r.requester,
                "limit": r.limit,
            }
            for r in requests
        ]
        if len(params) == 1:  # one statement, its own transaction: one round trip
            return [_ensembles(conn.execute(_TAKE, params[0]).fetchall())]
        # One transaction, the statements pipelined (sent without waiting for each
        # answer); leaving the block commits, or rolls everything back on an error.
        with conn.pipeline(), conn.transaction():
            cursors = [conn.cursor().execute(_TAKE, p) for p in params]
        return [_ensembles(cur.fetchall()) for cur in cursors]

    def _lock_identity(self, cur: Any, identity: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (identity,))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation)
