"""Fuzz target: the fused per-message path of v4 data messages, differentially: the C
accelerator's ``v4_open_wire`` / ``v4_seal_wire`` against their pure-Python twins
``otr.v4.datacrypt.py_open_wire`` / ``py_seal_wire`` (when the accelerator is built).

Input: byte 0 chooses what the rest is.  ``% 3 == 0``: a binary data message, opened
as ``"?OTR:" + base64 + "."`` against the chain of :data:`HEAD` and message id
:data:`MESSAGE_ID`; ``% 3 == 1``: the same, as raw text (Latin-1: the envelope and
base-64 checks); both implementations must give the same result (None, or text,
MKmac and next chain key).  ``% 3 == 2``: flags, a message id, the number of revealed
MACs and a message; both must seal the same text, and it must open with both.
"""

from __future__ import annotations

from otr.accelerator import native
from otr.v4 import datacrypt
from otr.wire import envelope
from otr.wire.v4.data import chain_head

ALLOWED = ()
SEEDS = ("datacrypt_v4",)

CHAIN_KEY = bytes(range(64))
HEAD = chain_head(0x1000, 0x2000, 3, bytes(range(57)), 0x1234_5678_9ABC)
"""A DH-ratchet chain (ratchet id 3 carries a DH key)."""
MESSAGE_ID = 2

_SEALS = [datacrypt.py_seal_wire] + ([native.v4_seal_wire] if native is not None else [])
_OPENS = [datacrypt.py_open_wire] + ([native.v4_open_wire] if native is not None else [])


def seed_inputs() -> list[bytes]:
    """Messages of the chain, as the open mode reads them, and seal-mode inputs."""
    out = []
    for mid, text, reveals in ((2, b"hello", 0), (2, "h\u00e9 \u2713".encode(), 2), (5, b"", 1)):
        wire, _ = datacrypt.py_seal_wire(CHAIN_KEY, HEAD, 0, mid, text, bytes(64) * reveals)
        out.append(b"\0" + envelope.decode_otr_message(wire))
        out.append(b"\1" + wire.encode())
        out.append(bytes((2, 1, 0, 0, 0, mid, reveals)) + text)
    return out


def _open_all(text: str) -> object:
    results = {repr(o(text, CHAIN_KEY, HEAD, MESSAGE_ID)) for o in _OPENS}
    assert len(results) == 1, "C and Python disagree on opening a fused v4 message"
    return results.pop()


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, body = data[0] % 3, data[1:]
    if mode == 0:
        _open_all(envelope.encode_otr_message(body))
    elif mode == 1:
        _open_all(body.decode("latin-1"))
    else:
        flags = body[0] if body else 0
        mid = int.from_bytes(body[1:5].ljust(4, b"\0"), "big")
        reveal = bytes(range(64)) * (body[5] % 4 if len(body) > 5 else 0)
        message = body[6:]
        sealed = {s(CHAIN_KEY, HEAD, flags, mid, message, reveal) for s in _SEALS}
        assert len(sealed) == 1, "C and Python seal differently"
        ((wire, _),) = sealed
        text = message.replace(b"\0", b"?").decode("utf-8", "replace")
        takes = mid != 0 or reveal  # otr4j: message 0 of ratchet id 3 reveals a MAC key
        for o in _OPENS:
            opened = o(wire, CHAIN_KEY, HEAD, mid)
            assert (opened[0] if opened else None) == (text if takes else None)
