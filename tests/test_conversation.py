"""The protocol state machine (spec "The protocol state machine"), two of our
conversations over an in-memory network that can drop, reorder, duplicate and
corrupt; plus the "network input never raises" property."""

from __future__ import annotations

import base64
import contextlib
import random
from collections import deque
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otr import events as ev
from otr.conversation import Conversation, MsgState
from otr.crypto import modp
from otr.crypto.dsa import generate_dsa_key
from otr.errors import EntropyError, LocalProtocolError
from otr.events import Tlv
from otr.limits import Limits
from otr.policy import Policy
from otr.wire import envelope, tlv
from otr.wire.buffer import encode_mpi

KEY_A = generate_dsa_key()
KEY_B = generate_dsa_key()


def make_pair(
    policy: Policy | None = None, policy_b: Policy | None = None, seed: int = 1
) -> tuple[Conversation, Conversation]:
    rnd = random.Random(seed)

    def rng(n: int) -> bytes:
        return rnd.randbytes(n)

    a = Conversation(KEY_A, "bob", account="alice", protocol="t", policy=policy, rng=rng)
    b = Conversation(
        KEY_B, "alice", account="bob", protocol="t", policy=policy_b or policy, rng=rng
    )
    return a, b


class Net:
    """Delivers SendMessage events; collects everything else per party."""

    def __init__(self, a: Conversation, b: Conversation) -> None:
        self.a, self.b = a, b
        self.seen: dict[int, list[ev.Event]] = {id(a): [], id(b): []}
        self.wire: list[tuple[Conversation, str]] = []
        self.now = 100.0
        self.tamper: Callable[[str], list[str]] | None = None

    def other(self, c: Conversation) -> Conversation:
        return self.b if c is self.a else self.a

    def pump(self, sender: Conversation, events: list[ev.Event]) -> None:
        q = deque((sender, e) for e in events)
        while q:
            src, e = q.popleft()
            if not isinstance(e, ev.SendMessage):
                self.seen[id(src)].append(e)
                continue
            dst = self.other(src)
            self.wire.append((src, e.text))
            texts = self.tamper(e.text) if self.tamper else [e.text]
            for t in texts:
                q.extend((dst, g) for g in dst.receive(t, self.now))

    def of(self, c: Conversation, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.seen[id(c)] if isinstance(e, kind)]

    def received(self, c: Conversation) -> list[str]:
        return [e.text for e in self.of(c, ev.MessageReceived)]  # type: ignore[attr-defined]


def secured_pair(
    policy: Policy | None = None, version: int = 3
) -> tuple[Conversation, Conversation, Net]:
    pol = (policy or Policy.named("MANUAL")).with_versions({version})
    a, b = make_pair(pol)
    net = Net(a, b)
    net.pump(a, a.start())
    assert a.msgstate is MsgState.ENCRYPTED and b.msgstate is MsgState.ENCRYPTED
    return a, b, net


@pytest.mark.parametrize("version", [2, 3])
def test_ake_and_messages(version: int) -> None:
    a, b, net = secured_pair(version=version)
    sa = net.of(a, ev.SessionSecured)[0]
    sb = net.of(b, ev.SessionSecured)[0]
    assert sa.ssid == sb.ssid and sa.version == version  # type: ignore[attr-defined]
    assert sa.their_fingerprint == KEY_B.public.fingerprint()  # type: ignore[attr-defined]
    assert sa.ssid_first_half_bold != sb.ssid_first_half_bold  # type: ignore[attr-defined]
    for i in range(6):
        net.pump(a, a.send(f"a{i}"))
        net.pump(b, b.send(f"b{i}"))
    assert net.received(b) == [f"a{i}" for i in range(6)]
    assert net.received(a) == [f"b{i}" for i in range(6)]
    for _src, text in net.wire[4:]:
        assert text.startswith("?OTR:")


def test_plaintext_and_whitespace_tag() -> None:
    a, b = make_pair(Policy.named("OPPORTUNISTIC"))
    net = Net(a, b)
    out = a.send("hello")
    assert isinstance(out[0], ev.SendMessage) and out[0].text.startswith("hello \t  \t")
    net.pump(a, out)
    assert net.received(b) == ["hello"]
    assert a.is_encrypted and b.is_encrypted
    # A plaintext message received stops the whitespace tags.
    a2, _b2 = make_pair(Policy.named("OPPORTUNISTIC"))
    a2.receive("plain from bob")
    out = a2.send("no tag now")
    assert out == [ev.SendMessage("no tag now")]


