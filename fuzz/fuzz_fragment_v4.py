"""Fuzz target: OTRv4 fragments and the per-identifier reassembler
(otr.wire.fragment_v4.V4Reassembler).

The input is a sequence of texts separated by NUL bytes, parsed with
``parse_fragment`` and fed in order (the clock advancing a little each time) to one
V4Reassembler with small limits.  Invariants: the limits hold after every fragment
(incomplete messages, characters held); a completed message is the pieces of its
identifier in index order; dropped buffers are reported with a reason.
"""

from __future__ import annotations

from otr.errors import DecodeError
from otr.wire import fragment, fragment_v4

ALLOWED: tuple[type[BaseException], ...] = ()
SEEDS = ("fragment_v4", "otr4j:Fragment")

LIMITS = fragment_v4.V4ReassemblyLimits(
    max_incomplete=4, max_message_chars=4000, max_total_chars=9000, max_age=30.0
)


def one_input(data: bytes) -> None:
    r = fragment_v4.V4Reassembler(LIMITS)
    pieces: dict[tuple[int, int], dict[int, str]] = {}  # the model: what should be held
    completed: set[tuple[int, int]] = set()
    now = 1000.0
    for chunk in data.split(b"\0")[:64]:
        now += 1.0
        try:
            frag = fragment.parse_fragment(chunk.decode("utf-8", "surrogateescape"))
        except DecodeError:
            continue
        if frag.version != 4:
            continue
        key = (frag.sender_instance, frag.identifier)
        out = r.feed(frag, now)
        assert r.pending <= LIMITS.max_incomplete
        assert r.chars_held <= LIMITS.max_total_chars
        # The model: buffers that expired went before this fragment was looked at; the
        # other drops (inconsistent total, too large, evicted) while it was.
        expired = [d for d in out.dropped if d.reason is fragment_v4.DropReason.EXPIRED]
        for d in expired:
            pieces.pop((d.sender_instance, d.identifier), None)
        # A fragment claiming more pieces than the limit allows is ignored, holding nothing.
        too_many = frag.n > LIMITS.max_fragments
        if (
            not too_many
            and key not in completed
            and (key in pieces or len(frag.piece) <= LIMITS.max_message_chars)
        ):
            pieces.setdefault(key, {}).setdefault(frag.k, frag.piece)
        for d in out.dropped:
            assert isinstance(d.reason, fragment_v4.DropReason)
            if d not in expired:
                pieces.pop((d.sender_instance, d.identifier), None)
        if out.message is not None:
            completed.add(key)
            held = pieces.pop(key, {})
            assert out.message == "".join(held[k] for k in sorted(held)), "wrong reassembly"
    for dropped in r.expire(now + 1e6):
        assert dropped.reason is fragment_v4.DropReason.EXPIRED
    assert r.pending == 0
