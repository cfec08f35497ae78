"""The layer above :class:`otr.Conversation` that every client needs.

* :class:`Identity` (:mod:`otr.account.identity`) -- one local account's
  long-term state in a key directory: its key, its trust store and its
  instance tags, in libotr's files (:mod:`otr.storage`);
* :class:`SessionManager` (:mod:`otr.account.manager`) -- one
  :class:`~otr.Conversation` per peer, routing, one deadline for all of them,
  messages typed before a session is up (:class:`SendHandle`) and the
  recovery of stale sessions.

Both are sans-I/O: the transport and the clock are the caller's (see
:mod:`otr.adapters.asyncio`).
"""

from __future__ import annotations

from .identity import Identity, PersistentTrust
from .manager import (
    HandleUpdated,
    MessageLost,
    Routed,
    SendHandle,
    SendState,
    SessionManager,
)

__all__ = [
    "HandleUpdated",
    "Identity",
    "MessageLost",
    "PersistentTrust",
    "Routed",
    "SendHandle",
    "SendState",
    "SessionManager",
]