def test_require_encryption_holds_and_expires() -> None:
    a, b = make_pair(Policy.named("ALWAYS"))
    out = a.send("secret", now=10)
    assert all("secret" not in e.text for e in out if isinstance(e, ev.SendMessage))
    assert a.next_deadline() == 70
    assert a.handle_timer(69) == []
    expired = a.handle_timer(70)
    assert expired == [ev.MessageNotSent("secret", "no private conversation was established")]
    # Held then delivered encrypted once the AKE completes.
    a, b = make_pair(Policy.named("ALWAYS"))
    net = Net(a, b)
    net.pump(a, a.send("held", now=net.now))
    got = net.of(b, ev.MessageReceived)
    assert [(g.text, g.encrypted) for g in got] == [("held", True)]  # type: ignore[attr-defined]


def test_finished_state_refuses_to_send() -> None:
    a, b, net = secured_pair()
    net.pump(a, a.end())
    assert a.msgstate is MsgState.PLAINTEXT and b.msgstate is MsgState.FINISHED
    out = b.send("oops")
    assert out == [ev.MessageNotSent("oops", "the peer has ended the private conversation")]
    net.pump(b, b.end())
    assert b.msgstate is MsgState.PLAINTEXT


def test_unreadable_data_message_gets_error_and_session_survives() -> None:
    a, b, net = secured_pair()
    out = a.send("x")
    wire = out[0].text  # type: ignore[attr-defined]
    raw = bytearray(base64.b64decode(wire[5:-1]))
    raw[-30] ^= 1  # inside the ciphertext/MAC
    evs = b.receive("?OTR:" + base64.b64encode(bytes(raw)).decode() + ".")
    assert any(isinstance(e, ev.MessageUnreadable) for e in evs)
    assert any(isinstance(e, ev.SendMessage) and "?OTR Error:" in e.text for e in evs)
    net.pump(a, a.send("still works"))
    assert net.received(b)[-1] == "still works"


@pytest.mark.parametrize("version", [2, 3])
def test_data_fast_path_matches_general_path(version: int) -> None:
    # An unfragmented data message takes a shortcut in receive(); text before
    # "?OTR:" (ignored, as libotr does) sends the same message down the general
    # path.  Two pairs with the same keys and seeded randomness stay identical,
    # so both paths must give exactly the same events.
    a, b, net = secured_pair(version=version)
    a2, b2, _ = secured_pair(version=version)
    later = net.now + 1000  # a heartbeat is due
    steps: list[Callable[[Conversation], list[ev.Event]]] = [
        lambda c: c.send("plain text"),
        lambda c: c.send("with tlvs", tlvs=[Tlv(0, b"pad"), Tlv(42, b"custom")]),
        lambda c: c.smp_start("secret"),
        lambda c: c.send("late", now=later),
    ]
    for step in steps:
        wire = [e.text for e in step(a) if isinstance(e, ev.SendMessage)]
        assert wire == [e.text for e in step(a2) if isinstance(e, ev.SendMessage)]
        assert len(wire) == 1 and wire[0].startswith(("?OTR:AAMD", "?OTR:AAID"))
        assert b.receive(wire[0], later) == b2.receive("hi " + wire[0], later)
    # A replay, a forgery and a message for another instance fall back to the
    # general path and are reported as it reports them.
    replayed = b.receive(wire[0])
    assert [type(e) for e in replayed] == [ev.MessageUnreadable, ev.SendMessage]
    raw = bytearray(base64.b64decode(a.send("x")[0].text[5:-1]))  # type: ignore[attr-defined]
    raw[-30] ^= 1
    forged = b.receive("?OTR:" + base64.b64encode(bytes(raw)).decode() + ".")
    assert [type(e) for e in forged] == [ev.MessageUnreadable, ev.SendMessage]
    if version == 3:
        raw = bytearray(base64.b64decode(a.send("y")[0].text[5:-1]))  # type: ignore[attr-defined]
        raw[7:11] = (0x12345678).to_bytes(4, "big")
        other = b.receive("?OTR:" + base64.b64encode(bytes(raw)).decode() + ".")
        assert other == [ev.MessageForOtherInstance(0x12345678)]
    net.pump(a, a.send("still works"))
    assert net.received(b)[-1] == "still works"


def test_replay_is_rejected() -> None:
    a, b, net = secured_pair()
    out = a.send("once")
    net.pump(a, out)
    evs = b.receive(out[0].text)  # type: ignore[attr-defined]
    assert not any(isinstance(e, ev.MessageReceived) for e in evs)
    assert any(isinstance(e, ev.MessageUnreadable) for e in evs)


