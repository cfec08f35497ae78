"""The test Prosody (tests/services/prosody.py): accounts, an XEP-0114 component,
its own folder, and stop() really stops it."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import slixmpp

from services.prosody import available, start_prosody


async def test_accounts_component_and_stop(tmp_path: Path) -> None:
    if not available():
        pytest.skip("prosody is not installed (./run test installs it)")
    server = start_prosody(tmp_path, users={"erin": "pw"}, components={"svc.localhost": "s3"})
    try:
        comp = slixmpp.ComponentXMPP("svc.localhost", "s3", "127.0.0.1", server.component_port)
        client = slixmpp.ClientXMPP(server.jid("erin") + "/t", "pw")
        client.enable_starttls = client.enable_direct_tls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
        loop = asyncio.get_running_loop()
        comp_up, client_up = loop.create_future(), loop.create_future()
        got: asyncio.Future[str] = loop.create_future()
        comp.add_event_handler("session_start", lambda _e: comp_up.set_result(None))
        client.add_event_handler("session_start", lambda _e: client_up.set_result(None))
        comp.add_event_handler("message", lambda m: got.set_result(str(m["body"])))
        comp.connect()
        client.connect("127.0.0.1", server.c2s_port)
        await asyncio.wait_for(asyncio.gather(comp_up, client_up), 10)
        client.make_message(mto="svc.localhost", mbody="to the component").send()
        assert await asyncio.wait_for(got, 10) == "to the component"
        client.disconnect()
        comp.disconnect()
    finally:
        server.stop()
    assert server.process.poll() is not None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.c2s_port), 1):
        pass
    # Everything it wrote is in its own folder.
    assert (tmp_path / "prosody.log").exists() and (tmp_path / "data").is_dir()
