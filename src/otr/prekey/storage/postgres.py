"""PostgreSQL back end (psycopg 3, synchronous): one database shared by several
server processes, as the spec requires of all prekey servers of one domain.

A batch of retrievals (:meth:`PostgresStorage.take_batch`; one retrieval is
a batch of one) is one statement on an autocommit connection (so one round
trip, one transaction and one commit): a CTE picks the unexpired profiles of
the identities asked for and, per instance tag, undelivered Prekey Messages
``FOR UPDATE SKIP LOCKED``, and the UPDATE marks those delivered
``RETURNING`` the ensembles.  Concurrent batches lock different rows and
never wait for or hand out the same Prekey Message.  A popped row's old
version stays in the partial index of undelivered rows until (auto)vacuum
removes it; index scans skip such entries once they are dead to every
snapshot, so an identity drained at a high rate costs a little more per pop
between vacuums.

Publications take a transaction-scoped advisory lock on the identity, so the
per-identity caps (read, then write) hold under concurrency.  Every
transaction runs at READ COMMITTED; with the server's default
``synchronous_commit=on`` a commit is durable when it returns (so no pop is
ever undone, not even by a power loss), at the disk's fsync rate.  The
server answers the retrievals that arrive during a commit from the next
batch (:mod:`otr.prekey.batching`), so a process is not bound by that rate.
PostgreSQL's own group commit (``commit_delay`` microseconds of waiting
before the WAL flush when at least ``commit_siblings`` other transactions are
active) can further merge the flushes of several server processes; its
default (0: off) is right when each process already batches.  A DSN with
``?options=-c%20synchronous_commit%3Doff`` trades durability for throughput
with the same window as SQLite's default (see :mod:`.sqlite`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from .base import TakeRequest
from .sql import SqlStorage

__all__ = ["PostgresStorage"]

_TAKE_BATCH = """
WITH req AS (
    SELECT * FROM unnest(%(identities)s::text[], %(requesters)s::text[],
                         %(ranks)s::int[], %(limits)s::int[]) AS r(identity, requester, n, lim)
), profiles AS (
    SELECT w.identity, c.instance_tag, c.body AS cp, p.body AS pp,
           row_number() OVER (PARTITION BY w.identity ORDER BY c.instance_tag) AS tag_rank
      FROM (SELECT DISTINCT identity FROM req) w
      JOIN client_profiles c ON c.identity = w.identity
      JOIN prekey_profiles p ON p.identity = c.identity AND p.instance_tag = c.instance_tag
     WHERE c.expiration > %(now_int)s AND p.expiration > %(now_int)s
), eligible AS (
    SELECT pr.identity, pr.instance_tag, pr.cp, pr.pp, r.requester, r.n,
           row_number() OVER (PARTITION BY pr.identity, pr.instance_tag ORDER BY r.n) AS slot
      FROM profiles pr JOIN req r ON r.identity = pr.identity AND pr.tag_rank <= r.lim
), demand AS (
    SELECT identity, instance_tag, count(*) AS k FROM eligible GROUP BY identity, instance_tag
), locked AS (
    SELECT d.identity, d.instance_tag, m.identifier,
           row_number() OVER (
               PARTITION BY d.identity, d.instance_tag ORDER BY m.identifier) AS slot
      FROM demand d CROSS JOIN LATERAL (
           SELECT identifier FROM prekey_messages
            WHERE identity = d.identity AND instance_tag = d.instance_tag
              AND delivered_at IS NULL
            LIMIT d.k FOR UPDATE SKIP LOCKED) m
), assigned AS (
    SELECT e.*, l.identifier FROM locked l
      JOIN eligible e
        ON e.identity = l.identity AND e.instance_tag = l.instance_tag AND e.slot = l.slot
)
UPDATE prekey_messages u SET delivered_at = %(now)s, requester = a.requester
  FROM assigned a
 WHERE u.identity = a.identity AND u.instance_tag = a.instance_tag
   AND u.identifier = a.identifier
RETURNING a.identity, a.n, u.instance_tag, a.cp, a.pp, u.body
"""
"""Every retrieval of a batch in one statement (so one transaction, one round
trip and one commit), with the result of handling the requests one after the
other: request ``n`` is the n-th of the batch for its identity; per instance
tag, the requests whose limit includes the tag are numbered in order, as many
undelivered Prekey Messages are locked (``FOR UPDATE SKIP LOCKED``) and
numbered, and the i-th goes to the i-th request - so two requests never get
the same message, and when a tag runs dry the later requests get none of it."""


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
        if not requests:
            return []
        conn = self._conn("auto", lambda: psycopg.connect(self.dsn, autocommit=True))
        seen: dict[str, int] = {}
        index: dict[tuple[str, int], int] = {}
        ranks = []
        for i, r in enumerate(requests):
            n = seen[r.identity] = seen.get(r.identity, 0) + 1
            index[(r.identity, n)] = i
            ranks.append(n)
        params = {
            "identities": [r.identity for r in requests],
            "requesters": [r.requester for r in requests],
            "ranks": ranks,
            "limits": [r.limit for r in requests],
            "now_int": int(now),
            "now": now,
        }
        rows = conn.execute(_TAKE_BATCH, params).fetchall()
        found: list[list[tuple[int, bytes]]] = [[] for _ in requests]
        for identity, n, tag, cp, pp, body in rows:
            found[index[(identity, n)]].append((tag, bytes(cp) + bytes(pp) + bytes(body)))
        return [[ensemble for _tag, ensemble in sorted(got)] for got in found]

    def _lock_identity(self, cur: Any, identity: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (identity,))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation)
