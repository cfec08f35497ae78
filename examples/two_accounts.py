"""Two accounts in one process: the AKE, messages both ways, SMP, then the end.

Alice and Bob are two :class:`otr.conversation.Conversation` objects; the "network" is a
queue in this script.  Everything the library wants sent comes back as
``events.SendMessage``; everything for the user as other events.  Run it with::

    python examples/two_accounts.py
"""

from __future__ import annotations

import time
from collections import deque

from otr import Conversation, events
from otr.crypto.dsa import generate_dsa_key, human_fingerprint
from otr.policy import Policy

SECRET = "the name of our first cat"


def main() -> int:
    policy = Policy.named("MANUAL")
    alice = Conversation(
        generate_dsa_key(),
        "bob@example.org",
        account="alice@example.org",
        protocol="xmpp",
        policy=policy,
    )
    bob = Conversation(
        generate_dsa_key(),
        "alice@example.org",
        account="bob@example.org",
        protocol="xmpp",
        policy=policy,
    )
    name = {id(alice): "alice", id(bob): "bob"}
    other = {id(alice): bob, id(bob): alice}

    def deliver(sender: Conversation, out: list[events.Event]) -> None:
        """Hand each wire text to the other side, show what each side reports."""
        queue = deque((sender, e) for e in out)
        while queue:
            src, event = queue.popleft()
            who = name[id(src)]
            if isinstance(event, events.SendMessage):
                dst = other[id(src)]
                queue.extend((dst, e) for e in dst.receive(event.text, time.time()))
            elif isinstance(event, events.MessageReceived) and event.text:
                lock = "encrypted" if event.encrypted else "PLAINTEXT"
                print(f"{who} got ({lock}): {event.text}")
            elif isinstance(event, events.SessionSecured):
                fp = human_fingerprint(event.their_fingerprint)
                print(f"{who}: private conversation (OTRv{event.version}), peer {fp}")
            elif isinstance(event, events.SmpRequested):
                print(f"{who}: SMP question {event.question!r}; answering")
                queue.extend((src, e) for e in src.smp_respond(SECRET, time.time()))
            elif isinstance(event, events.SmpSucceeded):
                print(f"{who}: SMP succeeded (same secret)")
            elif isinstance(event, events.SmpFailed):
                print(f"{who}: SMP failed")
            elif isinstance(event, events.SessionFinished):
                print(f"{who}: the peer ended the private conversation")

    deliver(alice, alice.start(time.time()))  # Query Message, then the AKE
    deliver(alice, alice.send("Hello Bob, this is private.", time.time()))
    deliver(bob, bob.send("Hi Alice! Every reply carries a fresh D-H key.", time.time()))
    deliver(alice, alice.smp_start(SECRET, "Our first cat?", time.time()))
    deliver(alice, alice.end(time.time()))
    print(f"alice: {alice.msgstate.value}, bob: {bob.msgstate.value}")
    return 0 if bob.msgstate.value == "finished" else 1


if __name__ == "__main__":
    raise SystemExit(main())
