"""The asyncio adapter (otr.adapters.asyncio): two managers over an in-memory
asyncio transport, ordered async transmission, the loop-owned timer with a Unix
clock, key generation in an executor with progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from otr import events as ev
from otr.account import Identity, Routed, SendState, SessionManager
from otr.adapters.asyncio import AsyncOtr, load_identity
from otr.crypto.dsa import DSAPrivateKey
from otr.policy import Policy
from v3_util import dsa_key

ALICE, BOB = "alice@example.org", "bob@example.org"


def manager(tmp_path: Path, who: str, **kw: float) -> SessionManager:
    ident = Identity.load(tmp_path / who, who, "xmpp", generate=lambda: dsa_key(who))
    return SessionManager(ident, policy=Policy.named("ALWAYS"), **kw)  # type: ignore[arg-type]


class Link:
    """Both ends; ``transmit`` of one feeds the other on a later loop iteration."""

    def __init__(self, tmp_path: Path, async_transmit: bool = False, **kw: float) -> None:
        self.up = True
        self.shown: dict[str, list[Routed]] = {ALICE: [], BOB: []}
        self.order: list[str] = []

        def transmit_to(to: str, frm: str):  # type: ignore[no-untyped-def]
            def transmit(peer: str, text: str):  # type: ignore[no-untyped-def]
                assert peer == to
                if not self.up:
                    return None
                self.order.append(text)
                if async_transmit:
                    return self._later(to, frm, text, 0.001 * (len(self.order) % 3))
                asyncio.get_running_loop().call_soon(self.ends[to].feed, frm, text)
                return None

            return transmit

        self.ends = {
            ALICE: AsyncOtr(
                manager(tmp_path, ALICE, **kw),
                transmit_to(BOB, ALICE),
                on_event=self.shown[ALICE].append,
            ),
            BOB: AsyncOtr(
                manager(tmp_path, BOB, **kw),
                transmit_to(ALICE, BOB),
                on_event=self.shown[BOB].append,
            ),
        }

    async def _later(self, to: str, frm: str, text: str, delay: float) -> None:
        await asyncio.sleep(delay)  # a slow transport: order must still hold
        self.ends[to].feed(frm, text)

    def texts(self, who: str) -> list[str]:
        return [r.event.text for r in self.shown[who] if isinstance(r.event, ev.MessageReceived)]


@pytest.mark.parametrize("async_transmit", [False, True])
async def test_held_message_released_encrypted_over_the_loop(
    tmp_path: Path, async_transmit: bool
) -> None:
    link = Link(tmp_path, async_transmit)
    a = link.ends[ALICE]
    handles = [a.send(BOB, f"m{i}") for i in range(3)]
    assert all(h.state is SendState.PENDING for h in handles)
    done = await asyncio.wait_for(asyncio.gather(*(a.wait_sent(h) for h in handles)), 10)
    assert all(h.state is SendState.SENT and h.encrypted for h in done)
    for _ in range(50):
        if len(link.texts(BOB)) == 3:
            break
        await asyncio.sleep(0.01)
    assert link.texts(BOB) == ["m0", "m1", "m2"]
    await a.drain()
    a.close()
    link.ends[BOB].close()


async def test_timer_fails_pending_with_a_unix_clock(tmp_path: Path) -> None:
    link = Link(tmp_path, pending_timeout=0.2)
    link.up = False
    a = link.ends[ALICE]
    skew = 1e6  # the manager's clock is whatever `clock` says; the loop's differs
    a.clock = lambda: time.time() + skew
    started = time.monotonic()
    h = a.send(BOB, "nobody hears")
    assert a.manager.next_deadline() == pytest.approx(time.time() + skew + 0.2, abs=0.1)
    await asyncio.wait_for(a.wait_sent(h), 5)
    assert h.state is SendState.FAILED
    assert 0.15 <= time.monotonic() - started < 3
    a.close()


async def test_transport_exception_becomes_a_warning(tmp_path: Path) -> None:
    shown: list[Routed] = []

    def broken(peer: str, text: str) -> None:
        raise ConnectionError("gone")

    a = AsyncOtr(manager(tmp_path, ALICE), broken, on_event=shown.append)
    a.start(BOB)
    assert any(isinstance(r.event, ev.Warning) and "gone" in r.event.message for r in shown)
    a.close()


async def test_events_queue_without_callback(tmp_path: Path) -> None:
    a = AsyncOtr(manager(tmp_path, ALICE), lambda p, t: None, max_queued_events=2)
    for i in range(3):
        a.send(BOB, f"x{i}")
    assert a.events.qsize() == 2
    a.close()


async def test_load_identity_generates_in_executor_with_progress(tmp_path: Path) -> None:
    calls: list[tuple[float, bool]] = []
    ticks = 0

    def slow() -> DSAPrivateKey:
        time.sleep(0.3)
        return dsa_key("slow")

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.02)

    t = asyncio.get_running_loop().create_task(ticker())
    ident = await load_identity(
        tmp_path / "k",
        ALICE,
        "xmpp",
        progress=lambda s, d: calls.append((s, d)),
        interval=0.05,
        generate=slow,
    )
    t.cancel()
    assert ident.key == dsa_key("slow")
    assert len(calls) >= 3 and calls[-1][1] and not calls[0][1]
    assert ticks >= 5  # the loop kept running
    # Second time: loaded, no generation.
    again = await load_identity(tmp_path / "k", ALICE, "xmpp", generate=pytest.fail)
    assert again.fingerprint == ident.fingerprint


async def test_a_failing_event_callback_does_not_stop_transmission(tmp_path: Path) -> None:
    sent: list[str] = []

    def broken(_r: Routed) -> None:
        raise RuntimeError("UI bug")

    a = AsyncOtr(manager(tmp_path, ALICE), lambda p, t: sent.append(t), on_event=broken)
    a.send(BOB, "x")  # HandleUpdated (raises in the callback), and a Query Message
    assert len(sent) == 1 and sent[0].startswith("?OTRv")
    a.close()
