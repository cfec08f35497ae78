"""otr.tools.forge_v4: OTRv4 Data Messages of otr4j's transcript T1, forged with the keys
otr4j recorded, accepted by our double ratchet playing the receiver (Bob)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from otr.errors import AuthenticationFailed
from otr.tools.forge_v4 import (
    modify_data_message_v4,
    read_data_message_v4,
    replace_plaintext_v4,
)
from otr.v4.ratchet import DoubleRatchet
from otr.wire.envelope import decode_otr_message
from otr.wire.v4.data import DataMessage4, decode_plaintext, encode_plaintext
from v4_transcript_util import data_deliveries, recorded_dake, transcripts

T1 = transcripts()["T1"]


def _first() -> tuple[str, dict[str, Any]]:
    step = next(data_deliveries(T1))
    assert step["from"] == "alice"
    return step["wire"], step["keys"]


def _bob() -> DoubleRatchet:
    """Bob's ratchet right after T1's DAKE: the receiver of Alice's first message."""
    return DoubleRatchet.from_dake(recorded_dake(T1, "bob"), os.urandom, T1["now_unix"])


def _open(wire: str) -> bytes:
    return _bob().open(DataMessage4.decode(decode_otr_message(wire)), T1["now_unix"]).plaintext


def test_read_with_the_recorded_mk_enc() -> None:
    wire, keys = _first()
    plaintext, ok = read_data_message_v4(wire, bytes.fromhex(keys["mk_enc"]))
    assert ok and plaintext.hex() == keys["plaintext"]
    assert _open(wire) == plaintext  # the unforged message opens too, for reference
    _, bad = read_data_message_v4(wire, bytes(64))
    assert not bad


def test_modified_with_the_mk_mac_only_is_accepted() -> None:
    wire, keys = _first()
    text = keys["decoded"]["text"]
    at = text.index("alice")
    forged = modify_data_message_v4(wire, bytes.fromhex(keys["mk_mac"]), b"alice", b"mallo", at)
    message, _ = decode_plaintext(_open(forged))
    assert message.decode() == text.replace("alice", "mallo")
    with pytest.raises(ValueError):
        modify_data_message_v4(wire, bytes.fromhex(keys["mk_mac"]), b"alice", b"eve", at)
    with pytest.raises(ValueError):
        modify_data_message_v4(wire, bytes(20), b"a", b"b", 0)


def test_replaced_plaintext_is_accepted() -> None:
    wire, keys = _first()
    new = encode_plaintext("an entirely different text, longer than the first one")
    forged = replace_plaintext_v4(wire, bytes.fromhex(keys["mk_enc"]), new)
    assert _open(forged) == new
    with pytest.raises(AuthenticationFailed):
        replace_plaintext_v4(wire, bytes(64), new)


def test_wrong_mk_mac_is_refused_by_the_receiver() -> None:
    wire, _ = _first()
    forged = modify_data_message_v4(wire, bytes(64), b"a", b"b", 0)
    with pytest.raises(AuthenticationFailed):
        _open(forged)
