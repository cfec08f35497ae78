"""``otr prekey-server``: run the OTRv4 prekey server as an XMPP component
(XEP-0114), see :mod:`otr.prekey.xmpp`.

Defaults: storage is the SQLite file ``prekeys.db`` in the data directory
(``--data-dir``; default ``$OTR_DIR``, else ``$XDG_DATA_HOME/otr``); ``--db
postgresql://...`` shares a PostgreSQL database between several processes
(they then share the long-term key and fingerprint too).  The component
connects to ``--host``/``--port`` (127.0.0.1:5347) as ``--jid`` with the
shared secret from ``--secret``, ``--secret-file`` or ``$OTR_PREKEY_SECRET``.
Users of ``--local-domain`` (default: the JID without its first label) may
publish.  ``--print-fingerprint`` prints the server's fingerprint and exits.
Expired profiles and old delivery records are purged every
``--purge-interval`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from ..prekey.server import PrekeyServer, ServerSettings
from ..prekey.storage import open_storage
from .keys import default_dir

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jid", required=True, help="component JID, e.g. prekey.example.org")
    parser.add_argument("--secret", help="component secret (prefer --secret-file)")
    parser.add_argument("--secret-file", type=Path, help="file holding the component secret")
    parser.add_argument("--host", default="127.0.0.1", help="XMPP server host (127.0.0.1)")
    parser.add_argument("--port", type=int, default=5347, help="component port (5347)")
    parser.add_argument("--db", help="postgresql://... or an SQLite file (default: data dir)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $OTR_DIR")
    parser.add_argument(
        "--durable", action="store_true", help="SQLite: fsync every commit (survives power loss)"
    )
    parser.add_argument(
        "--local-domain", action="append", default=[], help="domain whose users may publish"
    )
    parser.add_argument("--max-reply-chars", type=int, default=None, help="fragment longer replies")
    parser.add_argument("--purge-interval", type=float, default=3600.0)
    parser.add_argument("--print-fingerprint", action="store_true")


def _secret(args: argparse.Namespace) -> str | None:
    if args.secret:
        return str(args.secret)
    if args.secret_file:
        return str(args.secret_file.read_text().strip())
    return os.environ.get("OTR_PREKEY_SECRET")


def _location(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    data_dir = args.data_dir or default_dir()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(data_dir / "prekeys.db")


def run(args: argparse.Namespace) -> int:
    storage = open_storage(_location(args), durable=args.durable)
    try:
        settings = ServerSettings(
            args.jid,
            local_domains=frozenset(args.local_domain),
            max_reply_chars=args.max_reply_chars,
        )
        server = PrekeyServer(storage, settings, os.urandom)
        fingerprint = server.fingerprint.hex().upper()
        if args.print_fingerprint:
            print(fingerprint)
            return 0
        secret = _secret(args)
        if not secret:
            print("otr prekey-server: no component secret given", file=sys.stderr)
            return 1
        print(f"prekey server {args.jid} fingerprint {fingerprint}", file=sys.stderr)
        asyncio.run(_serve(args, server, secret))
        return 0
    finally:
        storage.close()


async def _serve(args: argparse.Namespace, server: PrekeyServer, secret: str) -> None:
    from ..prekey.xmpp import PrekeyComponent

    component = PrekeyComponent(args.jid, secret, args.host, args.port, server)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    async def purge() -> None:
        while True:
            await asyncio.sleep(args.purge_interval)
            await loop.run_in_executor(None, server.storage.purge, time.time())

    component.connect()
    purger = asyncio.create_task(purge())
    disconnected = asyncio.ensure_future(component.disconnected)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({disconnected, stopper}, return_when=asyncio.FIRST_COMPLETED)
    purger.cancel()
    if not disconnected.done():
        await component.disconnect()
    stopper.cancel()
    component.shutdown()
