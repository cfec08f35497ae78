"""Start Debian's Prosody (0.12) on 127.0.0.1 for tests, in a folder of its own:
the one launcher of every test and bench that needs Prosody.

    server = start_prosody(tmp_path, users={"alice": "pw"}, components={"x.localhost": "s3"})
    server.host, server.c2s_port, server.component_port   # "localhost", ports
    server.jid("alice")                                   # "alice@localhost"
    server.stop()

    with prekey_prosody() as server:   # the prekey tests' server (see there)
        ...

Everything lives under the given folder: the config, data_path, pidfile and
logs (``prosody.log``; :meth:`Prosody.log_text` for failure reports).  Ports are
free ones chosen here; s2s and HTTP are off; there is no ``limits`` module (the
stock config caps c2s at 10 kB/s); Nagle's algorithm is off (``network_settings``:
with it, a message that follows one the client did not answer waits for the
client's delayed ACK, ~40 ms); c2s accepts plaintext authentication without
TLS (test use only).  ``components`` are optional XEP-0114 external components
(JID -> secret).  As root, Prosody would refuse to run and hang with its ports
bound, so the config says ``run_as_root = true``.  Accounts are registered with
``prosodyctl register`` before the server starts.  ``offline=True`` stores
messages to offline accounts (``mod_offline``); ``host`` is the virtual host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "PREKEY_COMPONENT",
    "PREKEY_DOMAIN",
    "PREKEY_SECRET",
    "Prosody",
    "ServiceUnavailable",
    "available",
    "make_tls_files",
    "prekey_prosody",
    "start_prosody",
]

HOST = "localhost"

PREKEY_DOMAIN = "example.org"
PREKEY_COMPONENT = "prekey.example.org"
PREKEY_SECRET = "component-secret"


class ServiceUnavailable(Exception):
    """Prosody is not installed here."""


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


def make_tls_files(folder: Path, host: str = HOST) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for ``host`` signed by it: (ca.pem,
    cert.pem, key.pem) in ``folder``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otr test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _config(
    folder: Path,
    c2s: int,
    comp: int,
    components: dict[str, str],
    tls: tuple[Path, Path] | None,
    *,
    host: str,
    offline: bool,
    log_level: str,
) -> str:
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
        f"certificates = {_lua(str(folder / 'certs'))}",
        f"log = {{ {log_level} = {_lua(str(folder / 'prosody.log'))} }}",
        # Nagle's algorithm on the server's side meets the client's delayed ACK:
        # a message after one the client did not answer waits ~40 ms.
        "network_settings = { nagle = false }",
        'authentication = "internal_plain"',
        f"c2s_require_encryption = {'true' if tls else 'false'}",
        "allow_unencrypted_plain_auth = true",
        "modules_enabled = {",
        '  "roster"; "saslauth"; "disco"; "carbons"; "ping"; "posix";',
        f'  {"" if tls else "-- "}"tls";',
        f'  {"" if offline else "-- "}"offline";',
        "}",
        f'modules_disabled = {{ "s2s"; {"" if tls else chr(34) + "tls" + chr(34)} }}',
        f"VirtualHost {_lua(host)}",
    ]
    if tls:
        lines.append(f"  ssl = {{ certificate = {_lua(str(tls[0]))}; key = {_lua(str(tls[1]))}; }}")
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
    tls: tuple[Path, Path] | None = None,
    *,
    host: str = HOST,
    offline: bool = False,
    log_level: str = "debug",
) -> Prosody:
    """Configure, register ``users`` (name -> password) and start Prosody in
    ``folder``; returns once its c2s and component ports accept connections.
    ``tls`` is (certificate, key) to offer and require STARTTLS (see
    :func:`make_tls_files`).  Raises :class:`RuntimeError` (with the log) if it
    does not come up."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "certs").mkdir(exist_ok=True)
    c2s, comp = _free_port(), _free_port()
    config = folder / "prosody.cfg.lua"
    config.write_text(
        _config(
            folder,
            c2s,
            comp,
            components or {},
            tls,
            host=host,
            offline=offline,
            log_level=log_level,
        )
    )
    env = dict(os.environ, HOME=str(folder))
    for user, password in (users or {}).items():
        subprocess.run(
            ["prosodyctl", "--config", str(config), "register", user, host, password],
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
    server = Prosody(folder, host, c2s, comp, proc, dict(users or {}))
    if not (_wait_port(c2s, proc, timeout) and (not components or _wait_port(comp, proc, timeout))):
        server.stop()
        out = (folder / "stdout.log").read_text(errors="replace")
        raise RuntimeError(f"prosody did not start:\n{out}\n{server.log_text()[-4000:]}")
    return server


@contextlib.contextmanager
def prekey_prosody() -> Iterator[Prosody]:
    """The server of the prekey tests and bench, in a temporary folder removed
    on exit: the accounts ``alice`` and ``bob`` (password ``pw``) on
    :data:`PREKEY_DOMAIN` with offline storage (Bob reads what Alice sent while
    he was offline), the component :data:`PREKEY_COMPONENT` with
    :data:`PREKEY_SECRET`, and an ``info`` log (the bench measures it).  Raises
    :class:`ServiceUnavailable` when Prosody is not installed."""
    if not available():
        raise ServiceUnavailable(
            "Prosody is not installed (./run installs the Debian package prosody)"
        )
    root = Path(tempfile.mkdtemp(prefix="otr-prosody-"))
    try:
        server = start_prosody(
            root,
            users={"alice": "pw", "bob": "pw"},
            components={PREKEY_COMPONENT: PREKEY_SECRET},
            host=PREKEY_DOMAIN,
            offline=True,
            log_level="info",
            timeout=20.0,
        )
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
