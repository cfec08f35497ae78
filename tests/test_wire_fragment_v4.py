"""OTRv4 fragments: otr4j's fragmenter reproduced byte for byte on T2 (with the
recorded identifiers), reassembly in any order with duplicates and
interleaving, and every limit reported as a dropped buffer."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.wire.fragment import Fragment, parse_fragment
from otr.wire.fragment_v4 import (
    V4_FRAGMENT_OVERHEAD,
    DropReason,
    Reassembled,
    V4Reassembler,
    V4ReassemblyLimits,
    fragment_message_v4,
    random_identifier,
)
from otr4j_transcripts import is_fragment_identifier, transcript

T2 = transcript("T2")
MAX_SIZE = T2["parties"]["alice"]["max_fragment_size"]


def _fragmented_messages() -> list[dict[str, Any]]:
    """T2's fragmented messages: their fragments (wire text, in order), the
    reassembled text, the sender and the identifier."""
    out: list[dict[str, Any]] = []
    current: list[str] = []
    for step in T2["steps"]:
        if step["kind"] != "deliver" or "fragment" not in step["message"]:
            continue
        current.append(step["wire"])
        if "reassembled" in step["message"]:
            header = step["message"]["fragment"]
            out.append(
                {
                    "wires": current,
                    "text": step["message"]["reassembled"],
                    "from": step["from"],
                    "header": header,
                }
            )
            current = []
    assert not current
    return out


MESSAGES = _fragmented_messages()


def test_t2_has_fragmented_dake_and_data_messages() -> None:
    assert MAX_SIZE == 200
    assert len(MESSAGES) == 6
    assert all(len(w) <= MAX_SIZE for m in MESSAGES for w in m["wires"])


@pytest.mark.parametrize(
    "m", MESSAGES, ids=lambda m: f"{m['from']}-{m['header']['identifier_hex']}"
)
def test_fragmenter_is_otr4j_byte_for_byte(m: dict[str, Any]) -> None:
    h = m["header"]
    wires = fragment_message_v4(
        m["text"], MAX_SIZE, h["identifier"], h["sender_tag"], h["receiver_tag"]
    )
    assert wires == m["wires"]
    assert all(len(w) == MAX_SIZE for w in wires[:-1])
    assert len(wires[0]) - len(parse_fragment(wires[0]).piece) == V4_FRAGMENT_OVERHEAD


def test_identifiers_come_from_the_recorded_draws() -> None:
    for party in ("alice", "bob"):
        draws = [d for d in T2["random_draws"][party] if is_fragment_identifier(d)]
        ours = [m["header"]["identifier"] for m in MESSAGES if m["from"] == party]
        assert [random_identifier(lambda n, d=d: bytes.fromhex(d["bytes"])) for d in draws] == ours


@pytest.mark.parametrize("order", ["recorded", "reversed", "shuffled", "duplicated"])
def test_t2_reassembles_in_any_order(order: str) -> None:
    frags = [(parse_fragment(w), m["text"]) for m in MESSAGES for w in m["wires"]]
    if order == "reversed":
        frags.reverse()
    elif order == "shuffled":
        random.Random(4).shuffle(frags)
    elif order == "duplicated":
        frags = [f for pair in zip(frags, frags, strict=True) for f in pair]
    r = V4Reassembler()
    done = []
    for frag, _ in frags:
        assert frag.version == 4
        out = r.feed(frag, 0.0)
        assert out.dropped == ()
        if out.message is not None:
            done.append(out.message)
    assert sorted(done) == sorted(m["text"] for m in MESSAGES)
    assert r.pending == 0 and r.chars_held == 0


def _frags(text: str, size: int = 60, ident: int = 7, sender: int = 0x100) -> list[Fragment]:
    return [parse_fragment(w) for w in fragment_message_v4(text, size, ident, sender, 0x200)]


def test_late_duplicates_of_a_completed_message_are_ignored() -> None:
    frags = _frags("?OTR:" + "d" * 100 + ".")
    r = V4Reassembler(V4ReassemblyLimits(remember_completed=1))
    assert [r.feed(f, 0).message for f in frags][-1] == "?OTR:" + "d" * 100 + "."
    assert r.feed(frags[0], 0) == Reassembled() and r.pending == 0
    other = _frags("?OTR:" + "e" * 100 + ".", ident=8)
    assert [r.feed(f, 0).message for f in other][-1] is not None
    r.feed(frags[0], 0)  # identifier 7 was forgotten: a new buffer
    assert r.pending == 1


def test_single_fragment_message() -> None:
    (frag,) = _frags("?OTR:AAQD.", 100)
    assert V4Reassembler().feed(frag, 0) == Reassembled("?OTR:AAQD.")


def test_same_identifier_from_two_senders_does_not_mix() -> None:
    a = _frags("?OTR:" + "A" * 100 + ".", sender=0x100)
    b = _frags("?OTR:" + "B" * 100 + ".", sender=0x101)
    r = V4Reassembler()
    outs = [r.feed(f, 0).message for pair in zip(a, b, strict=True) for f in pair]
    assert [o for o in outs if o] == ["?OTR:" + "A" * 100 + ".", "?OTR:" + "B" * 100 + "."]


def test_inconsistent_total_drops_the_buffer() -> None:
    frags = _frags("?OTR:" + "x" * 100 + ".")
    r = V4Reassembler()
    r.feed(frags[0], 0)
    other = Fragment(4, frags[1].sender_instance, 0x200, 1, 9, "zz", frags[1].identifier)
    out = r.feed(other, 0)
    assert out.message is None
    (d,) = out.dropped
    assert (d.reason, d.identifier, d.pieces_held, d.total) == (
        DropReason.INCONSISTENT,
        7,
        1,
        len(frags),
    )
    assert r.pending == 0


def test_limits_incomplete_messages() -> None:
    r = V4Reassembler(V4ReassemblyLimits(max_incomplete=3))
    for ident in range(5):
        out = r.feed(_frags("?OTR:" + "y" * 80 + ".", ident=ident)[0], float(ident))
        if ident < 3:
            assert out.dropped == ()
        else:
            (d,) = out.dropped
            assert d.reason is DropReason.EVICTED and d.identifier == ident - 3  # the oldest
    assert r.pending == 3


def test_limits_message_and_total_characters() -> None:
    big = _frags("?OTR:" + "z" * 200 + ".", size=100)
    r = V4Reassembler(V4ReassemblyLimits(max_message_chars=100))
    assert r.feed(big[0], 0).dropped == ()
    (d,) = r.feed(big[1], 0).dropped
    assert d.reason is DropReason.TOO_LARGE and r.pending == 0 and r.chars_held == 0
    r = V4Reassembler(V4ReassemblyLimits(max_total_chars=100))
    first = _frags("?OTR:" + "1" * 200 + ".", size=100, ident=1)
    second = _frags("?OTR:" + "2" * 200 + ".", size=100, ident=2)
    r.feed(first[0], 0)
    out = r.feed(second[0], 0)
    (d,) = out.dropped
    assert d.reason is DropReason.EVICTED and d.identifier == 1
    assert r.pending == 1 and r.chars_held == len(second[0].piece)


def test_age_limit_and_deadline() -> None:
    r = V4Reassembler(V4ReassemblyLimits(max_age=60))
    assert r.next_deadline() is None
    frags = _frags("?OTR:" + "w" * 100 + ".")
    r.feed(frags[0], 1000.0)
    assert r.next_deadline() == 1060.0
    assert r.expire(1059.0) == []
    (d,) = r.expire(1060.0)
    assert d.reason is DropReason.EXPIRED and r.pending == 0
    r.feed(frags[0], 0.0)
    out = r.feed(frags[1], 61.0)  # the old buffer expired first; this piece starts anew
    assert [x.reason for x in out.dropped] == [DropReason.EXPIRED] and r.pending == 1


def test_fragmenter_refuses_invalid_input() -> None:
    with pytest.raises(ValueError):
        fragment_message_v4("abc", V4_FRAGMENT_OVERHEAD, 1, 0x100, 0)
    with pytest.raises(ValueError):
        fragment_message_v4("", 100, 1, 0x100, 0)
    with pytest.raises(ValueError):
        fragment_message_v4("a,b", 100, 1, 0x100, 0)
    with pytest.raises(ValueError):
        fragment_message_v4("ab", 100, 2**32, 0x100, 0)
    with pytest.raises(ValueError):
        fragment_message_v4("a" * 70000, V4_FRAGMENT_OVERHEAD + 1, 1, 0x100, 0)
    with pytest.raises(ValueError):
        random_identifier(lambda n: b"\x00")
    with pytest.raises(ValueError):
        V4Reassembler().feed(Fragment(3, 1, 2, 1, 2, "x"), 0)


@given(
    st.lists(st.text("ABCDEFGH+/=", min_size=1, max_size=300), min_size=1, max_size=4),
    st.integers(V4_FRAGMENT_OVERHEAD + 1, 120),
    st.randoms(use_true_random=False),
    st.integers(0, 3),
)
def test_any_interleaving_with_duplicates(
    texts: list[str], size: int, rnd: random.Random, dups: int
) -> None:
    frags = [f for i, t in enumerate(texts) for f in _frags(t, size, ident=i)]
    frags += [rnd.choice(frags) for _ in range(dups)]
    rnd.shuffle(frags)
    r = V4Reassembler()
    done = [out.message for f in frags if (out := r.feed(f, 0)).message is not None]
    assert sorted(done) == sorted(texts)
    assert r.pending == 0 and r.chars_held == 0
