"""OTRv4 SMP state machine (``otr.smp.v4``; otr-v4.md "Socialist Millionaires Protocol").

Known answers come from otr4j: transcript T3 of ``otr4j-v4-transcripts.json`` records a
real otr4j <-> otr4j SMP with a question and the right secret, the secret x, every
random draw and every SMP TLV.  We play each side's role against the other side's
recorded TLVs, with the recorded draws, and must produce otr4j's TLVs byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smp_util
from conftest import SPEC_VECTORS
from otr.crypto import ed448
from otr.crypto.ed448 import G, P, Point, Q
from otr.errors import LocalProtocolError
from otr.events import (
    SmpAborted,
    SmpCheated,
    SmpFailed,
    SmpInProgress,
    SmpRequested,
    SmpSucceeded,
    Tlv,
)
from otr.smp.v4 import PROGRESS_AFTER_SMP2, Smp, SmpStep, smp_secret
from otr.smp.v4_messages import SmpMessage1
from smp_util import ABORT, E1, E2, E3, assert_cheated, assert_out_of_order, only

SMP1, SMP2, SMP3, SMP4, SMP_ABORT, TLV7 = 2, 3, 4, 5, 6, 7
FIELD_COUNTS = {SMP1: 6, SMP2: 11, SMP3: 8, SMP4: 3}
POINT_FIELDS = {SMP1: {0, 3}, SMP2: {0, 3, 6, 7}, SMP3: {0, 1, 5}, SMP4: {0}}
FP_A = bytes(range(1, 57))
FP_B = bytes(range(101, 157))
SSID = bytes.fromhex("0102030405060708")
SLOW = settings(max_examples=10, deadline=None)
FAST = settings(max_examples=40, deadline=None)

T3 = next(
    t
    for t in json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())["transcripts"]
    if t["id"] == "T3"
)


class SeededRng:
    """Deterministic randomness: call i returns SHAKE-256(label || i, n)."""

    def __init__(self, label: str) -> None:
        self.label = label.encode()
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        return hashlib.shake_256(self.label + self.calls.to_bytes(4, "big")).digest(n)


def alice(rng: Callable[[int], bytes] = os.urandom) -> Smp:
    return Smp(FP_A, FP_B, SSID, rng)


def bob(rng: Callable[[int], bytes] = os.urandom) -> Smp:
    return Smp(FP_B, FP_A, SSID, rng)


V4 = smp_util.Version(alice, bob, lambda q: SMP1, lambda q: q or None)


def run_smp(a: Smp, b: Smp, sa: bytes, sb: bytes, question: str | None = None) -> list[SmpStep]:
    return smp_util.run_smp(V4, a, b, sa, sb, question)


def succeeds_afterwards(smp: Smp, is_alice: bool) -> None:
    smp_util.succeeds_afterwards(V4, smp, is_alice)


# --------------------------------------------------------------------------------------
# Known answers: otr4j's transcript T3


def t3_rng(party: str) -> Callable[[int], bytes]:
    """The party's recorded SMP draws, in order (the ratchet's draws are left out)."""
    draws = iter(
        bytes.fromhex(d["bytes"]) for d in T3["random_draws"][party] if " SMP " in d["what"]
    )

    def rng(n: int) -> bytes:
        value = next(draws)
        assert len(value) == n
        return value

    return rng


def t3_tlvs() -> dict[int, Tlv]:
    """The SMP TLVs of T3's data messages, by type (each appears once)."""
    out: dict[int, Tlv] = {}
    for step in T3["steps"]:
        if step["kind"] == "deliver" and "keys" in step:
            for t in step["keys"]["decoded"]["tlvs"]:
                if SMP1 <= t["type"] <= SMP_ABORT:
                    assert t["type"] not in out
                    out[t["type"]] = Tlv(t["type"], bytes.fromhex(t["value"]))
    assert sorted(out) == [SMP1, SMP2, SMP3, SMP4]
    return out


def t3_smp(party: str) -> Smp:
    info = T3["smp"][party]
    init, resp = (
        bytes.fromhex(info["initiator_fingerprint"]),
        bytes.fromhex(info["responder_fingerprint"]),
    )
    ours, theirs = (init, resp) if info["role"] == "initiator" else (resp, init)
    # The fingerprints are the parties' own (recorded independently in "parties").
    assert ours.hex() == T3["parties"][party]["fingerprint"]
    return Smp(ours, theirs, bytes.fromhex(info["ssid"]), t3_rng(party))


