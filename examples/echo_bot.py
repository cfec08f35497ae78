"""An OTR echo bot on the sans-I/O API: one Conversation per peer, wire text in, wire text out.

:class:`EchoBot` owns no socket and no clock: the caller hands it what arrived
(:meth:`EchoBot.receive`) and the time, and sends what it returns.  Encrypted messages are
echoed back encrypted; a plaintext message gets an OTR Query Message in reply, so the peer's
client starts the AKE.  At most ``max_peers`` conversations are kept (the least recently
active one is dropped first).

Run on stdio, one JSON object per line in and one per line out::

    in:  {"from": "bob@example.org", "text": "<what arrived>"}
    out: {"send": [{"to": "bob@example.org", "text": "<wire text>"}, ...]}

    python examples/echo_bot.py --account echo@example.org
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable

from otr import Conversation, events
from otr.crypto.dsa import DSAPrivateKey, generate_dsa_key
from otr.policy import Policy


class EchoBot:
    def __init__(
        self,
        key: DSAPrivateKey,
        account: str,
        *,
        protocol: str = "xmpp",
        policy: Policy | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        max_peers: int = 1000,
    ) -> None:
        self.key = key
        self.account = account
        self.protocol = protocol
        self.policy = policy if policy is not None else Policy.named("OPPORTUNISTIC")
        self.rng = rng
        self.max_peers = max_peers
        self.conversations: OrderedDict[str, Conversation] = OrderedDict()

    def _conversation(self, peer: str) -> Conversation:
        conv = self.conversations.pop(peer, None)
        if conv is None:
            conv = Conversation(
                self.key,
                peer,
                account=self.account,
                protocol=self.protocol,
                policy=self.policy,
                rng=self.rng,
            )
        self.conversations[peer] = conv
        while len(self.conversations) > self.max_peers:
            self.conversations.popitem(last=False)
        return conv

    def receive(self, peer: str, text: str, now: float) -> list[tuple[str, str]]:
        """What arrived from ``peer``; returns the (peer, wire text) pairs to send."""
        conv = self._conversation(peer)
        out: list[events.Event] = []
        for event in conv.receive(text, now):
            if isinstance(event, events.MessageReceived) and event.encrypted and event.text:
                out.extend(conv.send(f"echo: {event.text}", now))
            elif isinstance(event, events.MessageReceived) and not event.encrypted:
                out.extend(conv.start(now))
            else:
                out.append(event)
        return [(peer, e.text) for e in out if isinstance(e, events.SendMessage)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--account", default="echo@example.org")
    args = parser.parse_args(argv)
    bot = EchoBot(generate_dsa_key(), args.account)
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        replies = bot.receive(str(message["from"]), str(message["text"]), time.time())
        print(json.dumps({"send": [{"to": to, "text": text} for to, text in replies]}))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
