"""The prekey server over XMPP (otr.prekey.xmpp), end to end through a real
Prosody (Debian's 0.12) started for the test on 127.0.0.1 in a temporary
folder: the component registers, Bob discovers it, checks its fingerprint,
publishes and goes offline; Alice retrieves his ensemble; Bob, back online,
finds the prekey's secrets in his store.

Prosody comes from :mod:`services.prosody_prekey`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import slixmpp

from otr.prekey import client as pc
from otr.prekey.server import PrekeyServer, ServerSettings
from otr.prekey.storage.sqlite import SqliteStorage
from otr.prekey.xmpp import FEATURE, PrekeyComponent, XmppPrekeyTransport, discover
from prekey_util import make_client, make_party
from services.prosody_prekey import COMPONENT, DOMAIN, SECRET, Prosody
from services.prosody_prekey import prosody as prosody


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
    prosody: Prosody = request.getfixturevalue("prosody")
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
        pm = got.ensembles[0].prekey_message
        alice_xmpp.disconnect()
        await alice_xmpp.disconnected

        # Bob, back online, has the secrets of exactly that prekey, once
        secrets = bob.store.take_prekey(pm.identifier)
        assert secrets is not None and secrets.public() == pm
        assert bob.store.take_prekey(pm.identifier) is None
        assert server.storage.count_prekeys(f"bob@{DOMAIN}", 0x1234) == 4
        component.disconnect()
        await component.disconnected
        component.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    server.storage.close()
