"""``otr prekey-server`` (otr.cli.prekey_server)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import slixmpp

from otr.cli import main
from otr.prekey.xmpp import discover
from services.prosody import PREKEY_COMPONENT as COMPONENT
from services.prosody import PREKEY_DOMAIN as DOMAIN
from services.prosody import PREKEY_SECRET as SECRET
from services.prosody import Prosody


def test_fingerprint_is_stable_and_kept_in_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "prekey-server",
        "--jid",
        COMPONENT,
        "--data-dir",
        str(tmp_path / "d"),
        "--print-fingerprint",
    ]
    assert main(args) == 0
    first = capsys.readouterr().out.strip()
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == first and len(first) == 112
    assert (tmp_path / "d" / "prekeys.db").exists()
    other = [
        "prekey-server",
        "--jid",
        COMPONENT,
        "--db",
        str(tmp_path / "x.db"),
        "--print-fingerprint",
    ]
    assert main(other) == 0
    assert capsys.readouterr().out.strip() != first


def test_missing_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTR_PREKEY_SECRET", raising=False)
    assert main(["prekey-server", "--jid", COMPONENT, "--data-dir", str(tmp_path)]) == 1


def test_serves_through_prosody(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    server: Prosody = request.getfixturevalue("prekey_prosody")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    base = [
        sys.executable,
        "-c",
        "import sys; from otr.cli import main; sys.exit(main())",
        "prekey-server",
        "--jid",
        COMPONENT,
        "--data-dir",
        str(tmp_path),
    ]
    fingerprint = subprocess.run(
        [*base, "--print-fingerprint"], check=True, capture_output=True, text=True
    ).stdout.strip()
    proc = subprocess.Popen(
        [*base, "--secret-file", str(secret_file), "--port", str(server.component_port)],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:

        async def look() -> tuple[str, bytes] | None:
            xmpp = slixmpp.ClientXMPP(f"alice@{DOMAIN}/cli", "pw")
            xmpp.enable_starttls = False
            xmpp.enable_direct_tls = False
            xmpp.enable_plaintext = True
            xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
            xmpp.register_plugin("xep_0030")
            started = asyncio.get_running_loop().create_future()
            xmpp.add_event_handler(
                "session_start", lambda _e: started.done() or started.set_result(None)
            )
            xmpp.connect("127.0.0.1", server.c2s_port)
            await asyncio.wait_for(started, 20)
            found = None
            for _ in range(100):  # until the component has connected
                found = await discover(xmpp, DOMAIN)
                if found is not None:
                    break
                await asyncio.sleep(0.1)
            xmpp.disconnect()
            await xmpp.disconnected
            return found

        found = asyncio.run(asyncio.wait_for(look(), 60))
        assert found == (COMPONENT, bytes.fromhex(fingerprint))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert code == 0, err
        assert fingerprint in err
