"""The OTRv4 data message codec and plaintext layout, byte-exact against every
data message of the otr4j transcripts; strict decoding."""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto import dh3072
from otr.crypto.ed448 import G
from otr.errors import DecodeError, InvalidGroupElement
from otr.events import Tlv
from otr.wire.v4.data import (
    FLAG_IGNORE_UNREADABLE,
    DataMessage4,
    decode_plaintext,
    encode_plaintext,
)
from v4_transcript_util import H, Step, data_deliveries, transcripts

ALL = [(tid, step) for tid, t in transcripts().items() for step in data_deliveries(t)]
IDS = [f"{tid}-step{step['step']}" for tid, step in ALL]
WITH_KEYS = [(tid, s) for tid, s in ALL if "plaintext" in (s.get("keys") or {})]


def test_every_transcript_has_data_messages() -> None:
    assert len(ALL) == 32  # T1 13 + TLV 1, T2 3, T3 8, T4 5, T5 2
    assert {tid for tid, _ in ALL} == {"T1", "T2", "T3", "T4", "T5"}


@pytest.mark.parametrize(("tid", "step"), ALL, ids=IDS)
def test_decode_matches_otr4j_fields(tid: str, step: Step) -> None:
    rec = step["message"]
    raw = H(rec["bytes"])
    wire = rec.get("reassembled") or step["wire"]
    assert wire.startswith("?OTR:") and wire.endswith(".")
    assert base64.b64decode(wire[5:-1], validate=True) == raw
    msg = DataMessage4.decode(raw)
    f = rec["fields"]
    assert f["protocolVersion"] == 4
    assert (msg.sender_tag, msg.receiver_tag) == (f["senderTag"], f["receiverTag"])
    assert (msg.flags, msg.pn, msg.ratchet_id, msg.message_id) == (
        f["flags"],
        f["pn"],
        f["i"],
        f["j"],
    )
    assert msg.ecdh.encode().hex() == f["ecdhPublicKey"]
    assert (msg.dh.to_bytes(384, "big").lstrip(b"\0").hex() if msg.dh else None) == (
        f["dhPublicKey"] or None
    )
    assert msg.ciphertext.hex() == f["ciphertext"]
    assert msg.authenticator.hex() == f["authenticator"]
    assert msg.revealed_macs.hex() == f["revealedMacs"]
    assert msg.authenticated_length == rec["authenticated_length"]
    assert msg.authenticated_section() == raw[: rec["authenticated_length"]]
    assert msg.ignore_unreadable == bool(f["flags"] & FLAG_IGNORE_UNREADABLE)
    assert msg.encode() == raw


@pytest.mark.parametrize(("tid", "step"), ALL, ids=IDS)
def test_encode_from_fields_matches_otr4j(tid: str, step: Step) -> None:
    """Built from its fields (not decoded), the message encodes to otr4j's bytes."""
    decoded = DataMessage4.decode(H(step["message"]["bytes"]))
    rebuilt = DataMessage4(
        sender_tag=decoded.sender_tag,
        receiver_tag=decoded.receiver_tag,
        flags=decoded.flags,
        pn=decoded.pn,
        ratchet_id=decoded.ratchet_id,
        message_id=decoded.message_id,
        ecdh=decoded.ecdh,
        dh=decoded.dh,
        ciphertext=decoded.ciphertext,
        authenticator=decoded.authenticator,
        revealed_macs=decoded.revealed_macs,
    )
    assert rebuilt == decoded
    assert rebuilt.encode().hex() == step["message"]["bytes"]


@pytest.mark.parametrize(("tid", "step"), WITH_KEYS, ids=[f"{t}-{s['step']}" for t, s in WITH_KEYS])
def test_plaintext_layout_matches_otr4j(tid: str, step: Step) -> None:
    keys = step["keys"]
    plaintext = H(keys["plaintext"])
    text, tlvs = decode_plaintext(plaintext)
    assert text.decode("utf-8") == keys["decoded"]["text"]
    assert [(t.type, t.value.hex()) for t in tlvs] == [
        (t["type"], t["value"]) for t in keys["decoded"]["tlvs"]
    ]
    assert encode_plaintext(keys["decoded"]["text"], tlvs) == plaintext


def test_plaintext_nul_becomes_question_mark_and_nul_always_follows() -> None:
    assert encode_plaintext("a\0b") == b"a?b\0"
    assert encode_plaintext("") == b"\0"
    assert encode_plaintext("x", [Tlv(1)]) == b"x\0\x00\x01\x00\x00"
    assert decode_plaintext(b"no nul") == (b"no nul", [])
    with pytest.raises(DecodeError):
        decode_plaintext(b"x\0\x00\x01\x00\x05ab")


# --- strictness -----------------------------------------------------------------------

SAMPLE = H(ALL[0][1]["message"]["bytes"])  # T1, ratchet id 0: carries a DH key


def test_every_truncation_and_trailing_byte_is_rejected() -> None:
    for n in range(len(SAMPLE)):
        with pytest.raises(DecodeError):
            DataMessage4.decode(SAMPLE[:n])
    with pytest.raises(DecodeError):
        DataMessage4.decode(SAMPLE + b"\0")


