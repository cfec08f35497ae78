"""The otr4j OTRv4 transcripts (shared/spec/vectors/otr4j-v4-transcripts.json, see the
vectors README) for the DAKE, session and conversation tests: wire decoding, the DAKE
deliveries and a party's recorded random draws as its rng (loading is
``v4_transcript_util``'s, shared with the ratchet tests)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from v4_transcript_util import transcripts

DAKE_TYPES = ("IdentityMessage", "AuthRMessage", "AuthIMessage")


def load_transcripts() -> list[dict[str, Any]]:
    """The six transcripts T1..T6, in order (loaded once, by v4_transcript_util)."""
    return list(transcripts().values())


def transcript(tid: str) -> dict[str, Any]:
    return transcripts()[tid]


def wire_bytes(wire: str) -> bytes:
    """The binary of an encoded message ``?OTR:<base64>.``."""
    assert wire.startswith("?OTR:") and wire.endswith(".")
    return base64.b64decode(wire[5:-1], validate=True)


def deliveries(t: dict[str, Any], kinds: tuple[str, ...] = DAKE_TYPES) -> Iterator[dict[str, Any]]:
    """The deliver steps whose (reassembled) message type is one of ``kinds``."""
    for step in t["steps"]:
        if step["kind"] == "deliver" and step["message"].get("type") in kinds:
            yield step


def message_bytes(step: dict[str, Any]) -> bytes:
    """The binary message of a deliver step (``message.bytes``)."""
    return bytes.fromhex(step["message"]["bytes"])


def is_fragment_identifier(draw: dict[str, Any]) -> bool:
    return bool(draw["site"].startswith("Fragmenter."))


class DrawRng:
    """An rng returning one party's recorded random draws in order, from the
    first draw made at step ``from_step`` on (each call must ask for exactly the
    recorded length).  Fragment identifiers are the fragmenter's, not the
    DAKE's or the ratchet's: they are left out unless ``fragments`` is set (then
    only they are given); ``everything`` gives all draws, as one party's rng."""

    def __init__(
        self,
        t: dict[str, Any],
        party: str,
        from_step: int = 0,
        *,
        fragments: bool = False,
        everything: bool = False,
    ) -> None:
        records = [
            d
            for d in t["random_draws"][party]
            if d["step"] >= from_step and (everything or fragments == is_fragment_identifier(d))
        ]
        self.draws = [bytes.fromhex(d["bytes"]) for d in records]
        self.pos = 0

    def __call__(self, n: int) -> bytes:
        if self.pos >= len(self.draws):
            raise AssertionError("no recorded draw left")
        out = self.draws[self.pos]
        if len(out) != n:
            raise AssertionError(f"draw {self.pos} is {len(out)} bytes, {n} asked")
        self.pos += 1
        return out
