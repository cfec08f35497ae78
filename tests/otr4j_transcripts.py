"""Access to the otr4j OTRv4 transcripts (shared/spec/vectors/otr4j-v4-transcripts.json,
described in the vectors README): loading, wire decoding, the DAKE messages and the
recorded random draws as an rng."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from typing import Any

from conftest import SPEC_VECTORS

TRANSCRIPTS_FILE = SPEC_VECTORS / "otr4j-v4-transcripts.json"
DAKE_TYPES = ("IdentityMessage", "AuthRMessage", "AuthIMessage")


@functools.cache
def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TRANSCRIPTS_FILE.read_text())
    assert data["all_verified"]
    return data


def load_transcripts() -> list[dict[str, Any]]:
    """The six transcripts T1..T6, in order."""
    return list(_load()["transcripts"])


def transcript(tid: str) -> dict[str, Any]:
    (t,) = [t for t in load_transcripts() if t["id"] == tid]
    return t


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
    DAKE's or the ratchet's: they are left out unless ``fragments`` is set."""

    def __init__(
        self, t: dict[str, Any], party: str, from_step: int = 0, *, fragments: bool = False
    ) -> None:
        records = [
            d
            for d in t["random_draws"][party]
            if d["step"] >= from_step and fragments == is_fragment_identifier(d)
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
