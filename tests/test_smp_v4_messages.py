"""OTRv4 SMP message codecs (``otr.smp.v4_messages``; otr-v4.md "SMP Message 1" ...
"SMP Message 4").  Known answers: the SMP TLVs of otr4j's transcript T3, decoded field by
field by otr4j's own parser (``smp_fields``)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SPEC_VECTORS
from otr.crypto import ed448
from otr.crypto.ed448 import G, Point, Q
from otr.errors import DecodeError, InvalidGroupElement
from otr.smp.v4_messages import (
    SmpMessage,
    SmpMessage1,
    SmpMessage2,
    SmpMessage3,
    SmpMessage4,
)

CLASSES: dict[str, type[SmpMessage]] = {
    "SMPMessage1": SmpMessage1,
    "SMPMessage2": SmpMessage2,
    "SMPMessage3": SmpMessage3,
    "SMPMessage4": SmpMessage4,
}
T3 = next(
    t
    for t in json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())["transcripts"]
    if t["id"] == "T3"
)
RECORDED = [
    tlv
    for step in T3["steps"]
    if step["kind"] == "deliver" and "keys" in step
    for tlv in step["keys"]["decoded"]["tlvs"]
    if "smp_message" in tlv
]


def test_t3_has_all_four_messages() -> None:
    assert [t["type"] for t in RECORDED] == [2, 3, 4, 5]


@pytest.mark.parametrize("recorded", RECORDED, ids=lambda t: t["smp_message"])
def test_t3_messages_decode_field_by_field_and_reencode(recorded: dict[str, Any]) -> None:
    cls = CLASSES[recorded["smp_message"]]
    assert recorded["type"] == cls.TLV_TYPE
    raw = bytes.fromhex(recorded["value"])
    msg = cls.decode(raw)
    for f in fields(msg):
        expected = recorded["smp_fields"][f.name]
        value = getattr(msg, f.name)
        if isinstance(value, Point):
            assert value.encode().hex() == expected, f.name
        elif isinstance(value, int):
            assert value.to_bytes(57, "little").hex() == expected, f.name
        else:
            assert value.decode("utf-8") == expected
    assert set(recorded["smp_fields"]) == {f.name for f in fields(msg)}
    assert msg.encode() == raw


def test_no_question_is_an_empty_data() -> None:
    msg = SmpMessage1(b"", G, 1, 2, G * 2, 3, 4)
    raw = msg.encode()
    assert raw[:4] == bytes(4) and len(raw) == 4 + 6 * 57
    assert SmpMessage1.decode(raw) == msg


def test_layout_sizes() -> None:
    p, s = G * 5, 7
    assert len(SmpMessage2(p, s, s, p, s, s, p, p, s, s, s).encode()) == 11 * 57
    assert len(SmpMessage3(p, p, s, s, s, p, s, s).encode()) == 8 * 57
    assert SmpMessage4(p, s, s).encode() == p.encode() + (7).to_bytes(57, "little") * 2


def test_strict_decoding() -> None:
    good = SmpMessage4(G * 3, 5, 6).encode()
    for bad in (good[:-1], good + b"\x00", b""):
        with pytest.raises(DecodeError, match="malformed SMP message 4"):
            SmpMessage4.decode(bad)
    with pytest.raises(InvalidGroupElement):
        SmpMessage4.decode(ed448.IDENTITY.encode() + good[57:])
    with pytest.raises(InvalidGroupElement):
        SmpMessage4.decode(good[:57] + Q.to_bytes(57, "little") + good[114:])
    with pytest.raises(DecodeError):  # the question's length runs past the end
        SmpMessage1.decode(b"\x00\x00\x01\x00" + b"?" * 10)


@settings(max_examples=60, deadline=None)
@given(
    question=st.binary(max_size=100),
    ks=st.lists(st.integers(1, Q - 1), min_size=2, max_size=2),
    ss=st.lists(st.integers(0, Q - 1), min_size=4, max_size=4),
)
def test_round_trip(question: bytes, ks: list[int], ss: list[int]) -> None:
    msg = SmpMessage1(question, G * ks[0], ss[0], ss[1], G * ks[1], ss[2], ss[3])
    assert SmpMessage1.decode(msg.encode()) == msg


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=700), which=st.sampled_from(list(CLASSES.values())))
def test_decode_raises_only_remote_errors(data: bytes, which: type[SmpMessage]) -> None:
    with contextlib.suppress(DecodeError, InvalidGroupElement):
        which.decode(data)
