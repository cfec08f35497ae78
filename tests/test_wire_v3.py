"""OTRv2/v3 binary messages (spec "Encoded messages"): round trips, strictness."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.errors import DecodeError
from otr.wire import v3 as w

ints = st.integers(min_value=0, max_value=2**32 - 1)
mpis = st.integers(min_value=0, max_value=2**1600)
blobs = st.binary(max_size=300)

messages = st.one_of(
    st.builds(w.DHCommit, blobs, st.binary(min_size=32, max_size=32)),
    st.builds(w.DHKey, mpis),
    st.builds(
        w.RevealSignature,
        st.binary(min_size=16, max_size=16),
        blobs,
        st.binary(min_size=20, max_size=20),
    ),
    st.builds(w.Signature, blobs, st.binary(min_size=20, max_size=20)),
    st.builds(
        w.DataMessage,
        st.integers(0, 255),
        ints,
        ints,
        mpis,
        st.binary(min_size=8, max_size=8),
        blobs,
        st.binary(min_size=20, max_size=20),
        blobs,
    ),
)


@given(st.sampled_from([2, 3]), ints, ints, messages)
def test_round_trip(version: int, sender: int, receiver: int, msg: w.Message) -> None:
    binary = w.encode_message(version, sender, receiver, msg)
    decoded = w.decode_message(binary)
    assert decoded.message == msg
    assert decoded.header.version == version
    if version == 3:
        assert (decoded.header.sender_instance, decoded.header.receiver_instance) == (
            sender,
            receiver,
        )
    else:
        assert decoded.header.sender_instance == 0
    if isinstance(msg, w.DataMessage):
        assert decoded.authenticated == w.encode_data_authenticated(version, sender, receiver, msg)
        assert binary.startswith(decoded.authenticated)


@given(st.sampled_from([2, 3]), messages, st.data())
def test_truncation_and_trailing_bytes_are_errors(
    version: int, msg: w.Message, data: st.DataObject
) -> None:
    binary = w.encode_message(version, 0x100, 0x101, msg)
    cut = data.draw(st.integers(0, len(binary) - 1))
    with pytest.raises(DecodeError):
        w.decode_message(binary[:cut])
    with pytest.raises(DecodeError):
        w.decode_message(binary + b"\x00")


@given(st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        w.decode_message(data)


def test_known_layout_of_dh_key_v3() -> None:
    # version 3, type 0x0a, sender 0x100, receiver 0x101, MPI(2^8+1)
    binary = w.encode_message(3, 0x100, 0x101, w.DHKey(257))
    assert binary.hex() == "00030a" + "00000100" + "00000101" + "00000002" + "0101"


def test_known_layout_of_v2_has_no_instance_tags() -> None:
    assert w.encode_message(2, 5, 6, w.DHKey(1)).hex() == "00020a" + "00000001" + "01"


@pytest.mark.parametrize(
    "hexdata",
    [
        "00010a0000000101",  # version 1
        "00040a000001000000010100000001",  # version 4 is not a v3 message
        "0003ff0000010000000101",  # unknown type
        "00030a000001000000010100000002000101",  # non-minimal MPI
        # D-H commit with a 31-byte hash
        "000302000001000000010100000000" + "0000001f" + "00" * 31,
        # reveal signature with a 15-byte key
        "000311000001000000010100000000f" + "",
    ],
)
def test_rejects(hexdata: str) -> None:
    if len(hexdata) % 2:
        hexdata += "0"
    with pytest.raises(DecodeError):
        w.decode_message(bytes.fromhex(hexdata))


def test_encode_refuses_bad_fixed_sizes() -> None:
    with pytest.raises(ValueError):
        w.encode_message(3, 1, 1, w.Signature(b"", b"short"))
    with pytest.raises(ValueError):
        w.encode_message(4, 1, 1, w.DHKey(5))
    with pytest.raises(ValueError):
        w.encode_message(3, 1, 1, w.DataMessage(0, 1, 1, 5, b"short", b""))
