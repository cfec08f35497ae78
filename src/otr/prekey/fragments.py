"""Fragments of prekey-server messages (otr-v4-prekey-server.md "Fragmentation
of some Messages", "Transmitting Fragments", "Receiving Fragments")::

    "?OTRP|%x|%x|%x,%hu,%hu,%s,"  identifier, sender tag, receiver tag, index, total, piece

:func:`fragment` writes ``?OTRP|%08x|%08x|%08x,%05d,%05d,<piece>,``.
:class:`Reassembler` keeps one buffer per (sender, identifier), with a cap on
the number of buffers, on the characters held (per buffer and in total) and a
timeout, all settings with defaults.  Out-of-order fragments are accepted; a
duplicate index is rejected (not counted); a ``total`` that differs from the
buffer's drops the buffer; unfragmented messages leave the buffers alone.

Spec error (issue 10): "If the message is a Prekey Ensemble Retrieval message,
discard ... if the receiver tag does not match" cannot be applied to a
fragment, whose type is only known after reassembly.  The receiver-tag rule is
applied to every fragment instead (:meth:`Reassembler.feed`'s ``our_tag``:
a non-zero receiver tag other than ours drops the fragment), and the
reassembled message's own receiver tag is checked again by its handler.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from ..crypto.ed448 import Rng
from ..errors import DecodeError

__all__ = [
    "PREFIX",
    "Fragment",
    "Reassembler",
    "ReassemblyLimits",
    "fragment",
    "fragment_if_needed",
    "is_fragment",
    "parse_fragment",
]

PREFIX: Final = "?OTRP|"
_MAX_PIECES: Final = 0xFFFF
_HEADER_LEN: Final = len("?OTRP|00000000|00000000|00000000,00000,00000,,")
_PATTERN: Final = re.compile(
    r"\?OTRP\|([0-9A-Fa-f]{1,8})\|([0-9A-Fa-f]{1,8})\|([0-9A-Fa-f]{1,8}),"
    r"([0-9]{1,5}),([0-9]{1,5}),([^,]+),\s*"
)


@dataclass(frozen=True)
class Fragment:
    identifier: int
    sender_tag: int
    receiver_tag: int
    index: int
    total: int
    piece: str


def is_fragment(text: str) -> bool:
    return text.lstrip().startswith(PREFIX)


def parse_fragment(text: str) -> Fragment:
    """Parse one fragment; DecodeError if malformed, an empty piece, index 0,
    total 0, index > total or a value beyond 65535."""
    m = _PATTERN.fullmatch(text.strip())
    if m is None:
        raise DecodeError("malformed prekey-server fragment")
    ident, sender, receiver, index, total, piece = m.groups()
    i, n = int(index), int(total)
    if not 0 < i <= n <= _MAX_PIECES:
        raise DecodeError("illegal fragment index or total")
    return Fragment(int(ident, 16), int(sender, 16), int(receiver, 16), i, n, piece)


def fragment(
    text: str, max_size: int, identifier: int, sender_tag: int, receiver_tag: int
) -> list[str]:
    """Split an encoded message into fragments of at most ``max_size`` characters
    (the whole message alone when it fits).  ``identifier`` is a random 32-bit
    value unique while the message is in flight."""
    if len(text) <= max_size:
        return [text]
    piece_len = max_size - _HEADER_LEN
    if piece_len < 1:
        raise ValueError("max_size leaves no room for a fragment piece")
    if "," in text:
        raise ValueError("cannot fragment a message containing ','")
    pieces = [text[i : i + piece_len] for i in range(0, len(text), piece_len)]
    if len(pieces) > _MAX_PIECES:
        raise ValueError("too many fragments needed")
    head = f"{PREFIX}{identifier:08x}|{sender_tag:08x}|{receiver_tag:08x}"
    total = len(pieces)
    return [f"{head},{k:05d},{total:05d},{p}," for k, p in enumerate(pieces, 1)]


def fragment_if_needed(
    text: str, max_size: int | None, rng: Rng, sender_tag: int, receiver_tag: int
) -> list[str]:
    """``[text]`` when it fits ``max_size`` (or there is no limit), else its
    fragments under a fresh random identifier drawn from ``rng``."""
    if max_size is None or len(text) <= max_size:
        return [text]
    identifier = int.from_bytes(rng(4), "big")
    return fragment(text, max_size, identifier, sender_tag, receiver_tag)


@dataclass(frozen=True)
class ReassemblyLimits:
    """Bounds on what a :class:`Reassembler` holds (fragments are unauthenticated)."""

    max_buffers: int = 1000
    """Incomplete messages held at once (oldest dropped first)."""
    max_buffers_per_sender: int = 4
    max_message_chars: int = 1 << 20
    """Characters of one reassembled message (1 MiB)."""
    max_total_chars: int = 16 << 20
    """Characters held across all buffers (16 MiB)."""
    timeout: float = 60.0
    """Seconds after its first fragment that an incomplete message is dropped."""


@dataclass
class _Buffer:
    total: int
    started: float
    pieces: dict[int, str] = field(default_factory=dict)
    chars: int = 0


class Reassembler:
    """Per-(sender, identifier) reassembly buffers with limits and timeouts."""

    def __init__(self, limits: ReassemblyLimits | None = None) -> None:
        self.limits = limits or ReassemblyLimits()
        self._buffers: OrderedDict[tuple[str, int], _Buffer] = OrderedDict()
        self._per_sender: dict[str, int] = {}
        self._chars = 0

    def __len__(self) -> int:
        return len(self._buffers)

    @property
    def held_chars(self) -> int:
        return self._chars

    def _drop(self, key: tuple[str, int]) -> None:
        buf = self._buffers.pop(key)
        self._chars -= buf.chars
        left = self._per_sender[key[0]] - 1
        if left:
            self._per_sender[key[0]] = left
        else:
            del self._per_sender[key[0]]

    def expire(self, now: float) -> None:
        """Drop buffers older than the timeout."""
        while self._buffers:
            key, buf = next(iter(self._buffers.items()))
            if now - buf.started < self.limits.timeout:
                break
            self._drop(key)

    def feed(
        self, sender: str, frag: Fragment, now: float, *, our_tag: int | None = None
    ) -> str | None:
        """Add a fragment from ``sender``; return the whole message when complete."""
        self.expire(now)
        limits = self.limits
        if our_tag is not None and frag.receiver_tag not in (0, our_tag):
            return None
        key = (sender, frag.identifier)
        buf = self._buffers.get(key)
        if buf is None:
            if frag.total == 1:
                return frag.piece
            if self._per_sender.get(sender, 0) >= limits.max_buffers_per_sender:
                return None
            while len(self._buffers) >= limits.max_buffers:
                self._drop(next(iter(self._buffers)))
            buf = _Buffer(frag.total, now)
            self._buffers[key] = buf
            self._per_sender[sender] = self._per_sender.get(sender, 0) + 1
        elif frag.total != buf.total:
            self._drop(key)
            return None
        if frag.index in buf.pieces:
            return None
        size = len(frag.piece)
        if buf.chars + size > limits.max_message_chars:
            self._drop(key)
            return None
        while self._chars + size > limits.max_total_chars and len(self._buffers) > 1:
            oldest = next(iter(self._buffers))
            if oldest == key:
                break
            self._drop(oldest)
        if self._chars + size > limits.max_total_chars:
            self._drop(key)
            return None
        buf.pieces[frag.index] = frag.piece
        buf.chars += size
        self._chars += size
        if len(buf.pieces) < buf.total:
            return None
        whole = "".join(buf.pieces[i] for i in range(1, buf.total + 1))
        self._drop(key)
        return whole
