"""Drive a :class:`~otr.account.SessionManager` from an asyncio event loop.

The transport is two callables: ``transmit(peer, text)`` (ours to call; it may
return an awaitable, which is awaited before the next text goes out, so order is
kept) and :meth:`AsyncOtr.feed` (the transport's to call with what arrived).  The
adapter owns the manager's timer: it keeps one ``loop.call_at`` for
``manager.next_deadline()``, converting between the manager's clock -- Unix time
in seconds, ``time.time()``, as every ``now`` in the library (INTERFACES.md) --
and the loop's monotonic clock; a wall-clock jump only makes a timer fire early
or late.

Events other than wire text go to ``on_event`` (or, without one, to the bounded
queue :attr:`AsyncOtr.events`).  :meth:`AsyncOtr.wait_sent` resolves when a
:class:`~otr.account.SendHandle` leaves ``PENDING``.

:func:`load_identity` loads an account's identity, generating a missing key in an
executor while reporting progress (elapsed seconds) so the loop keeps running.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor

from .. import events as ev
from ..account import HandleUpdated, Identity, Routed, SendHandle, SendState, SessionManager
from ..crypto.dsa import DSAPrivateKey, generate_dsa_key
from ..events import Tlv

__all__ = ["AsyncOtr", "Transmit", "load_identity"]

log = logging.getLogger(__name__)

Transmit = Callable[[str, str], Awaitable[None] | None]
"""``transmit(peer, text)``: hand wire text to the transport."""


class AsyncOtr:
    """A :class:`SessionManager` on an event loop (create it inside the loop)."""

    def __init__(
        self,
        manager: SessionManager,
        transmit: Transmit,
        *,
        on_event: Callable[[Routed], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_queued_events: int = 10_000,
    ) -> None:
        self.manager = manager
        self._transmit_fn = transmit
        self._on_event = on_event
        self.clock = clock
        self.events: asyncio.Queue[Routed] = asyncio.Queue(max_queued_events)
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._out: deque[tuple[str, str]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._waiters: dict[int, list[asyncio.Future[SendHandle]]] = {}
        self._closed = False

    # ------------------------------------------------------------ the API

    def feed(self, peer: str, text: str) -> list[Routed]:
        """Text that arrived from ``peer`` (the transport calls this)."""
        return self._dispatch(self.manager.receive(peer, text, self.clock()))

    def send(self, peer: str, text: str, tlvs: Sequence[Tlv] = ()) -> SendHandle:
        """The user typed ``text``: its handle (see :meth:`wait_sent`)."""
        handle, out = self.manager.send(peer, text, self.clock(), tlvs)
        self._dispatch(out)
        return handle

    async def wait_sent(self, handle: SendHandle, timeout: float | None = None) -> SendHandle:
        """Wait until the handle is no longer pending (``TimeoutError`` after ``timeout``)."""
        if handle.state is not SendState.PENDING:
            return handle
        fut: asyncio.Future[SendHandle] = self._loop.create_future()
        self._waiters.setdefault(handle.id, []).append(fut)
        return await asyncio.wait_for(fut, timeout)

    def start(self, peer: str) -> list[Routed]:
        return self._dispatch(self.manager.start(peer, self.clock()))

    def end(self, peer: str) -> list[Routed]:
        return self._dispatch(self.manager.end(peer, self.clock()))

    def smp_start(self, peer: str, secret: str, question: str | None = None) -> list[Routed]:
        return self._dispatch(self.manager.smp_start(peer, secret, question, self.clock()))

    def smp_respond(self, peer: str, secret: str) -> list[Routed]:
        return self._dispatch(self.manager.smp_respond(peer, secret, self.clock()))

    def smp_abort(self, peer: str) -> list[Routed]:
        return self._dispatch(self.manager.smp_abort(peer, self.clock()))

    def use_extra_key(self, peer: str, use: int, usedata: bytes = b"") -> list[Routed]:
        return self._dispatch(self.manager.use_extra_key(peer, use, usedata, self.clock()))

    def undeliverable(self, peer: str) -> list[Routed]:
        return self._dispatch(self.manager.undeliverable(peer, self.clock()))

    def set_presence(self, peer: str, online: bool) -> list[Routed]:
        return self._dispatch(self.manager.set_presence(peer, online, self.clock()))

    async def drain(self) -> None:
        """Wait until every wire text produced so far has been handed to the transport."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    def close(self) -> None:
        """Cancel the timer and any transmission in progress."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writer is not None:
            self._writer.cancel()
        for futs in self._waiters.values():
            for f in futs:
                f.cancel()
        self._waiters.clear()

    # ----------------------------------------------------------- internals

    def _dispatch(self, routed: list[Routed]) -> list[Routed]:
        """Transmit wire text, deliver the other events, then re-arm the timer."""
        shown: list[Routed] = []
        for r in routed:
            e = r.event
            if isinstance(e, ev.SendMessage):
                self._transmit(r.peer, e.text)
                continue
            shown.append(r)
            if isinstance(e, HandleUpdated) and e.handle.state is not SendState.PENDING:
                for fut in self._waiters.pop(e.handle.id, []):
                    if not fut.done():
                        fut.set_result(e.handle)
            if self._on_event is not None:
                try:
                    self._on_event(r)
                except Exception:
                    # The application's bug must not stop the protocol: the
                    # remaining wire text of this batch still goes out.
                    log.exception("on_event raised")
            else:
                if self.events.full():
                    self.events.get_nowait()  # bounded: the oldest goes
                self.events.put_nowait(r)
        self._arm()
        return shown

    def _transmit(self, peer: str, text: str) -> None:
        if self._closed:
            return
        if self._writer is not None:
            self._out.append((peer, text))
            return
        try:
            res = self._transmit_fn(peer, text)
        except Exception as exc:
            self._transport_failed(peer, exc)
            return
        if inspect.isawaitable(res):
            self._writer = self._loop.create_task(self._write(peer, res))

    async def _write(self, peer: str, first: Awaitable[None]) -> None:
        try:
            pending: tuple[str, Awaitable[None]] | None = (peer, first)
            while pending is not None:
                try:
                    await pending[1]
                except Exception as exc:
                    self._transport_failed(pending[0], exc)
                pending = None
                while self._out and pending is None:
                    p, text = self._out.popleft()
                    try:
                        res = self._transmit_fn(p, text)
                    except Exception as exc:
                        self._transport_failed(p, exc)
                        continue
                    if inspect.isawaitable(res):
                        pending = (p, res)
        finally:
            self._writer = None

    def _transport_failed(self, peer: str, exc: Exception) -> None:
        log.warning("transport failed to send to a peer: %s", type(exc).__name__)
        self._dispatch([Routed(peer, ev.Warning(f"the transport failed: {exc}"))])

    def _arm(self) -> None:
        deadline = self.manager.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is None or self._closed:
            return
        delay = max(0.0, deadline - self.clock())
        self._timer = self._loop.call_at(self._loop.time() + delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self._dispatch(self.manager.handle_timer(self.clock()))


async def load_identity(
    directory: str | os.PathLike[str],
    account: str,
    protocol: str,
    *,
    progress: Callable[[float, bool], None] | None = None,
    interval: float = 0.25,
    generate: Callable[[], DSAPrivateKey] = generate_dsa_key,
    executor: Executor | None = None,
) -> Identity:
    """The account's :class:`Identity`; a missing key is generated in ``executor``
    (the loop's default thread pool) while ``progress(elapsed_seconds, done)`` is
    called every ``interval`` seconds and once at the end."""
    if Identity.has_key(directory, account, protocol):
        return Identity.load(directory, account, protocol, generate=None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    job = loop.run_in_executor(executor, generate)
    while True:
        done, _ = await asyncio.wait({job}, timeout=interval)
        if progress is not None:
            progress(loop.time() - started, bool(done))
        if done:
            break
    key = job.result()
    return Identity.load(directory, account, protocol, generate=lambda: key)
