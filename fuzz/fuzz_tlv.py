"""Fuzz target: TLV records of a decrypted data message (otr.wire.tlv).

Invariants: ``split_plaintext`` never raises and ``join_plaintext`` inverts it;
``decode_tlvs`` accepts or raises DecodeError, and what it accepts re-encodes to the
same bytes.
"""

from __future__ import annotations

from otr.errors import DecodeError
from otr.wire import tlv

ALLOWED = (DecodeError,)
SEEDS = ("tlv",)


def one_input(data: bytes) -> None:
    message, tlv_bytes = tlv.split_plaintext(data)
    assert b"\0" not in message
    if b"\0" in data:
        assert message + b"\0" + tlv_bytes == data
    else:
        assert (message, tlv_bytes) == (data, b"")
    records = tlv.decode_tlvs(data)
    assert tlv.encode_tlvs(records) == data, "TLVs do not re-encode to the same bytes"
    assert tlv.join_plaintext(b"text", records) == b"text\0" + data
