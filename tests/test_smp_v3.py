"""OTRv3 SMP state machine (``otr.smp.v3``; spec "The Socialist Millionaires' Protocol").

There are no official SMP vectors.  Cross-checks: the secret and the SMP hash are
recomputed with hashlib and a hand-written MPI encoding, and every proof of an honest
transcript is re-verified with the spec's formulas written out literally (plain GMP
powmod, none of the module's comb tables or fixed-base table).
"""

from __future__ import annotations

import copy
import hashlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smp_util
from otr.crypto import modp
from otr.errors import LocalProtocolError
from otr.events import (
    SmpAborted,
    SmpCheated,
    SmpFailed,
    SmpRequested,
    SmpSucceeded,
    Tlv,
)
from otr.smp.v3 import (
    RANDOM_EXPONENT_BYTES,
    Smp,
    SmpStep,
    smp_hash,
    smp_secret,
)
from otr.wire.buffer import Reader
from smp_util import ABORT, E1, E2, E3, assert_cheated, assert_out_of_order, only

P = int(modp.P)
Q = int(modp.Q)
FP_A = bytes(range(1, 21))
FP_B = bytes(range(101, 121))
SSID = bytes.fromhex("0102030405060708")
SMP1, SMP2, SMP3, SMP4, SMP_ABORT, SMP1Q = 2, 3, 4, 5, 6, 7
MPI_COUNTS = {SMP1: 6, SMP2: 11, SMP3: 8, SMP4: 3}
SLOW = settings(max_examples=8, deadline=None)
FAST = settings(deadline=None)

questions = st.none() | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
secrets = st.binary(max_size=64) | st.text(max_size=30).map(lambda s: s.encode("utf-8"))


def alice(rng: Callable[[int], bytes] = os.urandom) -> Smp:
    return Smp(FP_A, FP_B, SSID, rng)


def bob(rng: Callable[[int], bytes] = os.urandom) -> Smp:
    return Smp(FP_B, FP_A, SSID, rng)


V3 = smp_util.Version(alice, bob, lambda q: SMP1 if q is None else SMP1Q, lambda q: q)


def run_smp(a: Smp, b: Smp, sa: bytes, sb: bytes, question: str | None = None) -> list[SmpStep]:
    return smp_util.run_smp(V3, a, b, sa, sb, question)


def succeeds_afterwards(smp: Smp, is_alice: bool) -> None:
    smp_util.succeeds_afterwards(V3, smp, is_alice)


def parse_mpis(value: bytes) -> list[int]:
    r = Reader(value)
    n = r.get_int()
    values = [r.get_mpi() for _ in range(n)]
    r.finish()
    return values


def mpi(v: int) -> bytes:
    """MPI encoding written out by hand (spec "Data types")."""
    n = (v.bit_length() + 7) // 8
    return n.to_bytes(4, "big") + v.to_bytes(n, "big")


def build_mpis(values: list[int], count: int | None = None) -> bytes:
    n = len(values) if count is None else count
    return n.to_bytes(4, "big") + b"".join(mpi(v) for v in values)


def spec_hash(version: int, a: int, b: int | None = None) -> int:
    data = bytes([version]) + mpi(a) + (mpi(b) if b is not None else b"")
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


def pw(b: int, e: int) -> int:
    return int(gmpy2.powmod(b, e, P))


# --------------------------------------------------------------------------------------
# Known answers and independent cross-checks


def test_smp_secret_matches_hand_computation() -> None:
    expected = hashlib.sha256(b"\x01" + FP_A + FP_B + SSID + b"purple elephant").digest()
    assert smp_secret(1, FP_A, FP_B, SSID, b"purple elephant") == expected
    assert expected.hex() == smp_secret(1, FP_A, FP_B, SSID, b"purple elephant").hex()


def test_smp_hash_matches_hand_computation() -> None:
    assert (
        smp_hash(5, 0x0102, 7)
        == hashlib.sha256(b"\x05" + b"\x00\x00\x00\x02\x01\x02" + b"\x00\x00\x00\x01\x07").digest()
    )
    assert smp_hash(1, P - 2) == hashlib.sha256(b"\x01" + mpi(P - 2)).digest()


def test_initiator_secret_is_derived_as_the_spec_says() -> None:
    a = alice()
    a.start(b"s3cret")
    x = int.from_bytes(hashlib.sha256(b"\x01" + FP_A + FP_B + SSID + b"s3cret").digest(), "big")
    assert a._alice is not None and int(a._alice.x) == x


