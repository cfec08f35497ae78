"""The storage suite, run on both back ends (SQLite and PostgreSQL):
otr.prekey.storage (base, sql, sqlite, postgres)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from otr.prekey.storage import (
    PrekeyStorage,
    StorageCaps,
    StorageRejected,
    StorageRejection,
    StoredPublication,
    TakeRequest,
    open_storage,
)
from services.postgres import fresh_database, postgres_server  # noqa: F401 - fixture

NOW = 1_800_000_000.0
CAPS = StorageCaps(max_instance_tags=3, max_prekeys_per_instance=50)
ALICE = "alice@example.org"


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "prekeys.db")
    return fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def storage(location: str) -> Iterator[PrekeyStorage]:
    s = open_storage(location)
    yield s
    s.close()


def _pub(
    tag: int, ids: range | list[int], *, profiles: bool = True, expires: int = int(NOW) + 1000
) -> StoredPublication:
    return StoredPublication(
        ALICE,
        tag,
        (b"CP%d" % tag, expires) if profiles else None,
        (b"PP%d" % tag, expires) if profiles else None,
        [(i, b"PM%d-%d" % (tag, i)) for i in ids],
    )


def _pm_ids(ensembles: list[bytes]) -> list[int]:
    return [int(e.rsplit(b"-", 1)[1]) for e in ensembles]


def test_publish_count_and_take_one_per_instance(storage: PrekeyStorage) -> None:
    storage.publish(_pub(0x100, range(1, 4)), CAPS)
    storage.publish(_pub(0x200, range(1, 3)), CAPS)
    storage.publish(_pub(0x300, [1], profiles=False), CAPS)  # no profiles: never handed out
    assert storage.count_prekeys(ALICE, 0x100) == 3
    got = storage.take_ensembles(ALICE, NOW, "bob@x.org")
    assert len(got) == 2
    assert got[0].startswith(b"CP256PP256PM256-") and got[1].startswith(b"CP512PP512PM512-")
    assert storage.count_prekeys(ALICE, 0x100) == 2 and storage.count_prekeys(ALICE, 0x200) == 1
    assert storage.take_ensembles("nobody@x.org", NOW, "bob@x.org") == []
    assert len(storage.take_ensembles(ALICE, NOW, "bob@x.org", limit=1)) == 1


def test_never_twice_and_runs_dry(storage: PrekeyStorage) -> None:
    storage.publish(_pub(0x100, range(1, 11)), CAPS)
    seen = []
    for _ in range(12):
        seen += _pm_ids(storage.take_ensembles(ALICE, NOW, "r"))
    assert sorted(seen) == list(range(1, 11))
    assert storage.count_prekeys(ALICE, 0x100) == 0


def test_expired_profiles_are_not_handed_out_and_purged(storage: PrekeyStorage) -> None:
    storage.publish(_pub(0x100, range(1, 3), expires=int(NOW) - 1), CAPS)
    assert storage.take_ensembles(ALICE, NOW, "r") == []
    assert storage.count_prekeys(ALICE, 0x100) == 2  # nothing consumed
    assert storage.purge(NOW) == 2
    # a new profile brings the stored prekeys back into use
    storage.publish(_pub(0x100, []), CAPS)
    assert len(storage.take_ensembles(ALICE, NOW, "r")) == 1


def test_duplicate_identifiers_rejected_whole(storage: PrekeyStorage) -> None:
    storage.publish(_pub(0x100, [1, 2]), CAPS)
    with pytest.raises(StorageRejected) as info:
        storage.publish(
            StoredPublication(ALICE, 0x100, (b"NEWCP", int(NOW) + 5), None, [(3, b"x"), (2, b"y")]),
            CAPS,
        )
    assert info.value.reason is StorageRejection.DUPLICATE_IDENTIFIER
    assert storage.count_prekeys(ALICE, 0x100) == 2
    assert storage.take_ensembles(ALICE, NOW, "r")[0].startswith(b"CP256")  # profile not replaced


def test_caps(storage: PrekeyStorage) -> None:
    for tag in (0x100, 0x200, 0x300):
        storage.publish(_pub(tag, [1]), CAPS)
    with pytest.raises(StorageRejected) as info:
        storage.publish(_pub(0x400, [1]), CAPS)
    assert info.value.reason is StorageRejection.TOO_MANY_INSTANCES
    storage.publish(_pub(0x100, range(2, 51)), CAPS)
    with pytest.raises(StorageRejected) as info:
        storage.publish(_pub(0x100, [99]), CAPS)
    assert info.value.reason is StorageRejection.TOO_MANY_PREKEYS
    assert storage.count_prekeys(ALICE, 0x100) == 50


def test_lost_reply_after_pop(location: str) -> None:
    """A crash between the pop and the reply: the prekey is never handed out
    again, and is not lost silently (recorded as delivered, then purged)."""
    first = open_storage(location)
    first.publish(_pub(0x100, [1, 2]), CAPS)
    (lost,) = _pm_ids(first.take_ensembles(ALICE, NOW, "bob@x.org"))
    first.close()  # the reply never left: the process died here
    again = open_storage(location)
    try:
        assert again.count_prekeys(ALICE, 0x100) == 1
        (record,) = again.delivered(ALICE)
        assert (record.identifier, record.requester, record.delivered_at) == (
            lost,
            "bob@x.org",
            NOW,
        )
        (next_one,) = _pm_ids(again.take_ensembles(ALICE, NOW + 1, "carol@x.org"))
        assert next_one != lost
        assert again.take_ensembles(ALICE, NOW + 2, "dave@x.org") == []
        with pytest.raises(StorageRejected):  # a replayed publication cannot resurrect it
            again.publish(_pub(0x100, [lost]), CAPS)
        assert again.purge(NOW + 10, delivered_retention=5) == 2
        assert again.delivered(ALICE) == []
    finally:
        again.close()


def test_batch_takes_distinct_prekeys_in_one_transaction(storage: PrekeyStorage) -> None:
    storage.publish(_pub(0x100, [1, 2, 3]), CAPS)
    requests = [TakeRequest(ALICE, "r1"), TakeRequest("nobody@x.org", "r2")]
    requests += [TakeRequest(ALICE, f"r{n}") for n in (3, 4, 5)]
    got = storage.take_batch(requests, NOW)
    assert [len(e) for e in got] == [1, 0, 1, 1, 0]  # the store ran dry at the fifth
    assert sorted(_pm_ids([e for ensembles in got for e in ensembles])) == [1, 2, 3]
    assert sorted(d.requester for d in storage.delivered(ALICE)) == ["r1", "r3", "r4"]
    assert storage.take_batch([], NOW) == []
    # per request: its own limit on instance tags, the lowest tags first
    storage.publish(_pub(0x200, [7, 8]), CAPS)
    storage.publish(_pub(0x100, [4]), CAPS)
    one, both, rest = storage.take_batch(
        [TakeRequest(ALICE, "a", limit=1), TakeRequest(ALICE, "b"), TakeRequest(ALICE, "c")], NOW
    )
    assert [e[:5] for e in one] == [b"CP256"] and _pm_ids(one) == [4]
    assert [e[:5] for e in both] == [b"CP512"] and len(rest) == 1  # 0x100 ran dry
    assert sorted(_pm_ids(both + rest)) == [7, 8]


def test_batch_that_fails_part_way_changes_nothing(location: str) -> None:
    """Group commit: a statement of the batch fails after others ran - the whole
    batch rolls back (nothing delivered), and the storage works on."""
    storage = open_storage(location)
    try:
        storage.publish(_pub(0x100, [1, 2, 3]), CAPS)
        bad = TakeRequest(cast(str, object()), "r2")  # no driver can bind this
        with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
            storage.take_batch([TakeRequest(ALICE, "r1"), bad, TakeRequest(ALICE, "r3")], NOW)
        assert storage.count_prekeys(ALICE, 0x100) == 3
        assert storage.delivered(ALICE) == []
        assert len(storage.take_batch([TakeRequest(ALICE, "r4")] * 2, NOW)[1]) == 1
    finally:
        storage.close()
    again = open_storage(location)  # and after a restart
    try:
        assert again.count_prekeys(ALICE, 0x100) == 1
    finally:
        again.close()


def test_restart_keeps_everything_and_server_key_is_stable(location: str) -> None:
    one = open_storage(location)
    key = one.server_key("default", lambda: b"\x01" * 57)
    one.publish(_pub(0x100, [1, 2, 3]), CAPS)
    one.close()
    two = open_storage(location)
    try:
        assert two.server_key("default", lambda: b"\x02" * 57) == key == b"\x01" * 57
        assert two.server_key("other", lambda: b"\x03" * 57) == b"\x03" * 57
        assert two.count_prekeys(ALICE, 0x100) == 3
    finally:
        two.close()


def _concurrent(take: Callable[[], list[bytes]], workers: int, rounds: int) -> list[int]:
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def work() -> None:
        barrier.wait()
        mine = []
        for _ in range(rounds):
            mine += _pm_ids(take())
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_threads_get_distinct_prekeys(location: str) -> None:
    setup = open_storage(location)
    setup.publish(_pub(0x100, range(1, 41)), CAPS)
    shared = open_storage(location)
    try:
        got = _concurrent(lambda: shared.take_ensembles(ALICE, NOW, "t"), workers=6, rounds=8)
    finally:
        shared.close()
    assert len(got) == len(set(got)) == 40
    assert setup.count_prekeys(ALICE, 0x100) == 0
    setup.close()


def _take_in_process(location: str, rounds: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    s = open_storage(location)
    got = []
    for _ in range(rounds):
        got += _pm_ids(s.take_ensembles(ALICE, NOW, "proc"))
    s.close()
    queue.put(got)


def test_concurrent_processes_get_distinct_prekeys(location: str) -> None:
    setup = open_storage(location)
    setup.publish(_pub(0x100, range(1, 31)), CAPS)
    setup.close()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_take_in_process, args=(location, 20, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    got = queue.get(timeout=60) + queue.get(timeout=60)
    for p in procs:
        p.join(timeout=60)
    assert sorted(got) == list(range(1, 31))


def test_sqlite_durability_setting(tmp_path: Path) -> None:
    from otr.prekey.storage.sqlite import SqliteStorage

    for durable, level in ((False, 1), (True, 2)):  # NORMAL, FULL
        s = SqliteStorage(tmp_path / f"{durable}.db", durable=durable)
        conn = s._conn()
        cur = conn.cursor()
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == level
        assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        s.close()
    assert open_storage(str(tmp_path / "d.db"), durable=True).durable  # type: ignore[attr-defined]
