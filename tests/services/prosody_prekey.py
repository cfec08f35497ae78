"""A throw-away Prosody (Debian's 0.12) with the prekey component's port, for
the prekey tests (module-scoped fixture :func:`prosody`).

Minimal on purpose: 127.0.0.1 only, free ports, a temporary folder for data,
pid file and log, c2s and component ports (no s2s, no TLS, plaintext SASL for
this local server), the accounts ``alice`` and ``bob`` on :data:`DOMAIN` with
password ``pw`` (offline messages are stored), and the component
:data:`COMPONENT` with :data:`SECRET`.
``run_as_root`` lets it run as root (the test machines' user).  Nagle's
algorithm is off (``network_settings``): with it, a stanza that follows one the
peer has not acknowledged waits for the peer's delayed ACK (~40 ms), which
caps a request/answer stream.  The realuse work's ``tests/services/prosody.py``
is the general helper; this one stays minimal and adds offline storage.  ``./run``
installs the Debian package ``prosody``; without it the tests are skipped.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "COMPONENT",
    "DOMAIN",
    "SECRET",
    "Prosody",
    "ServiceUnavailable",
    "free_port",
    "prosody",
    "running_prosody",
]

DOMAIN = "example.org"
COMPONENT = "prekey.example.org"
SECRET = "component-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Prosody:
    c2s_port: int
    component_port: int


class ServiceUnavailable(Exception):
    """Prosody is not installed here."""


@pytest.fixture(scope="module")
def prosody() -> Iterator[Prosody]:
    """A Prosody for the test module (see :func:`running_prosody`)."""
    try:
        with running_prosody() as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


@contextlib.contextmanager
def running_prosody() -> Iterator[Prosody]:
    """Start Prosody with the accounts and the component; stop it on exit."""
    exe, ctl = shutil.which("prosody"), shutil.which("prosodyctl")
    if exe is None or ctl is None:
        raise ServiceUnavailable(
            "Prosody is not installed (./run installs the Debian package prosody)"
        )
    root = Path(tempfile.mkdtemp(prefix="otr-prosody-"))
    (root / "data").mkdir()
    (root / "certs").mkdir()
    c2s, comp = free_port(), free_port()
    config = root / "prosody.cfg.lua"
    config.write_text(
        f"""
pidfile = "{root}/prosody.pid"
data_path = "{root}/data"
certificates = "{root}/certs"
log = {{ info = "{root}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
s2s_ports = {{ }}
component_ports = {{ {comp} }}
component_interfaces = {{ "127.0.0.1" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
run_as_root = true
network_settings = {{ nagle = false }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "offline" }}
modules_disabled = {{ "s2s"; "tls" }}
VirtualHost "{DOMAIN}"
Component "{COMPONENT}"
    component_secret = "{SECRET}"
"""
    )
    for user in ("alice", "bob"):
        subprocess.run(
            [ctl, "--config", str(config), "register", user, DOMAIN, "pw"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    proc = subprocess.Popen(
        [exe, "--config", str(config), "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", comp), timeout=1).close()
                socket.create_connection(("127.0.0.1", c2s), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(
                        "Prosody did not start: "
                        + (root / "prosody.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.1)
        yield Prosody(c2s, comp)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)
