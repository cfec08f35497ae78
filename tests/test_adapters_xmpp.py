"""OTR over XMPP (otr.adapters.xmpp) through a real Prosody: AKE, messages both
ways, SMP, a client restart mid-conversation, two resources of one account,
an offline peer, XEP-0380/0334 elements, login errors."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from otr import events as ev
from otr.account import Identity, MessageLost, Routed, SendState, SessionManager
from otr.adapters.xmpp import EME_NS, CarbonCopy, XmppConnectError, XmppOtr, bare_jid, instance_tags
from otr.wire.fragment import fragment_message
from v3_util import dsa_key


def test_instance_tags_of_encoded_messages_and_fragments() -> None:
    header = struct.pack(">HBII", 3, 0x02, 0x1234, 0x5678) + b"\0" * 8
    text = "?OTR:" + base64.b64encode(header).decode() + "."
    assert instance_tags(text) == (0x1234, 0x5678)
    frags = fragment_message(text, 40, 3, 0x1234, 0x5678)
    assert all(instance_tags(f) == (0x1234, 0x5678) for f in frags)
    v2 = struct.pack(">HB", 2, 0x02) + b"\0" * 8
    assert instance_tags("?OTR:" + base64.b64encode(v2).decode() + ".") is None
    for other in ("hello", "?OTRv23?", "?OTR Error: x", "?OTR:%%%."):
        assert instance_tags(other) is None


def test_bare_jid_normalises() -> None:
    assert bare_jid("Bob@Example.ORG/Phone") == "bob@example.org"
    with pytest.raises(ValueError):
        bare_jid("a@b@c")


class Client:
    """One of our XMPP clients with its events recorded."""

    def __init__(self, server: Any, user: str, keydir: Path, resource: str = "") -> None:
        self.user = user
        self.jid = server.jid(user)
        self.shown: list[Routed] = []
        self.keydir = keydir

        def make(res: str) -> SessionManager:
            ident = Identity.load(keydir, self.jid, "xmpp", generate=lambda: dsa_key(user))
            return SessionManager(ident, instance=res)

        full = f"{self.jid}/{resource}" if resource else self.jid
        self.x = XmppOtr(
            full,
            user[::-1],
            make,
            server=("127.0.0.1", server.c2s_port),
            tls="none",
            on_event=self.shown.append,
        )

    @property
    def otr(self) -> Any:
        assert self.x.otr is not None
        return self.x.otr

    def texts(self, peer: str | None = None) -> list[str]:
        return [
            r.event.text
            for r in self.shown
            if isinstance(r.event, ev.MessageReceived) and (peer is None or r.peer == peer)
        ]

    def of(self, kind: type) -> list[Any]:
        return [r.event for r in self.shown if isinstance(r.event, kind)]

    async def until(self, cond: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not cond():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; events: {[r.event for r in self.shown]}")
            await asyncio.sleep(0.01)


async def connected(*clients: Client) -> None:
    await asyncio.gather(*(c.x.connect() for c in clients))


async def secure(a: Client, b: Client) -> None:
    """Alice starts OTR with Bob; both see the session secured."""
    a.otr.start(b.jid)
    await a.until(lambda: bool(a.of(ev.SessionSecured)) and bool(b.of(ev.SessionSecured)))


async def logged_in_pair(prosody: Any, tmp_path: Path, resource: str = "") -> tuple[Client, Client]:
    a = Client(prosody, "alice", tmp_path / "a", resource)
    b = Client(prosody, "bob", tmp_path / "b", resource)
    await connected(a, b)
    return a, b


async def close(*clients: Client) -> None:
    for c in clients:
        await c.x.disconnect()


async def test_ake_messages_both_ways_and_smp(prosody: Any, tmp_path: Path) -> None:
    a, b = await logged_in_pair(prosody, tmp_path)
    try:
        await secure(a, b)
        h = a.x.send(b.jid, "hello bob")
        assert h.state is SendState.SENT and h.encrypted
        await b.until(lambda: b.texts() == ["hello bob"])
        b.x.send(a.jid, "hi alice")
        await a.until(lambda: a.texts() == ["hi alice"])
        assert all(e.encrypted for e in a.of(ev.MessageReceived) + b.of(ev.MessageReceived))
        a.otr.smp_start(b.jid, "the pier", "where?")
        await b.until(lambda: bool(b.of(ev.SmpRequested)))
        b.otr.smp_respond(a.jid, "the pier")
        await a.until(lambda: bool(a.of(ev.SmpSucceeded)) and bool(b.of(ev.SmpSucceeded)))
    finally:
        await close(a, b)


async def test_otr_stanzas_carry_eme_and_hints(prosody: Any, tmp_path: Path) -> None:
    a, b = await logged_in_pair(prosody, tmp_path, "eme")
    stanzas: list[Any] = []
    b.x.xmpp.add_event_handler("message", stanzas.append)
    try:
        await secure(a, b)
        a.x.send(b.jid, "marked")
        await b.until(lambda: b.texts() == ["marked"])
        otr = [s for s in stanzas if s["body"].startswith("?OTR:")]
        assert otr
        for s in otr:
            enc = s.xml.find(f"{{{EME_NS}}}encryption")
            assert enc is not None and enc.get("name") == "OTR"
            assert s.xml.find("{urn:xmpp:hints}no-store") is not None
        # Bob's side marked Alice as an OTR speaker from the EME element.
        assert b.otr.manager.wants_encryption(a.jid)
    finally:
        await close(a, b)


async def test_restart_mid_conversation_loses_nothing_silently(
    prosody: Any, tmp_path: Path
) -> None:
    a, b = await logged_in_pair(prosody, tmp_path, "desk")
    try:
        await secure(a, b)
        a.x.send(b.jid, "before")
        await b.until(lambda: b.texts() == ["before"])
        await close(b)
        b = Client(prosody, "bob", tmp_path / "b", "desk")  # same keys, trust, tag
        await connected(b)
        await asyncio.sleep(0.2)  # let Alice see Bob's presence again
        handles = [a.x.send(b.jid, t) for t in ("after 1", "after 2")]
        await b.until(lambda: b.texts() == ["after 1", "after 2"])
        assert len(b.of(MessageLost)) == 2  # reported, and recovered
        assert all(e.encrypted for e in b.of(ev.MessageReceived))
        assert all(h.state is SendState.SENT and h.resent == 1 for h in handles)
        b.x.send(a.jid, "all good")
        await a.until(lambda: a.texts() == ["all good"])
    finally:
        await close(a, b)


async def test_message_to_a_departed_client_is_resent_after_it_returns(
    prosody: Any, tmp_path: Path
) -> None:
    """No presence subscription: Alice cannot know Bob left.  Prosody stores her
    message offline; Bob's new client cannot read it, says so, and Alice resends
    it on a new session."""
    a, b = await logged_in_pair(prosody, tmp_path, "desk")
    try:
        await secure(a, b)
        await close(b)
        h = a.x.send(b.jid, "while you were away")
        assert h.state is SendState.SENT  # handed to the server
        b = Client(prosody, "bob", tmp_path / "b", "desk")
        await connected(b)
        await b.until(lambda: b.texts() == ["while you were away"])
        assert [e.incoming for e in b.of(MessageLost)] == [True]
        assert h.resent == 1 and h.state is SendState.SENT
        assert any("resent" in w.message for w in a.of(ev.Warning))
        b.x.send(a.jid, "I'm back")
        await a.until(lambda: a.texts() == ["I'm back"])
    finally:
        await close(a, b)


async def test_two_resources_are_two_instances(prosody: Any, tmp_path: Path) -> None:
    a = Client(prosody, "alice", tmp_path / "a", "main")
    b1 = Client(prosody, "bob", tmp_path / "b", "laptop")
    b2 = Client(prosody, "bob", tmp_path / "b", "phone")  # same key directory
    await connected(a, b1, b2)
    try:
        tag1, tag2 = b1.otr.manager.instance_tag, b2.otr.manager.instance_tag
        assert tag1 != tag2
        a.otr.start(b1.jid)  # to the bare JID: both resources answer
        await a.until(lambda: len(a.of(ev.SessionSecured)) == 2)
        assert {e.their_instance for e in a.of(ev.SessionSecured)} == {tag1, tag2}
        b1.x.send(a.jid, "from the laptop")
        b2.x.send(a.jid, "from the phone")
        await a.until(lambda: len(a.texts()) == 2)
        got = {(e.text, e.their_instance) for e in a.of(ev.MessageReceived)}
        assert got == {("from the laptop", tag1), ("from the phone", tag2)}
        # Alice writes to the instance that answered last; only that device reads it.
        h = a.x.send(b1.jid, "which one?")
        target, other = (b1, b2) if h.instance == tag1 else (b2, b1)
        await target.until(lambda: target.texts() == ["which one?"])
        await asyncio.sleep(0.2)
        assert other.texts() == [] and not other.of(MessageLost)
    finally:
        await close(a, b1, b2)


async def test_offline_peer_is_queued_until_it_comes_online(prosody: Any, tmp_path: Path) -> None:
    c = Client(prosody, "carol", tmp_path / "c")
    d = Client(prosody, "dave", tmp_path / "d")
    await connected(c, d)
    c.x.subscribe(d.jid)
    d.x.subscribe(c.jid)
    await c.until(lambda: c.x.online(d.jid) and d.x.online(c.jid))
    c.otr.start(d.jid)  # they have spoken OTR: Dave's fingerprint is known
    await c.until(lambda: bool(c.of(ev.SessionSecured)) and bool(d.of(ev.SessionSecured)))
    await close(d)
    await c.until(lambda: not c.x.online(d.jid))
    h = c.x.send(d.jid, "read this when you're back")
    assert h.state is SendState.PENDING
    await asyncio.sleep(0.3)
    assert h.state is SendState.PENDING
    d = Client(prosody, "dave", tmp_path / "d")
    await connected(d)
    try:
        await d.until(lambda: d.texts() == ["read this when you're back"])
        assert h.state is SendState.SENT and h.encrypted
    finally:
        await close(c, d)


async def test_wrong_password_and_unreachable_server(prosody: Any, tmp_path: Path) -> None:
    def make(res: str) -> SessionManager:
        raise AssertionError("never logged in")

    bad = XmppOtr(
        prosody.jid("alice"), "wrong", make, server=("127.0.0.1", prosody.c2s_port), tls="none"
    )
    with pytest.raises(XmppConnectError) as info:
        await bad.connect(timeout=10)
    assert info.value.kind == "auth"
    nowhere = XmppOtr(prosody.jid("alice"), "x", make, server=("127.0.0.1", 1), tls="none")
    with pytest.raises(XmppConnectError) as info:
        await nowhere.connect(timeout=10)
    assert info.value.kind == "unreachable"
    # Prosody here offers no TLS: requiring STARTTLS must not log in in plaintext.
    plain = XmppOtr(prosody.jid("alice"), "ecila", make, server=("127.0.0.1", prosody.c2s_port))
    with pytest.raises(XmppConnectError) as info:
        await plain.connect(timeout=10)
    assert info.value.kind == "tls"


async def test_carbons_of_otr_messages_are_never_shown(prosody: Any, tmp_path: Path) -> None:
    """Bob's device "one" runs our client; a plain client sends to Bob's other
    device "two", so Prosody copies both messages to "one" as carbons."""
    import slixmpp

    b = Client(prosody, "bob", tmp_path / "b", "one")
    await connected(b)

    def plain(jid: str, password: str) -> Any:
        x = slixmpp.ClientXMPP(jid, password)
        x.enable_starttls = x.enable_direct_tls = False
        x.enable_plaintext = True
        x.plugin["feature_mechanisms"].unencrypted_scram = True
        return x

    async def login(x: Any) -> None:
        ready = asyncio.get_running_loop().create_future()
        x.add_event_handler("session_start", lambda _e: ready.set_result(None))
        x.connect("127.0.0.1", prosody.c2s_port)
        await asyncio.wait_for(ready, 10)
        x.send_presence()
        await x.plugin["xep_0199"].ping(jid=slixmpp.JID(prosody.host), timeout=10)

    two = plain(f"{b.jid}/two", "bob")
    two.register_plugin("xep_0199")
    sender = plain(prosody.jid("carol") + "/raw", "lorac")
    sender.register_plugin("xep_0199")
    await login(two)
    await login(sender)
    try:
        header = struct.pack(">HBII", 3, 0x03, 0x1234, 0x5678) + b"\0" * 40
        otr_text = "?OTR:" + base64.b64encode(header).decode() + "."
        for body in (otr_text, "plain words"):
            sender.make_message(mto=f"{b.jid}/two", mbody=body, mtype="chat").send()
        await b.until(lambda: bool(b.of(CarbonCopy)))
        await asyncio.sleep(0.1)
        assert b.of(CarbonCopy) == [CarbonCopy("plain words", sent=False)]
        assert b.x.carbons_dropped == 1
        assert b.texts() == [] and not b.of(ev.MessageUnreadable)
    finally:
        two.disconnect()
        sender.disconnect()
        await close(b)


async def test_starttls_with_our_ca_and_a_clear_error_without(tmp_path: Path) -> None:
    from services.prosody import available, make_tls_files, start_prosody

    if not available():
        pytest.skip("prosody is not installed")
    ca, cert, key = make_tls_files(tmp_path / "tls")
    server = start_prosody(tmp_path / "p", users={"alice": "ecila"}, tls=(cert, key))
    try:
        made: list[str] = []

        def make(res: str) -> SessionManager:
            made.append(res)
            ident = Identity.load(
                tmp_path / "k", server.jid("alice"), "xmpp", generate=lambda: dsa_key("alice")
            )
            return SessionManager(ident, instance=res)

        where = ("127.0.0.1", server.c2s_port)
        untrusted = XmppOtr(server.jid("alice"), "ecila", make, server=where)
        with pytest.raises(XmppConnectError) as info:
            await untrusted.connect(timeout=10)
        assert info.value.kind == "tls" and "--ca" in str(info.value)
        good = XmppOtr(server.jid("alice"), "ecila", make, server=where, ca_file=ca)
        await good.connect(timeout=10)
        assert made and good._secure
        await good.disconnect()
    finally:
        server.stop()


async def test_connection_lost_after_login_is_reported(prosody: Any, tmp_path: Path) -> None:
    a = Client(prosody, "alice", tmp_path / "a", "flaky")
    await connected(a)
    a.x.xmpp.abort()  # the TCP connection drops under us
    await a.until(lambda: any("disconnected" in w.message for w in a.of(ev.Warning)))