def test_t3_secret_is_otr4js() -> None:
    for party in ("alice", "bob"):
        info = T3["smp"][party]
        x = smp_secret(
            bytes.fromhex(info["initiator_fingerprint"]),
            bytes.fromhex(info["responder_fingerprint"]),
            bytes.fromhex(info["ssid"]),
            bytes.fromhex(info["answer_utf8"]),
        )
        assert x.to_bytes(57, "little").hex() == info["secret_x"]
    assert bytes.fromhex(T3["smp"]["alice"]["answer_utf8"]) == T3["smp"]["secret"].encode()


def test_secret_matches_hand_computation() -> None:
    answer = b"purple elephant"
    data = b"OTRv4\x19\x01" + FP_A + FP_B + SSID + len(answer).to_bytes(4, "big") + answer
    expected = int.from_bytes(hashlib.shake_256(data).digest(64), "little") % Q
    assert smp_secret(FP_A, FP_B, SSID, answer) == expected


def test_t3_random_scalars_are_drawn_as_otr4j_draws_them() -> None:
    for party in ("alice", "bob"):
        for d in T3["random_draws"][party]:
            if " SMP " in d["what"]:
                scalar = ed448.random_scalar(_draws([bytes.fromhex(d["bytes"])]))
                assert ed448.encode_scalar(scalar).hex() == d["derived"]["scalar"]


def test_t3_play_alice_against_otr4js_bob() -> None:
    recorded = t3_tlvs()
    a = t3_smp("alice")
    secret, question = T3["smp"]["secret"].encode(), T3["smp"]["question"]
    assert a.start(secret, question) == SmpStep((recorded[SMP1],))
    assert a.receive(recorded[SMP2]) == SmpStep(
        (recorded[SMP3],), (SmpInProgress(PROGRESS_AFTER_SMP2),)
    )
    assert a.receive(recorded[SMP4]) == SmpStep((), (SmpSucceeded(),))
    assert a.state is E1


def test_t3_play_bob_against_otr4js_alice() -> None:
    recorded = t3_tlvs()
    b = t3_smp("bob")
    assert b.receive(recorded[SMP1]) == SmpStep((), (SmpRequested(T3["smp"]["question"]),))
    assert b.request_pending and b.received_question
    assert b.respond(T3["smp"]["secret"].encode()) == SmpStep((recorded[SMP2],))
    assert b.receive(recorded[SMP3]) == SmpStep((recorded[SMP4],), (SmpSucceeded(),))
    assert b.state is E1


def test_t3_wrong_secret_fails_on_both_sides() -> None:
    # Alice answers otr4j's recorded message 2 with a wrong secret; Bob replays otr4j's
    # side (recorded draws, the right secret).  Both see the proofs verify and fail.
    recorded = t3_tlvs()
    a, b = t3_smp("alice"), t3_smp("bob")
    assert a.start(b"not the answer", T3["smp"]["question"]).tlvs == (recorded[SMP1],)
    b.receive(recorded[SMP1])
    assert b.respond(T3["smp"]["secret"].encode()).tlvs == (recorded[SMP2],)
    s3 = a.receive(recorded[SMP2])
    assert s3.tlvs[0] != recorded[SMP3]
    s4 = b.receive(s3.tlvs[0])
    assert s4.events == (SmpFailed(),)
    assert a.receive(s4.tlvs[0]).events == (SmpFailed(),)


# --------------------------------------------------------------------------------------
# Complete runs


@SLOW
@given(
    secret=st.binary(max_size=40),
    other=st.binary(max_size=40),
    question=st.none() | st.text(max_size=20),
    same=st.booleans(),
)
def test_full_run(secret: bytes, other: bytes, question: str | None, same: bool) -> None:
    sb = secret if same else other
    a, b = alice(), bob()
    run_smp(a, b, secret, sb, question)
    run_smp(b, a, sb, secret, question)  # the same objects, roles swapped


def test_responder_swaps_fingerprint_order() -> None:
    wrong = Smp(FP_A, FP_B, SSID, os.urandom)  # a responder that puts itself first
    a = alice()
    wrong.receive(only(a.start(b"s"), SMP1))
    s4 = wrong.receive(only(a.receive(only(wrong.respond(b"s"), SMP2)), SMP3))
    assert s4.events == (SmpFailed(),)


def test_different_ssid_fails() -> None:
    other = Smp(FP_B, FP_A, bytes(8), os.urandom)
    a = alice()
    other.receive(only(a.start(b"s"), SMP1))
    s4 = other.receive(only(a.receive(only(other.respond(b"s"), SMP2)), SMP3))
    assert s4.events == (SmpFailed(),)
    assert a.receive(s4.tlvs[0]).events == (SmpFailed(),)


