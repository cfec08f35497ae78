"""?OTRP| fragments (otr.prekey.fragments)."""

from __future__ import annotations

import pytest

from otr.errors import DecodeError
from otr.prekey.fragments import (
    Fragment,
    Reassembler,
    ReassemblyLimits,
    fragment,
    is_fragment,
    parse_fragment,
)

TEXT = "AAQT" + "x" * 500 + "."


def test_fragment_format_and_parse() -> None:
    frags = fragment(TEXT, 100, 0xABCDEF01, 0, 0x1234)
    assert len(frags) > 1 and all(len(f) <= 100 for f in frags)
    assert frags[0].startswith("?OTRP|abcdef01|00000000|00001234,00001,")
    parsed = [parse_fragment(f) for f in frags]
    assert "".join(p.piece for p in parsed) == TEXT
    assert parsed[-1].index == parsed[-1].total == len(frags)
    assert fragment("short.", 100, 1, 0, 0) == ["short."]
    assert is_fragment(frags[0]) and not is_fragment(TEXT)
    # leading zeros are optional
    assert parse_fragment("?OTRP|1|2|3,1,2,ab,") == Fragment(1, 2, 3, 1, 2, "ab")


@pytest.mark.parametrize(
    "bad",
    [
        "?OTRP|1|2|3,0,2,ab,",
        "?OTRP|1|2|3,3,2,ab,",
        "?OTRP|1|2|3,1,0,ab,",
        "?OTRP|1|2|3,1,2,,",
        "?OTRP|1|2,1,2,ab,",
        "?OTRP|123456789|2|3,1,2,ab,",
        "?OTRP|1|2|3,1,70000,ab,",
        "?OTRP|1|2|3,1,2,ab",
    ],
)
def test_illegal_fragments(bad: str) -> None:
    with pytest.raises(DecodeError):
        parse_fragment(bad)


def test_reassembly_out_of_order_duplicates_and_total_change() -> None:
    frags = [parse_fragment(f) for f in fragment(TEXT, 100, 7, 0, 0x55)]
    r = Reassembler()
    for f in reversed(frags[1:]):
        assert r.feed("a", f, 0.0) is None
    assert r.feed("a", frags[-1], 0.0) is None  # duplicate index: not counted
    assert r.feed("a", frags[0], 0.0) == TEXT
    assert len(r) == 0 and r.held_chars == 0
    r.feed("a", frags[0], 0.0)
    changed = Fragment(7, 0, 0x55, 2, frags[0].total + 1, "zz")
    assert r.feed("a", changed, 0.0) is None
    assert len(r) == 0  # the buffer was dropped
    # fragments of two senders with the same identifier do not mix
    r.feed("a", frags[0], 0.0)
    for f in frags[1:]:
        assert r.feed("b", f, 0.0) is None
    assert len(r) == 2


def test_receiver_tag_filter_applies_to_every_fragment() -> None:
    frags = [parse_fragment(f) for f in fragment(TEXT, 100, 7, 0, 0x55)]
    r = Reassembler()
    assert all(r.feed("a", f, 0.0, our_tag=0x66) is None for f in frags)
    assert len(r) == 0
    out = [r.feed("a", f, 0.0, our_tag=0x55) for f in frags]
    assert out[-1] == TEXT


def test_limits_and_timeout() -> None:
    limits = ReassemblyLimits(
        max_buffers=3,
        max_buffers_per_sender=2,
        max_message_chars=300,
        max_total_chars=1000,
        timeout=10.0,
    )
    r = Reassembler(limits)
    big = [parse_fragment(f) for f in fragment(TEXT, 100, 1, 0, 0)]
    for f in big:
        assert r.feed("a", f, 0.0) is None  # 500+ characters > 300: never complete
    assert r.held_chars <= 300
    r.expire(50.0)
    first = Fragment(1, 0, 0, 1, 2, "aa")
    r.feed("a", first, 0.0)
    r.feed("a", Fragment(2, 0, 0, 1, 2, "aa"), 0.0)
    r.feed("a", Fragment(3, 0, 0, 1, 2, "aa"), 0.0)  # per-sender cap
    assert len(r) == 2
    r.feed("b", Fragment(4, 0, 0, 1, 2, "aa"), 0.0)
    r.feed("c", Fragment(5, 0, 0, 1, 2, "aa"), 0.0)  # total cap: the oldest goes
    assert len(r) == 3
    assert r.feed("c", Fragment(5, 0, 0, 2, 2, "bb"), 5.0) == "aabb"
    r.expire(100.0)
    assert len(r) == 0 and r.held_chars == 0