def test_fragmented_conversation() -> None:
    pol = Policy.named("MANUAL", max_message_size=120)
    a, b = make_pair(pol)
    net = Net(a, b)
    net.pump(a, a.start())
    assert a.is_encrypted and b.is_encrypted
    net.pump(a, a.send("z" * 1000))
    assert net.received(b) == ["z" * 1000]
    assert all(len(t) <= 120 for _, t in net.wire)


def test_extra_symmetric_key_both_sides() -> None:
    a, b, net = secured_pair()
    out = a.use_extra_key(7, b"file-transfer")
    local = next(e for e in out if isinstance(e, ev.ExtraSymmetricKey))
    net.pump(a, out)
    remote = net.of(b, ev.ExtraSymmetricKey)[0]
    assert remote.key == local.key and len(local.key) == 32  # type: ignore[attr-defined]
    assert remote.use == 7 and remote.usedata == b"file-transfer"  # type: ignore[attr-defined]


@pytest.mark.parametrize("same", [True, False])
def test_smp(same: bool) -> None:
    a, b, net = secured_pair()
    net.pump(a, a.smp_start("s3cret", "what?"))
    req = net.of(b, ev.SmpRequested)
    assert req and req[0].question == "what?"  # type: ignore[attr-defined]
    net.pump(b, b.smp_respond("s3cret" if same else "other"))
    kind = ev.SmpSucceeded if same else ev.SmpFailed
    assert net.of(a, kind) and net.of(b, kind)
    assert (a.trust_level is ev.Trust.VERIFIED) is same


def _smp_value(mpis: list[int], count: int) -> bytes:
    return count.to_bytes(4, "big") + b"".join(encode_mpi(x) for x in mpis)


@settings(max_examples=25, deadline=None)
@given(
    b_started=st.booleans(),
    tlv_type=st.sampled_from([tlv.SMP1, tlv.SMP2, tlv.SMP3, tlv.SMP4, tlv.SMP1Q]),
    mpis=st.lists(
        st.one_of(
            st.sampled_from([0, 1, 2, modp.P - 1, modp.P, modp.P + 1, modp.Q]),
            st.integers(min_value=0, max_value=2**1600),
        ),
        max_size=12,
    ),
    count_delta=st.sampled_from([0, 0, 0, 1, -1]),
)
def test_forged_smp_message_ends_smp_and_session_survives(
    b_started: bool, tlv_type: int, mpis: list[int], count_delta: int
) -> None:
    # An authenticated data message whose SMP TLV is forged (wrong group
    # elements, proofs that do not verify, wrong MPI count, or out of order).
    a, b, net = secured_pair()
    if b_started:
        net.pump(b, b.smp_start("secret"))  # b now expects SMP2
        net.seen[id(b)].clear()
    value = _smp_value(mpis, max(0, len(mpis) + count_delta))
    if tlv_type == tlv.SMP1Q:
        value = b"question?\0" + value
    net.pump(a, a.send("", tlvs=[Tlv(tlv_type, value)]))
    seen = net.seen[id(b)]
    assert not any(isinstance(e, ev.SmpSucceeded | ev.SmpFailed) for e in seen)
    # Random MPIs can never carry valid proofs: SMP ends with a clear event.
    assert any(isinstance(e, ev.SmpCheated | ev.SmpAborted) for e in seen), seen
    assert not any(isinstance(e, ev.SmpRequested) for e in seen)
    assert a.msgstate is b.msgstate is MsgState.ENCRYPTED
    # The session is still usable, and a fresh SMP succeeds.
    net.pump(a, a.send("still here"))
    net.pump(b, b.send("me too"))
    assert net.received(b)[-1] == "still here" and net.received(a)[-1] == "me too"
    for c in (a, b):
        net.pump(c, c.smp_abort())
    net.seen[id(a)].clear()
    net.seen[id(b)].clear()
    net.pump(a, a.smp_start("same"))
    net.pump(b, b.smp_respond("same"))
    assert net.of(a, ev.SmpSucceeded) and net.of(b, ev.SmpSucceeded)


def test_instance_routing_and_other_instance() -> None:
    a, b, _net = secured_pair()
    out = a.send("m")
    wire = out[0].text  # type: ignore[attr-defined]
    raw = bytearray(base64.b64decode(wire[5:-1]))
    raw[7:11] = (b.our_instance ^ 1).to_bytes(4, "big")
    evs = b.receive("?OTR:" + base64.b64encode(bytes(raw)).decode() + ".")
    assert evs == [ev.MessageForOtherInstance(b.our_instance ^ 1)]
    raw[3:7] = (0x42).to_bytes(4, "big")  # sender tag below 0x100
    raw[7:11] = b.our_instance.to_bytes(4, "big")
    evs = b.receive("?OTR:" + base64.b64encode(bytes(raw)).decode() + ".")
    assert [type(e) for e in evs] == [ev.MessageUnreadable]


