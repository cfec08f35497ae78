"""The OTRv4 header and the Identity, Auth-R and Auth-I messages: every DAKE
message of otr4j's transcripts decodes field by field and re-encodes byte for
byte; truncation, trailing bytes, bit flips, bad points and bad DH values fail
only with the documented exceptions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto import dh3072, ed448
from otr.crypto.ring import RingSignature
from otr.errors import DecodeError, InvalidGroupElement, RemoteProtocolError
from otr.v4.profiles import ClientProfile
from otr.wire.buffer import encode_mpi
from otr.wire.v4.dake import (
    HEADER_BYTES,
    MSG_AUTH_I,
    MSG_AUTH_R,
    MSG_IDENTITY,
    AuthIMessage,
    AuthRMessage,
    Header,
    IdentityMessage,
    decode_dake_message,
    encode_header,
    peek_header,
)
from otr4j_transcripts import deliveries, load_transcripts, message_bytes

STEPS = [(t["id"], s) for t in load_transcripts() for s in deliveries(t)]
_CLASSES = {
    "IdentityMessage": IdentityMessage,
    "AuthRMessage": AuthRMessage,
    "AuthIMessage": AuthIMessage,
}


def _ids(x: Any) -> str:
    return x if isinstance(x, str) else f"step{x['step']}-{x['message']['type']}"


def _sample(kind: str) -> bytes:
    (data,) = [message_bytes(s) for tid, s in STEPS if tid == "T1" and s["message"]["type"] == kind]
    return data


IDENTITY = _sample("IdentityMessage")
AUTH_R = _sample("AuthRMessage")
AUTH_I = _sample("AuthIMessage")
SAMPLES = [IDENTITY, AUTH_R, AUTH_I]


@pytest.mark.parametrize(("tid", "step"), STEPS, ids=_ids)
def test_otr4j_dake_messages_round_trip(tid: str, step: dict[str, Any]) -> None:
    data = message_bytes(step)
    fields = step["message"]["fields"]
    cls = _CLASSES[step["message"]["type"]]
    msg = decode_dake_message(data)
    assert type(msg) is cls and cls.decode(data) == msg
    assert msg.encode() == data
    assert int(step["message"]["type_byte"], 16) == cls.TYPE == data[2]
    assert fields["protocolVersion"] == 4
    assert (msg.sender_tag, msg.receiver_tag) == (fields["senderTag"], fields["receiverTag"])
    assert peek_header(data) == Header(4, cls.TYPE, msg.sender_tag, msg.receiver_tag)
    if isinstance(msg, AuthIMessage):
        assert msg.sigma.encode().hex() == fields["sigma"]
        return
    assert msg.profile.encode().hex() == fields["clientProfile"]
    assert msg.first_ecdh.encode().hex() == fields["firstECDHPublicKey"]
    assert f"{msg.first_dh:x}".zfill(len(fields["firstDHPublicKey"])) == fields["firstDHPublicKey"]
    if isinstance(msg, IdentityMessage):
        assert msg.y.encode().hex() == fields["y"]
        assert f"{msg.b:x}".zfill(len(fields["b"])) == fields["b"]
    else:
        assert msg.x.encode().hex() == fields["x"]
        assert f"{msg.a:x}".zfill(len(fields["a"])) == fields["a"]
        assert msg.sigma.encode().hex() == fields["sigma"]


def test_the_fragmented_t2_messages_are_covered() -> None:
    t2 = [s for tid, s in STEPS if tid == "T2"]
    assert len(t2) == 3 and all(s["wire"].startswith("?OTR|") for s in t2)
    assert len([s for tid, s in STEPS if tid == "T5"]) == 9  # both DAKEs of T5


def test_header() -> None:
    assert encode_header(MSG_AUTH_R, 0x01020304, 0xA0B0C0D0).hex() == "00043601020304a0b0c0d0"
    assert len(encode_header(MSG_IDENTITY, 1, 0)) == HEADER_BYTES
    with pytest.raises(DecodeError):
        peek_header(b"\x00\x03\x35" + bytes(8))
    with pytest.raises(DecodeError):
        peek_header(b"\x00\x04\x35" + bytes(7))


@pytest.mark.parametrize("data", SAMPLES, ids=["identity", "auth_r", "auth_i"])
def test_truncated_and_trailing_input(data: bytes) -> None:
    cls = type(decode_dake_message(data))
    for cut in sorted({0, 1, 2, 3, 10, 11, 12, 100, len(data) // 2, len(data) - 1}):
        with pytest.raises(RemoteProtocolError):
            cls.decode(data[:cut])
        with pytest.raises(RemoteProtocolError):
            decode_dake_message(data[:cut])
    with pytest.raises(DecodeError):
        cls.decode(data + b"\x00")


@pytest.mark.parametrize("data", SAMPLES, ids=["identity", "auth_r", "auth_i"])
def test_wrong_version_or_type(data: bytes) -> None:
    cls = type(decode_dake_message(data))
    with pytest.raises(DecodeError):
        cls.decode(b"\x00\x03" + data[2:])
    other = MSG_AUTH_I if cls.TYPE != MSG_AUTH_I else MSG_IDENTITY
    with pytest.raises(DecodeError):
        cls.decode(data[:2] + bytes((other,)) + data[3:])
    with pytest.raises(DecodeError):
        decode_dake_message(data[:2] + b"\x03" + data[3:])  # a data message is not a DAKE message


def _identity() -> IdentityMessage:
    msg = IdentityMessage.decode(IDENTITY)
    return msg


BAD_POINTS = [
    ed448.IDENTITY.encode(),
    (ed448.P + 1).to_bytes(57, "little"),  # y >= p
    ed448.Point.from_xy(0, ed448.P - 1).encode(),  # order 2
    (ed448.G + ed448.Point.from_xy(0, ed448.P - 1)).encode(),  # not in the subgroup
]
BAD_DH = [0, 1, int(dh3072.DH_P) - 1, int(dh3072.DH_P), int(dh3072.DH_P) + 5, int(dh3072.DH_P) - 2]
# p - 2 is in range but not a quadratic residue (p = 7 mod 8: 2 is one, -1 is not)


@pytest.mark.parametrize("bad", BAD_POINTS)
@pytest.mark.parametrize("which", ["y", "first_ecdh"])
def test_bad_points_rejected(bad: bytes, which: str) -> None:
    msg = _identity()
    good = getattr(msg, which).encode()
    data = IDENTITY.replace(good, bad)
    assert data != IDENTITY
    with pytest.raises(InvalidGroupElement):
        IdentityMessage.decode(data)


@pytest.mark.parametrize("bad", BAD_DH)
@pytest.mark.parametrize("which", ["b", "first_dh"])
def test_bad_dh_values_rejected(bad: int, which: str) -> None:
    msg = _identity()
    data = IDENTITY.replace(encode_mpi(getattr(msg, which)), encode_mpi(bad))
    assert data != IDENTITY
    with pytest.raises(RemoteProtocolError) as info:
        IdentityMessage.decode(data)
    # a DH value that is not in the group, or (p, p+5) a length change the parser notices
    assert isinstance(info.value, InvalidGroupElement | DecodeError)


def test_non_minimal_mpi_rejected() -> None:
    msg = _identity()
    raw = msg.b.to_bytes(384, "big")
    data = IDENTITY.replace(encode_mpi(msg.b), (385).to_bytes(4, "big") + b"\x00" + raw)
    with pytest.raises(DecodeError):
        IdentityMessage.decode(data)


def test_sigma_scalar_out_of_range_rejected() -> None:
    msg = AuthIMessage.decode(AUTH_I)
    bad = ed448.Q.to_bytes(57, "little")
    data = AUTH_I[:HEADER_BYTES] + bad + msg.sigma.encode()[57:]
    with pytest.raises(InvalidGroupElement):
        AuthIMessage.decode(data)


def test_encode_of_built_messages() -> None:
    ident = _identity()
    rebuilt = IdentityMessage(
        ident.sender_tag,
        ident.receiver_tag,
        ClientProfile.decode(ident.profile.encode()),
        ident.y,
        ident.b,
        ident.first_ecdh,
        ident.first_dh,
    )
    assert rebuilt.encode() == IDENTITY
    sigma = RingSignature(1, 2, 3, 4, 5, 6)
    auth_i = AuthIMessage(0x100, 0x101, sigma)
    assert auth_i.encode() == encode_header(MSG_AUTH_I, 0x100, 0x101) + sigma.encode()
    assert AuthIMessage.decode(auth_i.encode()) == auth_i
    assert "b=" not in repr(ident) and "sigma" not in repr(auth_i)


@given(st.sampled_from(SAMPLES), st.data())
def test_bit_flips_raise_only_documented_errors(data: bytes, draw: st.DataObject) -> None:
    pos = draw.draw(st.integers(0, len(data) - 1))
    bit = draw.draw(st.integers(0, 7))
    flipped = bytearray(data)
    flipped[pos] ^= 1 << bit
    try:
        msg = decode_dake_message(bytes(flipped))
    except RemoteProtocolError:
        return
    assert msg.encode() == bytes(flipped)


@given(st.sampled_from(SAMPLES), st.binary(max_size=64), st.integers(0, 4000))
def test_garbage_raises_only_documented_errors(data: bytes, junk: bytes, cut: int) -> None:
    for candidate in (data[:cut] + junk, junk, data[:HEADER_BYTES] + junk):
        try:
            msg = decode_dake_message(candidate)
        except RemoteProtocolError:
            continue
        assert msg.encode() == candidate
