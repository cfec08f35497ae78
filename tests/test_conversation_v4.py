"""OTRv4 through the front door (:class:`otr.Conversation`): two of ours end to end
(query, DAKE, messages both ways, SMP, TLV 7, end), v4 fragments, a network that
drops, reorders, duplicates and fragments (hypothesis), otr4j's T1 played through
a Conversation against the recorded wire messages, the modes, and the fallback of
a v3+v4 conversation to OTRv3 against the real libotr 4.1.1."""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otr import events as ev
from otr.conversation import Conversation
from otr.crypto.dsa import generate_dsa_key
from otr.events import Tlv
from otr.instance import MsgState
from otr.policy import Policy
from otr.v4 import datacrypt
from otr.v4.keys import Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile, build_client_profile
from otr.v4.session import V4Credentials, V4Mode, V4Settings
from otr.wire import envelope
from otr4j_transcripts import DrawRng, transcript

NOW = 1_800_000_000.0
DSA_A, DSA_B = generate_dsa_key(), generate_dsa_key()
TAG_A, TAG_B = 0x1111_1111, 0x2222_2222


def creds(tag: int, versions: str = "34") -> V4Credentials:
    kp = Ed448KeyPair.generate(os.urandom)
    forging = ForgingKey.generate(os.urandom)
    profile = build_client_profile(kp, forging.public, tag, versions, int(NOW) + 14 * 86400)
    return V4Credentials(kp, forging, profile)


CREDS_A, CREDS_B = creds(TAG_A), creds(TAG_B)


def conv(
    who: str,
    versions: frozenset[int] = frozenset({3, 4}),
    max_size: int = 0,
    policy_name: str = "MANUAL",
    **kw: Any,
) -> Conversation:
    a = who == "alice"
    policy = Policy.named(policy_name, max_message_size=max_size).with_versions(versions)
    return Conversation(
        DSA_A if a else DSA_B,
        "bob@example.org" if a else "alice@example.org",
        account="alice@example.org" if a else "bob@example.org",
        protocol="xmpp",
        policy=policy,
        instance_tag=TAG_A if a else TAG_B,
        v4=kw.pop("v4", CREDS_A if a else CREDS_B),
        **kw,
    )


def sent(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.SendMessage)]


def pump(a: Conversation, b: Conversation, first: list[str], frm: Conversation) -> list[ev.Event]:
    """Deliver messages back and forth until nothing is left; all events."""
    queue = [(b if frm is a else a, w) for w in first]
    log: list[ev.Event] = []
    for _ in range(10_000):
        if not queue:
            return log
        to, wire = queue.pop(0)
        out = to.receive(wire, NOW)
        log += out
        other = b if to is a else a
        queue += [(other, w) for w in sent(out)]
    raise AssertionError("the conversation did not settle")


def secure(a: Conversation, b: Conversation) -> list[ev.Event]:
    (query,) = sent(a.start(NOW))
    assert query.startswith("?OTRv34?")
    log = pump(a, b, [query], a)
    assert a.is_encrypted and b.is_encrypted and a.version == b.version == 4
    assert a.ssid == b.ssid
    return log


def got(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.MessageReceived)]


