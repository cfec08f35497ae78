"""Fuzz target: libotr's private key file (otr.private_key),
read by otr.storage.PrivateKeyStore.from_bytes.

Invariants: malformed files raise KeyFileError (with line and column); see
:func:`scenarios.check_store_round_trip` for what a loaded file must do.
"""

from __future__ import annotations

import scenarios

from otr.storage import KeyFileError, PrivateKeyStore

ALLOWED = (KeyFileError,)
SEEDS = ("storage_privkey",)


def one_input(data: bytes) -> None:
    scenarios.check_store_round_trip(PrivateKeyStore, data)