@pytest.mark.parametrize(("offset", "value"), [(0, b"\x00\x03"), (2, b"\x35")])
def test_wrong_version_or_type(offset: int, value: bytes) -> None:
    bad = SAMPLE[:offset] + value + SAMPLE[offset + len(value) :]
    with pytest.raises(DecodeError):
        DataMessage4.decode(bad)


def _with(msg: DataMessage4, **changes: object) -> bytes:
    fields = {
        "sender_tag": msg.sender_tag,
        "receiver_tag": msg.receiver_tag,
        "flags": msg.flags,
        "pn": msg.pn,
        "ratchet_id": msg.ratchet_id,
        "message_id": msg.message_id,
        "ecdh": msg.ecdh,
        "dh": msg.dh,
        "ciphertext": msg.ciphertext,
        "authenticator": msg.authenticator,
        "revealed_macs": msg.revealed_macs,
    }
    fields.update(changes)
    return DataMessage4(**fields).encode()  # type: ignore[arg-type]


def test_dh_key_present_iff_ratchet_id_multiple_of_three() -> None:
    msg = DataMessage4.decode(SAMPLE)
    assert msg.ratchet_id == 0 and msg.dh is not None
    with pytest.raises(ValueError):
        _with(msg, dh=None)
    with pytest.raises(ValueError):
        _with(msg, ratchet_id=1)
    # Forge the wire form: ratchet id 1 with a DH key, ratchet id 3 without.
    rid1 = SAMPLE[:16] + struct.pack(">I", 1) + SAMPLE[20:]
    with pytest.raises(DecodeError):
        DataMessage4.decode(rid1)
    no_dh = _with(msg, dh=None, ratchet_id=1)
    rid3 = no_dh[:16] + struct.pack(">I", 3) + no_dh[20:]
    with pytest.raises(DecodeError):
        DataMessage4.decode(rid3)


def test_invalid_ecdh_point_is_rejected() -> None:
    bad_y = SAMPLE[:24] + b"\xff" * 56 + b"\x00" + SAMPLE[81:]  # y >= p
    with pytest.raises(InvalidGroupElement):
        DataMessage4.decode(bad_y)
    identity = SAMPLE[:24] + b"\x01" + bytes(56) + SAMPLE[81:]
    with pytest.raises(InvalidGroupElement):
        DataMessage4.decode(identity)


@pytest.mark.parametrize("dh", [1, dh3072.DH_P - 1, int(dh3072.DH_P) + 5])
def test_invalid_dh_key_is_rejected(dh: int) -> None:
    msg = DataMessage4.decode(SAMPLE)
    with pytest.raises(InvalidGroupElement):
        DataMessage4.decode(_with(msg, dh=int(dh)))


def test_non_minimal_dh_mpi_is_rejected() -> None:
    dh_len = struct.unpack_from(">I", SAMPLE, 81)[0]
    body = SAMPLE[85 : 85 + dh_len]
    bad = SAMPLE[:81] + struct.pack(">I", dh_len + 1) + b"\0" + body + SAMPLE[85 + dh_len :]
    with pytest.raises(DecodeError):
        DataMessage4.decode(bad)


def test_revealed_macs_must_be_whole_keys() -> None:
    msg = DataMessage4.decode(SAMPLE)
    good = _with(msg, revealed_macs=bytes(128))
    assert DataMessage4.decode(good).revealed_macs == bytes(128)
    bad = good[: -128 - 4] + struct.pack(">I", 127) + bytes(127)
    with pytest.raises(DecodeError):
        DataMessage4.decode(bad)
    with pytest.raises(ValueError):
        _with(msg, revealed_macs=bytes(63))


def test_field_ranges_are_checked_when_building() -> None:
    msg = DataMessage4.decode(SAMPLE)
    for name, value in [("flags", 256), ("pn", -1), ("message_id", 2**32), ("authenticator", b"")]:
        with pytest.raises(ValueError):
            _with(msg, **{name: value})


@given(
    flags=st.integers(0, 255),
    tags=st.tuples(*(st.integers(0, 2**32 - 1) for _ in range(5))),
    scalar=st.integers(1, 2**64),
    ciphertext=st.binary(max_size=300),
    reveals=st.integers(0, 4),
)
def test_round_trip(
    flags: int, tags: tuple[int, ...], scalar: int, ciphertext: bytes, reveals: int
) -> None:
    sender, receiver, pn, rid, mid = tags
    msg = DataMessage4(
        sender_tag=sender,
        receiver_tag=receiver,
        flags=flags,
        pn=pn,
        ratchet_id=rid,
        message_id=mid,
        ecdh=G * scalar,
        dh=int(dh3072.powmod_g(scalar)) if rid % 3 == 0 else None,
        ciphertext=ciphertext,
        authenticator=bytes(range(64)),
        revealed_macs=bytes(64 * reveals),
    )
    data = msg.encode()
    back = DataMessage4.decode(data)
    assert back == msg
    assert back.encode() == data
    assert back.authenticated_section() == data[: msg.authenticated_length]