def test_end_to_end() -> None:
    a, b = conv("alice"), conv("bob")
    log = secure(a, b)
    secured = [e for e in log if isinstance(e, ev.SessionSecured)]
    assert len(secured) == 2 and all(e.version == 4 for e in secured)
    assert {e.our_fingerprint for e in secured} == {
        CREDS_A.profile.fingerprint(),
        CREDS_B.profile.fingerprint(),
    }
    assert a.their_fingerprint == CREDS_B.profile.fingerprint()
    for i in range(5):
        s = a if i % 2 else b
        assert got(pump(a, b, sent(s.send(f"hello {i} ✓", NOW)), s)) == [f"hello {i} ✓"]
    # SMP with a question
    log = pump(a, b, sent(a.smp_start("the pier", "Where?", NOW)), a)
    assert ev.SmpRequested("Where?") in log
    log = pump(a, b, sent(b.smp_respond("the pier", NOW)), b)
    assert sum(isinstance(e, ev.SmpSucceeded) for e in log) == 2
    # TLV 7
    out = a.use_extra_key(3, b"ctx", NOW)
    (local,) = [e for e in out if isinstance(e, ev.ExtraSymmetricKey)]
    (remote,) = [e for e in pump(a, b, sent(out), a) if isinstance(e, ev.ExtraSymmetricKey)]
    assert local.key == remote.key and remote.use == 3 and remote.usedata == b"ctx"
    # padding TLV with a message
    assert got(pump(a, b, sent(b.send("padded", NOW, tlvs=(Tlv(0, bytes(7)),))), b)) == ["padded"]
    # end
    log = pump(a, b, sent(a.end(NOW)), a)
    assert ev.SessionFinished(TAG_A) in log
    assert a.msgstate is MsgState.PLAINTEXT and b.msgstate is MsgState.FINISHED


def test_fragmented_v4() -> None:
    a, b = conv("alice", max_size=200), conv("bob", max_size=200)
    (query,) = sent(a.start(NOW))
    log = pump(a, b, [query], a)
    assert a.is_encrypted and b.is_encrypted and a.version == 4
    long = "a long message " * 40
    out = a.send(long, NOW)
    assert len(sent(out)) > 3 and all(len(w) <= 200 for w in sent(out))
    assert all(w.startswith("?OTR|") and w.count("|") == 3 for w in sent(out))
    pieces = sent(out)
    random.Random(1).shuffle(pieces)  # v4 fragments may arrive in any order
    assert got(pump(a, b, pieces, a)) == [long]
    del log


def test_v3_only_peer_gets_v3() -> None:
    a, b = conv("alice"), conv("bob", versions=frozenset({3}))
    (query,) = sent(a.start(NOW))
    pump(a, b, [query], a)
    assert a.is_encrypted and a.version == b.version == 3


def test_standalone_mode_ignores_v3() -> None:
    settings_ = V4Settings(mode=V4Mode.STANDALONE)
    a = conv("alice", v4_settings=settings_)
    b = conv("bob", versions=frozenset({3}))
    (query,) = sent(a.start(NOW))
    assert query.startswith("?OTRv4?")
    pump(a, b, [query], a)
    assert not a.is_encrypted and not b.is_encrypted


def test_whitespace_tag_starts_v4() -> None:
    a, b = conv("alice", policy_name="OPPORTUNISTIC"), conv("bob", policy_name="OPPORTUNISTIC")
    (tagged,) = sent(a.send("hi there", NOW))
    assert tagged.startswith("hi there ")
    log = pump(a, b, [tagged], a)
    assert got(log) == ["hi there"]
    assert a.is_encrypted and b.is_encrypted and a.version == 4


def test_profile_must_match_the_instance_tag() -> None:
    from otr.errors import LocalProtocolError

    with pytest.raises(LocalProtocolError):
        conv("alice", v4=CREDS_B)


# --- a network that drops, reorders, duplicates and fragments -----------------------------