def test_simultaneous_start() -> None:
    a, b = make_pair(Policy.named("MANUAL"))
    net = Net(a, b)
    qa, qb = a.start(), b.start()
    ca = a.receive(qb[0].text)  # type: ignore[attr-defined]
    cb = b.receive(qa[0].text)  # type: ignore[attr-defined]
    net.pump(a, ca)
    net.pump(b, cb)
    assert a.is_encrypted and b.is_encrypted and a.ssid == b.ssid


def test_refreshed_ake_alone_does_not_resend() -> None:
    a, b, net = secured_pair()
    net.pump(a, a.send("first", now=net.now))
    net.pump(b, b.start())
    refreshed = [e for e in net.of(a, ev.SessionSecured) if e.refreshed]  # type: ignore[attr-defined]
    assert refreshed
    assert net.received(b) == ["first"]


def test_error_then_refreshed_ake_resends_last_message() -> None:
    """libotr: an OTR Error while encrypted marks the last message for resending;
    the AKE it triggers (ERROR_START_AKE) then resends it within 60 s."""
    a, b, net = secured_pair(Policy.named("OPPORTUNISTIC"))
    net.pump(a, a.send("first", now=net.now))
    net.pump(b, [ev.SendMessage("?OTR Error: You transmitted an unreadable encrypted message.")])
    assert net.received(b) == ["first", "first"]
    assert any(isinstance(e, ev.Warning) for e in net.seen[id(a)])


def test_disabled_policy_passes_through() -> None:
    a, _ = make_pair(Policy.named("NEVER"))
    assert a.send("x") == [ev.SendMessage("x")]
    assert a.receive("?OTRv3?") == [ev.MessageReceived("?OTRv3?", encrypted=False)]


def test_custom_tlvs_are_delivered() -> None:
    a, b, net = secured_pair()
    net.pump(a, a.send("with tlv", tlvs=[Tlv(0x1234, b"\x01\x02")]))
    got = net.of(b, ev.MessageReceived)[-1]
    assert Tlv(0x1234, b"\x01\x02") in got.tlvs  # type: ignore[attr-defined]


# ---------------------------------------------------------------- properties

_PAIR = secured_pair()


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    a, b, net = _PAIR
    b.receive(text)
    b.receive("?OTR:" + text)
    b.receive("?OTR|" + text)
    b.receive("?OTR," + text)
    b.receive("?OTR Error:" + text)
    net.pump(a, a.send("alive"))
    assert net.received(b)[-1] == "alive"


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_corrupted_valid_messages_never_raise(data: st.DataObject) -> None:
    a, b, net = _PAIR
    out = a.send("payload")
    raw = bytearray(base64.b64decode(out[0].text[5:-1]))  # type: ignore[attr-defined]
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend", "b64"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
        wire = "?OTR:" + base64.b64encode(bytes(raw)).decode() + "."
    elif kind == "truncate":
        cut = data.draw(st.integers(0, len(raw) - 1))
        wire = "?OTR:" + base64.b64encode(bytes(raw[:cut])).decode() + "."
    elif kind == "extend":
        extra = data.draw(st.binary(min_size=1, max_size=40))
        wire = "?OTR:" + base64.b64encode(bytes(raw) + extra).decode() + "."
    else:
        t = out[0].text  # type: ignore[attr-defined]
        i = data.draw(st.integers(5, len(t) - 1))
        wire = t[:i] + data.draw(st.characters()) + t[i + 1 :]
    evs = b.receive(wire)
    assert not any(isinstance(e, ev.MessageReceived) and e.text == "payload" for e in evs) or (
        kind == "b64"
    )
    assert b.is_encrypted
    net.pump(a, a.send("after"))
    assert net.received(b)[-1] == "after"


# ------------------------------------------------ issue 12: hostile input, limits

KEY_M = generate_dsa_key()
MALLORY_TAG = 0x0BADCAFE


def _verified_pair(policy: Policy | None = None) -> tuple[Conversation, Conversation, Net]:
    a, b, net = secured_pair(policy)
    net.pump(a, a.smp_start("pier"))
    net.pump(b, b.smp_respond("pier"))
    assert a.trust_level is ev.Trust.VERIFIED
    net.seen[id(a)].clear()
    return a, b, net


def _mallory(a: Conversation, tag: int = MALLORY_TAG) -> tuple[Conversation, Net]:
    """Mallory (her own key) runs an AKE into Alice's stream."""
    m = Conversation(
        KEY_M,
        "alice",
        account="mallory",
        protocol="t",
        instance_tag=tag,
        policy=Policy.named("MANUAL"),
        rng=random.Random(7).randbytes,
    )
    mnet = Net(a, m)
    mnet.pump(m, m.start())
    assert m.is_encrypted
    return m, mnet


