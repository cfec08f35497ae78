"""Fuzz target: a whole Conversation receiving arbitrary text in each state.

Input: byte 0 picks the state (plaintext, awaiting D-H key, encrypted, SMP under way,
finished, encrypted over v2: snapshots from :func:`scenarios.conversation_states`) and
how the rest is delivered, as

0. raw text (UTF-8, invalid bytes as surrogates);
1. a binary message, base-64 armoured as ``?OTR:...``;
2. a binary v3 message with the sender and receiver instance tags patched to the
   pair's, so it routes to the live session;
3. the plaintext of a data message the peer encrypts with the live session keys (so
   the TLVs, SMP and extra-key handling behind the MAC are reached);
4. a sequence of texts separated by NUL, each delivered in turn.

Invariants: ``receive`` never raises (tests' ``reraise_internal_errors`` is set, so the
catch-all does not hide bugs) and never reports ``MessageUnreadable("internal
error")``; every event is an ``otr.events.Event``.
"""

from __future__ import annotations

import copy
import struct

import scenarios

from otr import events as ev
from otr.conversation import Conversation
from otr.wire import envelope

ALLOWED: tuple[type[BaseException], ...] = ()
SEEDS = ("conversation", "otr4j:MessageProcessor", "otr4j:Fragment")

Conversation.reraise_internal_errors = True

STATES = scenarios.CONVERSATION_STATES
MODES = 5


def _receive(conv: Conversation, text: str, now: float) -> None:
    for e in conv.receive(text, now):
        assert isinstance(e, ev.Event)
        assert not (isinstance(e, ev.MessageUnreadable) and e.reason == "internal error")


def one_input(data: bytes) -> None:
    if not data:
        return
    name = STATES[data[0] % len(STATES)]
    mode = (data[0] // len(STATES)) % MODES
    body = data[1:]
    snapshot = scenarios.conversation_states()[name]
    # Only the receiver is copied; the peer too when it is to encrypt (mode 3).
    a, b, now = copy.deepcopy(snapshot.a), snapshot.b, snapshot.now
    if mode == 0:
        _receive(a, body.decode("utf-8", "surrogateescape"), now)
    elif mode == 1:
        _receive(a, envelope.encode_otr_message(body), now)
    elif mode == 2:
        if len(body) >= 11 and body[:2] == b"\x00\x03":
            body = body[:3] + struct.pack(">II", b.our_instance, a.our_instance) + body[11:]
        _receive(a, envelope.encode_otr_message(body), now)
    elif mode == 3:
        keys = copy.deepcopy(getattr(b.current, "data", None))  # the live v3 DataSession
        if keys is None:
            return
        _receive(a, keys.encrypt(body, body[0] & 1 if body else 0), now)
    else:
        for chunk in body.split(b"\0")[:32]:
            _receive(a, chunk.decode("utf-8", "surrogateescape"), now)
