"""The prekey server over XMPP (otr.prekey.xmpp), end to end through a real
Prosody (Debian's 0.12) started for the test on 127.0.0.1 in a temporary
folder: the component registers, Bob discovers it, checks its fingerprint,
publishes and goes offline; Alice retrieves his ensemble and sends him a
Non-Interactive-Auth message, which Prosody stores; Bob, back online, reads
it, finds the prekey's secrets in his store (used once) and derives the same
keys as Alice.

Prosody comes from :func:`services.prosody.prekey_prosody` (fixture ``prekey_prosody``).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
import slixmpp

from otr.prekey import client as pc
from otr.prekey.server import PrekeyServer, ServerSettings
from otr.prekey.storage.sqlite import SqliteStorage
from otr.prekey.xmpp import FEATURE, PrekeyComponent, XmppPrekeyTransport, discover
from otr.v4 import xzdh
from otr.wire.envelope import decode_otr_message, encode_otr_message
from otr.wire.v4.non_interactive import NonInteractiveAuth
from prekey_util import make_client, make_party
from services.prosody import PREKEY_COMPONENT as COMPONENT
from services.prosody import PREKEY_DOMAIN as DOMAIN
from services.prosody import PREKEY_SECRET as SECRET
from services.prosody import Prosody


async def _online(xmpp: slixmpp.BaseXMPP, port: int) -> None:
    started = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("session_start", lambda _e: started.done() or started.set_result(None))
    failed = lambda _e: started.done() or started.set_exception(RuntimeError("XMPP login failed"))  # noqa: E731
    xmpp.add_event_handler("failed_auth", failed)
    xmpp.connect("127.0.0.1", port)
    await asyncio.wait_for(started, 20)


def _client(user: str) -> slixmpp.ClientXMPP:
    xmpp = slixmpp.ClientXMPP(f"{user}@{DOMAIN}/test", "pw")
    xmpp.enable_starttls = False
    xmpp.enable_direct_tls = False
    xmpp.enable_plaintext = True
    xmpp.plugin["feature_mechanisms"].unencrypted_plain = True  # a local test server only
    xmpp.register_plugin("xep_0030")
    return xmpp


def test_publish_offline_retrieve_through_prosody(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    prosody: Prosody = request.getfixturevalue("prekey_prosody")
    server = PrekeyServer(SqliteStorage(tmp_path / "p.db"), ServerSettings(COMPONENT), os.urandom)
    bob_party = make_party(f"bob@{DOMAIN}", 0x1234, 1)
    alice_party = make_party(f"alice@{DOMAIN}", 0x5678, 2)

    async def scenario() -> None:
        component = PrekeyComponent(COMPONENT, SECRET, "127.0.0.1", prosody.component_port, server)
        await _online(component, prosody.component_port)
        bob_xmpp = _client("bob")
        await _online(bob_xmpp, prosody.c2s_port)
        found = await discover(bob_xmpp, DOMAIN)
        assert found == (COMPONENT, server.fingerprint)
        info = await bob_xmpp.plugin["xep_0030"].get_info(jid=COMPONENT)
        assert FEATURE in info["disco_info"]["features"]
        assert ("auth", "otr-prekey", None, "OTR Prekey Server") in info["disco_info"]["identities"]
        bob = make_client(bob_party, 3, server_identity=found[0], server_fingerprint=found[1])
        bob_link = XmppPrekeyTransport(bob_xmpp, COMPONENT, bob)
        assert await bob_link.publish(5) == [pc.PublicationSucceeded(5)]
        assert await bob_link.storage_status() == [pc.StorageStatusReceived(5)]
        bob_xmpp.disconnect()  # Bob goes offline
        await bob_xmpp.disconnected

        alice_xmpp = _client("alice")
        await _online(alice_xmpp, prosody.c2s_port)
        alice = make_client(alice_party, 4)
        (got,) = await XmppPrekeyTransport(alice_xmpp, COMPONENT, alice).retrieve(f"bob@{DOMAIN}")
        assert isinstance(got, pc.EnsemblesReceived) and len(got.ensembles) == 1
        # Alice starts the offline conversation: a Non-Interactive-Auth message
        start = xzdh.alice_start(
            got.ensembles[0],
            our_profile=alice_party.client_profile,
            our_keypair=alice_party.keypair,
            our_id=alice_party.identity,
            their_id=bob_party.identity,
            rng=os.urandom,
        )
        alice_xmpp.send_message(
            mto=f"bob@{DOMAIN}", mbody=encode_otr_message(start.message.encode()), mtype="chat"
        )
        await asyncio.sleep(0.5)
        alice_xmpp.disconnect()
        await alice_xmpp.disconnected

        # Bob comes back online and reads it from his offline storage
        bob_xmpp = _client("bob")
        inbox: asyncio.Queue[str] = asyncio.Queue()
        bob_xmpp.add_event_handler(
            "message", lambda m: m["body"].startswith("?OTR:") and inbox.put_nowait(m["body"])
        )
        await _online(bob_xmpp, prosody.c2s_port)
        bob_xmpp.send_presence()
        message = NonInteractiveAuth.decode(
            decode_otr_message(await asyncio.wait_for(inbox.get(), 20))
        )
        secrets = bob.store.prekey(message.prekey_identifier)
        assert secrets is not None
        keys = xzdh.bob_receive(
            message,
            prekey=secrets,
            our_profile=bob_party.client_profile,
            our_prekey_profile=bob_party.prekey_profile,
            our_keypair=bob_party.keypair,
            shared_prekey=bob_party.shared,
            now=time.time(),
            our_id=bob_party.identity,
            their_id=alice_party.identity,
        )
        assert keys == start.keys  # the same K, SSID, root and chain keys on both sides
        assert bob.store.take_prekey(message.prekey_identifier) is not None  # used once
        assert bob.store.prekey(message.prekey_identifier) is None
        assert server.storage.count_prekeys(f"bob@{DOMAIN}", 0x1234) == 4
        bob_xmpp.disconnect()
        await bob_xmpp.disconnected
        component.disconnect()
        await component.disconnected
        component.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    server.storage.close()
