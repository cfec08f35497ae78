"""Fuzz target: libotr's instance tag file (otr.instance_tags),
read by otr.storage.InstanceTagStore.from_bytes.

Invariants: malformed files raise KeyFileError (with line and column); see
:func:`scenarios.check_store_round_trip` for what a loaded file must do.
"""

from __future__ import annotations

import scenarios

from otr.storage import InstanceTagStore, KeyFileError

ALLOWED = (KeyFileError,)
SEEDS = ("storage_instags",)


def one_input(data: bytes) -> None:
    scenarios.check_store_round_trip(InstanceTagStore, data)