def test_responder_swaps_fingerprint_order() -> None:
    # Bob hashes (initiator = their fingerprint, responder = ours): same secret matches in
    # both directions, and a responder that put its own fingerprint first fails.
    run_smp(alice(), bob(), b"s", b"s")
    run_smp(bob(), alice(), b"s", b"s")
    wrong = Smp(FP_A, FP_B, SSID, os.urandom)  # "our" = Alice's fingerprint
    a = alice()
    wrong.receive(only(a.start(b"s"), SMP1))
    s4 = wrong.receive(only(a.receive(only(wrong.respond(b"s"), SMP2)), SMP3))
    assert s4.events == (SmpFailed(),)


@pytest.mark.parametrize("same", [True, False])
def test_honest_transcript_satisfies_the_spec_equations(same: bool) -> None:
    a, b = alice(), bob()
    s1 = a.start(b"one")
    assert a._alice is not None
    a2, a3 = int(a._alice.a2), int(a._alice.a3)
    g2a, c2, D2, g3a, c3, D3 = parse_mpis(only(s1, SMP1).value)
    b.receive(s1.tlvs[0])
    s2 = b.respond(b"one" if same else b"two")
    s3 = a.receive(s2.tlvs[0])
    s4 = b.receive(s3.tlvs[0])
    assert pw(2, a2) == g2a and pw(2, a3) == g3a
    # Message 1: c2 = H(1, g1^D2 g2a^c2), c3 = H(2, g1^D3 g3a^c3).
    assert c2 == spec_hash(1, pw(2, D2) * pw(g2a, c2) % P)
    assert c3 == spec_hash(2, pw(2, D3) * pw(g3a, c3) % P)
    # Message 2.
    g2b, c2, D2, g3b, c3, D3, Pb, Qb, cP, D5, D6 = parse_mpis(only(s2, SMP2).value)
    assert c2 == spec_hash(3, pw(2, D2) * pw(g2b, c2) % P)
    assert c3 == spec_hash(4, pw(2, D3) * pw(g3b, c3) % P)
    g2, g3 = pw(g2b, a2), pw(g3b, a3)
    assert cP == spec_hash(5, pw(g3, D5) * pw(Pb, cP) % P, pw(2, D5) * pw(g2, D6) * pw(Qb, cP) % P)
    # Message 3.
    Pa, Qa, cP, D5, D6, Ra, cR, D7 = parse_mpis(only(s3, SMP3).value)
    assert cP == spec_hash(6, pw(g3, D5) * pw(Pa, cP) % P, pw(2, D5) * pw(g2, D6) * pw(Qa, cP) % P)
    qab = Qa * pow(Qb, -1, P) % P
    assert Ra == pw(qab, a3)
    assert cR == spec_hash(7, pw(2, D7) * pw(g3a, cR) % P, pw(qab, D7) * pw(Ra, cR) % P)
    # Message 4.
    Rb, cR, D7 = parse_mpis(only(s4, SMP4).value)
    assert cR == spec_hash(8, pw(2, D7) * pw(g3b, cR) % P, pw(qab, D7) * pw(Rb, cR) % P)
    # Result: Rab = Rb^a3 equals Pa/Pb iff the secrets are equal.
    assert (pw(Rb, a3) == Pa * pow(Pb, -1, P) % P) is same
    assert a.receive(s4.tlvs[0]).events == ((SmpSucceeded() if same else SmpFailed()),)


def test_randomness_only_from_the_injected_rng() -> None:
    sizes: list[int] = []

    def make_rng(seed: int) -> Callable[[int], bytes]:
        r = random.Random(seed)

        def rng(n: int) -> bytes:
            sizes.append(n)
            return r.randbytes(n)

        return rng

    runs = [run_smp(alice(make_rng(1)), bob(make_rng(2)), b"k", b"k", "q") for _ in range(2)]
    tlvs = [[t for step in steps for t in step.tlvs] for steps in runs]
    assert tlvs[0] == tlvs[1]
    # libotr: every random exponent is SM_MOD_LEN_BYTES = 192 bytes (1536 bits).
    assert set(sizes) == {RANDOM_EXPONENT_BYTES}
    assert len(sizes) == 2 * (4 + 7 + 4 + 1)


