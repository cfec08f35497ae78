"""Fuzz target: libotr's fingerprint file (otr.fingerprints),
read by otr.storage.FingerprintStore.from_bytes.

Invariants: malformed files raise KeyFileError (with line and column); see
:func:`scenarios.check_store_round_trip` for what a loaded file must do.
"""

from __future__ import annotations

import scenarios

from otr.storage import FingerprintStore, KeyFileError

ALLOWED = (KeyFileError,)
SEEDS = ("storage_fingerprints",)


def one_input(data: bytes) -> None:
    scenarios.check_store_round_trip(FingerprintStore, data)