@settings(max_examples=8, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from([0, 160, 400]))
def test_network_chaos(rnd: random.Random, size: int) -> None:
    """Reordering, duplication and fragmentation never break the session; a dropped
    message is simply not delivered.  Every delivered message is shown at most once
    and every event is a documented one."""
    a, b = conv("alice", max_size=size), conv("bob", max_size=size)
    (query,) = sent(a.start(NOW))
    pump(a, b, [query], a)  # a reliable DAKE (the DAKE itself has no retransmission)
    assert a.is_encrypted and b.is_encrypted
    texts = [f"msg {i}" for i in range(8)]
    in_flight: list[tuple[Conversation, str]] = []
    for i, text in enumerate(texts):
        s, r = (a, b) if rnd.random() < 0.6 else (b, a)
        texts[i] = f"{text} {'a' if s is a else 'b'}"
        in_flight += [(r, w) for w in sent(s.send(texts[i], NOW))]
    delivered: list[str] = []
    rnd.shuffle(in_flight)
    extra = [rnd.choice(in_flight) for _ in range(3)]
    for to, wire in in_flight + extra:
        if rnd.random() < 0.1:
            continue  # dropped
        for e in to.receive(wire, NOW):
            assert isinstance(
                e, ev.MessageReceived | ev.MessageUnreadable | ev.SendMessage | ev.Warning
            ), e
            if isinstance(e, ev.MessageReceived):
                delivered.append(e.text)
    assert len(delivered) == len(set(delivered)) and set(delivered) <= set(texts)
    # the session still works both ways afterwards
    assert got(pump(a, b, sent(a.send("after", NOW)), a)) == ["after"]
    assert got(pump(a, b, sent(b.send("after too", NOW)), b)) == ["after too"]


# --- otr4j's T1 through a Conversation ------------------------------------------------------


def _transcript_conversation(t: dict[str, Any], party: str) -> Conversation:
    who = t["parties"][party]
    profile = ClientProfile.decode(bytes.fromhex(who["client_profile"]))
    kp = Ed448KeyPair.from_symmetric_key(bytes.fromhex(who["long_term"]["symmetric_key"]))
    versions = {int(v) for v in who["policy_versions"].split(",")}
    return Conversation(
        generate_dsa_key(),
        who["peer"],
        account=who["account"],
        protocol="xmpp",
        policy=Policy.named("MANUAL", max_message_size=who["max_fragment_size"]).with_versions(
            versions
        ),
        instance_tag=who["instance_tag"],
        rng=DrawRng(t, party, everything=True),
        v4=V4Credentials(kp, ForgingKey(profile.forging_key), profile),
    )


def _check_otr4j_events(recorded: list[dict[str, Any]], out: list[ev.Event]) -> None:
    """otr4j's host callbacks against our events: the extra symmetric keys it
    discovered (key, context, value) and the final SMP outcome."""
    found = [e for e in recorded if e.get("event") == "EXTRA_SYMMETRIC_KEY_DISCOVERED"]
    ours = [e for e in out if isinstance(e, ev.ExtraSymmetricKey)]
    assert [(e.key.hex(), f"{e.use:08x}", e.usedata.hex()) for e in ours] == [
        (e["key"], e["context"], e["value"]) for e in found
    ]
    outcomes = [e for e in recorded if e.get("smp_status") in ("SUCCEEDED", "FAILED")]
    if outcomes:
        assert any(isinstance(e, ev.SmpSucceeded) for e in out) == outcomes[-1]["success"]


@pytest.mark.parametrize("role", ["alice", "bob"])
@pytest.mark.parametrize("tid", ["T1", "T2", "T3", "T4"])
def test_transcript_through_a_conversation(tid: str, role: str) -> None:
    """We play one party through a Conversation against otr4j's recorded messages:
    every wire message we send equals otr4j's (T2: every fragment, with otr4j's
    identifiers drawn from the same rng), every message received shows otr4j's
    text, SMP (T3) ends as otr4j's did and the extra symmetric keys of TLV 7 (T4)
    are otr4j's.  Only Alice's query differs (the fallback text is otr4j's own)."""
    t = transcript(tid)
    now = float(t["now_unix"])
    us = _transcript_conversation(t, role)
    shown = []
    for step in t["steps"]:
        expected = [s["wire"] for s in step["sent"] if s["from"] == role]
        if step["kind"] == "deliver" and step["to"] == role:
            out = us.receive(step["wire"], now)
            assert sent(out) == expected
            shown += got(out)
            _check_otr4j_events(step["events"], out)
        elif step["kind"] == "action" and step["party"] == role:
            action = step["action"]
            if action.startswith("startSession"):
                (query,) = sent(us.start(now))
                assert query.startswith("?OTRv34?" if tid == "T1" else "?OTRv4?")
                continue
            if action.startswith("endSession"):
                assert sent(us.end(now)) == expected
                continue
            detail = step["detail"]
            if action == "initSmp":
                assert sent(us.smp_start(detail["secret"], detail["question"], now)) == expected
                continue
            if action == "respondSmp":
                assert sent(us.smp_respond(detail["secret"], now)) == expected
                continue
            tlvs = tuple(Tlv(x["type"], bytes.fromhex(x["value"])) for x in detail["tlvs"])
            assert sent(us.send(detail["text"], now, tlvs=tlvs)) == expected
    texts = [
        s["keys"]["decoded"]["text"]
        for s in t["steps"]
        if s["kind"] == "deliver" and s["to"] == role and s["message"].get("type") == "DataMessage4"
    ]
    assert shown == [x for x in texts if x]
    final = {("T1", "bob"): MsgState.FINISHED, ("T1", "alice"): MsgState.PLAINTEXT}
    assert us.msgstate is final.get((tid, role), MsgState.ENCRYPTED)