# --------------------------------------------------------------------------------------
# Complete runs


@SLOW
@given(secret=secrets, other=secrets, question=questions, same=st.booleans())
def test_full_run(secret: bytes, other: bytes, question: str | None, same: bool) -> None:
    sb = secret if same else other
    a, b = alice(), bob()
    run_smp(a, b, secret, sb, question)
    # The same objects run again, with the roles swapped.
    run_smp(b, a, sb, secret, question)


@pytest.mark.parametrize("question", [None, "", "Grüße, 世界? 🙂"])
def test_question_round_trip(question: str | None) -> None:
    a, b = alice(), bob()
    m1 = only(a.start(b"x", question), SMP1 if question is None else SMP1Q)
    if question is not None:
        assert m1.value.startswith(question.encode("utf-8") + b"\x00")
    assert b.receive(m1).events == (SmpRequested(question),)
    assert a.received_question is False


def test_question_with_invalid_utf8_is_replaced() -> None:
    payload = only(alice().start(b"x"), SMP1).value
    b = bob()
    step = b.receive(Tlv(SMP1Q, b"caf\xe9?\x00" + payload))
    assert step.events == (SmpRequested("caf\ufffd?"),) and b.request_pending


# --------------------------------------------------------------------------------------
# Tampering, malformed and out-of-order messages


@dataclass
class Transcript:
    """An honest exchange; receivers are snapshots taken just before each message."""

    messages: dict[int, Tlv]  # TLV type -> message
    receivers: dict[int, Smp]  # TLV type -> receiver in the state expecting it
    is_alice: dict[int, bool]  # TLV type -> receiver is Alice
    idle_bob: Smp
    pending_bob: Smp

    def receiver(self, tlv_type: int) -> Smp:
        return copy.deepcopy(self.receivers[tlv_type])


@pytest.fixture(scope="module")
def transcript() -> Transcript:
    a, b = alice(), bob()
    idle = copy.deepcopy(b)
    m1 = only(a.start(b"same"), SMP1)
    alice_e2 = copy.deepcopy(a)
    m1q = only(alice().start(b"same", "question?"), SMP1Q)
    b.receive(m1)
    pending = copy.deepcopy(b)
    m2 = only(b.respond(b"same"), SMP2)
    bob_e3 = copy.deepcopy(b)
    m3 = only(a.receive(m2), SMP3)
    alice_e4 = copy.deepcopy(a)
    m4 = only(b.receive(m3), SMP4)
    assert a.receive(m4).events == (SmpSucceeded(),)
    return Transcript(
        messages={SMP1: m1, SMP1Q: m1q, SMP2: m2, SMP3: m3, SMP4: m4},
        receivers={SMP1: idle, SMP1Q: idle, SMP2: alice_e2, SMP3: bob_e3, SMP4: alice_e4},
        is_alice={SMP1: False, SMP1Q: False, SMP2: True, SMP3: False, SMP4: True},
        idle_bob=idle,
        pending_bob=pending,
    )


def test_untouched_snapshots_complete(transcript: Transcript) -> None:
    for t in (SMP1, SMP1Q):
        assert transcript.receiver(t).receive(transcript.messages[t]).events[0] == (
            SmpRequested(None if t == SMP1 else "question?")
        )
    assert transcript.receiver(SMP2).receive(transcript.messages[SMP2]).tlvs[0].type == SMP3
    assert transcript.receiver(SMP3).receive(transcript.messages[SMP3]).events == (SmpSucceeded(),)
    assert transcript.receiver(SMP4).receive(transcript.messages[SMP4]).events == (SmpSucceeded(),)


REPLACEMENTS: dict[str, Callable[[int], int]] = {
    "0": lambda v: 0,
    "1": lambda v: 1,
    "p-1": lambda v: P - 1,
    "p": lambda v: P,
    "q": lambda v: Q,
    "non-residue p-2": lambda v: P - 2,
    "v+1": lambda v: v + 1,
    "v xor 2^100": lambda v: v ^ (1 << 100),
}


def test_every_single_modified_mpi_is_rejected(transcript: Transcript) -> None:
    for t, count in MPI_COUNTS.items():
        values = parse_mpis(transcript.messages[t].value)
        assert len(values) == count
        for i in range(count):
            for kind, fn in REPLACEMENTS.items():
                changed = list(values)
                changed[i] = fn(values[i])
                smp = transcript.receiver(t)
                reason = assert_cheated(smp.receive(Tlv(t, build_mpis(changed))), smp)
                assert reason, (t, i, kind)


