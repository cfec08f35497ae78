"""The (version, type) -> decoder registry of encoded messages (``otr.wire.registry``)."""

from __future__ import annotations

import pytest

from otr.errors import DecodeError
from otr.wire import registry
from otr.wire import v3 as w


def test_v2_and_v3_types_are_registered() -> None:
    types = {w.DH_COMMIT, w.DH_KEY, w.REVEAL_SIGNATURE, w.SIGNATURE, w.DATA}
    assert {(v, t) for v in (2, 3) for t in types} <= registry.registered()


@pytest.mark.parametrize("version", [2, 3])
def test_decode_routes_by_version_and_type(version: int) -> None:
    msg = w.DHKey(123456789)
    binary = w.encode_message(version, 0x1234, 0x5678, msg)
    header, decoded = registry.decode(binary)
    assert decoded == msg
    assert header.version == version and header.type == w.DH_KEY
    tags = (0x1234, 0x5678) if version == 3 else (0, 0)
    assert (header.sender_instance, header.receiver_instance) == tags


def test_decode_rejects_unknown_and_truncated() -> None:
    good = w.encode_message(3, 0x100, 0x100, w.DHKey(5))
    with pytest.raises(DecodeError, match="unknown message type"):
        registry.decode(good[:2] + b"\x77" + good[3:])
    with pytest.raises(DecodeError, match="unsupported protocol version"):
        registry.decode(b"\x00\x09" + good[2:])
    for cut in (0, 1, 2, 5, 10):
        with pytest.raises(DecodeError):
            registry.decode(good[:cut])
    with pytest.raises(DecodeError):
        registry.decode(good + b"\x00")  # the decoder stays strict


def test_register_new_version_and_conflicts() -> None:
    def decoder(binary: bytes) -> object:
        return ("toy", binary[11:])

    registry.register(0x7F00, 0x42, decoder)
    registry.register(0x7F00, 0x42, decoder)  # the same decoder again is harmless
    header, msg = registry.decode(b"\x7f\x00\x42" + bytes(8) + b"xy")
    assert msg == ("toy", b"xy") and header.version == 0x7F00
    with pytest.raises(ValueError):
        registry.register(0x7F00, 0x42, lambda b: b)
