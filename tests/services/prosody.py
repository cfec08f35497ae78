"""Start Debian's Prosody (0.12) on 127.0.0.1 for tests, in a folder of its own.

    server = start_prosody(tmp_path, users={"alice": "pw"}, components={"x.localhost": "s3"})
    server.host, server.c2s_port, server.component_port   # "localhost", ports
    server.jid("alice")                                   # "alice@localhost"
    server.stop()

Everything lives under the given folder: the config, data_path, pidfile and
logs (``prosody.log``; :meth:`Prosody.log_text` for failure reports).  Ports are
free ones chosen here; s2s and HTTP are off; there is no ``limits`` module (the
stock config caps c2s at 10 kB/s); Nagle's algorithm is off (``network_settings``:
with it, a message that follows one the client did not answer waits for the
client's delayed ACK, ~40 ms); c2s accepts plaintext authentication without
TLS (test use only).  ``components`` are optional XEP-0114 external components
(JID -> secret).  As root, Prosody would refuse to run and hang with its ports
bound, so the config says ``run_as_root = true``.  Accounts are registered with
``prosodyctl register`` before the server starts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Prosody", "available", "start_prosody"]

HOST = "localhost"


def available() -> bool:
    """Whether Debian's prosody and prosodyctl are installed."""
    return shutil.which("prosody") is not None and shutil.which("prosodyctl") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _lua(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Prosody:
    """A running Prosody; :meth:`stop` ends it (idempotent)."""

    folder: Path
    host: str
    c2s_port: int
    component_port: int
    process: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=dict)

    def jid(self, user: str) -> str:
        return f"{user}@{self.host}"

    def log_text(self) -> str:
        path = self.folder / "prosody.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _config(folder: Path, c2s: int, comp: int, components: dict[str, str]) -> str:
    lines = [
        f"pidfile = {_lua(str(folder / 'prosody.pid'))}",
        f"data_path = {_lua(str(folder / 'data'))}",
        "run_as_root = true",
        'interfaces = { "127.0.0.1" }',
        f"c2s_ports = {{ {c2s} }}",
        "c2s_direct_tls_ports = { }",
        "legacy_ssl_ports = { }",
        "s2s_ports = { }",
        'component_interfaces = { "127.0.0.1" }',
        f"component_ports = {{ {comp} }}",
        "http_ports = { }",
        "https_ports = { }",
        f"log = {{ debug = {_lua(str(folder / 'prosody.log'))} }}",
        # Nagle's algorithm on the server's side meets the client's delayed ACK:
        # a message after one the client did not answer waits ~40 ms.
        "network_settings = { nagle = false }",
        'authentication = "internal_plain"',
        "c2s_require_encryption = false",
        "allow_unencrypted_plain_auth = true",
        "modules_enabled = {",
        '  "roster"; "saslauth"; "disco"; "carbons"; "ping"; "posix";',
        "}",
        'modules_disabled = { "s2s"; "tls" }',
        f"VirtualHost {_lua(HOST)}",
    ]
    for jid, secret in components.items():
        lines += [f"Component {_lua(jid)}", f"  component_secret = {_lua(secret)}"]
    return "\n".join(lines) + "\n"


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_prosody(
    folder: Path,
    users: dict[str, str] | None = None,
    components: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> Prosody:
    """Configure, register ``users`` (name -> password) and start Prosody in
    ``folder``; returns once its c2s port accepts connections.  Raises
    :class:`RuntimeError` (with the log) if it does not come up."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    c2s, comp = _free_port(), _free_port()
    config = folder / "prosody.cfg.lua"
    config.write_text(_config(folder, c2s, comp, components or {}))
    env = dict(os.environ, HOME=str(folder))
    for user, password in (users or {}).items():
        subprocess.run(
            ["prosodyctl", "--config", str(config), "register", user, HOST, password],
            check=True,
            capture_output=True,
            env=env,
            timeout=30,
        )
    proc = subprocess.Popen(
        ["prosody", "-F", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=open(folder / "stdout.log", "wb"),  # noqa: SIM115 - owned by the child
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = Prosody(folder, HOST, c2s, comp, proc, dict(users or {}))
    if not _wait_port(c2s, proc, timeout):
        server.stop()
        out = (folder / "stdout.log").read_text(errors="replace")
        raise RuntimeError(f"prosody did not start:\n{out}\n{server.log_text()[-4000:]}")
    return server