@SLOW
@given(data=st.data())
def test_random_modified_mpi_aborts_and_recovers(transcript: Transcript, data: Any) -> None:
    t = data.draw(st.sampled_from([SMP1, SMP1Q, SMP2, SMP3, SMP4]))
    value = transcript.messages[t].value
    prefix = value[: value.index(b"\x00") + 1] if t == SMP1Q else b""
    values = parse_mpis(value[len(prefix) :])
    i = data.draw(st.integers(0, len(values) - 1))
    new = data.draw(
        st.sampled_from([0, 1, P - 1, P]) | st.integers(0, 2**1536) | st.integers(0, 2**300)
    )
    if new == values[i]:
        return
    values[i] = new
    smp = transcript.receiver(t)
    assert_cheated(smp.receive(Tlv(t, prefix + build_mpis(values))), smp)
    succeeds_afterwards(smp, transcript.is_alice[t])


def test_group_element_outside_the_subgroup_is_rejected(transcript: Transcript) -> None:
    values = parse_mpis(transcript.messages[SMP1].value)
    values[0] = P - 2  # in 2..p-2 but a quadratic non-residue (p = 7 mod 8)
    smp = transcript.receiver(SMP1)
    reason = assert_cheated(smp.receive(Tlv(SMP1, build_mpis(values))), smp)
    assert "g2a" in reason and "subgroup" in reason


def test_wrong_mpi_count_and_trailing_bytes(transcript: Transcript) -> None:
    for t, count in MPI_COUNTS.items():
        values = parse_mpis(transcript.messages[t].value)
        variants = [
            build_mpis(values, count + 1),
            build_mpis(values, count - 1),
            build_mpis(values[:-1]),
            build_mpis([*values, 5]),
            build_mpis(values) + b"\x00",
            b"",
        ]
        for value in variants:
            smp = transcript.receiver(t)
            reason = assert_cheated(smp.receive(Tlv(t, value)), smp)
            assert "malformed" in reason


@FAST
@given(data=st.data())
def test_truncated_tlv_aborts(transcript: Transcript, data: Any) -> None:
    t = data.draw(st.sampled_from([SMP1, SMP1Q, SMP2, SMP3, SMP4]))
    value = transcript.messages[t].value
    cut = data.draw(st.integers(0, len(value) - 1))
    smp = transcript.receiver(t)
    assert_cheated(smp.receive(Tlv(t, value[:cut])), smp)


def test_truncated_tlv_then_fresh_run(transcript: Transcript) -> None:
    for t in (SMP1Q, SMP2, SMP3, SMP4):
        smp = transcript.receiver(t)
        assert_cheated(smp.receive(Tlv(t, transcript.messages[t].value[:-1])), smp)
        succeeds_afterwards(smp, transcript.is_alice[t])


OUT_OF_ORDER = {
    "idle": (False, [SMP2, SMP3, SMP4]),
    "pending": (False, [SMP2, SMP3, SMP4]),
    SMP2: (True, [SMP1, SMP1Q, SMP3, SMP4]),
    SMP3: (False, [SMP1, SMP1Q, SMP2, SMP4]),
    SMP4: (True, [SMP1, SMP1Q, SMP2, SMP3]),
}


@pytest.mark.parametrize("where", list(OUT_OF_ORDER))
def test_out_of_order_tlv_aborts(transcript: Transcript, where: Any) -> None:
    is_alice, wrong_types = OUT_OF_ORDER[where]
    for t in wrong_types:
        if where == "idle":
            smp = copy.deepcopy(transcript.idle_bob)
        elif where == "pending":
            smp = copy.deepcopy(transcript.pending_bob)
        else:
            smp = transcript.receiver(where)
        assert_out_of_order(smp.receive(transcript.messages[t]), smp)
    succeeds_afterwards(smp, is_alice)


def snapshots(transcript: Transcript) -> list[Smp]:
    return [
        transcript.idle_bob,
        transcript.pending_bob,
        transcript.receivers[SMP2],
        transcript.receivers[SMP3],
        transcript.receivers[SMP4],
    ]


