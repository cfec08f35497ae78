"""Fuzz target: the strict base-64 decoder of encoded messages, differentially: the C
accelerator's ``otr._speedups.b64decode`` against its pure-Python twin
``otr.wire.envelope.py_b64decode`` (when the accelerator is built).

Invariants: both accept exactly the same bodies (canonical, padded base 64) and return
the same bytes; what they accept re-encodes to the input; rejections are ValueError
(which ``decode_base64_body`` turns into DecodeError).
"""

from __future__ import annotations

import binascii

from otr.accelerator import native
from otr.errors import DecodeError
from otr.wire import envelope

ALLOWED = (DecodeError,)
SEEDS = ("base64",)


def _decode(fn: object, body: str) -> bytes | None:
    try:
        out = fn(body)  # type: ignore[operator]
    except ValueError:
        return None
    assert isinstance(out, bytes)
    return out


def one_input(data: bytes) -> None:
    body = data.decode("utf-8", "surrogateescape")
    ours = _decode(envelope.py_b64decode, body)
    if native is not None:
        theirs = _decode(native.b64decode, body)
        assert ours == theirs, "C and Python base-64 decoders disagree"
    if ours is not None:
        assert binascii.b2a_base64(ours, newline=False).decode() == body
    envelope.decode_base64_body(body)
