"""The prekey-server storage interface (otr-v4-prekey-server.md "Prekey Server
Requirements", "Publishing Prekey Values", "Retrieving Prekey Ensembles",
"Storage of Prekeys Ensembles for XMPP"; ADR 012).

Values are stored by network identity (the bare JID for XMPP) and owner
instance tag, as already validated encodings: the server validates before it
stores and hands them out as stored.

**Handing out a prekey is atomic and happens at most once.**
:meth:`PrekeyStorage.take_ensembles` marks the chosen Prekey Messages as
*delivered* (with the time and the requester) in the same transaction that
reads them; a delivered message is never handed out again, whatever happens
next.  If the reply is lost after that transaction (a crash, a dropped
connection), the message is not handed out twice *and* not lost silently: it
stays in storage as delivered, visible through :meth:`delivered` (who asked,
when) and excluded from the publisher's count, so the publisher's next
Storage Status shows it gone and it is topped up; :meth:`purge` removes
delivered records after a retention period (their identifiers stay taken
until then, so a replayed publication cannot resurrect a used prekey).

**Group commit.**  :meth:`PrekeyStorage.take_batch` serves many retrievals
in one transaction - one commit, so one WAL fsync on a durable store,
instead of one per retrieval.  It is all or nothing: if it raises (a
statement failed part-way, the commit failed, the connection broke), no
Prekey Message of the batch is marked delivered, and the caller sends no
reply of the batch; the replies go out only after the commit that covers
them returned.  :meth:`take_ensembles` is a batch of one.

Identifiers are unique per (identity, instance tag), delivered ones included:
a publication repeating one is rejected as a whole.  Caps per identity bound
the number of instance tags and of stored Prekey Messages per instance tag
(:class:`StorageCaps`).  Expired profiles are never handed out and
:meth:`purge` deletes them.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...errors import OtrError

__all__ = [
    "DeliveredPrekey",
    "PrekeyStorage",
    "StorageCaps",
    "StorageRejected",
    "StorageRejection",
    "StoredPublication",
    "TakeRequest",
]


class StorageRejection(enum.Enum):
    DUPLICATE_IDENTIFIER = "a prekey message identifier is already stored"
    TOO_MANY_INSTANCES = "too many instance tags for this identity"
    TOO_MANY_PREKEYS = "too many prekey messages stored for this instance tag"


class StorageRejected(OtrError):
    """A publication the storage refused as a whole (nothing was stored)."""

    def __init__(self, reason: StorageRejection) -> None:
        self.reason = reason
        super().__init__(reason.value)


@dataclass(frozen=True)
class StorageCaps:
    """Per-identity limits enforced inside the publication transaction."""

    max_instance_tags: int = 8
    max_prekeys_per_instance: int = 1000


@dataclass(frozen=True)
class StoredPublication:
    """One validated publication: what to store for (identity, instance tag)."""

    identity: str
    instance_tag: int
    client_profile: tuple[bytes, int] | None = None
    """(encoding, expiration) replacing the stored Client Profile."""
    prekey_profile: tuple[bytes, int] | None = None
    """(encoding, expiration) replacing the stored Prekey Profile."""
    prekey_messages: Sequence[tuple[int, bytes]] = ()
    """(identifier, encoding) of each new Prekey Message."""


@dataclass(frozen=True)
class TakeRequest:
    """One retrieval of a batch: the ensembles of ``identity`` for ``requester``."""

    identity: str
    requester: str
    limit: int = 255
    """At most this many instance tags (ensembles)."""


@dataclass(frozen=True)
class DeliveredPrekey:
    identity: str
    instance_tag: int
    identifier: int
    requester: str
    delivered_at: float


class PrekeyStorage(ABC):
    """What the server core needs from its storage.  Every method is one
    transaction; implementations are safe to use from several threads and,
    for the shared back ends, from several processes."""

    @abstractmethod
    def server_key(self, name: str, new_key: Callable[[], bytes]) -> bytes:
        """The server's long-term symmetric key stored under ``name``; on first use
        ``new_key()`` is stored (if two processes race, both get the winner's)."""

    @abstractmethod
    def publish(self, publication: StoredPublication, caps: StorageCaps) -> None:
        """Store everything in ``publication`` or nothing (StorageRejected)."""

    @abstractmethod
    def count_prekeys(self, identity: str, instance_tag: int) -> int:
        """Prekey Messages stored and not yet delivered."""

    def take_ensembles(
        self, identity: str, now: float, requester: str, limit: int = 255
    ) -> list[bytes]:
        """For each instance tag of ``identity`` with an unexpired Client Profile,
        an unexpired Prekey Profile and an undelivered Prekey Message (at most
        ``limit`` tags): mark one such message delivered and return the encoded
        ensemble ``CLIENT-PROF || PREKEY-PROF || prekey message``."""
        (ensembles,) = self.take_batch([TakeRequest(identity, requester, limit)], now)
        return ensembles

    @abstractmethod
    def take_batch(self, requests: Sequence[TakeRequest], now: float) -> list[list[bytes]]:
        """:meth:`take_ensembles` for every request, in order, in one transaction
        (one commit): all or nothing.  Two requests for one identity get
        different Prekey Messages.  Returns one list of ensembles per request."""

    @abstractmethod
    def delivered(self, identity: str) -> list[DeliveredPrekey]:
        """Prekey Messages of ``identity`` handed out and not yet purged."""

    @abstractmethod
    def purge(self, now: float, delivered_retention: float = 86400.0) -> int:
        """Delete expired profiles and delivered records older than the retention;
        returns the number of rows deleted."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