def mpi_payloads() -> st.SearchStrategy[bytes]:
    element = (
        st.integers(0, 2**1540)
        | st.sampled_from([0, 1, 2, P - 2, P - 1, P, Q])
        | st.integers(1, 2**1536).map(lambda e: int(modp.powmod_g(e)))
    )
    return st.builds(
        build_mpis,
        st.lists(element, min_size=0, max_size=12),
        st.none() | st.integers(0, 2**32 - 1),
    )


@FAST
@given(
    data=st.data(),
    tlv_type=st.integers(0, 12),
    value=st.binary(max_size=400) | mpi_payloads(),
)
def test_receive_never_raises(
    transcript: Transcript, data: Any, tlv_type: int, value: bytes
) -> None:
    smp = copy.deepcopy(data.draw(st.sampled_from(snapshots(transcript))))
    state = smp.state
    if tlv_type == SMP1Q and data.draw(st.booleans()):
        value = b"q\x00" + value
    step = smp.receive(Tlv(tlv_type, value))
    assert isinstance(step, SmpStep)
    if tlv_type == SMP_ABORT:
        assert step == SmpStep((), (SmpAborted(by_peer=True),)) and smp.state is E1
    elif SMP1 <= tlv_type <= SMP1Q:
        assert step.tlvs == (ABORT,) and smp.state is E1 and not smp.request_pending
        assert len(step.events) == 1
        assert isinstance(step.events[0], SmpCheated | SmpAborted)
    else:
        assert step == SmpStep() and smp.state is state


def test_other_tlv_types_are_ignored(transcript: Transcript) -> None:
    smp = transcript.receiver(SMP3)
    for t in (0, 1, 8, 9, 0xFFFF):
        assert smp.receive(Tlv(t, b"junk")) == SmpStep()
    assert smp.state is E3
    assert smp.receive(transcript.messages[SMP3]).events == (SmpSucceeded(),)


# --------------------------------------------------------------------------------------
# Aborts, restarts, simultaneous starts, API misuse


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
@pytest.mark.parametrize("aborter", ["alice", "bob"])
def test_abort_mid_way(stage: int, aborter: str) -> None:
    smp_util.check_abort_mid_way(V3, stage, aborter)


def test_abort_when_idle_still_sends_tlv6() -> None:
    smp_util.check_abort_when_idle(V3)


def test_restart_before_the_peer_answers() -> None:
    a, b = alice(), bob()
    b.receive(a.start(b"first", "one?").tlvs[0])
    restart = a.start(b"second", "two?")
    # libotr's otrl_message_initiate_smp: only the new message 1, no abort TLV.
    assert [t.type for t in restart.tlvs] == [SMP1Q] and a.state is E2
    assert b.receive(restart.tlvs[0]).events == (SmpRequested("two?"),)
    s3 = a.receive(b.respond(b"second").tlvs[0])
    assert b.receive(s3.tlvs[0]).events == (SmpSucceeded(),)


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_restart_in_every_state(stage: int) -> None:
    for who in range(2):
        smp = smp_util.advance(V3, stage)[who]
        step = smp.start(b"new")
        assert [t.type for t in step.tlvs] == [SMP1] and step.events == ()
        assert smp.state is E2


def test_simultaneous_start() -> None:
    smp_util.check_simultaneous_start(V3)


def test_new_request_replaces_a_pending_one() -> None:
    smp_util.check_new_request_replaces_a_pending_one(V3)


def test_api_misuse() -> None:
    a = alice()
    with pytest.raises(LocalProtocolError):
        a.respond(b"no request")
    a.start(b"s")
    with pytest.raises(LocalProtocolError):
        a.respond(b"we are the initiator")
    with pytest.raises(LocalProtocolError):
        a.start(b"s", "nul\x00inside")
    assert a.state is E2  # a rejected start leaves the exchange alone
    with pytest.raises(LocalProtocolError):
        a.start(b"s", "?" * 70000)
    for args in ((FP_A[:19], FP_B, SSID), (FP_A, FP_B + b"x", SSID), (FP_A, FP_B, SSID * 2)):
        with pytest.raises(ValueError):
            Smp(*args, os.urandom)


def test_reset_forgets_the_exchange() -> None:
    smp_util.check_reset_forgets_the_exchange(V3)
    b = bob()
    with pytest.raises(LocalProtocolError):
        b.respond(b"s")