def test_randomness_only_from_the_injected_rng() -> None:
    sizes: list[int] = []

    def make_rng(label: str) -> Callable[[int], bytes]:
        inner = SeededRng(label)

        def rng(n: int) -> bytes:
            sizes.append(n)
            return inner(n)

        return rng

    runs = [run_smp(alice(make_rng("a")), bob(make_rng("b")), b"k", b"k", "q") for _ in range(2)]
    assert [[t for s in steps for t in s.tlvs] for steps in runs[:1]] == [
        [t for s in steps for t in s.tlvs] for steps in runs[1:]
    ]
    assert set(sizes) == {57} and len(sizes) == 2 * (4 + 7 + 4 + 1)


def test_question_round_trip_and_invalid_utf8() -> None:
    m1 = only(alice().start(b"x", "Grüße, 世界? 🙂"), SMP1)
    assert SmpMessage1.decode(m1.value).question == "Grüße, 世界? 🙂".encode()
    msg = SmpMessage1.decode(m1.value)
    bad = SmpMessage1(b"caf\xe9?", msg.g2a, msg.c2, msg.d2, msg.g3a, msg.c3, msg.d3)
    b = bob()
    assert b.receive(Tlv(SMP1, bad.encode())).events == (SmpRequested("caf\ufffd?"),)
    # An empty question is no question.
    b = bob()
    assert b.receive(only(alice().start(b"x", ""), SMP1)).events == (SmpRequested(None),)
    assert not b.received_question


def test_degenerate_qa_equal_qb_is_refused() -> None:
    # With Alice's r4 equal to Bob's r4 and the same secret, Qa = Qb and Qa - Qb is the
    # identity: Alice refuses to send a message 3 whose Ra would be the identity.
    same_r4 = bytes(range(57))
    a_draws = [os.urandom(57) for _ in range(4)] + [same_r4] + [os.urandom(57) for _ in range(3)]
    b_draws = [os.urandom(57) for _ in range(4)] + [same_r4] + [os.urandom(57) for _ in range(2)]
    a = alice(_draws(a_draws))
    b = bob(_draws(b_draws))
    b.receive(only(a.start(b"s"), SMP1))
    reason = assert_cheated(a.receive(only(b.respond(b"s"), SMP2)), a)
    assert "identity" in reason
    succeeds_afterwards(a, True)


def _draws(values: list[bytes]) -> Callable[[int], bytes]:
    """The given draws (cut to the requested size), then fresh randomness."""
    it: Iterator[bytes] = iter(values)
    return lambda n: next(it, None) or os.urandom(n)


# --------------------------------------------------------------------------------------
# Tampering, malformed and out-of-order messages


@cache
def honest_messages() -> dict[int, Tlv]:
    """One honest exchange from seeded randomness (receivers are rebuilt from it)."""
    a, b = alice(SeededRng("alice")), bob(SeededRng("bob"))
    m1 = only(a.start(b"same", "q?"), SMP1)
    b.receive(m1)
    m2 = only(b.respond(b"same"), SMP2)
    m3 = only(a.receive(m2), SMP3)
    m4 = only(b.receive(m3), SMP4)
    assert a.receive(m4).events == (SmpSucceeded(),)
    return {SMP1: m1, SMP2: m2, SMP3: m3, SMP4: m4}


IS_ALICE = {SMP1: False, SMP2: True, SMP3: False, SMP4: True}


def receiver(tlv_type: int) -> Smp:
    """The honest receiver of ``tlv_type`` in the state that expects it (rebuilt from the
    same seeds as :func:`honest_messages`)."""
    msgs = honest_messages()
    a, b = alice(SeededRng("alice")), bob(SeededRng("bob"))
    a.start(b"same", "q?")
    if tlv_type in (SMP1, SMP2):
        return b if tlv_type == SMP1 else a
    b.receive(msgs[SMP1])
    b.respond(b"same")
    if tlv_type == SMP3:
        return b
    a.receive(msgs[SMP2])
    return a


def pending_bob() -> Smp:
    b = receiver(SMP1)
    b.receive(honest_messages()[SMP1])
    return b


