"""Shared test fixtures: strict internal errors, the libotr interop peer."""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

INTERNAL_ERROR = "internal error"
"""The reason of the catch-all's ``MessageUnreadable`` (a bug, never hostile input)."""
internal_errors: list[str] = []
"""Every ``MessageUnreadable("internal error")`` any Conversation reported in this run."""

try:
    from otr.conversation import Conversation
    from otr.events import MessageUnreadable
except ImportError:  # pragma: no cover - only while the tree is being assembled
    pass
else:
    # Bugs must surface in tests instead of turning into "unreadable message" events.
    Conversation.reraise_internal_errors = True
    # ... and a test that turns the re-raise off still fails on one (issue 12).
    _receive = Conversation.receive

    def _receive_watched(self: Conversation, *args: Any, **kwargs: Any) -> Any:
        events = _receive(self, *args, **kwargs)
        for e in events:
            if isinstance(e, MessageUnreadable) and e.reason == INTERNAL_ERROR:
                internal_errors.append(repr(args[0] if args else kwargs.get("text"))[:200])
        return events

    Conversation.receive = _receive_watched  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fail_on_internal_error() -> Iterator[None]:
    """Fail any test during which a Conversation reported MessageUnreadable("internal
    error"): the catch-all hides a bug, whatever the test asserts."""
    before = len(internal_errors)
    yield
    if len(internal_errors) > before:
        pytest.fail(f"Conversation reported an internal error on: {internal_errors[before:]}")


settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent


def _find_shared() -> Path:
    """The team's shared folder (specs, vectors, the libotr interop peer):
    $OTR_SHARED_DIR, else ``shared`` beside the checkout, else /work/shared."""
    env = os.environ.get("OTR_SHARED_DIR")
    if env:
        return Path(env)
    for candidate in (REPO.parent / "shared", Path("/work/shared")):
        if (candidate / "spec").is_dir():
            return candidate
    return REPO.parent / "shared"


SHARED = _find_shared()
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


@pytest.fixture(scope="module")
def peer_module() -> Any:
    """shared/interop/libotr/peer.py; the test is skipped if otrpeer cannot be built
    here (make or cc missing or failing)."""
    try:
        return libotr_peer_module()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"otrpeer could not be built: {exc}")


def load_v4_generator() -> Any:
    """tests/vectors/generate_v4.py as a module (PinnedRng and the builders)."""
    spec = importlib.util.spec_from_file_location(
        "generate_v4", Path(__file__).parent / "vectors" / "generate_v4.py"
    )
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


# -- libotr itself (libotr.so.5) through ctypes, when available ----------------------------


def load_libotr_so() -> Any:
    """libotr.so.5, initialised, with the user-state functions declared; None if absent.
    Test modules declare the other functions they call."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("otr") or "libotr.so.5")
    except OSError:
        return None
    lib.otrl_init.argtypes = [ctypes.c_uint] * 3
    if lib.otrl_init(4, 1, 1) != 0:
        return None
    lib.otrl_userstate_create.restype = ctypes.c_void_p
    lib.otrl_userstate_free.argtypes = [ctypes.c_void_p]
    return lib


class LibotrUserState:
    """One OtrlUserState of ``lib`` (from :func:`load_libotr_so`)."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.us = ctypes.c_void_p(lib.otrl_userstate_create())

    def close(self) -> None:
        self.lib.otrl_userstate_free(self.us)


@pytest.fixture
def pair_factory() -> Iterator[Any]:
    made: list[Any] = []

    def make(
        policy: Any = "MANUAL",
        our_policy: Any = None,
        versions: tuple[int, ...] = (2, 3),
        our_versions: tuple[int, ...] | None = None,
        max_msg_size: int = 0,
        **kw: Any,
    ) -> tuple[Any, Any]:
        lib = libotr_peer_module().OtrPeer(
            account="alice@x",
            peer="bob@x",
            policy=policy,
            versions=versions,
            max_msg_size=max_msg_size,
            **kw,
        )
        made.append(lib)
        from interop_util import OurPeer

        ours = OurPeer(
            account="bob@x",
            peer="alice@x",
            policy=our_policy if our_policy is not None else policy,
            versions=our_versions or versions,
            max_msg_size=max_msg_size,
        )
        return lib, ours

    yield make
    for p in made:
        p.close()


@pytest.fixture(scope="session")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Prosody on 127.0.0.1 with accounts alice, bob, carol, dave (password: the
    name reversed); see tests/services/prosody.py.  Skipped when prosody is not
    installed (./run installs it)."""
    from services.prosody import available, start_prosody

    if not available():
        pytest.skip("prosody is not installed (./run test installs it)")
    users = {name: name[::-1] for name in ("alice", "bob", "carol", "dave")}
    server = start_prosody(tmp_path_factory.mktemp("prosody"), users=users)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def prekey_prosody() -> Iterator[Any]:
    """The prekey tests' Prosody (accounts alice and bob on example.org with offline
    storage, the prekey component), one per test module; see
    tests/services/prosody.py (prekey_prosody).  Skipped when prosody is not installed."""
    from services.prosody import ServiceUnavailable, prekey_prosody

    try:
        with prekey_prosody() as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
