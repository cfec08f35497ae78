"""Fuzz target: the per-message cryptography of v3 data messages, differentially: the C
accelerator's ``otr._speedups.DirectionKeys`` against its pure-Python twin
``otr.v3.datacrypt.PyDirectionKeys`` (when the accelerator is built).

Input: byte 0 chooses ``open`` (even) or ``seal`` (odd).  ``open`` gets the rest as a
binary data message, with the offsets ``split_data`` finds (as in the session), and
both implementations must agree: the same plaintext, or both None (MAC mismatch).  A
message sealed by one opens with the other.  ``seal`` splits the rest into head,
plaintext and revealed keys and both must produce the same wire text.
"""

from __future__ import annotations

from otr.accelerator import native
from otr.errors import DecodeError
from otr.v3.datacrypt import PyDirectionKeys
from otr.wire import envelope, v3

ALLOWED = (DecodeError,)
SEEDS = ("datacrypt",)

AES_KEY = bytes(range(16))
MAC_KEY = bytes(range(100, 120))


def _pair() -> tuple[object, PyDirectionKeys]:
    py = PyDirectionKeys(AES_KEY, MAC_KEY)
    return (native.DirectionKeys(AES_KEY, MAC_KEY) if native is not None else py), py


def one_input(data: bytes) -> None:
    if not data:
        return
    c, py = _pair()
    body = data[1:]
    if data[0] % 2 == 0:
        fields = v3.split_data(body)
        enc_start, auth_end = fields[8], fields[9]
        want = py.open(body, enc_start, auth_end)
        got = c.open(body, enc_start, auth_end)  # type: ignore[attr-defined]
        assert got == want, "C and Python disagree on opening a data message"
        return
    a, b = (body[0] if body else 0), (body[1] if len(body) > 1 else 0)
    rest = body[2:]
    head, ctr = rest[:a], (rest[a : a + 8] + bytes(8))[:8]
    plaintext, reveal = rest[a + 8 : a + 8 + b * 4], rest[a + 8 + b * 4 :]
    wire = py.seal(head, ctr, plaintext, reveal)
    assert c.seal(head, ctr, plaintext, reveal) == wire, "C and Python seal differently"  # type: ignore[attr-defined]
    binary = envelope.decode_otr_message(wire)
    enc_start = len(head) + 12
    auth_end = enc_start + len(plaintext)
    assert c.open(binary, enc_start, auth_end) == plaintext  # type: ignore[attr-defined]
    assert py.open(binary, enc_start, auth_end) == plaintext
