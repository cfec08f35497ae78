"""Fuzz target: the OTRv4 interactive DAKE messages (otr.wire.v4.dake): Identity, Auth-R
and Auth-I.

Invariants: rejections are DecodeError, InvalidGroupElement or ProfileError (all
RemoteProtocolError, as the module documents); what decodes re-encodes byte for byte.
"""

from __future__ import annotations

from otr.errors import DecodeError, InvalidGroupElement
from otr.v4.profiles import ProfileError
from otr.wire.v4 import dake

ALLOWED = (DecodeError, InvalidGroupElement, ProfileError)
SEEDS = ("wire_v4_dake", "otr4j:EncodedMessageParser")


def one_input(data: bytes) -> None:
    message = dake.decode_dake_message(data)
    assert message.encode() == data, "DAKE message does not re-encode to the same bytes"
