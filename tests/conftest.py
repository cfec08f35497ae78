"""Shared test fixtures: strict internal errors, the libotr interop peer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

try:
    from otr.conversation import Conversation
except ImportError:  # pragma: no cover - only while the tree is being assembled
    pass
else:
    # Bugs must surface in tests instead of turning into "unreadable message" events.
    Conversation.reraise_internal_errors = True

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OTR_SHARED_DIR", REPO.parent / "shared"))
SPEC_VECTORS = SHARED / "spec" / "vectors"
LIBOTR_DIR = SHARED / "interop" / "libotr"


def libotr_peer_module():  # type: ignore[no-untyped-def]
    """Import shared/interop/libotr/peer.py (builds otrpeer on first use)."""
    if not (LIBOTR_DIR / "peer.py").exists():
        pytest.fail(f"libotr interop peer not found at {LIBOTR_DIR} (set OTR_SHARED_DIR)")
    if str(LIBOTR_DIR) not in sys.path:
        sys.path.insert(0, str(LIBOTR_DIR))
    import peer

    peer.build()
    return peer
