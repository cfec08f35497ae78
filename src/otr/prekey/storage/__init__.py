"""Prekey-server storage: one interface (:mod:`.base`), two back ends
(:mod:`.sqlite`, the embedded default, and :mod:`.postgres`, shared by several
server processes), both built on the SQL core in :mod:`.sql`.
:func:`open_storage` picks one from a location string."""

from __future__ import annotations

from .base import (
    DeliveredPrekey,
    PrekeyStorage,
    StorageCaps,
    StorageRejected,
    StorageRejection,
    StoredPublication,
    TakeRequest,
)

__all__ = [
    "DeliveredPrekey",
    "PrekeyStorage",
    "StorageCaps",
    "StorageRejected",
    "StorageRejection",
    "StoredPublication",
    "TakeRequest",
    "open_storage",
]


def open_storage(location: str, *, durable: bool = False) -> PrekeyStorage:
    """``postgresql://...`` (or ``postgres://``) opens PostgreSQL; anything else
    is the path of an SQLite database file (``durable``: fsync every commit,
    see :mod:`.sqlite`; PostgreSQL follows its own ``synchronous_commit``)."""
    if location.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage

        return PostgresStorage(location)
    from .sqlite import SqliteStorage

    return SqliteStorage(location, durable=durable)