# --- v4 -> v3 fallback against the real libotr ---------------------------------------------


@pytest.mark.interop
def test_falls_back_to_v3_with_libotr(peer_module: Any) -> None:
    """Our v3+v4 conversation and libotr 4.1.1 (v3 only) end up on OTRv3."""
    with peer_module.OtrPeer(account="bob@x", peer="alice@x", versions=[2, 3]) as lib:
        ours = Conversation(
            DSA_A,
            "bob@x",
            account="alice@x",
            protocol="xmpp",
            policy=Policy.named("MANUAL").with_versions({3, 4}),
            instance_tag=TAG_A,
            v4=CREDS_A,
        )
        (query,) = sent(ours.start(NOW))
        assert query.startswith("?OTRv34?")
        pending = [query]
        for _ in range(20):
            if not pending:
                break
            replies = peer_module.injects(lib.recv(pending.pop(0)))
            for r in replies:
                pending += sent(ours.receive(r, NOW))
        assert ours.is_encrypted and ours.version == 3
        assert lib.status()["protocol_version"] == 3
        evs = lib.send("hello from libotr")
        (wire,) = peer_module.injects(evs)
        assert got(ours.receive(wire, NOW)) == ["hello from libotr"]


# --- hostile input never raises out of receive ---------------------------------------------


def _live_wires() -> tuple[Conversation, Conversation, list[tuple[str, str]]]:
    """An ENCRYPTED pair and real messages between them: Bob's data message and
    Identity message (to Alice), Alice's Auth-R (to Bob)."""
    a, b = conv("alice"), conv("bob")
    secure(a, b)
    (data,) = sent(b.send("a data message", NOW))
    (identity,) = sent(b.receive("?OTRv4?", NOW))
    (auth_r,) = sent(a.receive(identity, NOW))
    return a, b, [("alice", data), ("alice", identity), ("bob", auth_r)]


LIVE = _live_wires()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 7), st.booleans())
def test_mutated_v4_messages_never_raise(which: int, pos: int, bit: int, fragment: bool) -> None:
    """Bit flips in live OTRv4 messages (data, Identity, Auth-R), whole or as v4
    fragments, only ever give documented events (conftest makes internal errors
    raise), and the session survives them."""
    from otr.wire import envelope
    from otr.wire.fragment_v4 import fragment_message_v4

    a, b, wires = LIVE
    to_name, wire = wires[which]
    to, sender_tag = (a, TAG_B) if to_name == "alice" else (b, TAG_A)
    binary = bytearray(envelope.decode_otr_message(wire))
    binary[pos % len(binary)] ^= 1 << bit
    mutated = envelope.encode_otr_message(bytes(binary))
    texts = fragment_message_v4(mutated, 300, pos, sender_tag, 0) if fragment else [mutated]
    for text in texts:
        for e in to.receive(text, NOW):
            assert isinstance(
                e, ev.MessageUnreadable | ev.SendMessage | ev.Warning | ev.MessageForOtherInstance
            ), e
    assert a.is_encrypted and b.is_encrypted
    assert got(pump(a, b, sent(b.send("still fine", NOW)), b)) == ["still fine"]


