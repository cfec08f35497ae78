"""The OTRv4 per-instance session: both roles of otr4j's T1 played through it
byte for byte (DAKE, 13 data messages, TLVs, disconnect), and two of ours
talking: DAKE, messages both ways, SMP, TLV 7, end, expiry, heartbeat, a DAKE
beside an ENCRYPTED session (ERRATA B21), unreadable messages."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest

from otr import events as ev
from otr.errors import LocalProtocolError, RemoteProtocolError
from otr.events import Tlv
from otr.instance import MsgState, Output, Secured, SmpVerdict, Transmit
from otr.v4.dake import DakeState
from otr.v4.keys import Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile, build_client_profile
from otr.v4.ratchet import RatchetLimits
from otr.v4.session import (
    ERROR_NOT_IN_PRIVATE,
    ERROR_UNREADABLE,
    V4Credentials,
    V4Mode,
    V4Protocol,
    V4Session,
    V4Settings,
)
from otr.wire import envelope, registry
from otr.wire.v4.dake import IdentityMessage
from otr.wire.v4.data import FLAG_IGNORE_UNREADABLE, DataMessage4
from otr4j_transcripts import DrawRng, transcript

NOW = 1_800_000_000.0


# --- plumbing -----------------------------------------------------------------------------


class Peer:
    """One side: a V4Protocol and its sessions by remote instance tag."""

    def __init__(self, protocol: V4Protocol) -> None:
        self.protocol = protocol
        self.sessions: dict[int, V4Session] = {}

    def session(self, their: int) -> V4Session:
        if their not in self.sessions:
            self.sessions[their] = self.protocol.new_session(4, their)
        return self.sessions[their]

    def receive(self, wire: str, now: float = NOW) -> list[Output]:
        binary = envelope.decode_otr_message(wire)
        header, message = registry.decode(binary)
        assert header.version == 4
        return self.session(header.sender_instance).receive(4, message, binary, now)


def wires(outputs: list[Output]) -> list[str]:
    return [o.wire for o in outputs if isinstance(o, Transmit)]


def events(outputs: list[Output]) -> list[object]:
    return [o for o in outputs if not isinstance(o, Transmit)]


def make_peer(tag: int, account: str, peer: str, rng: Any = os.urandom, **settings: Any) -> Peer:
    kp = Ed448KeyPair.generate(os.urandom)
    forging = ForgingKey.generate(os.urandom)
    profile = build_client_profile(kp, forging.public, tag, "4", int(NOW) + 14 * 86400)
    proto = V4Protocol(
        V4Credentials(kp, forging, profile),
        our_instance=tag,
        account=account,
        peer=peer,
        rng=rng,
        settings=V4Settings(**settings),
    )
    return Peer(proto)


ALICE_TAG, BOB_TAG = 0x1111_1111, 0x2222_2222


def secured_pair(**settings: Any) -> tuple[Peer, Peer, V4Session, V4Session]:
    """Bob sends the Identity message (as after Alice's query); both end ENCRYPTED."""
    alice = make_peer(ALICE_TAG, "alice@example.org", "bob@example.org", **settings)
    bob = make_peer(BOB_TAG, "bob@example.org", "alice@example.org", **settings)
    (identity,) = wires(bob.protocol.start(4, NOW))
    (auth_r,) = wires(alice.receive(identity))
    out = bob.receive(auth_r)
    (auth_i,) = wires(out)
    assert [type(o) for o in events(out)] == [Secured]
    out = alice.receive(auth_i)
    assert [type(o) for o in out] == [Secured]
    a, b = alice.sessions[BOB_TAG], bob.sessions[ALICE_TAG]
    assert a.msgstate is b.msgstate is MsgState.ENCRYPTED
    assert a.ssid == b.ssid and len(a.ssid) == 8 and a.version == b.version == 4
    assert a.their_fingerprint == bob.protocol.our_fingerprint
    return alice, bob, a, b


def until_auth_i(**alice_settings: Any) -> tuple[Peer, Peer, str, str]:
    """Bob's Identity message answered; Bob is ENCRYPTED, his Auth-I not delivered."""
    alice = make_peer(ALICE_TAG, "alice@example.org", "bob@example.org", **alice_settings)
    bob = make_peer(BOB_TAG, "bob@example.org", "alice@example.org")
    (identity,) = wires(bob.protocol.start(4, NOW))
    (auth_r,) = wires(alice.receive(identity))
    (auth_i,) = wires(bob.receive(auth_r))
    return alice, bob, identity, auth_i


def talk(sender: V4Session, receiver: Peer, text: str, tlvs: tuple[Tlv, ...] = ()) -> list[Output]:
    (wire,) = wires(sender.send(text.encode(), tlvs, NOW))
    return receiver.receive(wire)


# --- otr4j's T1 through our sessions, both roles ------------------------------------------


def _t1_party(t: dict[str, Any], party: str) -> Peer:
    who = t["parties"][party]
    profile = ClientProfile.decode(bytes.fromhex(who["client_profile"]))
    kp = Ed448KeyPair.from_symmetric_key(bytes.fromhex(who["long_term"]["symmetric_key"]))
    proto = V4Protocol(
        V4Credentials(kp, ForgingKey(profile.forging_key), profile),
        our_instance=who["instance_tag"],
        account=who["account"],
        peer=who["peer"],
        rng=DrawRng(t, party),
    )
    return Peer(proto)


@pytest.mark.parametrize("role", ["alice", "bob"])
def test_t1_played_byte_for_byte(role: str) -> None:
    """We play one party of T1 with its recorded draws; every message we send
    equals otr4j's, every message we receive decrypts to otr4j's plaintext."""
    t = transcript("T1")
    now = float(t["now_unix"])
    us = _t1_party(t, role)
    their_tag = t["parties"]["bob" if role == "alice" else "alice"]["instance_tag"]
    checked_sent = checked_received = 0
    for step in t["steps"]:
        expected = [s["wire"] for s in step["sent"] if s["from"] == role]
        if step["kind"] == "action" and step["party"] == role:
            detail = step.get("detail") or {}
            if step["action"].startswith("startSession"):
                continue  # the query message is the front door's
            if step["action"].startswith("endSession"):
                out = us.sessions[their_tag].end(now)
            else:
                tlvs = tuple(Tlv(x["type"], bytes.fromhex(x["value"])) for x in detail["tlvs"])
                out = us.sessions[their_tag].send(detail["text"].encode(), tlvs, now)
            assert wires(out) == expected
            checked_sent += len(expected)
        elif step["kind"] == "deliver" and step["to"] == role:
            kind = step["message"]["type"]
            # (a query message is the front door's; its answer is the protocol's start)
            out = us.protocol.start(4, now) if kind == "query" else us.receive(step["wire"], now)
            assert wires(out) == expected
            checked_sent += len(expected)
            if kind == "DataMessage4":
                decoded = step["keys"]["decoded"]
                got = [e for e in events(out) if isinstance(e, ev.MessageReceived)]
                if decoded["text"]:
                    assert got[0].text == decoded["text"]
                    tlvs = [(x.type, x.value.hex()) for x in got[0].tlvs]
                    assert tlvs == [(x["type"], x["value"]) for x in decoded["tlvs"]]
                if any(x["type"] == 1 for x in decoded["tlvs"]):
                    assert any(isinstance(e, ev.SessionFinished) for e in events(out))
                checked_received += 1
    assert checked_sent >= 8 and checked_received >= 6
    final = us.sessions[their_tag].msgstate
    assert final is (MsgState.FINISHED if role == "bob" else MsgState.PLAINTEXT)


# --- two of ours ----------------------------------------------------------------------------


def test_messages_both_ways_and_tlvs() -> None:
    alice, bob, a, b = secured_pair()
    for i in range(7):
        sender, receiver, peer = (a, bob, b) if i % 3 != 1 else (b, alice, a)
        out = talk(sender, receiver, f"message {i} ✓")
        (got,) = [e for e in events(out) if isinstance(e, ev.MessageReceived)]
        assert got.text == f"message {i} ✓" and got.encrypted
        assert got.their_instance == sender._protocol.our_instance
        del peer
    out = talk(a, bob, "padded", (Tlv(0, bytes(10)),))
    (got,) = [e for e in events(out) if isinstance(e, ev.MessageReceived)]
    assert got.tlvs == (Tlv(0, bytes(10)),)
    assert talk(b, alice, "") == []  # an empty message shows nothing


def test_smp_between_two_of_ours() -> None:
    alice, bob, a, b = secured_pair()
    (w1,) = wires(a.smp_start(b"the pier", "Where?", NOW))
    out = bob.receive(w1)
    assert ev.SmpRequested("Where?") in events(out)
    (w2,) = wires(b.smp_respond(b"the pier", NOW))
    (w3,) = wires(alice.receive(w2))
    out_b = bob.receive(w3)
    (w4,) = wires(out_b)
    out_a = alice.receive(w4)
    assert any(isinstance(e, ev.SmpSucceeded) for e in events(out_a))
    assert SmpVerdict(True) in out_a
    assert any(isinstance(e, ev.SmpSucceeded) for e in events(out_b))
    assert SmpVerdict(True) not in out_b  # the side that answered a question (libotr)
    # a wrong secret fails
    (w1,) = wires(b.smp_start(b"x", None, NOW))
    bob_req = alice.receive(w1)
    assert ev.SmpRequested(None) in events(bob_req)
    (w2,) = wires(a.smp_respond(b"y", NOW))
    (w3,) = wires(bob.receive(w2))
    (w4,) = wires(alice.receive(w3))
    assert SmpVerdict(False) in bob.receive(w4)


def test_extra_symmetric_key_tlv7() -> None:
    alice, bob, a, b = secured_pair()
    out = a.extra_key(1, b"file.txt", NOW)
    (local,) = [e for e in out if isinstance(e, ev.ExtraSymmetricKey)]
    (wire,) = wires(out)
    (remote,) = [e for e in events(bob.receive(wire)) if isinstance(e, ev.ExtraSymmetricKey)]
    assert (local.key, local.use, local.usedata, local.origin) == (
        remote.key,
        1,
        b"file.txt",
        "local",
    )
    assert remote.origin == "remote" and len(remote.key) == 64
    # two TLV 7 in one message: chained keys, as otr4j derives them
    tlvs = (Tlv(7, b"\x00\x00\x00\x02"), Tlv(0, b"\x00"), Tlv(7, b"\x00\x00\x00\x03abc"))
    got = [e for e in events(talk(b, alice, "keys", tlvs)) if isinstance(e, ev.ExtraSymmetricKey)]
    assert [(e.use, e.usedata) for e in got] == [(2, b""), (3, b"abc")]
    assert got[0].key != got[1].key


def test_end_and_finished() -> None:
    _alice, bob, a, b = secured_pair()
    (wire,) = wires(a.end(NOW))
    assert a.msgstate is MsgState.PLAINTEXT and a.ratchet is None
    out = bob.receive(wire)
    assert ev.SessionFinished(ALICE_TAG) in out and b.msgstate is MsgState.FINISHED
    with pytest.raises(LocalProtocolError):
        b.send(b"hi", (), NOW)
    with pytest.raises(LocalProtocolError):
        b.smp_start(b"s", None, NOW)
    assert b.end(NOW) == [] and b.msgstate is MsgState.PLAINTEXT
    # a late data message after the end: unreadable, ERROR_2 to the peer
    alice2, bob2, a2, _b2 = secured_pair()
    (late,) = wires(a2.send(b"late", (), NOW))
    bob2.sessions[ALICE_TAG].end(NOW)
    out = bob2.receive(late)
    assert isinstance(out[0], ev.MessageUnreadable)
    assert out[1] == ev.SendMessage(envelope.format_error(ERROR_NOT_IN_PRIVATE))
    del alice2


def test_session_expiry_reveals_and_finishes() -> None:
    alice, bob, a, b = secured_pair(ratchet=RatchetLimits(session_expiry=100.0))
    talk(b, alice, "hello")  # Alice verifies a message: its MAC key waits for revelation
    deadline = a.next_deadline()
    assert deadline is not None and deadline == NOW + 100.0
    assert a.handle_timer(deadline - 1) == []
    out = a.handle_timer(deadline)
    (wire,) = wires(out)
    assert ev.SessionFinished(BOB_TAG) in out and a.msgstate is MsgState.FINISHED
    message = DataMessage4.decode(envelope.decode_otr_message(wire))
    assert message.flags & FLAG_IGNORE_UNREADABLE and message.revealed_macs
    assert ev.SessionFinished(ALICE_TAG) in bob.receive(wire)
    assert a.next_deadline() is None


def test_heartbeat_after_idle() -> None:
    alice, bob, a, _b = secured_pair(heartbeat_interval=60.0)
    (wire,) = wires(a.send(b"ping", (), NOW))
    out = bob.receive(wire, NOW + 61)
    (heartbeat,) = wires(out)  # Bob sent nothing yet: a heartbeat goes out
    msg = DataMessage4.decode(envelope.decode_otr_message(heartbeat))
    assert msg.flags & FLAG_IGNORE_UNREADABLE
    assert alice.receive(heartbeat) == []  # empty: nothing to show
    (wire,) = wires(a.send(b"again", (), NOW + 62))
    assert wires(bob.receive(wire, NOW + 63)) == []  # Bob sent 2 s ago


def test_unreadable_messages() -> None:
    _alice, bob, a, b = secured_pair()
    (wire,) = wires(a.send(b"secret", (), NOW))
    binary = bytearray(envelope.decode_otr_message(wire))
    binary[-70] ^= 1  # inside the authenticator
    forged = envelope.encode_otr_message(bytes(binary))
    before = b.ratchet
    out = bob.receive(forged)
    assert isinstance(out[0], ev.MessageUnreadable)
    assert out[1] == ev.SendMessage(envelope.format_error(ERROR_UNREADABLE))
    assert b.ratchet is before
    # replay of a message already read: unreadable too
    assert [type(e) for e in bob.receive(wire)] == [ev.MessageReceived]
    assert isinstance(bob.receive(wire)[0], ev.MessageUnreadable)
    # IGNORE_UNREADABLE: silence
    msg = DataMessage4.decode(envelope.decode_otr_message(wire))
    ignored = dataclasses.replace(msg, flags=FLAG_IGNORE_UNREADABLE)
    assert b.receive(4, ignored, ignored.encode(), NOW) == []


def test_identity_beside_an_encrypted_session() -> None:
    """ERRATA B21: a new or replayed Identity message does not tear the session
    down; the new keys replace the old only when the new DAKE completes."""
    alice, bob, a, b = secured_pair()
    old_ssid = a.ssid
    identity = envelope.encode_otr_message(b.dake.start().encode())  # Bob restarts
    (auth_r,) = wires(alice.receive(identity))
    assert a.msgstate is MsgState.ENCRYPTED and a.ssid == old_ssid
    # messages still flow on the old keys, both ways
    assert talk(b, alice, "still old")[0] == ev.MessageReceived("still old", True, (), BOB_TAG)
    assert talk(a, bob, "old too")[0] == ev.MessageReceived("old too", True, (), ALICE_TAG)
    # the same Identity again (a replay): the same Auth-R, nothing else changes
    assert wires(alice.receive(identity)) == [auth_r]
    out = bob.receive(auth_r)
    (auth_i,) = wires(out)
    (sec_b,) = [o for o in out if isinstance(o, Secured)]
    (sec_a,) = [o for o in alice.receive(auth_i) if isinstance(o, Secured)]
    assert sec_a.refreshed and sec_b.refreshed and sec_a.ssid == sec_b.ssid != old_ssid
    assert talk(a, bob, "new keys")[0] == ev.MessageReceived("new keys", True, (), ALICE_TAG)


def test_replayed_identity_after_completion_is_harmless() -> None:
    alice, bob, identity, auth_i = until_auth_i()
    alice.receive(auth_i)
    a = alice.sessions[BOB_TAG]
    ssid = a.ssid
    # the old Identity message replayed: answered (a DAKE starts beside), session intact
    assert len(wires(alice.receive(identity))) == 1
    assert a.msgstate is MsgState.ENCRYPTED and a.ssid == ssid
    assert a.dake.state is DakeState.WAITING_AUTH_I
    assert talk(bob.sessions[ALICE_TAG], alice, "fine")[0].text == "fine"  # type: ignore[attr-defined]


def test_crossing_identity_messages_complete() -> None:
    """Both start at once with receiver tag 0 (T6): the tie-break picks one DAKE."""
    alice = make_peer(ALICE_TAG, "alice@example.org", "bob@example.org")
    bob = make_peer(BOB_TAG, "bob@example.org", "alice@example.org")
    (ia,) = wires(alice.protocol.start(4, NOW))
    (ib,) = wires(bob.protocol.start(4, NOW))
    queue = [(bob, ia), (alice, ib)]
    secured = {"alice": 0, "bob": 0}
    for _ in range(12):
        if not queue:
            break
        to, wire = queue.pop(0)
        out = to.receive(wire)
        name = "alice" if to is alice else "bob"
        secured[name] += sum(isinstance(o, Secured) for o in out)
        other = bob if to is alice else alice
        queue += [(other, w) for w in wires(out)]
    assert secured == {"alice": 1, "bob": 1}
    assert alice.sessions[BOB_TAG].ssid == bob.sessions[ALICE_TAG].ssid


def test_bad_dake_message_raises_and_changes_nothing() -> None:
    alice = make_peer(ALICE_TAG, "alice@example.org", "bob@example.org")
    bob = make_peer(BOB_TAG, "bob@example.org", "alice@example.org")
    (identity,) = wires(bob.protocol.start(4, NOW))
    msg = IdentityMessage.decode(envelope.decode_otr_message(identity))
    bad = dataclasses.replace(msg, first_dh=msg.b)
    session = alice.session(BOB_TAG)
    with pytest.raises(RemoteProtocolError):
        session.receive(4, bad, bad.encode(), NOW)
    assert session.dake.state is DakeState.START and session.msgstate is MsgState.PLAINTEXT
    with pytest.raises(RemoteProtocolError):
        session.receive(4, object(), b"", NOW)


def test_modes() -> None:
    assert V4Mode.OTRV3_COMPATIBLE.allows(3) and V4Mode.OTRV3_COMPATIBLE.allows(4)
    assert not V4Mode.STANDALONE.allows(3) and V4Mode.STANDALONE.allows(4)
    assert not V4Mode.INTERACTIVE_ONLY.allows(2)
    assert registry.registered() >= {(4, 0x35), (4, 0x36), (4, 0x37), (4, 0x03)}


def test_rng_failure_after_the_dake_changes_nothing() -> None:
    """Bob's ratchet draws fresh keys right after Auth-R verifies; if the rng fails
    there, the DAKE is as before the message and a retry completes."""
    calls = {"n": 0, "fail_at": -1}

    def flaky(n: int) -> bytes:
        calls["n"] += 1
        if calls["n"] == calls["fail_at"]:
            raise OSError("entropy source failed")
        return os.urandom(n)

    alice = make_peer(ALICE_TAG, "alice@example.org", "bob@example.org")
    bob = make_peer(BOB_TAG, "bob@example.org", "alice@example.org", rng=flaky)
    (identity,) = wires(bob.protocol.start(4, NOW))
    (auth_r,) = wires(alice.receive(identity))
    calls["fail_at"] = calls["n"] + 8  # after the seven ring-signature draws of Auth-I
    with pytest.raises(OSError):
        bob.receive(auth_r)
    assert bob.protocol.master_dake.state is DakeState.WAITING_AUTH_R
    assert bob.session(ALICE_TAG).msgstate is MsgState.PLAINTEXT
    out = bob.receive(auth_r)
    assert any(isinstance(o, Secured) for o in out)


def test_credentials_from_an_identity() -> None:
    from otr.v4.identity import Identity

    identity = Identity.generate("alice@example.org", "xmpp", os.urandom, NOW)
    creds = V4Credentials.from_identity(identity)
    assert creds.profile is identity.client_profile
    assert creds.keypair.public == creds.profile.public_key
    without = Identity("a", "xmpp", 0x1234, dsa_key=None, v4=identity.v4)
    with pytest.raises(LocalProtocolError):
        V4Credentials.from_identity(without)


def test_data_overtaking_auth_i_is_held_then_read() -> None:
    alice, bob, _, auth_i = until_auth_i()
    b = bob.sessions[ALICE_TAG]
    (early1,) = wires(b.send(b"first", (), NOW))
    (early2,) = wires(b.send(b"second", (), NOW))
    assert alice.receive(early2) == [] and alice.receive(early1) == []  # held, any order
    out = alice.receive(auth_i)
    assert isinstance(out[0], Secured)
    texts = [o.text for o in out if isinstance(o, ev.MessageReceived)]
    assert sorted(texts) == ["first", "second"]
    # nothing is held once ENCRYPTED; and outside a DAKE nothing is held at all
    a = alice.sessions[BOB_TAG]
    assert a._early == []
    stranger = alice.session(0x3333_3333)
    msg = DataMessage4.decode(envelope.decode_otr_message(early1))
    out = stranger.receive(4, msg, msg.encode(), NOW)
    assert isinstance(out[0], ev.MessageUnreadable)


def test_early_messages_are_bounded() -> None:
    alice, bob, _, auth_i = until_auth_i(early_messages=2, early_message_age=10.0)
    b = bob.sessions[ALICE_TAG]
    msgs = [wires(b.send(f"m{i}".encode(), (), NOW))[0] for i in range(3)]
    assert alice.receive(msgs[0], NOW) == [] and alice.receive(msgs[1], NOW) == []
    assert isinstance(alice.receive(msgs[2], NOW)[0], ev.MessageUnreadable)  # full
    out = alice.receive(auth_i, NOW + 11)  # both held ones are too old by now
    assert [type(o) for o in out] == [Secured]


def test_auth_r_for_either_outstanding_identity() -> None:
    """Bob's session has its own Identity message out and the protocol has a newer
    one (Bob restarted by a query): an Auth-R for either completes."""
    for answer_newer in (False, True):
        alice, bob, _, _ = until_auth_i()  # Bob is ENCRYPTED, Alice waits for Auth-I
        b = bob.sessions[ALICE_TAG]
        first = envelope.encode_otr_message(b.dake.start().encode())  # session's own
        (second,) = wires(bob.protocol.start(4, NOW))  # the protocol's, receiver 0
        a = alice.sessions[BOB_TAG]
        a.dake.reset()
        (auth_r,) = wires(alice.receive(second if answer_newer else first))
        out = bob.receive(auth_r)
        assert any(isinstance(o, Secured) for o in out)
        (auth_i,) = wires(out)
        assert any(isinstance(o, Secured) for o in alice.receive(auth_i))
        assert a.ssid == b.ssid


def test_protocol_fragmenting_hooks() -> None:
    from otr.wire.fragment import parse_fragment

    peer = make_peer(ALICE_TAG, "a", "b")
    proto = peer.protocol
    assert proto.addressed_to_any(4, 0x35) and not proto.addressed_to_any(4, 0x36)
    wire = "?OTR:" + "A" * 600 + "."
    pieces = proto.fragment(wire, 4, 200, BOB_TAG)
    frags = [parse_fragment(p) for p in pieces]
    assert {f.version for f in frags} == {4} and len({f.identifier for f in frags}) == 1
    assert "".join(f.piece for f in frags) == wire and all(len(p) <= 200 for p in pieces)
    # an upper bound: a data message with this plaintext never needs more fragments
    a = secured_pair()[2]
    for size in (0, 10, 3000):
        (msg,) = wires(a.send(b"x" * size, (), NOW))
        assert len(proto.fragment(msg, 4, 200, BOB_TAG)) <= proto.fragments_needed(size, 4, 200)


def test_renewed_profile_is_used_by_new_dakes() -> None:
    alice, bob, _, b = secured_pair()
    proto = alice.protocol
    old = proto.profile
    renewed = build_client_profile(
        proto.keypair, proto.forging_key.public, ALICE_TAG, "4", int(NOW) + 30 * 86400
    )
    proto.replace_profile(renewed)
    assert proto.master_dake.profile is renewed
    # Bob restarts the DAKE: Alice's answer carries the renewed profile
    identity = envelope.encode_otr_message(b.dake.start().encode())
    (auth_r,) = wires(alice.receive(identity))
    assert renewed.encode() in envelope.decode_otr_message(auth_r)
    assert old.encode() not in envelope.decode_otr_message(auth_r)
    (auth_i,) = wires(bob.receive(auth_r))
    assert any(isinstance(o, Secured) for o in alice.receive(auth_i))
    other = make_peer(0x4444_4444, "x", "y").protocol.profile
    with pytest.raises(LocalProtocolError):
        proto.replace_profile(other)


def test_received_event_is_the_dataclass_one() -> None:
    """The fused receive path fills its MessageReceived in at once: the same event,
    field for field, as the constructor gives (a new field would break this)."""
    from otr.v4.session import _received

    fast, made = _received("héllo", 0x1234), ev.MessageReceived("héllo", True, (), 0x1234)
    assert fast == made and hash(fast) == hash(made) and repr(fast) == repr(made)
    assert vars(fast) == vars(made) and list(vars(fast)) == [
        f.name for f in dataclasses.fields(made)
    ]
