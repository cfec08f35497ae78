"""End-to-end latency of one message through a real Prosody: OTR beside raw XMPP.

Starts Debian's Prosody on 127.0.0.1 (tests/services/prosody.py), logs in
alice and bob twice each, in this one process: through
:class:`otr.adapters.xmpp.XmppOtr` with an OTR session up, and as plain
slixmpp clients with the same XMPP features (carbons enabled: Prosody's carbons
cost far more than OTR does, so leaving them out of the raw side would be
unfair).  A message's latency is from the sender's ``send`` to the receiver's
event, on one clock.  Raw messages, OTR conversation turns (alternating
direction: every message carries and uses a new D-H key, v3's worst case) and
OTR one-way stream messages (same keys) are interleaved in a random order so
that machine load affects them alike.  Also printed: the time spent in the OTR layer alone
(``SessionManager.send``/``receive``).

Prints the median and p99 of each and what OTR adds (target: <= 1 ms at the
median).

    python bench/bench_xmpp.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import slixmpp  # noqa: E402

from otr import events as ev  # noqa: E402
from otr.account import Identity, Routed, SessionManager  # noqa: E402
from otr.adapters.xmpp import XmppOtr  # noqa: E402
from services.prosody import start_prosody  # noqa: E402

TARGET_MS = 1.0
MESSAGE = "x" * 100


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


class RawClient:
    """A plain slixmpp client with the same XMPP features as ours (carbons on)."""

    def __init__(self, jid: str, password: str, port: int) -> None:
        x = slixmpp.ClientXMPP(jid, password)
        x.enable_starttls = x.enable_direct_tls = False
        x.enable_plaintext = True
        x.plugin["feature_mechanisms"].unencrypted_scram = True
        for plugin in ("xep_0030", "xep_0280"):
            x.register_plugin(plugin)
        self.x = x
        self.port = port
        self.waiter: asyncio.Future[float] | None = None
        x.add_event_handler("message", self._message)

    async def connect(self) -> None:
        ready = asyncio.get_running_loop().create_future()
        self.x.add_event_handler("session_start", lambda _e: ready.set_result(None))
        self.x.connect("127.0.0.1", self.port)
        await ready
        await self.x.plugin["xep_0280"].enable()
        self.x.send_presence()

    def _message(self, msg: Any) -> None:
        if msg["type"] == "chat" and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(time.perf_counter())

    def send(self, to: str) -> None:
        self.x.make_message(mto=to, mbody=MESSAGE, mtype="chat").send()


class TimedManager(SessionManager):
    """Records the time spent in the OTR layer itself (sending and receiving)."""

    costs: list[float]

    def send(self, peer: str, text: str, now: float, tlvs: Any = ()) -> Any:
        t = time.perf_counter()
        try:
            return super().send(peer, text, now, tlvs)
        finally:
            self.costs.append(time.perf_counter() - t)

    def receive(self, peer: str, text: str, now: float) -> Any:
        t = time.perf_counter()
        try:
            return super().receive(peer, text, now)
        finally:
            self.costs.append(time.perf_counter() - t)


class OtrClient:
    def __init__(self, server: Any, user: str, keydir: Path) -> None:
        self.waiter: asyncio.Future[float] | None = None
        self.costs: list[float] = []

        def make(resource: str) -> SessionManager:
            ident = Identity.load(keydir, server.jid(user), "xmpp")
            manager = TimedManager(ident, instance=resource)
            manager.costs = self.costs
            return manager

        self.x = XmppOtr(
            f"{server.jid(user)}/otr",
            user[::-1],
            make,
            server=("127.0.0.1", server.c2s_port),
            tls="none",
            on_event=self._event,
        )
        self.secured = asyncio.get_running_loop().create_future()

    def _event(self, r: Routed) -> None:
        e = r.event
        if isinstance(e, ev.SessionSecured) and not self.secured.done():
            self.secured.set_result(None)
        waiter = self.waiter
        if isinstance(e, ev.MessageReceived) and waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())

    def send(self, to: str) -> None:
        self.x.send(to, MESSAGE)


Client = RawClient | OtrClient


async def one(sender: Client, receiver: Client, to: str) -> float:
    """Latency of one message, in ms (sender and receiver share this process's clock)."""
    receiver.waiter = asyncio.get_running_loop().create_future()
    t = time.perf_counter()
    sender.send(to)
    return (await asyncio.wait_for(receiver.waiter, 10) - t) * 1000


def line(name: str, xs: list[float]) -> str:
    return f"{name:34}{statistics.median(xs):10.3f}{quantile(xs, 0.99):10.3f}"


async def main(rounds: int) -> int:
    users = {"alice": "ecila", "bob": "bob"}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_prosody(Path(tmp) / "prosody", users=users)
        try:
            alice, bob = server.jid("alice"), server.jid("bob")
            ra = RawClient(f"{alice}/raw", "ecila", server.c2s_port)
            rb = RawClient(f"{bob}/raw", "bob", server.c2s_port)
            oa = OtrClient(server, "alice", Path(tmp) / "ka")
            ob = OtrClient(server, "bob", Path(tmp) / "kb")
            await asyncio.gather(ra.connect(), rb.connect(), oa.x.connect(), ob.x.connect())
            assert oa.x.otr is not None
            oa.x.otr.start(bob)
            await asyncio.wait_for(asyncio.gather(oa.secured, ob.secured), 20)
            raw: list[float] = []
            turns: list[float] = []
            stream: list[float] = []
            order = random.Random(1)
            for i in range(rounds + 10):
                # Units in a random order each round, so that machine load and
                # what came just before affect all alike: a raw pair, an OTR
                # conversation turn (a new D-H key each message), two messages of
                # an OTR one-way stream (the second uses the same keys).
                units = ["raw", "turn", "stream"]
                order.shuffle(units)
                for unit in units:
                    if unit == "raw":
                        got = [await one(ra, rb, f"{bob}/raw"), await one(rb, ra, f"{alice}/raw")]
                    elif unit == "turn":
                        got = [await one(oa, ob, bob), await one(ob, oa, alice)]
                    else:
                        await one(oa, ob, bob)
                        got = [await one(oa, ob, bob)]
                    if i >= 10:  # warm-up
                        {"raw": raw, "turn": turns, "stream": stream}[unit].extend(got)
            for c in (oa.x, ob.x):
                await c.disconnect()
            for x in (ra.x, rb.x):
                x.disconnect()
        finally:
            server.stop()
    costs = [c * 1000 for c in oa.costs + ob.costs]
    print(f"one message through Prosody on 127.0.0.1, {rounds} rounds, latency in ms")
    print(f"{'':34}{'median':>10}{'p99':>10}")
    print(line("raw XMPP (same features)", raw))
    print(line("XMPP + OTR, conversation turns", turns))
    print(line("XMPP + OTR, one-way stream", stream))
    print(line("OTR layer alone (one send/receive)", costs))
    for name, xs in (("conversation turns", turns), ("one-way stream", stream)):
        added = statistics.median(xs) - statistics.median(raw)
        verdict = "ok" if added <= TARGET_MS else "OVER TARGET"
        print(f"OTR adds {added:.3f} ms at the median, {name} (target <= {TARGET_MS}): {verdict}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    sys.exit(asyncio.run(main(parser.parse_args().rounds)))