def _creds_with_dsa(tag: int, dsa: Any) -> V4Credentials:
    kp = Ed448KeyPair.generate(os.urandom)
    forging = ForgingKey.generate(os.urandom)
    profile = build_client_profile(
        kp, forging.public, tag, "34", int(NOW) + 14 * 86400, dsa_key=dsa, rng=os.urandom
    )
    return V4Credentials(kp, forging, profile)


def test_upgrade_from_v3_to_v4_keeps_the_peer() -> None:
    """OTRv3-compatible mode: an OTRv3 session, then an OTRv4 DAKE with the same
    instance.  The v4 profile's DSA key (with its transitional signature) is the
    OTRv3 key in use, so the v4 session takes over; another key would not."""
    a = conv("alice", v4=_creds_with_dsa(TAG_A, DSA_A))
    b = conv("bob", versions=frozenset({3}), v4=_creds_with_dsa(TAG_B, DSA_B))
    (query,) = sent(a.start(NOW))
    pump(a, b, [query], a)
    assert a.version == b.version == 3
    b.policy = Policy.named("MANUAL").with_versions({3, 4})
    log = pump(a, b, sent(a.start(NOW)), a)
    assert [e.version for e in log if isinstance(e, ev.SessionSecured)] == [4, 4]
    assert not any(isinstance(e, ev.OtherInstanceSecured) for e in log)
    assert a.version == b.version == 4 and a.is_encrypted
    assert got(pump(a, b, sent(a.send("over v4 now", NOW)), a)) == ["over v4 now"]
    # a v4 identity whose profile carries no (or another) DSA key is another peer
    c = conv("alice")
    d = conv("bob", versions=frozenset({3}))
    pump(c, d, sent(c.start(NOW)), c)
    d.policy = Policy.named("MANUAL").with_versions({3, 4})
    log = pump(c, d, sent(c.start(NOW)), c)
    assert any(isinstance(e, ev.OtherInstanceSecured) for e in log)
    assert c.version == 3


def lossy_step(
    rnd: random.Random,
    queue: list[tuple[Conversation, str]],
    a: Conversation,
    b: Conversation,
    now: float,
    p: float,
) -> None:
    """Deliver one random message of ``queue``; it may be lost or duplicated
    (probability ``p`` each); replies join the queue."""
    to, wire = queue.pop(rnd.randrange(len(queue)))
    if rnd.random() < p:
        return  # lost
    if rnd.random() < p:
        queue.append((to, wire))  # duplicated
    other = b if to is a else a
    queue += [(other, w) for w in sent(to.receive(wire, now))]


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False))
def test_dake_over_a_lossy_network_recovers(rnd: random.Random) -> None:
    """The DAKE itself under drops, duplicates and reordering (and both sides
    starting): whatever state it leaves, a new query over a reliable network
    brings both sides to one shared session."""
    a, b = conv("alice"), conv("bob")
    queue: list[tuple[Conversation, str]] = [(b, w) for w in sent(a.start(NOW))]
    if rnd.random() < 0.5:
        queue += [(a, w) for w in sent(b.start(NOW))]
    for _ in range(60):
        if not queue:
            break
        lossy_step(rnd, queue, a, b, NOW, 0.2)
    if not (a.is_encrypted and b.is_encrypted and a.ssid == b.ssid):
        pump(a, b, sent(a.start(NOW)), a)
    assert a.is_encrypted and b.is_encrypted and a.ssid == b.ssid and a.version == 4
    assert got(pump(a, b, sent(a.send("works", NOW)), a)) == ["works"]
    assert got(pump(a, b, sent(b.send("both ways", NOW)), b)) == ["both ways"]


