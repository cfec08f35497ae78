"""Group commit for a prekey server host: retrievals answered in batches.

A durable store commits at the disk's fsync rate (a few hundred per second on
an ordinary disk).  One transaction per retrieval makes a server process
fsync-bound, and two processes on one database alternate their fsyncs instead
of sharing them.  :class:`GroupCommit` queues the retrievals a host receives
and drains the queue in batches: every retrieval that arrived while the
previous batch was being committed goes into the next batch, answered by
:meth:`otr.prekey.server.PrekeyServer.handle_batch` from one transaction (one
commit, one fsync).  Under light load a batch is one request (no added
latency); under heavy load the batch grows (up to ``max_batch``) until the
process is bound by its CPU, not by the disk.  At most ``max_queue``
retrievals wait; more get no answer, so a flood cannot grow memory.

Where a batch runs: by default on the event loop itself (``threaded=False``):
the loop stops for the batch's transaction - what arrives meanwhile waits in
the socket and makes the next batch - and no thread hand-off costs CPU.  With
``threaded=True`` a worker thread runs it and the loop keeps reading during
the commit; the two threads then share the GIL, and each batch costs two
thread hand-offs.  On the bench the two are within its noise; the inline
default is the simpler one (and what the component did before batching).

Durability is unchanged: a future resolves only after the commit that covers
its request returned, so a reply never leaves before the Prekey Message it
hands out is durably marked delivered; if the batch fails (the database is
down), every future of the batch gets the exception and nothing of it was
committed.

The XMPP component (:class:`otr.prekey.xmpp.PrekeyComponent`) and the
throughput bench (``bench/bench_prekey.py``) both use it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .server import PrekeyServer

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_QUEUE", "GroupCommit"]

DEFAULT_MAX_BATCH = 256
"""Retrievals answered from one transaction at most."""
DEFAULT_MAX_QUEUE = 8192
"""Retrievals waiting at most; beyond it a retrieval gets no answer (a flood must
not grow memory without bound: the storage sets the pace)."""


class GroupCommit:
    """Answers retrievals in batches, on the event loop or on one worker thread
    (use it from one event loop; :meth:`submit` must be called on that loop)."""

    def __init__(
        self,
        server: PrekeyServer,
        *,
        now: Callable[[], float] = time.time,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
        threaded: bool = False,
    ) -> None:
        if max_batch < 1 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be at least 1")
        self.server = server
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._now = now
        self._queue: list[tuple[str, str, asyncio.Future[list[str]]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._worker = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="prekey-retrieval")
            if threaded
            else None
        )
        self.batches = 0
        """Batches committed so far (with :attr:`requests`: the mean batch size)."""
        self.requests = 0
        self.dropped = 0
        """Retrievals left unanswered because the queue was full."""

    def submit(self, sender: str, text: str) -> asyncio.Future[list[str]]:
        """Queue one message body from ``sender``; the future resolves to its
        replies once the transaction that covers it has committed (to no reply
        at once when :attr:`max_queue` retrievals are waiting)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[str]] = loop.create_future()
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            future.set_result([])  # no answer, as for any refused input
            return future
        self._queue.append((sender, text, future))
        if self._drainer is None:  # the drainer keeps going while the queue is not empty
            self._drainer = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                work = [(sender, text) for sender, text, _ in batch]
                try:
                    if self._worker is None:
                        replies = self.server.handle_batch(work, self._now())
                    else:
                        replies = await loop.run_in_executor(
                            self._worker, self.server.handle_batch, work, self._now()
                        )
                except Exception as exc:  # a local failure: nothing of the batch committed
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.batches += 1
                self.requests += len(batch)
                for (*_, future), reply in zip(batch, replies, strict=True):
                    if not future.done():
                        future.set_result(reply)
                await asyncio.sleep(0)  # let the answered ask again, the socket be read
        finally:
            self._drainer = None

    def shutdown(self) -> None:
        """Stop the worker thread, if any (after the last batch)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
