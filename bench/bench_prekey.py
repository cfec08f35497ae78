"""Prekey-server throughput and publication cost.

    python bench/bench_prekey.py [--retrievals 20000] [--no-postgres] [--no-prosody]

* A verified 100-prekey publication: the server's handling of the DAKE-3 that
  carries it (ring signature, Prekey MAC, both profiles, the ECDH and DH
  batch proofs over 100 values, 100 point and 100 Jacobi checks, one storage
  transaction); the client's work is done before the clock starts.  DAKE-1
  (one ring signature) is timed too.  Target: <= 1 s.
* Retrievals per second through the core (``PrekeyServer.handle`` of an
  Ensemble Query, one atomic pop, the encoded reply) on SQLite (target
  >= 5,000/s on one core) and on PostgreSQL, with many requesters and
  targets so that the rate limits never refuse.
* Scaling: one and two server processes sharing one *durable* store (SQLite
  with ``synchronous=FULL``, PostgreSQL with its default
  ``synchronous_commit=on``: a prekey handed out stays handed out after a
  power loss); target >= 1.6x on PostgreSQL.  Each process is driven the way
  a real server is: 64 concurrent requesters (each sends an Ensemble Query
  and waits for its answer) submit to the component's
  :class:`otr.prekey.batching.GroupCommit`, which answers all the queries
  that arrived during a commit from the next transaction (group commit; the
  mean batch size is printed).  ``--max-batch 1`` shows the same drive with
  one transaction per retrieval, ``--threaded`` the batches on a worker
  thread instead of the event loop.
* End to end through Prosody: a slixmpp client keeps 256 queries in flight to
  the component and counts the answers (target >= 1,000/s).

The PostgreSQL cluster and Prosody are throw-away servers from
``tests/services``; each figure is the best of a few runs (the machine is
shared), the median is printed beside it, and the load average before the
run is printed first: with other work on the machine the two-process figure
cannot show more than the idle cores allow.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing import Queue
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from otr.prekey import client as pc  # noqa: E402
from otr.prekey import messages as msg  # noqa: E402
from otr.prekey.batching import DEFAULT_MAX_BATCH, GroupCommit  # noqa: E402
from otr.prekey.limits import RateLimits  # noqa: E402
from otr.prekey.server import PrekeyServer, ServerSettings  # noqa: E402
from otr.prekey.storage import PrekeyStorage, StorageCaps, StoredPublication, open_storage  # noqa: E402
from otr.v4.prekeys import generate_prekey_message  # noqa: E402
from prekey_util import NOW, SERVER_ID, make_client, make_party, make_rng  # noqa: E402

UNLIMITED = RateLimits(
    retrievals_per_requester=(1e9, 1e9),
    retrievals_per_target=(1e9, 1e9),
    dake1_per_requester=(1e9, 1e9),
)
TARGETS = 200


def best_median(samples: list[float]) -> tuple[float, float]:
    return min(samples), statistics.median(samples)


def publication_bench(location: str, runs: int = 5) -> tuple[list[float], list[float]]:
    storage = open_storage(location)
    server = PrekeyServer(storage, ServerSettings(SERVER_ID, limits=UNLIMITED), os.urandom)
    dake1_times, dake3_times = [], []
    for run in range(runs):
        party = make_party(f"bob{run}@example.org", 0x1000 + run, 1000 + run)
        client = make_client(party, 2000 + run)
        sender = f"{party.identity}/bench"
        (dake1,) = client.publish(prekey_messages=100)
        t0 = time.perf_counter()
        (dake2,) = server.handle(sender, dake1, NOW)
        dake1_times.append(time.perf_counter() - t0)
        events = client.receive(dake2, NOW)
        texts = [e.text for e in events if isinstance(e, pc.SendToServer)]
        t0 = time.perf_counter()
        replies = [r for t in texts for r in server.handle(sender, t, NOW)]
        dake3_times.append(time.perf_counter() - t0)
        assert [type(e) for r in replies for e in client.receive(r, NOW)] == [
            pc.PublicationSucceeded
        ]
    storage.close()
    return dake1_times, dake3_times


def seed(storage: PrekeyStorage, per_target: int) -> None:
    """TARGETS identities with profiles and ``per_target`` prekey messages each
    (one real encoding, distinct identifiers: the server hands out stored bytes)."""
    party = make_party("seed@example.org", 0x1234, 7)
    pm = generate_prekey_message(0x1234, make_rng(8)).public().encode()
    caps = StorageCaps(max_prekeys_per_instance=per_target + 1)
    for t in range(TARGETS):
        storage.publish(
            StoredPublication(
                f"user{t}@example.org",
                0x1234,
                (party.client_profile.encode(), int(NOW) + 86400),
                (party.prekey_profile.encode(), int(NOW) + 86400),
                [(i, pm[:3] + i.to_bytes(4, "big") + pm[7:]) for i in range(1, per_target + 1)],
            ),
            caps,
        )


def queries(count: int, offset: int = 0) -> list[tuple[str, str]]:
    out = []
    for n in range(offset, offset + count):
        text = msg.encode_text(
            msg.EnsembleQuery(0x5678, f"user{n % TARGETS}@example.org", b"4").encode()
        )
        out.append((f"alice{n % 997}@remote.net/x", text))
    return out


def retrieval_run(location: str, count: int, offset: int = 0) -> float:
    """Seconds for ``count`` retrievals through one server core."""
    storage = open_storage(location)
    server = PrekeyServer(storage, ServerSettings(SERVER_ID, limits=UNLIMITED), os.urandom)
    work = queries(count, offset)
    t0 = time.perf_counter()
    for sender, text in work:
        (reply,) = server.handle(sender, text, NOW)
    elapsed = time.perf_counter() - t0
    assert reply.startswith("AAQT"), "the store ran dry"
    storage.close()
    return elapsed


REQUESTERS = 64
"""Concurrent requesters driving each server process (each sends a query and
waits for its answer before the next), as many clients drive a real server."""


async def _drive(
    server: PrekeyServer,
    work: list[tuple[str, str]],
    max_batch: int,
    threaded: bool,
    ready: Queue,  # type: ignore[type-arg]
    go: Queue,  # type: ignore[type-arg]
) -> float:
    """The component's path without XMPP: ``REQUESTERS`` concurrent requesters
    submit to a :class:`GroupCommit`; returns the mean batch size."""
    loop = asyncio.get_running_loop()
    batcher = GroupCommit(server, now=lambda: NOW, max_batch=max_batch, threaded=threaded)
    (warm,) = await batcher.submit(*work.pop())  # connect the worker thread
    assert warm.startswith("AAQT")
    batcher.batches = batcher.requests = 0
    todo = iter(work)

    async def requester() -> None:
        for sender, text in todo:
            (reply,) = await batcher.submit(sender, text)
            assert reply.startswith("AAQT"), "the store ran dry"

    await loop.run_in_executor(None, ready.put, 1)
    await loop.run_in_executor(None, go.get)
    await asyncio.gather(*(requester() for _ in range(REQUESTERS)))
    batcher.shutdown()
    return batcher.requests / max(batcher.batches, 1)


def _worker(
    location: str,
    count: int,
    offset: int,
    max_batch: int,
    threaded: bool,
    ready: Queue,  # type: ignore[type-arg]
    go: Queue,  # type: ignore[type-arg]
) -> None:
    storage = open_storage(location, durable=True)
    server = PrekeyServer(storage, ServerSettings(SERVER_ID, limits=UNLIMITED), os.urandom)
    work = queries(count + 1, offset)
    mean_batch = asyncio.run(_drive(server, work, max_batch, threaded, ready, go))
    ready.put(mean_batch)
    storage.close()


def processes_run(
    location: str, procs: int, count: int, max_batch: int, threaded: bool = False
) -> tuple[float, float]:
    """Retrievals per second with ``procs`` server processes sharing ``location``
    (each prepared and connected before the clock starts), and the mean batch."""
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Queue(), ctx.Queue()
    workers = [
        ctx.Process(
            target=_worker,
            args=(location, count, i * (count + 1), max_batch, threaded, ready, go),
        )
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=120)
    t0 = time.perf_counter()
    for _ in workers:
        go.put(1)
    batches = [ready.get(timeout=600) for _ in workers]
    wall = time.perf_counter() - t0
    for w in workers:
        w.join()
    return procs * count / wall, statistics.mean(batches)


def scaling_benches(
    args: argparse.Namespace, location_factory: Callable[[], str], label: str
) -> None:
    """1 and 2 server processes on one durable store, best of ``args.runs``."""
    n = args.retrievals // 2

    def seeded(procs: int) -> str:
        location = location_factory()
        storage = open_storage(location)
        seed(storage, per_target=(procs * (n + 1)) // TARGETS + 2)
        storage.close()
        return location

    rates: dict[int, list[float]] = {1: [], 2: []}
    batch: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.runs):  # a fresh, equally full store for every run
        for procs in (1, 2):
            rate, mean_batch = processes_run(seeded(procs), procs, n, args.max_batch, args.threaded)
            rates[procs].append(rate)
            batch[procs].append(mean_batch)
    for procs in (1, 2):
        name = f"{label} durable, {procs} server process{'es' if procs > 1 else ''}"
        report(name, max(rates[procs]), "/s", "-", statistics.median(rates[procs]))
        print(f"{'':<52} mean batch {statistics.mean(batch[procs]):.1f} retrievals")
    ratio = max(rates[2]) / max(rates[1])
    report(f"{label} durable: 2 processes / 1 process", ratio, "x", ">= 1.6x (PostgreSQL)")


def report(name: str, value: float, unit: str, target: str, median: float | None = None) -> None:
    med = f" (median {median:.4g})" if median is not None else ""
    print(f"{name:<52} {value:>10.4g} {unit}{med}   target {target}")


def timed(fn: Callable[[], float], runs: int) -> tuple[float, float]:
    return best_median([fn() for _ in range(runs)])


def core_benches(args: argparse.Namespace, location_factory: Callable[[], str], label: str) -> None:
    n = args.retrievals
    rates = []
    for _ in range(3):  # a fresh, equally full store for every run
        location = location_factory()
        storage = open_storage(location)
        seed(storage, per_target=n // TARGETS + 2)
        storage.close()
        rates.append(n / retrieval_run(location, n))
    report(
        f"retrievals/s through the core ({label})",
        max(rates),
        "/s",
        ">= 5000 (SQLite)",
        statistics.median(rates),
    )
    d1, d3 = publication_bench(location_factory())
    b1, m1 = best_median(d1)
    b3, m3 = best_median(d3)
    report(f"DAKE-1 handled ({label})", b1 * 1000, "ms", "-", m1 * 1000)
    report(f"verified 100-prekey publication ({label})", b3 * 1000, "ms", "<= 1000 ms", m3 * 1000)


def postgres_benches(args: argparse.Namespace) -> None:
    from services.postgres import ServiceUnavailable, cluster, fresh_database

    try:
        with cluster(settings="") as dsn:
            core_benches(args, lambda: fresh_database(dsn), "PostgreSQL durable")
            scaling_benches(args, lambda: fresh_database(dsn), "PostgreSQL")
    except ServiceUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}")


def prosody_bench(args: argparse.Namespace) -> None:
    import slixmpp

    from otr.prekey.xmpp import PrekeyComponent
    from services import prosody

    try:
        context = prosody.prekey_prosody()
        server_info = context.__enter__()
    except prosody.ServiceUnavailable as exc:
        print(f"Prosody skipped: {exc}")
        return
    try:
        with tempfile.TemporaryDirectory() as d:
            location = str(Path(d) / "p.db")
            storage = open_storage(location)
            total = args.e2e
            runs = 3
            seed(storage, per_target=runs * total // TARGETS + 2)
            server = PrekeyServer(
                storage, ServerSettings(prosody.PREKEY_COMPONENT, limits=UNLIMITED), os.urandom
            )
            rates = [
                asyncio.run(_e2e(server, server_info, total, PrekeyComponent, slixmpp))
                for _ in range(runs)
            ]
            best, median = max(rates), statistics.median(rates)
            report(
                "retrievals/s end to end through Prosody (SQLite)", best, "/s", ">= 1000", median
            )
            storage.close()
    finally:
        context.__exit__(None, None, None)


async def _e2e(
    server: PrekeyServer, info: object, total: int, component_cls: type, slixmpp: object
) -> float:
    from services import prosody

    comp = component_cls(
        prosody.PREKEY_COMPONENT, prosody.PREKEY_SECRET, "127.0.0.1", info.component_port, server
    )  # type: ignore[attr-defined]
    started = asyncio.get_running_loop().create_future()
    comp.add_event_handler("session_start", lambda _e: started.done() or started.set_result(None))
    comp.connect()
    await asyncio.wait_for(started, 20)
    xmpp = slixmpp.ClientXMPP(f"alice@{prosody.PREKEY_DOMAIN}/bench", "pw")  # type: ignore[attr-defined]
    xmpp.enable_starttls = False
    xmpp.enable_direct_tls = False
    xmpp.enable_plaintext = True
    xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
    up = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("session_start", lambda _e: up.done() or up.set_result(None))
    xmpp.connect("127.0.0.1", info.c2s_port)  # type: ignore[attr-defined]
    await asyncio.wait_for(up, 20)
    work = queries(total)
    done = asyncio.Event()
    state = {"answered": 0, "sent": 0, "other": 0}
    window = 256

    def send_next() -> None:
        if state["sent"] < total:
            _s, text = work[state["sent"]]
            state["sent"] += 1
            xmpp.send_message(mto=prosody.PREKEY_COMPONENT, mbody=text, mtype="normal")

    def on_message(stanza: object) -> None:
        if not str(stanza["body"]).startswith("AAQT"):  # type: ignore[index]
            state["other"] += 1
            return
        state["answered"] += 1
        if state["answered"] == total:
            done.set()
        send_next()

    xmpp.add_event_handler("message", on_message)
    t0 = time.perf_counter()
    for _ in range(window):
        send_next()
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - t0
    assert state["other"] == 0, f"{state['other']} answers were not Ensemble Retrievals"
    xmpp.disconnect()
    comp.disconnect()
    comp.shutdown()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrievals", type=int, default=20000)
    parser.add_argument("--e2e", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each scaling figure")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=DEFAULT_MAX_BATCH,
        help="retrievals per transaction at most (1: no group commit)",
    )
    parser.add_argument(
        "--threaded", action="store_true", help="GroupCommit on a worker thread (threaded=True)"
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-prosody", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as d:
        counter = iter(range(1000))
        core_benches(args, lambda: str(Path(d) / f"p{next(counter)}.db"), "SQLite")
        scaling_benches(args, lambda: str(Path(d) / f"p{next(counter)}.db"), "SQLite")
    if not args.no_postgres:
        postgres_benches(args)
    if not args.no_prosody:
        prosody_bench(args)


if __name__ == "__main__":
    main()
