"""Interop for issue 11: our SessionManager against the real libotr 4.1.1
(``otrpeer``): held messages released encrypted, and stale sessions that
recover when either side restarts (libotr keeps its key and instance tag)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import libotr_peer_module
from otr import events as ev
from otr.account import Identity, MessageLost, Routed, SendState, SessionManager
from v3_util import dsa_key

pytestmark = pytest.mark.interop

peer_mod = libotr_peer_module()
ALICE, BOB = "alice@x", "bob@x"
BOB_TAG = 0x4242_4242


class Link:
    """Our manager (alice) and a libotr process (bob), relaying in order."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.shown: list[Routed] = []
        self.lib_events: list[dict[str, Any]] = []
        self.mgr = self.new_manager()
        self.lib = self.new_lib()

    def new_manager(self) -> SessionManager:
        ident = Identity.load(
            self.tmp_path / "alice", ALICE, "xmpp", generate=lambda: dsa_key("alice")
        )
        return SessionManager(ident)

    def new_lib(self) -> Any:
        return peer_mod.OtrPeer(
            account=BOB,
            peer=ALICE,
            policy="DEFAULT",
            privkey_file=str(self.tmp_path / "bob.key"),
            instag=BOB_TAG,
        )

    def ours(self, routed: list[Routed]) -> None:
        """Relay until quiet, starting with what our manager just produced."""
        to_lib = [r.event.text for r in routed if isinstance(r.event, ev.SendMessage)]
        self.shown += [r for r in routed if not isinstance(r.event, ev.SendMessage)]
        while to_lib:
            got = self.lib.recv(to_lib.pop(0))
            self.lib_events += got
            for data in peer_mod.injects(got):
                out = self.mgr.receive(BOB, data, 1.0)
                self.shown += [r for r in out if not isinstance(r.event, ev.SendMessage)]
                to_lib += [r.event.text for r in out if isinstance(r.event, ev.SendMessage)]

    def theirs(self, events: list[dict[str, Any]]) -> None:
        self.lib_events += events
        for data in peer_mod.injects(events):
            self.ours(self.mgr.receive(BOB, data, 1.0))

    def lib_texts(self) -> list[str]:
        return [e["text"] for e in peer_mod.of(self.lib_events, "message", encrypted=True)]

    def our_texts(self) -> list[str]:
        return [r.event.text for r in self.shown if isinstance(r.event, ev.MessageReceived)]


@pytest.fixture
def link(tmp_path: Path) -> Any:
    made = Link(tmp_path)
    yield made
    made.lib.close()


def test_held_message_goes_out_encrypted_to_libotr(link: Link) -> None:
    link.mgr.set_peer_supports_otr(BOB)
    h, out = link.mgr.send(BOB, "only encrypted", 1.0)
    assert h.state is SendState.PENDING
    link.ours(out)
    assert h.state is SendState.SENT and h.encrypted and h.instance == BOB_TAG
    assert link.lib_texts() == ["only encrypted"]
    assert not peer_mod.of(link.lib_events, "message", encrypted=False)


def test_libotr_restarts_silently_and_we_report_what_it_may_not_have_read(link: Link) -> None:
    link.ours(link.mgr.start(BOB, 1.0))
    assert link.mgr.conversation(BOB).is_encrypted
    link.theirs(link.lib.send("before"))
    link.lib.close()
    link.lib = link.new_lib()  # same key and instance tag, no session
    link.lib_events = []
    handles = []
    for text in ("unread one", "unread two"):
        h, out = link.mgr.send(BOB, text, 2.0)
        handles.append(h)
        link.ours(out)
    # libotr 4.1.1 drops them without a word (no error message to act on) ...
    assert link.lib_texts() == [] and not peer_mod.injects(link.lib_events)
    # ... until its user writes: plaintext while we are encrypted.
    link.theirs(link.lib.send("hello again"))
    suspects = [r.event for r in link.shown if isinstance(r.event, MessageLost)]
    assert [e.handle for e in suspects] == handles
    assert "may not have read" in suspects[0].reason
    assert link.mgr.conversation(BOB).is_encrypted  # the tag started a new AKE


def test_we_restart_and_the_lost_message_is_reported(link: Link) -> None:
    link.ours(link.mgr.start(BOB, 1.0))
    link.mgr = link.new_manager()  # our client restarts: same key, tag, trust
    link.shown = []
    link.theirs(link.lib.send("while you restarted"))
    lost = [r.event for r in link.shown if isinstance(r.event, MessageLost)]
    assert [e.incoming for e in lost] == [True]
    # libotr got our error and ran a new AKE by itself (it does not resend).
    assert peer_mod.of(link.lib_events, "msg_event", event="rcvdmsg_general_err")
    assert link.mgr.conversation(BOB).is_encrypted
    link.theirs(link.lib.send("and now"))
    assert link.our_texts() == ["and now"]
