"""Fragments (OTRv3 spec "Fragmentation"; OTRv4 spec "Fragmentation" for the v4 layout).

Wire formats (printf-like, numbers may have leading zeroes; ERRATA A5)::

    v3: "?OTR|%x|%x,%hu,%hu,%s,"     sender_instance, receiver_instance, k, n, piece[k]
    v2: "?OTR,%hu,%hu,%s,"           k, n, piece[k]
    v4: "?OTR|%x|%x|%x,%hu,%hu,%s,"  identifier, sender_instance, receiver_instance, ...

:func:`fragment_message` writes exactly what libotr 4.1.1 writes (``fragment_and_send`` and
``otrl_proto_fragment_create``): ``"?OTR|%08x|%08x,%05hu,%05hu,%s,"`` / ``"?OTR,%05hu,%05hu,%s,"``
with pieces of ``max_size - 37`` (v3) or ``max_size - 19`` (v2) characters, so that each
fragment is at most ``max_size - 1`` characters long.  :class:`Reassembler` holds the single
buffer of the spec's "Receiving Fragments" rules, with hard bounds on what it keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DecodeError

__all__ = [
    "MAX_FRAGMENTS",
    "MAX_REASSEMBLY_BYTES",
    "Fragment",
    "Reassembler",
    "fragment_message",
    "parse_fragment",
    "split_pieces",
]

MAX_PIECES = 0xFFFF
"""k and n are unsigned shorts: at most 65535 (spec "Transmitting Fragments")."""

MAX_FRAGMENTS = MAX_PIECES
"""Largest n the :class:`Reassembler` accepts.  It equals the protocol's own limit, so any
sequence libotr can send is accepted; memory is bounded by :data:`MAX_REASSEMBLY_BYTES`."""

MAX_REASSEMBLY_BYTES = 1024 * 1024
"""Most characters of pieces the :class:`Reassembler` holds at once (1 MiB)."""

_HEADER_LEN = {3: 37, 2: 19}
"""libotr's ``headerlen``: the printed header and trailing comma (36 / 18 characters) plus one
for the C string's NUL, which libotr's arithmetic counts against the maximum message size."""

_HEX = "([0-9A-Fa-f]{1,16})"
_DEC = "([0-9]{1,10})"
_PIECE = "([^,]+),"
_V3_V4 = re.compile(rf"\?OTR\|{_HEX}\|{_HEX}(?:\|{_HEX})?,{_DEC},{_DEC},{_PIECE}")
_V2 = re.compile(rf"\?OTR,{_DEC},{_DEC},{_PIECE}")


@dataclass(frozen=True)
class Fragment:
    """One received fragment.  v2 fragments carry no instance tags (both 0); ``identifier``
    is only in v4 fragments."""

    version: int
    sender_instance: int
    receiver_instance: int
    k: int
    n: int
    piece: str
    identifier: int = 0


def _hex32(field: str) -> int:
    value = int(field, 16)
    if value > 0xFFFFFFFF:
        raise DecodeError("fragment instance tag does not fit 32 bits")
    return value


def _short(field: str) -> int:
    value = int(field, 10)
    if value > MAX_PIECES:
        raise DecodeError("fragment index or total exceeds 65535")
    return value


def parse_fragment(text: str) -> Fragment:
    """Parse the fragment in ``text`` (spec "Receiving Fragments": "Parse it as the printf
    statement above into k, n, and piece").

    As libotr, the first ``?OTR|`` in the text is parsed if there is one, else the first
    ``?OTR,``; text before the marker and after the piece's closing comma is ignored.  Hex
    instance tags and decimal k, n are accepted with or without leading zeroes.  Raises
    :class:`~otr.errors.DecodeError` on anything malformed, on an empty piece, and on the
    illegal fragments the spec says to discard (k == 0, n == 0, k > n) or k, n > 65535.
    """
    at = text.find("?OTR|")
    if at >= 0:
        m = _V3_V4.match(text, at)
        if m is None:
            raise DecodeError("malformed OTR fragment")
        first, second, third, k_field, n_field, piece = m.groups()
        if third is None:
            version, identifier, sender, receiver = 3, 0, _hex32(first), _hex32(second)
        else:
            version, identifier = 4, _hex32(first)
            sender, receiver = _hex32(second), _hex32(third)
    else:
        at = text.find("?OTR,")
        if at < 0:
            raise DecodeError("not an OTR fragment")
        m = _V2.match(text, at)
        if m is None:
            raise DecodeError("malformed OTR fragment")
        k_field, n_field, piece = m.groups()
        version, identifier, sender, receiver = 2, 0, 0, 0
    k, n = _short(k_field), _short(n_field)
    if k == 0 or n == 0 or k > n:
        raise DecodeError("illegal fragment index")
    return Fragment(version, sender, receiver, k, n, piece, identifier)


def fragment_message(
    text: str, max_size: int, version: int, our_instance: int, their_instance: int
) -> list[str]:
    """Split the encoded message ``text`` into fragments of at most ``max_size`` characters
    (spec "Transmitting Fragments"), exactly as libotr 4.1.1 does.

    Each piece has ``max_size - 37`` (v3) / ``max_size - 19`` (v2) characters except the
    last; the count is ``ceil(len(text) / piece size)``.  ``version`` 3 writes the instance
    tags (``our_instance`` as sender, ``their_instance`` as receiver, 0 if unknown).  The
    caller decides whether to fragment (libotr does only when ``len(text) > max_size``).
    Raises ValueError if ``max_size`` leaves no room for a piece, if more than 65535
    fragments would be needed, or if ``text`` is empty or contains a comma (which would end
    a piece early).
    """
    header_len = _HEADER_LEN.get(version)
    if header_len is None:
        raise ValueError(f"cannot fragment for OTR version {version}")
    pieces = split_pieces(text, max_size, header_len, (our_instance, their_instance))
    count = len(pieces)
    prefix = f"?OTR|{our_instance:08x}|{their_instance:08x}," if version == 3 else "?OTR,"
    return [f"{prefix}{k:05d},{count:05d},{piece}," for k, piece in enumerate(pieces, 1)]


def split_pieces(
    text: str, max_size: int, overhead: int, header_values: tuple[int, ...] = ()
) -> list[str]:
    """The pieces of ``text`` for fragments of at most ``max_size`` characters, each
    fragment costing ``overhead`` characters besides its piece (shared by the v3 and v4
    fragmenters).  ValueError if no piece fits, if ``text`` is empty or contains a
    comma, if more than 65535 pieces are needed, or if one of ``header_values``
    (instance tags, identifier) does not fit 32 bits."""
    piece_len = max_size - overhead
    if piece_len < 1:
        raise ValueError(f"max_size {max_size} leaves no room for a fragment piece")
    if not text:
        raise ValueError("cannot fragment an empty message")
    if "," in text:
        raise ValueError("cannot fragment a message containing ','")
    for value in header_values:
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{value} does not fit 32 bits")
    count = (len(text) - 1) // piece_len + 1
    if count > MAX_PIECES:
        raise ValueError(f"{count} fragments needed, at most {MAX_PIECES} allowed")
    return [text[i : i + piece_len] for i in range(0, len(text), piece_len)]


class Reassembler:
    """The single fragment buffer of spec "Receiving Fragments" (for one sender instance).

    The stored state is (K, N, F): the last fragment number, the total, the pieces so far.
    """

    __slots__ = ("_held", "_k", "_n", "_pieces", "_version")

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._held = 0
        self._k = 0
        self._n = 0
        self._version = 0

    def reset(self) -> None:
        """Forget any stored fragment: F = "", (K, N) = (0, 0).  The spec asks for this
        whenever a non-OTR or an unfragmented message arrives."""
        if not self._n:  # nothing stored (N > 0 whenever a piece is held)
            return
        self._pieces = []
        self._held = 0
        self._k = 0
        self._n = 0
        self._version = 0

    @property
    def pending(self) -> bool:
        """Whether part of a message is held."""
        return self._n > 0

    def feed(self, frag: Fragment) -> str | None:
        """Add ``frag``; return the whole message when this fragment completes it.

        * k == 0, n == 0 or k > n: an illegal fragment, discarded (the buffer is kept).
        * k == 1: forget any stored fragment, store the piece, (K, N) = (1, n).
        * n == N and k == K + 1 (and the same protocol version): append the piece.
        * otherwise: forget the stored fragment.

        Then, if N > 0 and K == N, the stored pieces are the received message.  Beyond the
        spec, an n above :data:`MAX_FRAGMENTS` or more than :data:`MAX_REASSEMBLY_BYTES`
        characters held also forget the stored fragment.
        """
        k, n = frag.k, frag.n
        if k < 1 or n < 1 or k > n:
            return None
        if n > MAX_FRAGMENTS:
            self.reset()
            return None
        if k == 1:
            self.reset()
        elif not (n == self._n and k == self._k + 1 and frag.version == self._version):
            self.reset()
            return None
        if self._held + len(frag.piece) > MAX_REASSEMBLY_BYTES:
            self.reset()
            return None
        self._pieces.append(frag.piece)
        self._held += len(frag.piece)
        self._k, self._n, self._version = k, n, frag.version
        if self._k == self._n:
            whole = "".join(self._pieces)
            self.reset()
            return whole
        return None
