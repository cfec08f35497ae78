"""The otr4j OTRv4 transcripts (shared/spec/vectors/otr4j-v4-transcripts.json) as
test data: data messages, the DAKE's "first" keys of each party and a random
source that replays a party's recorded draws."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from conftest import SPEC_VECTORS
from otr.crypto.dh3072 import DHKeyPair
from otr.crypto.ed448 import Point, decode_point
from otr.v4.keys import ECDHKeyPair

H = bytes.fromhex
Step = dict[str, Any]
Transcript = dict[str, Any]


@cache
def transcripts() -> dict[str, Transcript]:
    data = json.loads((SPEC_VECTORS / "otr4j-v4-transcripts.json").read_text())
    assert data["all_verified"]
    return {t["id"]: t for t in data["transcripts"]}


def data_deliveries(t: Transcript) -> Iterator[Step]:
    """Deliver steps whose (reassembled) message is a v4 data message."""
    for step in t["steps"]:
        if step["kind"] == "deliver" and (step.get("message") or {}).get("type") == "DataMessage4":
            yield step


def ecdh_pair(rec: dict[str, str]) -> ECDHKeyPair:
    return ECDHKeyPair(int.from_bytes(H(rec["secret"]), "little"), decode_point(H(rec["public"])))


def dh_pair(rec: dict[str, str]) -> DHKeyPair:
    return DHKeyPair(
        int.from_bytes(H(rec["secret"]), "big"), int.from_bytes(H(rec["public"]), "big")
    )


@dataclass(frozen=True)
class RecordedDake:
    """What ``otr.v4.dake.DakeResult`` will hand the ratchet, rebuilt from the transcript."""

    role: Literal["alice", "bob"]
    k: bytes
    our_ecdh: ECDHKeyPair
    our_dh: DHKeyPair
    their_ecdh: Point
    their_dh: int
    our_instance: int
    their_instance: int


def recorded_dake(t: Transcript, party: Literal["alice", "bob"]) -> RecordedDake:
    """The first DAKE of ``t`` seen from ``party`` (bob sent the Identity message)."""
    dake = t["dake"]
    firsts = {
        "bob": dake["identity_sender_secrets"],
        "alice": dake["auth_r_sender"]["state_after"],
    }
    other: Literal["alice", "bob"] = "bob" if party == "alice" else "alice"
    ours, theirs = firsts[party], firsts[other]
    return RecordedDake(
        role=party,
        k=H(dake["auth_r_sender"]["shared"]["K"]),
        our_ecdh=ecdh_pair(ours["firstECDHKeyPair"]),
        our_dh=dh_pair(ours["firstDHKeyPair"]),
        their_ecdh=decode_point(H(theirs["firstECDHKeyPair"]["public"])),
        their_dh=int.from_bytes(H(theirs["firstDHKeyPair"]["public"]), "big"),
        our_instance=t["parties"][party]["instance_tag"],
        their_instance=t["parties"][other]["instance_tag"],
    )


def dake_done_step(t: Transcript) -> int:
    """The step at which the first DAKE completed (Auth-I delivered)."""
    return next(
        s["step"] for s in t["steps"] if (s.get("message") or {}).get("type") == "AuthIMessage"
    )


class ReplayRng:
    """Hands out a party's recorded ratchet draws (``rotateOurKeys``) in order,
    checking each requested length."""

    def __init__(self, t: Transcript, party: str) -> None:
        self.draws = [d for d in t["random_draws"][party] if "rotateOurKeys" in d["site"]]
        self.used = 0

    def __call__(self, n: int) -> bytes:
        draw = self.draws[self.used]
        assert draw["len"] == n, (draw["site"], n)
        self.used += 1
        return H(draw["bytes"])


def instance_state(step: Step, party: str) -> dict[str, Any] | None:
    """``party``'s otr4j ratchet state after ``step`` (None once the session ended)."""
    (inst,) = step["state_after"][party]["instances"]
    ratchet: dict[str, Any] | None = inst.get("ratchet")
    return ratchet
