"""Fuzz target: fragments (otr.wire.fragment), both layouts (v3/v4 ``?OTR|``, v2
``?OTR,``) and the Reassembler.

The input is a sequence of texts separated by NUL bytes, parsed and fed to one
Reassembler in order.  Invariants: parse errors are DecodeError; a parsed fragment has
1 <= k <= n <= 65535 and 32-bit tags; the Reassembler never holds more than
MAX_REASSEMBLY_BYTES characters and returns a whole message only when the last piece
(k == n) of an in-order sequence arrives; the message returned is exactly the pieces
fed since the k == 1 fragment that started it.
"""

from __future__ import annotations

from otr.errors import DecodeError
from otr.wire import fragment

ALLOWED: tuple[type[BaseException], ...] = ()
SEEDS = ("fragment", "otr4j:Fragment")


def one_input(data: bytes) -> None:
    r = fragment.Reassembler()
    pieces: list[str] = []
    for chunk in data.split(b"\0")[:64]:
        text = chunk.decode("utf-8", "surrogateescape")
        try:
            frag = fragment.parse_fragment(text)
        except DecodeError:
            continue
        assert frag.version in (2, 3, 4)
        assert 1 <= frag.k <= frag.n <= fragment.MAX_PIECES
        assert 0 <= frag.sender_instance <= 0xFFFFFFFF
        assert 0 <= frag.receiver_instance <= 0xFFFFFFFF
        assert frag.piece and "," not in frag.piece
        if frag.k == 1:
            pieces = []
        pieces.append(frag.piece)
        whole = r.feed(frag)
        assert r._held <= fragment.MAX_REASSEMBLY_BYTES
        if whole is not None:
            assert frag.k == frag.n
            assert whole == "".join(pieces)
            assert not r.pending
            pieces = []
        elif not r.pending:
            pieces = []
