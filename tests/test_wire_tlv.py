"""otr.wire.tlv: TLV records and the plaintext layout of Data Messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.errors import DecodeError
from otr.events import Tlv
from otr.wire import tlv


def test_type_numbers_match_spec() -> None:
    # OTRv3 spec "Data Message", TLV record types 0-8.
    numbers = (
        tlv.PADDING,
        tlv.DISCONNECTED,
        tlv.SMP1,
        tlv.SMP2,
        tlv.SMP3,
        tlv.SMP4,
        tlv.SMP_ABORT,
        tlv.SMP1Q,
        tlv.EXTRA_SYMMETRIC_KEY,
    )
    assert numbers == tuple(range(9))


def test_known_encoding() -> None:
    records = [Tlv(tlv.DISCONNECTED), Tlv(tlv.EXTRA_SYMMETRIC_KEY, b"\x00\x00\x00\x01ab")]
    wire = bytes.fromhex("000100000008000600000001") + b"ab"
    assert tlv.encode_tlvs(records) == wire
    assert tlv.decode_tlvs(wire) == records
    assert tlv.encode_tlvs([]) == b""
    assert tlv.decode_tlvs(b"") == []
    # Unknown types are kept (the caller ignores them, spec "Records with unrecognized types").
    assert tlv.decode_tlvs(b"\xff\xff\x00\x01z") == [Tlv(0xFFFF, b"z")]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",
        b"\x00\x01\x00",
        b"\x00\x01\x00\x01",
        b"\x00\x00\x00\x05abcd",
        b"\x00\x01\x00\x00\x00",
    ],
)
def test_decode_rejects_truncation(data: bytes) -> None:
    with pytest.raises(DecodeError):
        tlv.decode_tlvs(data)


def test_encode_bounds() -> None:
    assert len(tlv.encode_tlvs([Tlv(0, b"\0" * 0xFFFF)])) == 4 + 0xFFFF
    with pytest.raises(ValueError):
        tlv.encode_tlvs([Tlv(0, b"\0" * 0x10000)])
    with pytest.raises(ValueError):
        tlv.encode_tlvs([Tlv(0x10000)])
    with pytest.raises(ValueError):
        tlv.encode_tlvs([Tlv(-1)])


def test_split_and_join_plaintext() -> None:
    assert tlv.split_plaintext(b"hello") == (b"hello", b"")
    assert tlv.split_plaintext(b"hello\0") == (b"hello", b"")
    assert tlv.split_plaintext(b"\0\x00\x01\x00\x00") == (b"", b"\x00\x01\x00\x00")
    assert tlv.split_plaintext(b"a\0b\0c") == (b"a", b"b\0c")
    assert tlv.split_plaintext(b"") == (b"", b"")
    assert tlv.join_plaintext(b"hi", [Tlv(tlv.SMP_ABORT)]) == b"hi\0\x00\x06\x00\x00"
    assert tlv.join_plaintext(b"", []) == b"\0"
    with pytest.raises(ValueError):
        tlv.join_plaintext(b"a\0b", [])


_tlvs = st.lists(
    st.builds(Tlv, st.integers(0, 0xFFFF), st.binary(max_size=300)),
    max_size=8,
)


@given(_tlvs)
def test_tlv_round_trip(records: list[Tlv]) -> None:
    assert tlv.decode_tlvs(tlv.encode_tlvs(records)) == records


@given(st.binary(max_size=200).filter(lambda b: b"\0" not in b), _tlvs)
def test_plaintext_round_trip(message: bytes, records: list[Tlv]) -> None:
    text, rest = tlv.split_plaintext(tlv.join_plaintext(message, records))
    assert text == message
    assert tlv.decode_tlvs(rest) == records


@given(st.binary(max_size=300))
def test_decode_never_raises_anything_else(data: bytes) -> None:
    try:
        records = tlv.decode_tlvs(data)
    except DecodeError:
        return
    assert tlv.encode_tlvs(records) == data
    text, rest = tlv.split_plaintext(data)
    assert text + (b"\0" + rest if b"\0" in data else b"") == data
