"""The session manager (otr.account.manager): held messages and their handles,
policy and advertised-support rules, presence, timeouts, stale-session recovery;
two managers over an in-memory, in-order network."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otr import events as ev
from otr.account import (
    HandleUpdated,
    Identity,
    MessageLost,
    Routed,
    SendState,
    SessionManager,
)
from otr.conversation import MsgState
from otr.errors import LocalProtocolError
from otr.policy import Policy
from otr.v3.protocol import ERR_NOT_IN_PRIVATE
from v3_util import dsa_key

ALICE, BOB = "alice@example.org", "bob@example.org"


def identity(tmp_path: Path, who: str) -> Identity:
    return Identity.load(tmp_path / who, who, "xmpp", generate=lambda: dsa_key(who))


class Net:
    """Two managers; SendMessage events are queued and delivered in order."""

    def __init__(self, a: SessionManager, b: SessionManager) -> None:
        self.m = {ALICE: a, BOB: b}
        self.wire: list[tuple[str, str]] = []  # (to, text)
        self.seen: dict[str, list[Routed]] = {ALICE: [], BOB: []}
        self.drop_to: set[str] = set()

    def feed(self, who: str, routed: Iterable[Routed]) -> list[Routed]:
        """Record events of ``who``'s manager; queue its wire text to the peer."""
        shown = []
        for r in routed:
            if isinstance(r.event, ev.SendMessage):
                assert r.peer != who
                if r.peer not in self.drop_to:
                    self.wire.append((r.peer, r.event.text))
            else:
                shown.append(r)
        self.seen[who] += shown
        return shown

    def run(self, now: float) -> None:
        while self.wire:
            to, text = self.wire.pop(0)
            frm = BOB if to == ALICE else ALICE
            self.feed(to, self.m[to].receive(frm, text, now))

    def events(self, who: str, kind: type) -> list:  # type: ignore[type-arg]
        return [r.event for r in self.seen[who] if isinstance(r.event, kind)]

    def texts(self, who: str) -> list[str]:
        return [e.text for e in self.events(who, ev.MessageReceived)]


def pair(tmp_path: Path, policy: Policy | None = None, **kw: float) -> Net:
    a = SessionManager(identity(tmp_path, ALICE), policy=policy, **kw)  # type: ignore[arg-type]
    b = SessionManager(identity(tmp_path, BOB), policy=policy, **kw)  # type: ignore[arg-type]
    return Net(a, b)


def secure(net: Net, now: float = 0.0) -> None:
    net.feed(ALICE, net.m[ALICE].start(BOB, now))
    net.run(now)
    assert net.m[ALICE].conversation(BOB).is_encrypted
    assert net.m[BOB].conversation(ALICE).is_encrypted


ALWAYS = Policy.named("ALWAYS")


def test_held_until_secured_then_sent_encrypted_to_the_answering_instance(
    tmp_path: Path,
) -> None:
    net = pair(tmp_path, ALWAYS)
    h1, out = net.m[ALICE].send(BOB, "first", 0.0)
    net.feed(ALICE, out)
    h2, out = net.m[ALICE].send(BOB, "second", 0.0)
    net.feed(ALICE, out)
    assert h1.state is h2.state is SendState.PENDING
    # One Query Message for both, and no plaintext on the wire.
    assert [t for _, t in net.wire if not t.startswith("?OTR")] == []
    assert sum(t.startswith("?OTRv") for _, t in net.wire) == 1
    net.run(1.0)
    assert net.texts(BOB) == ["first", "second"]
    assert all(e.encrypted for e in net.events(BOB, ev.MessageReceived))
    bob_tag = net.m[BOB].instance_tag
    for h in (h1, h2):
        assert h.state is SendState.SENT and h.encrypted and h.instance == bob_tag
    assert net.m[ALICE].pending(BOB) == []
    assert "first" not in repr(h1)


