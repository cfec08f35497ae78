"""``otr demo``: two local parties negotiate OTR, run the AKE and talk.

Alice and Bob are two :class:`otr.Conversation` objects joined by an in-memory
"network"; each line shows who sent what on the wire beside what the receiver
saw after decryption.
"""

from __future__ import annotations

import argparse
import shutil
from collections import deque

from .. import events as ev
from ..conversation import Conversation
from ..crypto.dsa import generate_dsa_key, human_fingerprint
from ..policy import Policy
from ..wire import envelope
from ..wire import v3 as wire3

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fragment", type=int, default=0, metavar="N", help="fragment wire messages to N chars"
    )
    parser.add_argument("--v2", action="store_true", help="speak OTR version 2 instead of 3")
    parser.add_argument("--smp", action="store_true", help="also run SMP with a shared secret")


_TYPE_NAMES = {
    wire3.DH_COMMIT: "D-H Commit",
    wire3.DH_KEY: "D-H Key",
    wire3.REVEAL_SIGNATURE: "Reveal Signature",
    wire3.SIGNATURE: "Signature",
    wire3.DATA: "Data",
}


def _wire_kind(text: str) -> str:
    """A short label for a wire message (spec message names)."""
    kind = envelope.classify(text)
    if kind is envelope.MessageKind.ENCODED:
        binary = envelope.decode_otr_message(text)
        return f"[v{binary[1]} {_TYPE_NAMES.get(binary[2], '?')}]"
    return f"[{kind.value}]"


def _describe(e: ev.Event) -> str | None:
    if isinstance(e, ev.MessageReceived):
        return f"{'🔒' if e.encrypted else 'plain'}: {e.text!r}"
    if isinstance(e, ev.SessionSecured):
        return (
            f"SECURE (OTRv{e.version}) ssid={e.ssid.hex()} "
            f"peer={human_fingerprint(e.their_fingerprint)}"
        )
    if isinstance(e, ev.NewFingerprint):
        return "new peer fingerprint"
    if isinstance(e, ev.SessionFinished):
        return "peer ended the private conversation"
    if isinstance(e, ev.SessionEnded):
        return "private conversation ended"
    if isinstance(e, ev.SmpRequested):
        return f"SMP request (question: {e.question!r})"
    if isinstance(e, ev.SendMessage):
        return None
    return type(e).__name__


def _shorten(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    width = shutil.get_terminal_size((140, 20)).columns
    wire_w = max(40, width - 50)
    versions = {2} if args.v2 else {2, 3}
    policy = Policy.named("MANUAL", args.fragment).with_versions(versions)
    print("generating two DSA keys...")
    alice = Conversation(generate_dsa_key(), "bob", account="alice", protocol="demo", policy=policy)
    bob = Conversation(generate_dsa_key(), "alice", account="bob", protocol="demo", policy=policy)
    names = {id(alice): "alice", id(bob): "bob"}
    other = {id(alice): bob, id(bob): alice}
    print(f"{'wire (sender → receiver)':<{wire_w}} | what the receiver got")
    print("-" * width)
    clock = [1000.0]

    def deliver(sender: Conversation, events: list[ev.Event]) -> None:
        queue = deque((sender, e) for e in events)
        while queue:
            src, e = queue.popleft()
            if not isinstance(e, ev.SendMessage):
                desc = _describe(e)
                if desc:
                    print(f"{'':<{wire_w}} | [{names[id(src)]}] {desc}")
                continue
            dst = other[id(src)]
            clock[0] += 0.1
            got = dst.receive(e.text, clock[0])
            wire = _shorten(f"{_wire_kind(e.text)} {e.text}", wire_w - 14)
            shown = [d for d in (_describe(g) for g in got) if d]
            if not shown and "Data" in _wire_kind(e.text):
                shown = ["(empty: heartbeat, lets the peer rotate keys)"]
            arrow = f"{names[id(src)]}→{names[id(dst)]}"
            print(f"{arrow:<12} {wire:<{wire_w - 13}} | {'; '.join(shown)}")
            queue.extend((dst, g) for g in got if isinstance(g, ev.SendMessage))
            if args.smp:
                for g in got:
                    if isinstance(g, ev.SmpRequested):
                        queue.extend((dst, x) for x in dst.smp_respond("purple elephant", clock[0]))

    deliver(alice, alice.start(clock[0]))
    deliver(alice, alice.send("Hello Bob, this is private.", clock[0]))
    deliver(bob, bob.send("Hi Alice! Nobody else can read this. Ünïcødé too ✓", clock[0]))
    deliver(alice, alice.send("Let's rotate some keys.", clock[0]))
    deliver(bob, bob.send("Done: every reply carries a fresh D-H key.", clock[0]))
    if args.smp:
        deliver(alice, alice.smp_start("purple elephant", "Our favourite animal?", clock[0]))
    deliver(alice, alice.end(clock[0]))
    print("-" * width)
    print(f"alice: {alice.msgstate.value}, bob: {bob.msgstate.value}")
    return 0
