"""Helpers for the otr.tools tests: two real Conversations with every wire text recorded, and
randomness that remembers the D-H private keys it handed out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from otr import events as ev
from otr.conversation import Conversation
from otr.crypto import modp
from otr.policy import Policy
from v3_util import CountingRng, dsa_key

DH_SECRET_LEN = modp.DH_PRIVATE_BITS // 8


class RecordingRng(CountingRng):
    """Deterministic randomness that keeps every draw of a D-H private key's length, i.e.
    what a party that wants to forge later would keep of its own secrets."""

    def __init__(self, seed: str) -> None:
        super().__init__(seed)
        self.dh_secrets: list[int] = []

    def __call__(self, n: int) -> bytes:
        out = super().__call__(n)
        if n == DH_SECRET_LEN:
            self.dh_secrets.append(int.from_bytes(out, "big"))
        return out


@dataclass
class Delivered:
    sender: str
    text: str
    events: list[ev.Event]


@dataclass
class Pair:
    """Alice and Bob joined by a recorded in-memory network."""

    alice: Conversation
    bob: Conversation
    alice_rng: RecordingRng
    bob_rng: RecordingRng
    log: list[Delivered] = field(default_factory=list)
    now: float = 1000.0

    def other(self, conv: Conversation) -> Conversation:
        return self.bob if conv is self.alice else self.alice

    def name(self, conv: Conversation) -> str:
        return "alice" if conv is self.alice else "bob"

    def pump(self, sender: Conversation, events: list[ev.Event]) -> list[ev.Event]:
        """Deliver every SendMessage (and the replies) in order; returns the events that
        are not SendMessage, from both sides."""
        queue = deque((sender, e) for e in events)
        others: list[ev.Event] = []
        while queue:
            src, e = queue.popleft()
            if not isinstance(e, ev.SendMessage):
                others.append(e)
                continue
            dst = self.other(src)
            got = dst.receive(e.text, self.now)
            self.log.append(Delivered(self.name(src), e.text, got))
            queue.extend((dst, g) for g in got)
        return others

    @property
    def wire(self) -> list[str]:
        return [d.text for d in self.log]


def make_pair(versions: tuple[int, ...] = (2, 3), fragment: int = 0, seed: str = "t") -> Pair:
    policy = Policy.named("MANUAL", fragment).with_versions(set(versions))
    arng, brng = RecordingRng(seed + "a"), RecordingRng(seed + "b")
    alice = Conversation(
        dsa_key("alice"), "bob", account="alice", protocol="t", policy=policy, rng=arng
    )
    bob = Conversation(
        dsa_key("bob"), "alice", account="bob", protocol="t", policy=policy, rng=brng
    )
    return Pair(alice, bob, arng, brng)


def received_texts(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.MessageReceived)]


class ConvPeer:
    """A Conversation behind the interop peers' ``recv(data) -> events`` shape (JSON-like
    dicts: ``inject`` and ``message``), so that ``peer.relay`` can pair it with libotr.
    Every text either side receives is appended to ``wire``."""

    def __init__(self, conv: Conversation, wire: list[str], now: float = 1000.0) -> None:
        self.conv = conv
        self.wire = wire
        self.now = now

    @staticmethod
    def convert(events: list[ev.Event]) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for e in events:
            if isinstance(e, ev.SendMessage):
                out.append({"ev": "inject", "data": e.text})
            elif isinstance(e, ev.MessageReceived):
                out.append({"ev": "message", "text": e.text, "encrypted": e.encrypted})
            else:
                out.append({"ev": type(e).__name__})
        return out

    def recv(self, data: str) -> list[dict[str, object]]:
        self.wire.append(data)
        return self.convert(self.conv.receive(data, self.now))


class Logged:
    """Wraps a libotr OtrPeer so that what it receives is logged in ``wire`` too."""

    def __init__(self, peer: object, wire: list[str]) -> None:
        self.peer = peer
        self.wire = wire

    def recv(self, data: str) -> list[dict[str, object]]:
        self.wire.append(data)
        return self.peer.recv(data)  # type: ignore[attr-defined, no-any-return]