def _readable_by(c: Conversation, events: list[ev.Event]) -> list[str]:
    got: list[str] = []
    for e in events:
        if isinstance(e, ev.SendMessage):
            got += [
                g.text
                for g in c.receive(e.text)
                if isinstance(g, ev.MessageReceived) and g.encrypted
            ]
    return got


def test_new_instance_does_not_take_over_a_verified_session() -> None:
    a, b, _net = _verified_pair()
    m, mnet = _mallory(a)
    other = mnet.of(a, ev.OtherInstanceSecured)
    assert other and other[0].their_instance == MALLORY_TAG  # type: ignore[attr-defined]
    assert not mnet.of(a, ev.SessionSecured)
    assert a.their_instance == b.our_instance and a.trust_level is ev.Trust.VERIFIED
    out = a.send("secret for bob")
    assert _readable_by(b, out) == ["secret for bob"]
    # The application may choose the new instance explicitly.
    a.select_instance(MALLORY_TAG)
    assert a.their_instance == MALLORY_TAG
    assert _readable_by(m, a.send("for mallory")) == ["for mallory"]
    with pytest.raises(LocalProtocolError):
        a.select_instance(0x12345678)


def test_mallory_reusing_bobs_instance_tag_blocks_sending() -> None:
    a, b, _net = _verified_pair()
    m, mnet = _mallory(a, tag=b.our_instance)
    assert mnet.of(a, ev.FingerprintChanged) and mnet.of(a, ev.OtherInstanceSecured)
    out = a.send("secret for bob")
    assert [type(e) for e in out] == [ev.MessageNotSent] and a.sending_blocked
    assert _readable_by(m, out) == []
    a.select_instance(b.our_instance)  # the user accepts the new key
    assert _readable_by(m, a.send("ok")) == ["ok"]


def test_same_key_new_instance_is_selected() -> None:
    # Bob on a second device (same key, another instance tag): safe to follow.
    a, _b, _net = secured_pair()
    b2 = Conversation(
        KEY_B,
        "alice",
        account="bob",
        protocol="t",
        policy=Policy.named("MANUAL"),
        rng=random.Random(9).randbytes,
    )
    net2 = Net(a, b2)
    net2.pump(b2, b2.start())
    assert net2.of(a, ev.SessionSecured) and a.their_instance == b2.our_instance


def test_instances_are_capped_and_fragment_floods_cost_no_memory() -> None:
    import tracemalloc

    limits = Limits()
    a, b, net = secured_pair()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100_000):
            tag = 0x10000000 + i
            a.receive(f"?OTR|{tag:08x}|{a.our_instance:08x},00001,00002,AAAA,")
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(a.sessions) <= limits.max_instances
    assert after - before < 1024 * 1024
    # Garbage data messages and D-H Commits from new tags: capped too.
    for i in range(40):
        raw = bytearray(base64.b64decode(b.send("x")[0].text[5:-1]))  # type: ignore[attr-defined]
        raw[3:7] = (0x20000000 + i).to_bytes(4, "big")
        a.receive("?OTR:" + base64.b64encode(bytes(raw)).decode() + ".")
    assert len(a.sessions) <= limits.max_instances
    for i in range(40):
        m = Conversation(KEY_M, instance_tag=0x30000000 + i, rng=random.Random(i).randbytes)
        for e in m.receive("?OTRv3?"):
            a.receive(e.text)  # type: ignore[attr-defined]
    assert len(a.sessions) <= limits.max_instances
    # The established session was never evicted.
    net.pump(a, a.send("still bob"))
    assert net.received(b)[-1] == "still bob"


