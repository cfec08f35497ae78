"""OTRv4 fragments (otr-v4.md "Fragmentation", "Transmitting Fragments",
"Receiving Fragments"; ERRATA D.2 "v4 fragments", B.24).

Wire format, as otr4j writes it (``session/Fragmenter.java``)::

    "?OTR|%08x|%08x|%08x,%05d,%05d,%s,"  identifier, sender tag, receiver tag,
                                         index (1-based), total, piece

The identifier is a random 32-bit value per fragmented message (4 random
bytes read big-endian, :func:`random_identifier`).  Every piece but the last
has ``max_size - 45`` characters: the 44-character header plus the closing
comma, so each fragment is at most ``max_size`` characters.  Parsing is
:func:`otr.wire.fragment.parse_fragment` (it accepts both the padded and the
unpadded numbers, and rejects index 0, total 0 and index > total).

:class:`V4Reassembler` keeps one buffer per (sender tag, identifier), so
pieces of several messages may interleave and arrive in any order (unlike
OTRv3).  Following the spec's "Receiving Fragments":

* a piece for an index already held is a duplicate and is ignored, and so is
  a late piece of a recently completed message;
* a piece whose total differs from its buffer's drops that buffer;
* when every index has arrived, the buffer's pieces joined in index order
  are the received message.

Fragments are not authenticated, so what a peer can make us hold is bounded
by :class:`V4ReassemblyLimits` (defaults after otr4j's ``Assembler``: 100
incomplete messages, and byte and age limits of our own).  A buffer dropped
for any reason is reported in :attr:`Reassembled.dropped` (or returned by
:meth:`V4Reassembler.expire`), so the conversation can raise an event.  The
receiver-tag filter (discard unless it is 0 or ours) is the caller's, who
knows our instance tag.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from .envelope import MAX_ENCODED_LEN
from .fragment import Fragment, split_pieces

__all__ = [
    "V4_FRAGMENT_OVERHEAD",
    "DropReason",
    "DroppedBuffer",
    "Reassembled",
    "V4Reassembler",
    "V4ReassemblyLimits",
    "fragment_message_v4",
    "random_identifier",
]

V4_FRAGMENT_OVERHEAD: Final = 45
"""Characters of a v4 fragment besides its piece: the header
``?OTR|xxxxxxxx|xxxxxxxx|xxxxxxxx,nnnnn,nnnnn,`` (44) and the closing comma."""


def random_identifier(rng: Callable[[int], bytes]) -> int:
    """A fragment identifier: 4 random bytes, big-endian (otr4j's ``Random.nextInt``)."""
    raw = rng(4)
    if len(raw) != 4:
        raise ValueError("rng returned the wrong number of bytes")
    return int.from_bytes(raw, "big")


def fragment_message_v4(
    text: str, max_size: int, identifier: int, our_instance: int, their_instance: int
) -> list[str]:
    """Split the encoded message ``text`` into v4 fragments of at most ``max_size``
    characters, exactly as otr4j does (see the module docstring).

    The caller decides whether to fragment (otr4j does when ``text`` is longer
    than ``max_size``).  Raises ValueError if ``max_size`` leaves no room for a
    piece, if more than 65535 fragments would be needed, if ``text`` is empty
    or contains a comma, or if a tag or the identifier does not fit 32 bits.
    """
    values = (identifier, our_instance, their_instance)
    pieces = split_pieces(text, max_size, V4_FRAGMENT_OVERHEAD, values)
    prefix = f"?OTR|{identifier:08x}|{our_instance:08x}|{their_instance:08x},"
    return [f"{prefix}{k:05d},{len(pieces):05d},{piece}," for k, piece in enumerate(pieces, 1)]


@dataclass(frozen=True)
class V4ReassemblyLimits:
    """Bounds on what incomplete v4 messages may hold (settings; ERRATA B.24)."""

    max_incomplete: int = 100
    """Incomplete messages held at once (otr4j: 100); the oldest is dropped first."""
    max_message_chars: int = MAX_ENCODED_LEN
    """Characters of pieces one message may hold (an encoded message longer than
    :data:`otr.wire.envelope.MAX_ENCODED_LEN` is refused anyway)."""
    max_total_chars: int = 4 * MAX_ENCODED_LEN
    """Characters of pieces all incomplete messages may hold together."""
    max_age: float = 300.0
    """Seconds an incomplete message may wait for its remaining pieces."""
    remember_completed: int = 100
    """Identifiers of completed messages remembered, so that late duplicates of
    their pieces are ignored instead of starting a buffer that never completes."""


class DropReason(enum.Enum):
    """Why an incomplete message was dropped."""

    EXPIRED = "its pieces did not all arrive in time"
    EVICTED = "too many incomplete messages or characters held; the oldest was dropped"
    TOO_LARGE = "the message would exceed the per-message limit"
    INCONSISTENT = "a piece disagreed with the total of the earlier ones"


@dataclass(frozen=True)
class DroppedBuffer:
    """An incomplete message that was dropped: whose, which, and why."""

    sender_instance: int
    identifier: int
    reason: DropReason
    pieces_held: int
    total: int


@dataclass(frozen=True)
class Reassembled:
    """The outcome of one fragment: the completed message, if any, and any
    incomplete messages dropped meanwhile."""

    message: str | None = None
    dropped: tuple[DroppedBuffer, ...] = ()


@dataclass
class _Buffer:
    total: int
    created: float
    pieces: dict[int, str] = field(default_factory=dict)
    chars: int = 0


_Key = tuple[int, int]  # (sender instance, identifier)


class V4Reassembler:
    """Per-identifier reassembly of v4 fragments for one conversation.

    ``now`` arguments are Unix time in seconds (one clock for every timer;
    a clock jump can only make a buffer expire early or late).
    """

    def __init__(self, limits: V4ReassemblyLimits | None = None) -> None:
        self.limits = limits or V4ReassemblyLimits()
        self._buffers: dict[_Key, _Buffer] = {}  # insertion order = age order
        self._chars = 0
        self._completed: dict[_Key, None] = {}  # an ordered set, oldest first

    @property
    def pending(self) -> int:
        """How many incomplete messages are held."""
        return len(self._buffers)

    @property
    def chars_held(self) -> int:
        return self._chars

    def next_deadline(self) -> float | None:
        """When the oldest incomplete message expires (None if none is held)."""
        for buf in self._buffers.values():
            return buf.created + self.limits.max_age
        return None

    def expire(self, now: float) -> list[DroppedBuffer]:
        """Drop (and report) every incomplete message older than ``max_age``."""
        dropped = []
        for key, buf in list(self._buffers.items()):
            if now - buf.created >= self.limits.max_age:
                dropped.append(self._drop(key, DropReason.EXPIRED))
        return dropped

    def feed(self, frag: Fragment, now: float) -> Reassembled:
        """Add a parsed v4 fragment (``frag.version == 4``); see the module docstring."""
        if frag.version != 4:
            raise ValueError("V4Reassembler takes OTRv4 fragments only")
        dropped = self.expire(now)
        key = (frag.sender_instance, frag.identifier)
        if key in self._completed:
            return Reassembled(dropped=tuple(dropped))  # a late duplicate: ignored
        buf = self._buffers.get(key)
        if buf is not None and buf.total != frag.n:
            dropped.append(self._drop(key, DropReason.INCONSISTENT))
            return Reassembled(dropped=tuple(dropped))
        if buf is not None and frag.k in buf.pieces:
            return Reassembled(dropped=tuple(dropped))  # a duplicate: ignored
        size = len(frag.piece)
        if (buf.chars if buf else 0) + size > self.limits.max_message_chars:
            if buf is not None:
                dropped.append(self._drop(key, DropReason.TOO_LARGE))
            return Reassembled(dropped=tuple(dropped))
        if frag.n == 1:  # a whole message in one fragment: nothing to hold
            self._remember(key)
            return Reassembled(frag.piece, tuple(dropped))
        if buf is None:
            while self._buffers and len(self._buffers) >= self.limits.max_incomplete:
                dropped.append(self._drop(next(iter(self._buffers)), DropReason.EVICTED))
            buf = self._buffers[key] = _Buffer(frag.n, now)
        while self._chars + size > self.limits.max_total_chars:
            oldest = next(k for k in self._buffers if k != key) if len(self._buffers) > 1 else key
            dropped.append(self._drop(oldest, DropReason.EVICTED))
            if oldest == key:
                return Reassembled(dropped=tuple(dropped))
        buf.pieces[frag.k] = frag.piece
        buf.chars += size
        self._chars += size
        if len(buf.pieces) < buf.total:
            return Reassembled(dropped=tuple(dropped))
        del self._buffers[key]
        self._chars -= buf.chars
        self._remember(key)
        whole = "".join(buf.pieces[i] for i in range(1, buf.total + 1))
        return Reassembled(whole, tuple(dropped))

    def _remember(self, key: _Key) -> None:
        self._completed[key] = None
        while len(self._completed) > self.limits.remember_completed:
            del self._completed[next(iter(self._completed))]

    def _drop(self, key: _Key, reason: DropReason) -> DroppedBuffer:
        buf = self._buffers.pop(key)
        self._chars -= buf.chars
        return DroppedBuffer(key[0], key[1], reason, len(buf.pieces), buf.total)
