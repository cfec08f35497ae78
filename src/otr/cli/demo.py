"""``otr demo``: two local parties negotiate OTR, run the key exchange and talk.

Alice and Bob are two :class:`otr.Conversation` objects joined by an in-memory
"network"; each line shows who sent what on the wire beside what the receiver
saw after decryption.  By default both have an OTRv3 DSA key and an OTRv4
identity (:class:`otr.v4.identity.Identity`) and allow OTRv3 and OTRv4 (the
OTRv3-compatible mode, otr-v4.md "OTRv4 Modes"), so they negotiate OTRv4: the
DAKE (Identity, Auth-R, Auth-I) and the double ratchet.  ``--v4`` allows OTRv4
only (the standalone mode), ``--v3`` OTRv3 only (the AKE: D-H Commit, D-H Key,
Reveal Signature, Signature), ``--v2`` OTRv2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections import deque

from .. import events as ev
from ..conversation import Conversation
from ..crypto.dsa import generate_dsa_key, human_fingerprint
from ..policy import Policy
from ..v4.identity import Identity
from ..v4.session import V4Credentials, V4Mode, V4Settings
from ..wire import envelope
from ..wire import v3 as wire3
from ..wire.v4 import dake as wire4

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fragment", type=int, default=0, metavar="N", help="fragment wire messages to N chars"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--v4", action="store_true", help="speak OTRv4 only (standalone mode)")
    which.add_argument("--v3", action="store_true", help="speak OTR version 3 only")
    which.add_argument("--v2", action="store_true", help="speak OTR version 2 only")
    parser.add_argument("--smp", action="store_true", help="also run SMP with a shared secret")


_TYPE_NAMES = {
    wire3.DH_COMMIT: "D-H Commit",
    wire3.DH_KEY: "D-H Key",
    wire3.REVEAL_SIGNATURE: "Reveal Signature",
    wire3.SIGNATURE: "Signature",
    wire3.DATA: "Data",
    wire4.MSG_IDENTITY: "Identity",
    wire4.MSG_AUTH_R: "Auth-R",
    wire4.MSG_AUTH_I: "Auth-I",
}


def _wire_kind(text: str) -> str:
    """A short label for a wire message (spec message names; both versions' data
    messages have type 0x03)."""
    kind = envelope.classify(text)
    if kind is envelope.MessageKind.ENCODED:
        binary = envelope.decode_otr_message(text)
        return f"[v{binary[1]} {_TYPE_NAMES.get(binary[2], '?')}]"
    return f"[{kind.value}]"


def _party(name: str, peer: str, versions: set[int], policy: Policy, now: float) -> Conversation:
    """One party: a DSA key and, when OTRv4 is allowed, an OTRv4 identity (its
    Client Profile carries the DSA key when OTRv3 is allowed too)."""
    key = generate_dsa_key()
    if 4 not in versions:
        return Conversation(key, peer, account=name, protocol="demo", policy=policy)
    v3 = 3 in versions
    me = Identity.generate(name, "demo", os.urandom, now, dsa_key=key if v3 else None)
    mode = V4Mode.OTRV3_COMPATIBLE if v3 else V4Mode.STANDALONE
    return Conversation(
        key,
        peer,
        account=name,
        protocol="demo",
        policy=policy,
        instance_tag=me.instance_tag,
        v4=V4Credentials.from_identity(me),
        v4_settings=V4Settings(mode=mode),
    )


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
    versions = {2} if args.v2 else {2, 3} if args.v3 else {4} if args.v4 else {3, 4}
    policy = Policy.named("MANUAL", args.fragment).with_versions(versions)
    clock = [time.time()]  # Unix seconds: OTRv4 Client Profiles are checked against it
    keys = "two DSA keys" + (" and two OTRv4 identities" if 4 in versions else "")
    print(f"generating {keys} (versions {', '.join(map(str, sorted(versions)))})...")
    alice = _party("alice", "bob", versions, policy, clock[0])
    bob = _party("bob", "alice", versions, policy, clock[0])
    names = {id(alice): "alice", id(bob): "bob"}
    other = {id(alice): bob, id(bob): alice}
    print(f"{'wire (sender → receiver)':<{wire_w}} | what the receiver got")
    print("-" * width)

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
    if alice.version == 4:
        deliver(bob, bob.send("Done: each turn brings a new ECDH key (and a DH key).", clock[0]))
    else:
        deliver(bob, bob.send("Done: every reply carries a fresh D-H key.", clock[0]))
    if args.smp:
        deliver(alice, alice.smp_start("purple elephant", "Our favourite animal?", clock[0]))
    deliver(alice, alice.end(clock[0]))
    print("-" * width)
    print(f"alice: {alice.msgstate.value}, bob: {bob.msgstate.value}")
    return 0