@settings(max_examples=6, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from([0, 300]))
def test_restarts_and_data_over_a_lossy_network(rnd: random.Random, size: int) -> None:
    """An ENCRYPTED pair keeps talking while either side restarts the DAKE (a
    query), over a network that drops, duplicates, reorders and fragments: no
    internal error, and afterwards (one query at most) one shared session."""
    a, b = conv("alice", max_size=size), conv("bob", max_size=size)
    secure(a, b)
    queue: list[tuple[Conversation, str]] = []
    now = NOW
    for i in range(30):
        now += rnd.choice([0, 1, 30])
        action = rnd.random()
        s = rnd.choice([a, b])
        o = b if s is a else a
        if action < 0.45:
            if s.is_encrypted:
                queue += [(o, w) for w in sent(s.send(f"m{i}", now))]
        elif action < 0.55:
            queue += [(o, w) for w in sent(s.start(now))]
        elif queue:
            lossy_step(rnd, queue, a, b, now, 0.15)
    while queue:  # the rest arrives
        to, wire = queue.pop(0)
        other = b if to is a else a
        queue += [(other, w) for w in sent(to.receive(wire, now))]
    if not (a.is_encrypted and b.is_encrypted and a.ssid == b.ssid):
        pump(a, b, sent(a.start(now)), a)
    assert a.is_encrypted and b.is_encrypted and a.ssid == b.ssid
    assert got(pump(a, b, sent(a.send("final", now)), a)) == ["final"]
    assert got(pump(a, b, sent(b.send("final too", now)), b)) == ["final too"]


def test_replace_v4_profile() -> None:
    from otr.errors import LocalProtocolError

    a, b = conv("alice"), conv("bob")
    renewed = build_client_profile(
        CREDS_A.keypair, CREDS_A.forging_key.public, TAG_A, "34", int(NOW) + 30 * 86400
    )
    a.replace_v4_profile(renewed)
    log = secure(a, b)
    assert any(isinstance(e, ev.SessionSecured) for e in log)
    assert b.sessions[(4, TAG_A)].result.their_profile == renewed  # type: ignore[attr-defined]
    v3_only = Conversation(DSA_A, "bob", account="alice", instance_tag=TAG_A)
    with pytest.raises(LocalProtocolError):
        v3_only.replace_v4_profile(renewed)


def test_profile_renewed_from_the_identity_by_the_timer() -> None:
    """Credentials made from an Identity: ``next_deadline`` includes the profile's
    renewal time (12 hours before it expires) and ``handle_timer`` renews it, keeping
    its versions; the next DAKE carries the new profile."""
    from otr.v4.identity import PROFILE_RENEW_BEFORE, Identity

    me = Identity.generate(
        "alice@example.org", "xmpp", os.urandom, NOW, dsa_key=DSA_A, instance_tag=TAG_A
    )
    first = me.client_profile
    assert first is not None
    a, b = conv("alice", v4=V4Credentials.from_identity(me)), conv("bob")
    due = first.expiration - PROFILE_RENEW_BEFORE
    assert a.next_deadline() == due
    assert conv("bob").next_deadline() is None  # no identity: nothing to renew
    a.handle_timer(due - 1)
    assert me.client_profile is first
    a.handle_timer(due)
    renewed = me.client_profile
    assert renewed is not first and renewed is not None
    assert renewed.versions == first.versions and renewed.expiration > first.expiration
    assert a.next_deadline() == renewed.expiration - PROFILE_RENEW_BEFORE
    secure(a, b)
    assert b.sessions[(4, TAG_A)].result.their_profile == renewed  # type: ignore[attr-defined]