def test_message_size_limit_at_send_and_fragmented_delivery() -> None:
    pol = Policy.named("MANUAL", max_message_size=3000)
    a, b = make_pair(pol)
    net = Net(a, b)
    net.pump(a, a.start())
    big = "L" * Limits().max_message_bytes
    net.pump(a, a.send(big))
    assert net.received(b) == [big]
    with pytest.raises(LocalProtocolError):
        a.send(big + "L")
    with pytest.raises(LocalProtocolError):
        a.send("é" * (len(big) // 2 + 1))  # bytes, not characters
    with pytest.raises(LocalProtocolError):
        a.send("x", tlvs=[Tlv(0, b"v" * (len(big) - 10))])
    # Plaintext too (not encrypted): the same limit.
    c, _ = make_pair(Policy.named("OPPORTUNISTIC"))
    with pytest.raises(LocalProtocolError):
        c.send(big + "L")
    net.pump(a, a.send("after"))  # nothing changed
    assert net.received(b)[-1] == "after"


def test_too_many_fragments_refused_at_send() -> None:
    a, b = make_pair(Policy.named("MANUAL", max_message_size=40))
    Net(a, b).pump(a, a.start())
    with pytest.raises(LocalProtocolError):
        a.send("y" * 20_000)  # > 4096 fragments of 3 characters


def test_dropped_reassembly_is_reported() -> None:
    a, b, _ = secured_pair()
    them, us = b.our_instance, a.our_instance
    assert a.receive(f"?OTR|{them:08x}|{us:08x},00001,00003,AAAA,") == []
    dropped = a.receive(f"?OTR|{them:08x}|{us:08x},00003,00003,AAAA,")
    assert [type(e) for e in dropped] == [ev.ReassemblyDropped]
    n = Limits().max_fragments + 1
    dropped = a.receive(f"?OTR|{them:08x}|{us:08x},00001,{n:05d},AAAA,")
    assert [type(e) for e in dropped] == [ev.ReassemblyDropped]
    small = Limits(max_message_bytes=100)
    c = Conversation(KEY_A, limits=small, rng=random.Random(1).randbytes)
    us = c.our_instance
    piece = "A" * (small.max_reassembly_chars // 2 + 1)
    assert c.receive(f"?OTR|{them:08x}|{us:08x},00001,00003,{piece},") == []
    dropped = c.receive(f"?OTR|{them:08x}|{us:08x},00002,00003,{piece},")
    assert [type(e) for e in dropped] == [ev.ReassemblyDropped]


def test_oversized_tlvs_raise_local_error() -> None:
    a, b, net = secured_pair()
    with pytest.raises(LocalProtocolError):
        a.send("x", tlvs=[Tlv(0, b"v" * 70000)])
    with pytest.raises(LocalProtocolError):
        a.send("x", tlvs=[Tlv(70000, b"")])
    with pytest.raises(LocalProtocolError):
        a.send("x", tlvs=[Tlv(-1, b"")])
    with pytest.raises(LocalProtocolError):
        a.use_extra_key(1, b"u" * 65532)
    net.pump(a, a.send("fine"))
    assert net.received(b)[-1] == "fine"


def test_huge_plaintext_is_not_scanned() -> None:
    small = Limits(max_message_bytes=1000, max_received_chars=10_000)
    c = Conversation(KEY_A, limits=small, rng=random.Random(1).randbytes)
    tagged = "hi" + envelope.whitespace_tag({2, 3}) + " \t" * 10_000
    assert c.receive(tagged) == [ev.MessageUnreadable("message too large")]
    assert [type(e) for e in c.receive(tagged[:9_000])] != [ev.MessageUnreadable]


def _restarted_bob(b: Conversation) -> Conversation:
    return Conversation(
        KEY_B,
        "alice",
        account="bob",
        protocol="t",
        instance_tag=b.our_instance,
        policy=b.policy,
        rng=random.Random(11).randbytes,
    )


@pytest.mark.parametrize("name", ["OPPORTUNISTIC", "MANUAL"])
def test_restarted_peer_recovers_and_nothing_is_lost(name: str) -> None:
    a, b, _ = secured_pair(Policy.named(name))
    b2 = _restarted_bob(b)
    net = Net(a, b2)
    texts = [f"m{i}" for i in range(1, 5)]
    for t in texts:
        out = a.send(t, now=net.now)
        net.pump(a, out)
    errors = net.of(b2, ev.MessageUnreadable)
    assert errors
    assert any(isinstance(text, str) and text.startswith("?OTR Error:") for _src, text in net.wire)
    lost = net.of(a, ev.MessagesPossiblyLost)
    assert lost and lost[0].texts[0] == "m1"  # type: ignore[attr-defined]
    if name == "OPPORTUNISTIC":  # ERROR_START_AKE: the AKE restarts, the message is resent
        assert net.received(b2) == texts
        assert a.is_encrypted and b2.is_encrypted


def test_all_lost_messages_are_named_and_resent() -> None:
    a, b, _ = secured_pair(Policy.named("OPPORTUNISTIC"))
    b2 = _restarted_bob(b)
    net = Net(a, b2)
    texts = [f"m{i}" for i in range(1, 5)]
    outs = [e for t in texts for e in a.send(t, now=net.now)]
    replies = [e for o in outs for e in b2.receive(o.text, net.now)]  # type: ignore[attr-defined]
    assert sum(isinstance(e, ev.SendMessage) for e in replies) == 4  # one Error each
    net.pump(b2, replies)
    lost = net.of(a, ev.MessagesPossiblyLost)
    assert lost[0].texts == tuple(texts)  # type: ignore[attr-defined]
    assert net.received(b2) == texts  # resent once the AKE completed


def test_whitespace_tag_while_encrypted_starts_an_ake() -> None:
    a, b, _ = secured_pair(Policy.named("OPPORTUNISTIC"))
    b2 = _restarted_bob(b)
    out = b2.send("hello")
    assert isinstance(out[0], ev.SendMessage)
    got = a.receive(out[0].text)
    assert ev.MessageReceived("hello", encrypted=False) in got
    assert any(isinstance(e, ev.SendMessage) and e.text.startswith("?OTR:AAMC") for e in got)


class _FlakyRng:
    """Deterministic randomness that raises once, at call number ``fail_at``."""

    def __init__(self, seed: int, fail_at: int = 0) -> None:
        self.rnd = random.Random(seed)
        self.calls = 0
        self.fail_at = fail_at

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError("no entropy")
        return self.rnd.randbytes(n)


_NO_RANDOMNESS = ev.MessageUnreadable("no randomness available; message not processed")


def _entropy_scenario(fail_at: int) -> tuple[int, list[str], list[str]]:
    """AKE, three messages with key rotation each way, SMP, more messages; the rng
    fails once.  A failing user call is retried (it must have changed nothing); a
    message reported as not processed for lack of randomness is delivered again."""
    rng = _FlakyRng(5, fail_at)
    pol = Policy.named("MANUAL")
    a = Conversation(KEY_A, "bob", policy=pol, instance_tag=0x1111, rng=rng)
    b = Conversation(KEY_B, "alice", policy=pol, instance_tag=0x2222, rng=rng)
    got: dict[int, list[str]] = {id(a): [], id(b): []}

    def pump(src: Conversation, events: list[ev.Event]) -> None:
        q = deque((src, e) for e in events)
        while q:
            s, e = q.popleft()
            if not isinstance(e, ev.SendMessage):
                continue
            dst = b if s is a else a
            evs = dst.receive(e.text)
            if _NO_RANDOMNESS in evs:
                evs = dst.receive(e.text)
            assert not any(isinstance(x, ev.MessageUnreadable) for x in evs), evs
            got[id(dst)] += [x.text for x in evs if isinstance(x, ev.MessageReceived)]
            q.extend((dst, x) for x in evs)

    def call(c: Conversation, op: Callable[[], list[ev.Event]]) -> None:
        try:
            out = op()
        except EntropyError:
            out = op()
        pump(c, out)

    call(a, a.start)
    assert a.is_encrypted and b.is_encrypted
    for i in range(3):
        call(a, lambda i=i: a.send(f"a{i}"))  # type: ignore[misc]
        call(b, lambda i=i: b.send(f"b{i}"))  # type: ignore[misc]
    call(a, lambda: a.smp_start("x"))
    with contextlib.suppress(LocalProtocolError):  # SMP aborted for lack of randomness
        call(b, lambda: b.smp_respond("x"))
    call(a, lambda: a.smp_start("y"))
    call(b, lambda: b.smp_respond("y"))
    assert a.trust_level is ev.Trust.VERIFIED
    call(a, lambda: a.send("last"))
    call(b, lambda: b.send("last"))
    return rng.calls, got[id(a)], got[id(b)]


def test_entropy_failure_at_every_call_site_never_breaks_the_session() -> None:
    total, _, _ = _entropy_scenario(0)
    expect_b = [f"a{i}" for i in range(3)] + ["last"]
    expect_a = [f"b{i}" for i in range(3)] + ["last"]
    for fail_at in range(1, total + 1):
        _, got_a, got_b = _entropy_scenario(fail_at)
        assert got_b == expect_b, fail_at
        assert got_a == expect_a, fail_at


def test_eviction_order_and_refusal_at_the_instance_cap() -> None:
    pol = Policy.named("MANUAL")
    a = Conversation(
        KEY_A, "bob", policy=pol, limits=Limits(max_instances=2), rng=random.Random(1).randbytes
    )
    b = Conversation(KEY_B, "alice", policy=pol, rng=random.Random(2).randbytes)
    Net(a, b).pump(a, a.start())
    us = a.our_instance

    def frag(tag: int) -> list[ev.Event]:
        return a.receive(f"?OTR|{tag:08x}|{us:08x},00001,00002,AAAA,")

    assert frag(0x5000) == [] and frag(0x5001) == []  # the second evicts the first
    assert set(a.sessions) == {(3, b.our_instance), (3, 0x5001)}
    _mallory(a)  # evicts 0x5001, never established
    assert set(a.sessions) == {(3, b.our_instance), (3, MALLORY_TAG)}
    # Two ENCRYPTED instances: a third one is refused, nothing established is lost.
    assert frag(0x5002) == [ev.MessageUnreadable("too many remote instances")]
    a.end()
    assert frag(0x5003) == []  # now Mallory's (PLAINTEXT, not selected) makes room
    assert set(a.sessions) == {(3, b.our_instance), (3, 0x5003)}


def test_blocked_instance_refuses_smp_and_extra_key() -> None:
    a, b, _ = _verified_pair()
    _m, mnet = _mallory(a, tag=b.our_instance)
    (other,) = mnet.of(a, ev.OtherInstanceSecured)
    assert other.selected_instance == 0  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError):
        a.smp_start("s")
    with pytest.raises(LocalProtocolError):
        a.use_extra_key(1)
    a.end()
    assert [type(e) for e in a.send("now plaintext")] == [ev.SendMessage]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(["bob", "bob2", "mallory", "mallory_as_bob", "verify", "send"]),
        min_size=1,
        max_size=7,
    )
)
def test_mallory_never_reads_once_bob_is_selected(steps: list[str]) -> None:
    """Issue 12.1 as a property: whatever the order of AKEs by Bob (two devices, one
    key), Mallory (her own tag, or Bob's) and SMP, once Bob's key was selected no
    message of Alice's is readable by Mallory (the application never switches)."""
    pol = Policy.named("MANUAL")
    alice = Conversation(KEY_A, "bob", policy=pol, rng=random.Random(1).randbytes)
    tags = {"bob": 0x1000, "bob2": 0x2000, "mallory": 0x3000, "mallory_as_bob": 0x1000}
    keys = {"bob": KEY_B, "bob2": KEY_B, "mallory": KEY_M, "mallory_as_bob": KEY_M}
    parties = {
        name: Conversation(
            keys[name],
            "alice",
            policy=pol,
            instance_tag=tags[name],
            rng=random.Random(i + 2).randbytes,
        )
        for i, name in enumerate(tags)
    }
    first_key = None
    for n, step in enumerate([*steps, "send"]):
        if step in parties:
            Net(alice, parties[step]).pump(parties[step], parties[step].start())
            if first_key is None:
                first_key = keys[step]
        elif step == "verify" and alice.is_encrypted and not alice.sending_blocked:
            peer = next(p for p in parties.values() if p.is_encrypted and p.ssid == alice.ssid)
            net = Net(alice, peer)
            net.pump(alice, alice.smp_start("pier"))
            net.pump(peer, peer.smp_respond("pier"))
        elif step == "send":
            out = alice.send(f"secret {n}")
            for name, party in parties.items():
                got = _readable_by(party, out)
                if got and keys[name] is KEY_M:
                    assert first_key is KEY_M, (steps, name)


