"""Fuzz target: every OTRv2/v3 binary message (otr.wire.v3): D-H Commit, D-H Key,
Reveal Signature, Signature and Data, through ``decode_message`` and the data
message's hot-path ``split_data``.

Invariants: rejections are DecodeError; what decodes re-encodes byte for byte (the
decoders are strict: no trailing bytes, minimal MPIs, fixed sizes); ``split_data``
agrees with ``decode_message`` on data messages.
"""

from __future__ import annotations

from otr.errors import DecodeError
from otr.wire import v3

ALLOWED = (DecodeError,)
SEEDS = ("wire_v3", "otr4j:EncodedMessageParser")


def one_input(data: bytes) -> None:
    try:
        fields = v3.split_data(data)
    except DecodeError:
        fields = None
    decoded = v3.decode_message(data)
    header = decoded.header
    if isinstance(decoded.message, v3.DataMessage):
        assert fields is not None and fields[0] == header.version
        assert decoded.authenticated == data[: fields[9]]
    else:
        assert fields is None
    again = v3.encode_message(
        header.version, header.sender_instance, header.receiver_instance, decoded.message
    )
    assert again == data, "decoded message does not re-encode to the same bytes"