def test_data_messages_take_the_fast_path_and_failures_the_general_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An in-order v4 data message is read by ``V4Session.receive_fast`` without the
    general path; a replayed one falls back to it (nothing changed) and is reported."""
    from otr.v4.session import V4Session

    a, b = conv("alice"), conv("bob")
    secure(a, b)
    (wire,) = sent(a.send("fast", NOW))
    general = V4Session.receive
    calls: list[object] = []

    def spy(self: V4Session, *args: Any) -> Any:
        calls.append(args[1])
        return general(self, *args)

    monkeypatch.setattr(V4Session, "receive", spy)
    assert got(b.receive(wire, NOW)) == ["fast"] and calls == []
    replayed = b.receive(wire, NOW)
    assert len(calls) == 1 and not got(replayed)
    assert any(isinstance(e, ev.MessageUnreadable) for e in replayed)
    (wire,) = sent(a.send("still fine", NOW))
    assert got(b.receive(wire, NOW)) == ["still fine"] and len(calls) == 1


def test_v4_only_conversation_needs_no_dsa_key() -> None:
    """Standalone mode drops OTRv3, and with it the DSA key (otr-v4.md "OTRv4 Modes")."""
    settings = V4Settings(mode=V4Mode.STANDALONE)
    a, b = (
        Conversation(
            None,
            peer,
            account=me,
            policy=Policy.named("MANUAL").with_versions({3, 4}),
            instance_tag=tag,
            v4=cred,
            v4_settings=settings,
        )
        for me, peer, tag, cred in (
            ("alice@example.org", "bob@example.org", TAG_A, CREDS_A),
            ("bob@example.org", "alice@example.org", TAG_B, CREDS_B),
        )
    )
    assert len(a.our_fingerprint) == 56
    (query,) = sent(a.start(NOW))
    assert query.startswith("?OTRv4?")
    log = pump(a, b, [query], a)
    secured = [e for e in log if isinstance(e, ev.SessionSecured)]
    assert [e.version for e in secured] == [4, 4]
    assert {len(e.our_fingerprint) for e in secured} == {56}
    assert got(pump(a, b, sent(a.send("no DSA here", NOW)), a)) == ["no DSA here"]


@pytest.mark.parametrize("mode", [None, V4Mode.OTRV3_COMPATIBLE])
def test_dsa_key_required_where_otrv3_may_be_spoken(mode: V4Mode | None) -> None:
    from otr.errors import LocalProtocolError

    with pytest.raises(LocalProtocolError, match="DSA key"):
        Conversation(
            None,
            "bob@example.org",
            instance_tag=TAG_A,
            v4=CREDS_A,
            v4_settings=None if mode is None else V4Settings(mode=mode),
        )
    with pytest.raises(LocalProtocolError, match="DSA key"):
        Conversation(None, "bob@example.org")


def _counting_rng(seed: bytes) -> Any:
    counter = iter(range(1 << 30))
    return lambda n: hashlib.shake_256(seed + next(counter).to_bytes(4, "big")).digest(n)


def _seeded_pair(seed: bytes) -> tuple[Conversation, Conversation]:
    a = conv("alice", rng=_counting_rng(seed + b"a"))
    b = conv("bob", rng=_counting_rng(seed + b"b"))
    secure(a, b)
    return a, b


def _rewrite(wire: str, at: int, value: bytes) -> str:
    binary = bytearray(envelope.decode_otr_message(wire))
    binary[at : at + len(value)] = value
    return envelope.encode_otr_message(bytes(binary))


def test_fused_and_general_paths_are_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pairs with the same keys and seeded randomness.  In the first, data
    messages take the fused paths wherever they can (``V4Session.send_wire_fast``,
    ``receive_wire_fast``); in the second the fused send is switched off and every
    message is received with text before "?OTR:" (ignored, as libotr does), which
    sends it down the general path.  Events, and so every wire byte, are the same:
    plain text, TLVs, an empty message, non-ASCII, SMP, heartbeats, rotations (DH
    ratchets included), the extra key; replays, forgeries, a message for another
    instance, out-of-order messages, the end of the session."""
    a, b = _seeded_pair(b"twins")
    a2, b2 = _seeded_pair(b"twins")
    for c in (a2, b2):
        assert c.current is not None
        monkeypatch.setattr(c.current, "send_wire_fast", lambda message, now: None)
    opened: list[bool] = []
    real_open = datacrypt.open_wire

    def counting_open(*args: Any) -> Any:
        result = real_open(*args)
        opened.append(result is not None)
        return result

    monkeypatch.setattr(datacrypt, "open_wire", counting_open)
    pairs = {a: a2, b: b2}
    later = NOW + 1000  # a heartbeat is due

    def deliver(to: Conversation, wires: list[str], now: float = NOW) -> list[ev.Event]:
        """Deliver to ``to`` and its twin, and their answers back, depth first."""
        log: list[ev.Event] = []
        back = b if to is a else a
        for wire in wires:
            fast, general = to.receive(wire, now), pairs[to].receive("hi " + wire, now)
            assert fast == general
            log += fast + deliver(back, sent(fast), now)
        return log

    def both(frm: Conversation, act: Any, now: float = NOW) -> list[ev.Event]:
        out = act(frm)
        assert out == act(pairs[frm])
        return deliver(b if frm is a else a, sent(out), now)

    assert got(both(a, lambda c: c.send("plain text", NOW))) == ["plain text"]
    tlvs = [Tlv(0, b"pad"), Tlv(42, b"custom")]
    assert got(both(a, lambda c: c.send("with tlvs", NOW, tlvs))) == ["with tlvs"]
    assert both(a, lambda c: c.send("", NOW)) == []
    assert got(both(a, lambda c: c.send("héllo ✓ ünïcode", NOW))) == ["héllo ✓ ünïcode"]
    both(a, lambda c: c.smp_start("secret", "q?", NOW))
    log = both(b, lambda c: c.smp_respond("secret", NOW))
    assert any(isinstance(e, ev.SmpSucceeded) for e in log)
    log = both(a, lambda c: c.send("late", later), later)
    assert got(log) == ["late"] and len(sent(log)) == 1  # b's heartbeat, read by a
    for turn in range(7):  # new ratchets both ways, a DH ratchet every third
        frm = a if turn % 3 else b
        text = f"turn {turn}"
        assert got(both(frm, lambda c, text=text: c.send(text, NOW))) == [text]
    keys = both(a, lambda c: c.use_extra_key(7, b"file", NOW))
    assert [type(e) for e in keys] == [ev.ExtraSymmetricKey]
    # The unusual: each falls back to the general path and is reported as it reports it.
    (wire,) = sent(a.send("once", NOW))
    assert sent(a2.send("once", NOW)) == [wire]
    deliver(b, [wire])
    assert [type(e) for e in deliver(b, [wire])][:2] == [ev.MessageUnreadable, ev.SendMessage]
    (wire,) = sent(a.send("forged", NOW))
    assert sent(a2.send("forged", NOW)) == [wire]
    raw = envelope.decode_otr_message(wire)
    forged = _rewrite(wire, len(raw) - 80, bytes([raw[-80] ^ 1]))
    assert [type(e) for e in deliver(b, [forged])][:2] == [ev.MessageUnreadable, ev.SendMessage]
    other = _rewrite(wire, 7, (0x3333_3333).to_bytes(4, "big"))
    assert deliver(b, [other]) == [ev.MessageForOtherInstance(0x3333_3333)]
    assert got(deliver(b, [wire])) == ["forged"]
    first = sent(a.send("first", NOW)) + sent(a.send("second", NOW))
    assert sent(a2.send("first", NOW)) + sent(a2.send("second", NOW)) == first
    assert got(deliver(b, first[::-1])) == ["second", "first"]
    assert got(both(a, lambda c: c.send("in order again", NOW))) == ["in order again"]
    log = both(a, lambda c: c.end(NOW))
    assert any(isinstance(e, ev.SessionFinished) for e in log)
    assert b.msgstate is b2.msgstate is MsgState.FINISHED
    # The fused paths were taken (and failed where they should), the twins never.
    assert opened.count(True) >= 9 and opened.count(False) >= 10