def test_untouched_receivers_complete() -> None:
    msgs = honest_messages()
    assert receiver(SMP1).receive(msgs[SMP1]).events == (SmpRequested("q?"),)
    assert receiver(SMP2).receive(msgs[SMP2]).tlvs == (msgs[SMP3],)
    assert receiver(SMP3).receive(msgs[SMP3]) == SmpStep((msgs[SMP4],), (SmpSucceeded(),))
    assert receiver(SMP4).receive(msgs[SMP4]).events == (SmpSucceeded(),)


def field_offsets(tlv: Tlv) -> list[int]:
    start = 4 + int.from_bytes(tlv.value[:4], "big") if tlv.type == SMP1 else 0
    return [start + 57 * i for i in range(FIELD_COUNTS[tlv.type])]


def _xy(x: int, y: int) -> bytes:
    return (y | ((x & 1) << 455)).to_bytes(57, "little")


def _off_curve() -> bytes:
    y = 2
    while True:
        try:
            ed448.decode_point_unchecked(y.to_bytes(57, "little"))
        except ed448.InvalidGroupElement:
            return y.to_bytes(57, "little")
        y += 1


ORDER2 = Point.from_xy(0, P - 1)
BAD_POINTS = {
    "identity": _xy(0, 1),
    "order 2": _xy(0, P - 1),
    "order 4": _xy(1, 0),
    "mixed torsion": (G * 7 + ORDER2).encode(),
    "off curve": _off_curve(),
    "y = p": P.to_bytes(57, "little"),
    "negative zero": _xy(1, 1),
    "another valid point": (G * 12345).encode(),
}
BAD_SCALARS = {
    "q": Q.to_bytes(57, "little"),
    "all ones": b"\xff" * 57,
    "zero": bytes(57),
    "q - 1": (Q - 1).to_bytes(57, "little"),
}


def test_every_field_replaced_by_a_bad_value_is_cheating() -> None:
    checked = 0
    for t, tlv in honest_messages().items():
        for i, off in enumerate(field_offsets(tlv)):
            bad = BAD_POINTS if i in POINT_FIELDS[t] else BAD_SCALARS
            for kind, raw in bad.items():
                value = tlv.value[:off] + raw + tlv.value[off + 57 :]
                if value == tlv.value:
                    continue
                smp = receiver(t)
                assert assert_cheated(smp.receive(Tlv(t, value)), smp), (t, i, kind)
                checked += 1
    assert checked > 100


def test_truncated_extended_or_empty_messages_are_malformed() -> None:
    for t, tlv in honest_messages().items():
        for value in (tlv.value[:-1], tlv.value + b"\x00", b"", tlv.value[:57]):
            smp = receiver(t)
            assert "malformed" in assert_cheated(smp.receive(Tlv(t, value)), smp)
        succeeds_afterwards(smp, IS_ALICE[t])


def test_question_length_beyond_the_message_is_malformed() -> None:
    tlv = honest_messages()[SMP1]
    smp = receiver(SMP1)
    value = (len(tlv.value)).to_bytes(4, "big") + tlv.value[4:]
    assert "malformed" in assert_cheated(smp.receive(Tlv(SMP1, value)), smp)


@FAST
@given(data=st.data())
def test_mutated_messages_abort_and_recover(data: Any) -> None:
    t = data.draw(st.sampled_from([SMP1, SMP2, SMP3, SMP4]))
    tlv = honest_messages()[t]
    first = field_offsets(tlv)[0]  # flips in the question text only change the question
    how = data.draw(st.sampled_from(["flip", "cut", "append", "splice"]))
    value = tlv.value
    if how == "flip":
        pos = data.draw(st.integers(first, len(value) - 1))
        bit = data.draw(st.integers(0, 7))
        value = value[:pos] + bytes((value[pos] ^ (1 << bit),)) + value[pos + 1 :]
    elif how == "cut":
        value = value[: data.draw(st.integers(0, len(value) - 1))]
    elif how == "append":
        value += data.draw(st.binary(min_size=1, max_size=60))
    else:
        pos = data.draw(st.integers(first, len(value) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=57))
        value = value[:pos] + chunk + value[pos + len(chunk) :]
        if value == tlv.value:
            return
    smp = receiver(t)
    assert_cheated(smp.receive(Tlv(t, value)), smp)
    succeeds_afterwards(smp, IS_ALICE[t])


