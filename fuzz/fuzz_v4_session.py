"""Fuzz target: the OTRv4 per-instance session (otr.v4.session.V4Session) receiving
anything, in each state of the DAKE and after it.

Input: byte 0 picks the state (:data:`scenarios.V4_STATES`: fresh, awaiting Auth-R,
awaiting Auth-I, ENCRYPTED) and how the rest is delivered:

0. a binary message, routed by its own sender tag;
1. a binary v4 message with its sender and receiver tags patched to the pair's, so it
   reaches the live session;
2. the plaintext of a data message sealed by the peer's live ratchet (so the TLVs,
   SMP v4 and extra-key handling behind the authenticator are reached).

Invariants (otr.instance's rules for a session): ``receive`` raises nothing but
RemoteProtocolError, and then with the session's state unchanged; every output is an
event or an Effect for the front door.
"""

from __future__ import annotations

import copy
import struct

import scenarios

from otr import events as ev
from otr.errors import RemoteProtocolError
from otr.instance import Effect

ALLOWED = (RemoteProtocolError,)
SEEDS = ("v4_session", "otr4j:EncodedMessageParser")

STATES = scenarios.V4_STATES
MODES = 3


def one_input(data: bytes) -> None:
    if not data:
        return
    name = STATES[data[0] % len(STATES)]
    mode = (data[0] // len(STATES)) % MODES
    body = data[1:]
    receiver, peer = scenarios.v4_states()[name]
    receiver = copy.deepcopy(receiver)  # the peer is copied only if it is to seal
    ours, theirs = receiver.protocol.our_instance, peer.protocol.our_instance
    if mode == 1 and len(body) >= 11 and body[:2] == b"\x00\x04":
        body = body[:3] + struct.pack(">II", theirs, ours) + body[11:]
    elif mode == 2:
        sess = copy.deepcopy(peer.sessions.get(ours))
        if sess is None or sess.ratchet is None:
            return
        flags = body[0] & 1 if body else 0
        body = sess.ratchet.seal(body, flags, scenarios.V4_NOW).message.encode()
    sessions = dict(receiver.sessions)
    before = {tag: (s.msgstate, s.ssid) for tag, s in sessions.items()}
    try:
        outputs = receiver.receive(body, scenarios.V4_NOW)
    except RemoteProtocolError:
        after = {tag: (s.msgstate, s.ssid) for tag, s in sessions.items()}
        assert after == before, "a rejected message changed the session's state"
        raise
    for o in outputs:
        assert isinstance(o, ev.Event | Effect), o
