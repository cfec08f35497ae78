"""Offline starts end to end (issue 10 point 1) through a real Prosody and the
prekey component: Bob publishes through the component and goes offline;
Alice retrieves his ensemble and starts with a message through her
Conversation (Prosody stores it); Bob comes online, his Conversation reads
it (the prekey taken from his 0600 secret file) and both continue."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import slixmpp

from otr import events as ev
from otr.conversation import Conversation
from otr.crypto.dsa import generate_dsa_key
from otr.policy import Policy
from otr.prekey import client as pc
from otr.prekey.secrets import PrekeySecretStore
from otr.prekey.server import PrekeyServer, ServerSettings
from otr.prekey.storage.sqlite import SqliteStorage
from otr.prekey.xmpp import PrekeyComponent, XmppPrekeyTransport, discover
from otr.v4.keys import Ed448KeyPair, ForgingKey
from otr.v4.offline import OfflineKeys
from otr.v4.profiles import build_client_profile, build_prekey_profile
from otr.v4.session import V4Credentials, V4Mode, V4Settings
from prekey_util import Party, make_client
from services.prosody import PREKEY_COMPONENT as COMPONENT
from services.prosody import PREKEY_DOMAIN as DOMAIN
from services.prosody import PREKEY_SECRET as SECRET
from services.prosody import Prosody
from test_prekey_xmpp import _client, _online

ALICE, BOB = f"alice@{DOMAIN}", f"bob@{DOMAIN}"


def _identity(jid: str, tag: int) -> tuple[Party, V4Credentials]:
    kp, forging = Ed448KeyPair.generate(os.urandom), ForgingKey.generate(os.urandom)
    expires = int(time.time()) + 14 * 86400
    cp = build_client_profile(kp, forging.public, tag, "4", expires)
    shared = Ed448KeyPair.generate(os.urandom)
    pp = build_prekey_profile(kp, tag, expires, shared.public)
    return Party(jid, tag, kp, cp, pp, shared), V4Credentials(kp, forging, cp)


def _conversation(me: str, peer: str, tag: int, v4: V4Credentials) -> Conversation:
    return Conversation(
        generate_dsa_key(),
        peer,
        account=me,
        protocol="xmpp",
        policy=Policy.named("MANUAL").with_versions(frozenset({4})),
        instance_tag=tag,
        v4=v4,
        v4_settings=V4Settings(mode=V4Mode.STANDALONE),
    )


async def _close(component: PrekeyComponent, *clients: slixmpp.BaseXMPP) -> None:
    for xmpp in (*clients, component):
        xmpp.disconnect()
        await xmpp.disconnected
    component.shutdown()


def _sent(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.SendMessage)]


def test_offline_conversation_through_prosody(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    prosody: Prosody = request.getfixturevalue("prekey_prosody")
    server = PrekeyServer(SqliteStorage(tmp_path / "p.db"), ServerSettings(COMPONENT), os.urandom)
    bob_party, bob_creds = _identity(BOB, 0x2345)
    alice_party, alice_creds = _identity(ALICE, 0x6789)
    secrets_file = tmp_path / "bob-prekeys.json"

    async def scenario() -> None:
        component = PrekeyComponent(COMPONENT, SECRET, "127.0.0.1", prosody.component_port, server)
        await _online(component, prosody.component_port)
        bob_xmpp = _client("bob")
        await _online(bob_xmpp, prosody.c2s_port)
        found = await discover(bob_xmpp, DOMAIN)
        assert found is not None
        bob_client = make_client(
            bob_party,
            5,
            server_identity=found[0],
            server_fingerprint=found[1],
            store=PrekeySecretStore(secrets_file),
        )
        assert await XmppPrekeyTransport(bob_xmpp, COMPONENT, bob_client).publish(3) == [
            pc.PublicationSucceeded(3)
        ]
        bob_xmpp.disconnect()  # Bob goes offline
        await bob_xmpp.disconnected

        alice_xmpp = _client("alice")
        await _online(alice_xmpp, prosody.c2s_port)
        alice_client = make_client(alice_party, 6)
        (got,) = await XmppPrekeyTransport(alice_xmpp, COMPONENT, alice_client).retrieve(BOB)
        assert isinstance(got, pc.EnsemblesReceived)
        alice = _conversation(ALICE, BOB, alice_party.tag, alice_creds)
        out = alice.start_offline(got.ensembles, time.time(), text="hello from the past")
        (secured,) = [e for e in out if isinstance(e, ev.SessionSecured)]
        assert secured.offline
        for text in _sent(out):
            alice_xmpp.send_message(mto=BOB, mbody=text, mtype="chat")
        alice_inbox: asyncio.Queue[str] = asyncio.Queue()
        alice_xmpp.add_event_handler(
            "message",
            lambda m: m["body"].startswith("?OTR") and alice_inbox.put_nowait(m["body"]),
        )
        alice_xmpp.send_presence()  # available: Bob's answers are delivered to her
        await asyncio.sleep(0.5)

        # Bob comes back (a new process: his secrets are read from their file)
        bob_inbox: asyncio.Queue[str] = asyncio.Queue()
        bob_xmpp = _client("bob")
        bob_xmpp.add_event_handler(
            "message", lambda m: m["body"].startswith("?OTR") and bob_inbox.put_nowait(m["body"])
        )
        await _online(bob_xmpp, prosody.c2s_port)
        bob_xmpp.send_presence()
        store = PrekeySecretStore(secrets_file)
        assert len(store) == 3
        bob = _conversation(
            BOB,
            ALICE,
            bob_party.tag,
            V4Credentials(
                bob_creds.keypair,
                bob_creds.forging_key,
                bob_creds.profile,
                prekeys=OfflineKeys(store, (bob_party.prekey_profile,)),
            ),
        )
        events: list[ev.Event] = []
        for _ in range(2):
            events += bob.receive(await asyncio.wait_for(bob_inbox.get(), 20), time.time())
        assert [e.ssid for e in events if isinstance(e, ev.SessionSecured)] == [alice.ssid]
        assert [e.text for e in events if isinstance(e, ev.MessageReceived)] == [
            "hello from the past"
        ]
        assert len(PrekeySecretStore(secrets_file)) == 2  # the used prekey is gone

        # both continue
        for text in _sent(bob.send("got it", time.time())):
            bob_xmpp.send_message(mto=ALICE, mbody=text, mtype="chat")
        reply = alice.receive(await asyncio.wait_for(alice_inbox.get(), 20), time.time())
        assert [e.text for e in reply if isinstance(e, ev.MessageReceived)] == ["got it"]
        for text in _sent(alice.send("great", time.time())):
            alice_xmpp.send_message(mto=BOB, mbody=text, mtype="chat")
        again = bob.receive(await asyncio.wait_for(bob_inbox.get(), 20), time.time())
        assert [e.text for e in again if isinstance(e, ev.MessageReceived)] == ["great"]

        await _close(component, alice_xmpp, bob_xmpp)

    asyncio.run(asyncio.wait_for(scenario(), 120))
    server.storage.close()