@FAST
@given(
    data=st.data(),
    tlv_type=st.integers(0, 12),
    value=st.binary(max_size=700),
)
def test_receive_never_raises(data: Any, tlv_type: int, value: bytes) -> None:
    which = data.draw(st.sampled_from(["idle", "pending", SMP2, SMP3, SMP4]))
    if which == "idle":
        smp = receiver(SMP1)
    elif which == "pending":
        smp = pending_bob()
    else:
        smp = receiver(which)
    state = smp.state
    step = smp.receive(Tlv(tlv_type, value))
    assert isinstance(step, SmpStep)
    if tlv_type == SMP_ABORT:
        assert step == SmpStep((), (SmpAborted(by_peer=True),)) and smp.state is E1
    elif SMP1 <= tlv_type <= SMP4:
        assert step.tlvs == (ABORT,) and smp.state is E1 and not smp.request_pending
        assert len(step.events) == 1
        assert isinstance(step.events[0], SmpCheated | SmpAborted)
    else:
        assert step == SmpStep() and smp.state is state


def test_tlv7_and_other_types_are_not_smp_in_v4() -> None:
    smp = receiver(SMP3)
    for t in (0, 1, TLV7, 8, 9, 0xFFFF):
        assert smp.receive(Tlv(t, b"junk")) == SmpStep()
    assert smp.state is E3
    assert smp.receive(honest_messages()[SMP3]).events == (SmpSucceeded(),)


OUT_OF_ORDER: dict[Any, tuple[bool, list[int]]] = {
    "idle": (False, [SMP2, SMP3, SMP4]),
    "pending": (False, [SMP2, SMP3, SMP4]),
    SMP2: (True, [SMP1, SMP3, SMP4]),
    SMP3: (False, [SMP1, SMP2, SMP4]),
    SMP4: (True, [SMP1, SMP2, SMP3]),
}


@pytest.mark.parametrize("where", list(OUT_OF_ORDER))
def test_out_of_order_tlv_aborts(where: Any) -> None:
    is_alice, wrong_types = OUT_OF_ORDER[where]
    for t in wrong_types:
        if where == "idle":
            smp = receiver(SMP1)
        elif where == "pending":
            smp = pending_bob()
        else:
            smp = receiver(where)
        assert_out_of_order(smp.receive(honest_messages()[t]), smp)
    succeeds_afterwards(smp, is_alice)


# --------------------------------------------------------------------------------------
# Aborts, restarts, simultaneous starts, API misuse


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
@pytest.mark.parametrize("aborter", ["alice", "bob"])
def test_abort_at_every_step(stage: int, aborter: str) -> None:
    smp_util.check_abort_mid_way(V4, stage, aborter)


def test_abort_when_idle_still_sends_tlv6() -> None:
    smp_util.check_abort_when_idle(V4)


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_restart_in_every_state_aborts_first(stage: int) -> None:
    for who in range(2):
        a, b = smp_util.advance(V4, stage)
        me, peer = (a, b) if who == 0 else (b, a)
        if stage == 0 and who == 1:  # Bob has not heard of the exchange: nothing to abort
            step = me.start(b"new")
            assert [t.type for t in step.tlvs] == [SMP1]
            continue
        step = me.start(b"new", "again?")
        assert [t.type for t in step.tlvs] == [SMP_ABORT, SMP1] and step.events == ()
        assert me.state is E2
        # The peer handles the TLVs in order: the abort, then the new request.
        assert peer.receive(step.tlvs[0]).events == (SmpAborted(by_peer=True),)
        assert peer.receive(step.tlvs[1]).events == (SmpRequested("again?"),)
        s3 = me.receive(only(peer.respond(b"new"), SMP2))
        assert peer.receive(only(s3, SMP3)).events == (SmpSucceeded(),)


def test_simultaneous_start() -> None:
    smp_util.check_simultaneous_start(V4)


def test_new_request_replaces_a_pending_one() -> None:
    smp_util.check_new_request_replaces_a_pending_one(V4)


def test_api_misuse() -> None:
    a = alice()
    with pytest.raises(LocalProtocolError):
        a.respond(b"no request")
    a.start(b"s")
    with pytest.raises(LocalProtocolError):
        a.respond(b"we are the initiator")
    with pytest.raises(LocalProtocolError):
        a.start(b"s", "?" * 70000)
    assert a.state is E2  # a rejected start leaves the exchange alone
    a.start(b"s", "?" * 65000)  # the longest questions still fit one TLV
    for args in ((FP_A[:20], FP_B, SSID), (FP_A, FP_B + b"x", SSID), (FP_A, FP_B, SSID * 2)):
        with pytest.raises(ValueError):
            Smp(*args, os.urandom)


def test_reset_forgets_the_exchange() -> None:
    smp_util.check_reset_forgets_the_exchange(V4)
    b = bob()
    with pytest.raises(LocalProtocolError):
        b.respond(b"s")
