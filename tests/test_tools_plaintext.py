"""otr.tools.plaintext: messages and TLVs of decrypted plaintexts, v3 and v4, against TLVs
made by our SMP machine and the otr4j transcripts' recorded plaintexts."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from conftest import SPEC_VECTORS
from otr.events import Tlv
from otr.smp.v3 import Smp
from otr.tools.plaintext import describe_plaintext
from otr.wire.tlv import join_plaintext


def test_v3_smp1q_from_a_real_smp_machine() -> None:
    step = Smp(b"a" * 20, b"b" * 20, b"s" * 8, os.urandom).start(b"secret", "Où?")
    (smp1q,) = step.tlvs
    out = describe_plaintext(join_plaintext(b"", step.tlvs))
    (tlv,) = out["tlvs"]
    assert (tlv["type"], tlv["name"], tlv["length"]) == (7, "SMP Message 1Q", len(smp1q.value))
    assert tlv["question"] == "Où?" and len(tlv["mpis"]) == 6
    # The MPIs are the values after the question: the first is g2a, an element of the group.
    assert int(tlv["mpis"][0]) > 1 and "error" not in tlv


def test_v3_message_padding_disconnect_and_extra_key() -> None:
    tlvs = [Tlv(0, bytes(5)), Tlv(1), Tlv(8, b"\x00\x00\x00\x02usedata"), Tlv(99, b"\x01")]
    out = describe_plaintext(join_plaintext("héllo".encode(), tlvs))
    assert out["message"] == "héllo"
    assert [t["name"] for t in out["tlvs"]] == [
        "Padding",
        "Disconnected",
        "Extra symmetric key",
        "unknown",
    ]
    assert (out["tlvs"][2]["use"], out["tlvs"][2]["usedata"]) == (2, b"usedata")
    assert out["tlvs"][3]["value"] == b"\x01" and "value" not in out["tlvs"][0]


def test_malformed_tlvs_are_reported() -> None:
    assert describe_plaintext(b"hi\x00\x00\x01\x00\x09ab")["tlv_error"]
    (bad,) = describe_plaintext(b"\x00\x00\x02\x00\x04\xff\xff\xff\xff")["tlvs"]
    assert "malformed SMP payload" in bad["error"]
    (noq,) = describe_plaintext(b"\x00\x00\x07\x00\x02ab")["tlvs"]
    assert noq["error"] == "question not NUL-terminated"
    assert describe_plaintext(b"no tlvs at all") == {"message": "no tlvs at all", "tlvs": []}
    (bad4,) = describe_plaintext(b"\x00\x00\x03\x00\x01x", 4)["tlvs"]
    assert bad4["name"] == "SMP Message 2" and bad4["error"]


def _recorded_plaintexts() -> list[dict[str, Any]]:
    data = json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())
    return [
        step["keys"]
        for t in data["transcripts"]
        for step in t["steps"]
        if step["kind"] == "deliver" and "plaintext" in step.get("keys", {})
    ]


@pytest.mark.parametrize("keys", _recorded_plaintexts(), ids=lambda k: f"r{k['ratchet_id']}")
def test_v4_plaintexts_as_otr4j_decoded_them(keys: dict[str, Any]) -> None:
    out = describe_plaintext(bytes.fromhex(keys["plaintext"]), 4)
    decoded = keys["decoded"]
    assert out["message"] == decoded["text"]
    assert len(out["tlvs"]) == len(decoded["tlvs"])
    for ours, theirs in zip(out["tlvs"], decoded["tlvs"], strict=True):
        assert (ours["type"], ours["length"]) == (theirs["type"], theirs["length"])
        if theirs["type"] == 7:  # OTRv4's extra symmetric key TLV: 4-byte use, then data
            value = bytes.fromhex(theirs["value"])
            assert (ours["use"], ours["usedata"]) == (int.from_bytes(value[:4], "big"), value[4:])
        for name, value in theirs.get("smp_fields", {}).items():
            assert (ours[name] if name == "question" else ours[name].hex()) == value
