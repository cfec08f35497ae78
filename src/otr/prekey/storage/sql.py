"""The SQL shared by the SQLite and PostgreSQL back ends (see :mod:`.base` for
the guarantees).  Statements are written with ``?`` placeholders; a back end
that uses ``%s`` translates them.  A back end supplies the connection per
thread, how a write transaction starts, its column types and the locking
clause of the pop.

The pop is one statement per instance tag inside the transaction of the
retrieval (or of the batch of retrievals, :meth:`SqlStorage.take_batch`)::

    UPDATE prekey_messages SET delivered_at = ?, requester = ?
     WHERE (identity, instance_tag, identifier) =
           (SELECT ... WHERE delivered_at IS NULL LIMIT 1 <lock clause>)
    RETURNING body

SQLite serialises writers (``BEGIN IMMEDIATE``); PostgreSQL uses ``FOR UPDATE
SKIP LOCKED`` so that concurrent retrievals take different rows without waiting.
"""

from __future__ import annotations

import contextlib
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .base import (
    DeliveredPrekey,
    PrekeyStorage,
    StorageCaps,
    StorageRejected,
    StorageRejection,
    StoredPublication,
    TakeRequest,
)

__all__ = ["SqlStorage"]


class SqlStorage(PrekeyStorage):
    """Template for the SQL back ends."""

    blob_type = "BLOB"
    real_type = "REAL"
    pop_lock_clause = ""

    def __init__(self) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        with self._write() as cur:
            for statement in self._schema():
                cur.execute(statement)

    # -- back-end hooks ------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection."""

    @abstractmethod
    def _begin_write(self, cur: Any) -> None:
        """Start a write transaction on ``cur``."""

    def _lock_identity(self, cur: Any, identity: str) -> None:
        """Serialise publications of one identity (the caps are read-then-write)."""

    def _sql(self, statement: str) -> str:
        return statement

    @abstractmethod
    def _is_unique_violation(self, exc: Exception) -> bool:
        """Whether ``exc`` is a primary-key / unique-constraint violation."""

    # -- plumbing ------------------------------------------------------------------

    def _schema(self) -> list[str]:
        b, r = self.blob_type, self.real_type
        return [
            f"CREATE TABLE IF NOT EXISTS server_keys (name TEXT PRIMARY KEY, sym_key {b} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS client_profiles (identity TEXT NOT NULL,"
            f" instance_tag BIGINT NOT NULL, body {b} NOT NULL, expiration BIGINT NOT NULL,"
            " PRIMARY KEY (identity, instance_tag))",
            "CREATE TABLE IF NOT EXISTS prekey_profiles (identity TEXT NOT NULL,"
            f" instance_tag BIGINT NOT NULL, body {b} NOT NULL, expiration BIGINT NOT NULL,"
            " PRIMARY KEY (identity, instance_tag))",
            "CREATE TABLE IF NOT EXISTS prekey_messages (identity TEXT NOT NULL,"
            " instance_tag BIGINT NOT NULL, identifier BIGINT NOT NULL,"
            f" body {b} NOT NULL, delivered_at {r}, requester TEXT,"
            " PRIMARY KEY (identity, instance_tag, identifier))",
            "CREATE INDEX IF NOT EXISTS prekey_messages_available ON prekey_messages"
            " (identity, instance_tag) WHERE delivered_at IS NULL",
        ]

    def _conn(self, kind: str = "conn", connect: Callable[[], Any] | None = None) -> Any:
        """This thread's connection of ``kind`` (made by ``connect``, default
        :meth:`_connect`); every connection is closed by :meth:`close`."""
        conn = getattr(self._local, kind, None)
        if conn is None:
            conn = (connect or self._connect)()
            setattr(self._local, kind, conn)
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        conn = self._conn()
        cur = conn.cursor()
        self._begin_write(cur)
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        conn = self._conn()
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
            conn.rollback()

    def _execute(self, cur: Any, statement: str, params: tuple[Any, ...] = ()) -> Any:
        cur.execute(self._sql(statement), params)
        return cur

    # -- the interface -------------------------------------------------------------

    def server_key(self, name: str, new_key: Callable[[], bytes]) -> bytes:
        with self._write() as cur:
            self._execute(
                cur,
                "INSERT INTO server_keys (name, sym_key) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, new_key()),
            )
            row = self._execute(
                cur, "SELECT sym_key FROM server_keys WHERE name = ?", (name,)
            ).fetchone()
        return bytes(row[0])

    def publish(self, publication: StoredPublication, caps: StorageCaps) -> None:
        p = publication
        with self._write() as cur:
            self._lock_identity(cur, p.identity)
            tags = {
                int(row[0])
                for row in self._execute(
                    cur,
                    "SELECT instance_tag FROM client_profiles WHERE identity = ?"
                    " UNION SELECT instance_tag FROM prekey_profiles WHERE identity = ?"
                    " UNION SELECT instance_tag FROM prekey_messages WHERE identity = ?"
                    " AND delivered_at IS NULL",
                    (p.identity, p.identity, p.identity),
                ).fetchall()
            }
            if p.instance_tag not in tags and len(tags) >= caps.max_instance_tags:
                raise StorageRejected(StorageRejection.TOO_MANY_INSTANCES)
            if p.prekey_messages:
                held = self._count(cur, p.identity, p.instance_tag)
                if held + len(p.prekey_messages) > caps.max_prekeys_per_instance:
                    raise StorageRejected(StorageRejection.TOO_MANY_PREKEYS)
            for table, value in (
                ("client_profiles", p.client_profile),
                ("prekey_profiles", p.prekey_profile),
            ):
                if value is None:
                    continue
                self._execute(
                    cur,
                    f"INSERT INTO {table} (identity, instance_tag, body, expiration)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (identity, instance_tag) DO UPDATE"
                    " SET body = excluded.body, expiration = excluded.expiration",
                    (p.identity, p.instance_tag, value[0], value[1]),
                )
            try:
                for identifier, body in p.prekey_messages:
                    self._execute(
                        cur,
                        "INSERT INTO prekey_messages (identity, instance_tag, identifier, body)"
                        " VALUES (?, ?, ?, ?)",
                        (p.identity, p.instance_tag, identifier, body),
                    )
            except Exception as exc:
                if self._is_unique_violation(exc):
                    raise StorageRejected(StorageRejection.DUPLICATE_IDENTIFIER) from None
                raise

    def _count(self, cur: Any, identity: str, instance_tag: int) -> int:
        row = self._execute(
            cur,
            "SELECT COUNT(*) FROM prekey_messages WHERE identity = ? AND instance_tag = ?"
            " AND delivered_at IS NULL",
            (identity, instance_tag),
        ).fetchone()
        return int(row[0])

    def count_prekeys(self, identity: str, instance_tag: int) -> int:
        with self._read() as cur:
            return self._count(cur, identity, instance_tag)

    def take_batch(self, requests: Sequence[TakeRequest], now: float) -> list[list[bytes]]:
        with self._write() as cur:
            return [self._take(cur, request, now) for request in requests]

    def _take(self, cur: Any, request: TakeRequest, now: float) -> list[bytes]:
        identity, requester = request.identity, request.requester
        out: list[bytes] = []
        profiles = self._execute(
            cur,
            "SELECT c.instance_tag, c.body, p.body FROM client_profiles c"
            " JOIN prekey_profiles p ON p.identity = c.identity"
            " AND p.instance_tag = c.instance_tag"
            " WHERE c.identity = ? AND c.expiration > ? AND p.expiration > ?"
            " ORDER BY c.instance_tag LIMIT ?",
            (identity, int(now), int(now), request.limit),
        ).fetchall()
        for tag, client_profile, prekey_profile in profiles:
            row = self._execute(
                cur,
                "UPDATE prekey_messages SET delivered_at = ?, requester = ?"
                " WHERE identity = ? AND instance_tag = ? AND identifier ="
                " (SELECT identifier FROM prekey_messages WHERE identity = ?"
                " AND instance_tag = ? AND delivered_at IS NULL LIMIT 1"
                f"{self.pop_lock_clause}) RETURNING body",
                (now, requester, identity, tag, identity, tag),
            ).fetchone()
            if row is not None:
                out.append(bytes(client_profile) + bytes(prekey_profile) + bytes(row[0]))
        return out

    def delivered(self, identity: str) -> list[DeliveredPrekey]:
        with self._read() as cur:
            rows = self._execute(
                cur,
                "SELECT instance_tag, identifier, requester, delivered_at FROM prekey_messages"
                " WHERE identity = ? AND delivered_at IS NOT NULL"
                " ORDER BY delivered_at, identifier",
                (identity,),
            ).fetchall()
        return [DeliveredPrekey(identity, int(t), int(i), str(r), float(d)) for t, i, r, d in rows]

    def purge(self, now: float, delivered_retention: float = 86400.0) -> int:
        deleted = 0
        with self._write() as cur:
            for table in ("client_profiles", "prekey_profiles"):
                deleted += self._execute(
                    cur, f"DELETE FROM {table} WHERE expiration <= ?", (int(now),)
                ).rowcount
            deleted += self._execute(
                cur,
                "DELETE FROM prekey_messages WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                (now - delivered_retention,),
            ).rowcount
        return int(deleted)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(Exception):  # a connection of a finished thread
                conn.close()
        self._local = threading.local()
