"""A throw-away PostgreSQL cluster for the tests (session-scoped fixture).

``initdb`` refuses to run as root, so as root the cluster belongs to the
``postgres`` system user (``runuser -u postgres``); it lives in a temporary
folder, listens on 127.0.0.1 on a free port (and on a socket in that folder
only) and is stopped and removed after the session.  ``./run`` installs the
Debian ``postgresql`` package; only when its binaries cannot be found at all
are the PostgreSQL tests skipped, with that reason.

Use: ``from services.postgres import postgres_server, fresh_database``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["ServiceUnavailable", "cluster", "fresh_database", "postgres_server"]

_counter = itertools.count()


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(cmd: list[str], as_user: str | None) -> None:
    if as_user is not None:
        cmd = ["runuser", "-u", as_user, "--", *cmd]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)


class ServiceUnavailable(Exception):
    """PostgreSQL is not installed here."""


@contextlib.contextmanager
def cluster(settings: str = "-c fsync=off") -> Iterator[str]:
    """Start a temporary cluster; yield the DSN of its ``postgres`` database
    (superuser, trust authentication).  ``settings`` are extra server options."""
    bindir = _bindir()
    if bindir is None:
        raise ServiceUnavailable(
            "PostgreSQL binaries not found (./run installs the Debian package postgresql)"
        )
    as_user = None
    root = Path(tempfile.mkdtemp(prefix="otr-pg-"))
    if os.geteuid() == 0:
        as_user = "postgres"
        entry = pwd.getpwnam(as_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    port = _free_port()
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ],
            as_user,
        )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {root} {settings}",
                "start",
            ],
            as_user,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"], as_user)
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A cluster for the whole test session (see :func:`cluster`)."""
    try:
        with cluster() as dsn:
            yield dsn
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


def fresh_database(server_dsn: str) -> str:
    """Create an empty database on the cluster; return its DSN."""
    import psycopg

    name = f"t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_dsn.rsplit("/", 1)[0] + "/" + name
