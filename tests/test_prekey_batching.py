"""Group commit (otr.prekey.batching): retrievals that arrive together are
answered from one storage transaction, each reply only after its commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from otr.prekey import client as pc
from otr.prekey.batching import GroupCommit
from otr.prekey.server import PrekeyServer, ServerSettings
from otr.prekey.storage.sqlite import SqliteStorage
from prekey_util import NOW, SERVER_ID, make_client, make_party, make_rng, pump

BOB = make_party("bob@example.org", 0x1234, 1)
ALICE = make_party("alice@remote.net", 0x5678, 2)


class _Recording(SqliteStorage):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.log: list[str] = []
        self.fail = False

    def take_batch(self, requests, now):  # type: ignore[no-untyped-def]
        if self.fail:
            raise sqlite3.OperationalError("disk I/O error")
        taken = super().take_batch(requests, now)
        self.log.append(f"commit {len(requests)}")
        return taken


def _server(tmp_path: Path, prekeys: int) -> tuple[PrekeyServer, _Recording]:
    storage = _Recording(tmp_path / "p.db")
    server = PrekeyServer(storage, ServerSettings(SERVER_ID), make_rng(7))
    bob = make_client(BOB, 3, server_fingerprint=server.fingerprint)
    assert pump(bob, server, bob.publish(prekey_messages=prekeys), "bob@example.org/a") == [
        pc.PublicationSucceeded(prekeys)
    ]
    return server, storage


def _queries(count: int) -> list[tuple[str, str]]:
    return [
        (f"alice{n}@remote.net/x", make_client(ALICE, 10 + n).retrieve("bob@example.org")[0])
        for n in range(count)
    ]


@pytest.mark.parametrize("threaded", [False, True])
def test_requests_that_arrive_together_share_one_commit(tmp_path: Path, threaded: bool) -> None:
    server, storage = _server(tmp_path, prekeys=8)
    batcher = GroupCommit(server, now=lambda: NOW, max_batch=4, threaded=threaded)

    commits_seen: list[int] = []  # per reply: the commits done when it resolved

    async def scenario() -> list[list[str]]:
        pending = []
        for sender, text in _queries(6):
            future = batcher.submit(sender, text)
            future.add_done_callback(lambda _f: commits_seen.append(len(storage.log)))
            pending.append(future)
        return list(await asyncio.gather(*pending))

    replies = asyncio.run(scenario())
    batcher.shutdown()
    # max_batch 4: two transactions; every reply after the commit covering it
    assert storage.log == ["commit 4", "commit 2"]
    assert min(commits_seen[:4]) >= 1 and min(commits_seen[4:]) == 2
    assert (batcher.batches, batcher.requests) == (2, 6)
    assert all(len(r) == 1 and r[0].startswith("AAQT") for r in replies)  # Ensemble Retrieval
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 2
    assert len({d.identifier for d in server.storage.delivered("bob@example.org")}) == 6
    storage.close()


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failed_batch_answers_nothing_and_the_next_one_works(
    tmp_path: Path, threaded: bool
) -> None:
    server, storage = _server(tmp_path, prekeys=3)
    batcher = GroupCommit(server, now=lambda: NOW, threaded=threaded)
    work = _queries(3)

    async def scenario() -> None:
        storage.fail = True
        failed = [batcher.submit(s, t) for s, t in work[:2]]
        for future in failed:
            with pytest.raises(sqlite3.OperationalError):
                await future
        storage.fail = False
        (reply,) = await batcher.submit(*work[2])
        assert reply.startswith("AAQT")

    asyncio.run(scenario())
    batcher.shutdown()
    assert storage.log == ["commit 1"]
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 2
    storage.close()


def test_a_full_queue_answers_nothing_and_takes_nothing(tmp_path: Path) -> None:
    server, storage = _server(tmp_path, prekeys=3)
    batcher = GroupCommit(server, now=lambda: NOW, max_queue=2)

    async def scenario() -> list[list[str]]:
        return list(await asyncio.gather(*(batcher.submit(s, t) for s, t in _queries(3))))

    replies = asyncio.run(scenario())
    batcher.shutdown()
    assert [len(r) for r in replies] == [1, 1, 0] and batcher.dropped == 1
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 1
    storage.close()


def test_bounds_must_be_positive(tmp_path: Path) -> None:
    server, storage = _server(tmp_path, prekeys=1)
    for bounds in ({"max_batch": 0}, {"max_queue": 0}):
        with pytest.raises(ValueError):
            GroupCommit(server, **bounds)
    storage.close()