def test_messages_sent_after_the_error_are_resent_too() -> None:
    a, b, _ = secured_pair(Policy.named("OPPORTUNISTIC"))
    b2 = _restarted_bob(b)
    now = 100.0
    (m1,) = a.send("m1", now=now)
    replies = b2.receive(m1.text, now)  # type: ignore[attr-defined]
    error = next(e for e in replies if isinstance(e, ev.SendMessage))
    got = a.receive(error.text, now)
    assert ev.MessagesPossiblyLost(b.our_instance, ("m1",)) in got
    query = [e for e in got if isinstance(e, ev.SendMessage)]
    (m2,) = a.send("m2", now=now)  # before the new AKE: lost as well
    error2 = next(e for e in b2.receive(m2.text, now) if isinstance(e, ev.SendMessage))  # type: ignore[attr-defined]
    got = a.receive(error2.text, now)
    assert ev.MessagesPossiblyLost(b.our_instance, ("m1", "m2")) in got
    assert (
        a.receive(error2.text, now).count(ev.MessagesPossiblyLost(b.our_instance, ("m1", "m2")))
        == 0
    )
    net = Net(a, b2)
    net.pump(a, query)
    assert net.received(b2) == ["m1", "m2"]
    assert ev.Warning("The last 2 messages were resent.") in net.seen[id(a)]


def test_held_message_needing_too_many_fragments_is_reported_not_raised() -> None:
    pol = Policy.named("ALWAYS", max_message_size=40)
    a, b = make_pair(pol)
    net = Net(a, b)
    net.pump(a, a.send("h" * 20_000, now=net.now))  # held; > 4096 fragments of 3
    assert [e.text[:1] for e in net.of(a, ev.MessageNotSent)] == ["h"]  # type: ignore[attr-defined]
    assert a.is_encrypted and net.received(b) == []