def test_opportunistic_unknown_peer_gets_tagged_plaintext(tmp_path: Path) -> None:
    net = pair(tmp_path)
    h, out = net.m[ALICE].send(BOB, "hello", 0.0)
    net.feed(ALICE, out)
    assert h.state is SendState.SENT and not h.encrypted
    assert net.wire[0][1].startswith("hello \t")  # the whitespace tag
    net.run(0.0)  # Bob answers the tag with an AKE
    assert net.m[ALICE].conversation(BOB).is_encrypted
    # Bob now advertised OTR: nothing more goes out in plaintext.
    assert net.m[ALICE].wants_encryption(BOB)


def test_known_fingerprint_means_encrypted_only(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    # A fresh manager on the same key directory (a restart) knows Bob's fingerprint.
    a2 = SessionManager(identity(tmp_path, ALICE))
    assert a2.wants_encryption(BOB)
    h, out = a2.send(BOB, "s3cr3t words", 0.0)
    assert h.state is SendState.PENDING
    assert all("s3cr3t" not in r.event.text for r in out if isinstance(r.event, ev.SendMessage))


def test_advertised_support_via_transport(tmp_path: Path) -> None:
    m = SessionManager(identity(tmp_path, ALICE))
    assert not m.wants_encryption(BOB)
    m.set_peer_supports_otr(BOB)
    h, _ = m.send(BOB, "x", 0.0)
    assert h.state is SendState.PENDING


def test_pending_times_out(tmp_path: Path) -> None:
    net = pair(tmp_path, ALWAYS, pending_timeout=30.0)
    net.drop_to.add(BOB)  # Bob never hears anything
    h, out = net.m[ALICE].send(BOB, "lost in space", 10.0)
    net.feed(ALICE, out)
    assert net.m[ALICE].next_deadline() == 40.0
    assert net.feed(ALICE, net.m[ALICE].handle_timer(39.9)) == []
    upd = net.feed(ALICE, net.m[ALICE].handle_timer(40.0))
    assert [r.event for r in upd] == [HandleUpdated(h)]
    assert h.state is SendState.FAILED and "30 s" in h.reason
    assert net.m[ALICE].next_deadline() is None


def test_offline_peer_queues_without_ake_until_online(tmp_path: Path) -> None:
    net = pair(tmp_path, ALWAYS, pending_timeout=30.0)
    a = net.m[ALICE]
    assert a.set_presence(BOB, False, 0.0) == []
    h, out = a.send(BOB, "when you're back", 0.0)
    net.feed(ALICE, out)
    assert net.wire == [] and a.next_deadline() is None
    net.feed(ALICE, a.set_presence(BOB, True, 500.0))
    assert a.next_deadline() == 530.0
    net.run(500.0)
    assert h.state is SendState.SENT and h.encrypted
    assert net.texts(BOB) == ["when you're back"]


def test_finished_refuses_and_end_refuses_pending(tmp_path: Path) -> None:
    net = pair(tmp_path, ALWAYS)
    secure(net)
    net.feed(BOB, net.m[BOB].end(ALICE, 1.0))
    net.run(1.0)
    assert net.m[ALICE].conversation(BOB).msgstate is MsgState.FINISHED
    h, _ = net.m[ALICE].send(BOB, "into the void", 2.0)
    assert h.state is SendState.REFUSED and "ended" in h.reason
    net.feed(ALICE, net.m[ALICE].end(BOB, 2.0))
    h2, _ = net.m[ALICE].send(BOB, "later", 3.0)
    assert h2.state is SendState.PENDING
    net.m[ALICE].end(BOB, 3.0)
    assert h2.state is SendState.REFUSED


def test_max_pending_and_nul(tmp_path: Path) -> None:
    m = SessionManager(identity(tmp_path, ALICE), policy=ALWAYS, max_pending=2)
    states = [m.send(BOB, f"m{i}", 0.0)[0].state for i in range(3)]
    assert states == [SendState.PENDING, SendState.PENDING, SendState.REFUSED]
    assert m.send(BOB, "a\0b", 0.0)[0].state is SendState.REFUSED


def restart_bob(net: Net, tmp_path: Path) -> None:
    """Bob's client restarts: same key directory (key, trust, tag), no session."""
    net.m[BOB] = SessionManager(identity(tmp_path, BOB))
    net.seen[BOB] = []


def test_stale_session_every_lost_message_is_resent(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    restart_bob(net, tmp_path)
    handles = []
    for i, t in enumerate(("one", "two", "three")):
        h, out = net.m[ALICE].send(BOB, t, 10.0 + i)
        handles.append(h)
        net.feed(ALICE, out)
    net.run(20.0)
    lost = net.events(BOB, MessageLost)
    assert len(lost) == 3 and all(e.incoming for e in lost)
    # A new AKE started by itself and every lost message came through, in order.
    assert net.m[BOB].conversation(ALICE).is_encrypted
    assert net.texts(BOB) == ["one", "two", "three"]
    assert all(e.encrypted for e in net.events(BOB, ev.MessageReceived))
    assert all(h.resent == 1 and h.state is SendState.SENT for h in handles)
    # One layer resends (the conversation): one warning, one MessagesResent.
    assert [e.message for e in net.events(ALICE, ev.Warning)] == [
        "The last 3 messages were resent."
    ]
    assert [e.texts for e in net.events(ALICE, ev.MessagesResent)] == [("one", "two", "three")]
    # The session works normally afterwards, both ways.
    net.feed(BOB, net.m[BOB].send(ALICE, "back", 21.0)[1])
    net.feed(ALICE, net.m[ALICE].send(BOB, "great", 21.0)[1])
    net.run(21.0)
    assert net.texts(ALICE)[-1] == "back" and net.texts(BOB)[-1] == "great"


def test_stale_session_old_lost_message_is_reported_not_resent(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    restart_bob(net, tmp_path)
    old, out = net.m[ALICE].send(BOB, "old", 0.0)
    net.feed(ALICE, out)
    recent, out = net.m[ALICE].send(BOB, "recent", 100.0)
    net.feed(ALICE, out)
    net.run(100.0)  # delivered late: "old" is past the 60 s window
    assert net.texts(BOB) == ["recent"]
    lost = [e for e in net.events(ALICE, MessageLost) if not e.incoming]
    assert [e.handle for e in lost] == [old]
    assert old.state is SendState.FAILED and recent.state is SendState.SENT


def test_messages_typed_during_recovery_are_held_then_sent(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    restart_bob(net, tmp_path)
    net.feed(ALICE, net.m[ALICE].send(BOB, "lost", 1.0)[1])
    # Deliver only "lost" to Bob, and Bob's error back to Alice.
    _, text = net.wire.pop(0)
    net.feed(BOB, net.m[BOB].receive(ALICE, text, 1.0))
    # The conversation's own answer (spec: "reply with an Error Message"), once.
    assert net.wire[0][1] == "?OTR Error: " + ERR_NOT_IN_PRIVATE
    _, text = net.wire.pop(0)
    net.feed(ALICE, net.m[ALICE].receive(BOB, text, 1.0))
    h, out = net.m[ALICE].send(BOB, "typed meanwhile", 1.5)
    net.feed(ALICE, out)
    assert h.state is SendState.PENDING
    net.run(2.0)
    assert net.texts(BOB) == ["lost", "typed meanwhile"]
    assert h.state is SendState.SENT and h.encrypted


def test_smp_through_the_manager_updates_trust_file(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    net.feed(ALICE, net.m[ALICE].smp_start(BOB, "pier", "where?", 1.0))
    net.run(1.0)
    assert net.events(BOB, ev.SmpRequested) == [ev.SmpRequested("where?")]
    net.feed(BOB, net.m[BOB].smp_respond(ALICE, "pier", 1.0))
    net.run(1.0)
    assert net.events(ALICE, ev.SmpSucceeded)
    reloaded = identity(tmp_path, ALICE)
    fp = net.m[ALICE].conversation(BOB).their_fingerprint
    assert reloaded.trust.get_trust(ALICE, "xmpp", BOB, fp) is ev.Trust.VERIFIED


def test_peer_going_offline_ends_use_of_its_session(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    a = net.m[ALICE]
    a.set_presence(BOB, False, 1.0)
    h, out = a.send(BOB, "after you left", 2.0)
    net.feed(ALICE, out)
    assert h.state is SendState.PENDING and net.wire == []
    restart_bob(net, tmp_path)
    net.feed(ALICE, a.set_presence(BOB, True, 3.0))
    net.run(3.0)
    assert h.state is SendState.SENT and h.encrypted
    assert net.texts(BOB) == ["after you left"]
    assert net.events(BOB, MessageLost) == []


def test_lost_messages_are_not_resent_to_a_different_key(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    # "Bob" comes back with another key but the same instance tag (a key made
    # anew, or someone else).
    (tmp_path / "other").mkdir()
    tags = "otr.instance_tags"
    (tmp_path / "other" / tags).write_bytes((tmp_path / BOB / tags).read_bytes())
    other = Identity.load(tmp_path / "other", BOB, "xmpp", generate=lambda: dsa_key("mallory"))
    net.m[BOB] = SessionManager(other)
    net.seen[BOB] = []
    h, out = net.m[ALICE].send(BOB, "for the old key only", 1.0)
    net.feed(ALICE, out)
    net.run(1.0)
    assert net.events(ALICE, ev.FingerprintChanged)
    assert net.texts(BOB) == []
    assert h.state is SendState.FAILED and "another key" in h.reason
    assert [e.handle for e in net.events(ALICE, MessageLost)] == [h]


def test_one_deadline_across_many_peers(tmp_path: Path) -> None:
    m = SessionManager(identity(tmp_path, ALICE), policy=ALWAYS, pending_timeout=10.0)
    handles = {f"p{i}@x": m.send(f"p{i}@x", "hi", float(100 - i))[0] for i in range(50)}
    assert m.next_deadline() == 61.0  # p49, sent at t=51
    # Answering one peer (it goes offline: no timeout) moves the deadline on.
    m.set_presence("p49@x", False, 52.0)
    assert m.next_deadline() == 62.0
    failed = {r.peer for r in m.handle_timer(70.0) if isinstance(r.event, HandleUpdated)}
    assert failed == {f"p{i}@x" for i in range(40, 49)}  # sent at t <= 60
    assert all(handles[p].state is SendState.FAILED for p in failed)
    assert handles["p49@x"].state is SendState.PENDING
    assert m.next_deadline() == 71.0
    assert m.handle_timer(70.5) == []


_PREFIXES = ["", "?OTR:", "?OTR Error: ", "?OTR|", "?OTR,", "?OTRv3?", "?OTR:AAMD", "?OTR:AAMC"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(_PREFIXES), st.text(max_size=80), st.booleans()), max_size=6)
)
def test_network_input_never_raises(tmp_path: Path, inputs: list[tuple[str, str, bool]]) -> None:
    net = pair(tmp_path)
    secure(net)
    for prefix, body, dot in inputs:
        text = prefix + body + ("." if dot else "")
        out = net.m[ALICE].receive(BOB, text, 5.0)
        assert all(isinstance(r, Routed) for r in out)
    # Whatever came in, a typed message is never sent in plaintext to Bob.
    h, out = net.m[ALICE].send(BOB, "still private", 6.0)
    assert all(
        "still private" not in r.event.text for r in out if isinstance(r.event, ev.SendMessage)
    )
    assert h.state in (SendState.SENT, SendState.PENDING) and (
        h.encrypted or h.state is SendState.PENDING
    )


def test_undeliverable_counts_as_lost_and_is_resent(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    net.drop_to.add(BOB)
    h, out = net.m[ALICE].send(BOB, "bounced", 1.0)
    net.feed(ALICE, out)
    assert not net.m[ALICE].is_recovering(BOB)
    net.drop_to.clear()
    restart_bob(net, tmp_path)
    net.feed(ALICE, net.m[ALICE].undeliverable(BOB, 2.0))  # a query goes out
    assert net.m[ALICE].is_recovering(BOB)
    net.run(2.0)
    assert net.texts(BOB) == ["bounced"] and h.resent == 1
    assert not net.m[ALICE].is_recovering(BOB)
    assert net.m[ALICE].undeliverable("nobody@x", 3.0) == []  # no session: nothing to do


def test_max_peers_never_raises_on_network_input(tmp_path: Path) -> None:
    m = SessionManager(identity(tmp_path, ALICE), max_peers=2)
    m.receive("a@x", "hi", 0.0)
    m.receive("b@x", "hi", 0.0)
    out = m.receive("c@x", "hi", 0.0)
    assert [type(r.event) for r in out] == [ev.Warning]
    assert m.peers == ["a@x", "b@x"]
    with pytest.raises(LocalProtocolError):
        m.send("c@x", "typed", 0.0)


def test_restarted_peer_that_speaks_first_loses_nothing(tmp_path: Path) -> None:
    """Bob restarts and types before Alice's message reaches him: his Query comes
    first (Alice is told her message may be unread), then his error (it is resent)."""
    net = pair(tmp_path)
    secure(net)
    restart_bob(net, tmp_path)
    h, out = net.m[ALICE].send(BOB, "in flight", 1.0)
    net.feed(ALICE, out)
    in_flight = net.wire.pop(0)
    net.feed(BOB, net.m[BOB].send(ALICE, "I'm back", 1.5)[1])  # held; a Query goes out
    net.wire.append(in_flight)  # Alice's message reaches Bob after his Query left
    net.run(2.0)
    suspects = [e for e in net.events(ALICE, MessageLost) if not e.incoming]
    assert [e.handle for e in suspects] == [h]
    assert net.texts(BOB) == ["in flight"] and h.resent == 1
    assert net.texts(ALICE) == ["I'm back"]


def test_extra_symmetric_key_through_the_manager(tmp_path: Path) -> None:
    net = pair(tmp_path)
    secure(net)
    mine = net.feed(ALICE, net.m[ALICE].use_extra_key(BOB, 7, b"file.txt", 1.0))
    net.run(1.0)
    (local,) = [r.event for r in mine if isinstance(r.event, ev.ExtraSymmetricKey)]
    (remote,) = net.events(BOB, ev.ExtraSymmetricKey)
    assert local.key == remote.key and len(local.key) == 32
    assert (remote.use, remote.usedata, remote.origin) == (7, b"file.txt", "remote")


def test_restart_delivers_each_message_exactly_once(tmp_path: Path) -> None:
    """One resend layer: the conversation resends the lost messages after the new
    AKE and the manager only updates their handles, so after Bob restarts every
    message (lost, typed during recovery, typed after) reaches him exactly once,
    and each handle says how it went."""
    net = pair(tmp_path)
    secure(net)
    read, out = net.m[ALICE].send(BOB, "read before the restart", 0.5)
    net.feed(ALICE, out)
    net.run(0.5)
    assert net.texts(BOB) == ["read before the restart"]
    restart_bob(net, tmp_path)
    lost = [net.m[ALICE].send(BOB, f"lost {i}", 1.0 + i) for i in range(3)]
    for _, out in lost:
        net.feed(ALICE, out)
    # Bob's errors reach Alice; she holds what is typed meanwhile.
    for _ in range(3):
        _, text = net.wire.pop(0)
        net.feed(BOB, net.m[BOB].receive(ALICE, text, 5.0))
    errors, net.wire = net.wire, []
    for _, text in errors:
        net.feed(ALICE, net.m[ALICE].receive(BOB, text, 5.0))
    assert net.m[ALICE].is_recovering(BOB)
    held, out = net.m[ALICE].send(BOB, "held", 5.5)
    net.feed(ALICE, out)
    net.run(6.0)
    after, out = net.m[ALICE].send(BOB, "after", 7.0)
    net.feed(ALICE, out)
    net.run(7.0)
    expected = ["lost 0", "lost 1", "lost 2", "held", "after"]
    assert net.texts(BOB) == expected  # each once, in order
    assert [h.resent for h, _ in lost] == [1, 1, 1]
    assert all(h.state is SendState.SENT and h.encrypted for h, _ in lost)
    assert held.resent == 0 and held.state is SendState.SENT
    assert after.resent == read.resent == 0 and read.state is SendState.SENT
    assert len(net.events(ALICE, ev.MessagesResent)) == 1
    # Bob answered each unreadable message with one error (the conversation's).
    assert len([e for e in net.events(BOB, MessageLost) if e.incoming]) == 3
