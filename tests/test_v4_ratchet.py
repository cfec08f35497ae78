"""The OTRv4 double ratchet against the otr4j transcripts (both roles, byte for
byte), and between two of our ratchets over a lossy, reordering, duplicating
network."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import pytest

from otr.events import Tlv
from otr.v4 import ratchet as ratchet_mod
from otr.v4.ratchet import (
    DoubleRatchet,
    Rotation,
    derive_extra_keys,
)
from otr.wire.v4.data import DataMessage4, decode_plaintext
from v4_transcript_util import (
    H,
    ReplayRng,
    Step,
    Transcript,
    dake_done_step,
    data_deliveries,
    instance_state,
    recorded_dake,
    transcripts,
)

PLAYABLE = ["T1", "T2", "T3", "T4"]
Party = Literal["alice", "bob"]


def check_state(r: DoubleRatchet, state: dict[str, Any] | None) -> None:
    """Our ratchet equals otr4j's recorded state (``state_after``)."""
    if state is None:  # otr4j closed the ratchet (end of session)
        return
    assert r.i == state["i"]
    assert r.pn == state["pn"]
    assert r.next_rotation is Rotation[state["next_rotation"]]
    assert r._root_key.hex() == state["root_key"]
    assert r._brace_key.hex() == state["mixed_shared_secret"]["brace_key"]
    assert r.our_ecdh_public.encode().hex() == state["mixed_shared_secret"]["our_ecdh"]["public"]
    assert r._their_ecdh.encode().hex() == state["mixed_shared_secret"]["their_ecdh"]
    assert (
        r._their_dh.to_bytes(384, "big").lstrip(b"\0").hex()
        == (state["mixed_shared_secret"]["their_dh"])
    )
    sending = state.get("sending")
    if sending is not None:
        assert r.j == sending["message_id"]
        assert r._sending_key is not None and r._sending_key.hex() == sending["chain_key"]
    receiving = state.get("receiving")
    if receiving is None:
        assert r._receiving is None
    else:
        assert r._receiving is not None
        assert r.k == receiving["message_id"]
        assert r._receiving.chain_key.hex() == receiving["chain_key"]
    assert b"".join(r._reveals).hex() == state["macs_to_reveal"]
    assert r.skipped_count == len(state["stored_message_keys"]) == 0


class Player:
    """Both parties of a transcript played by our ratchets from the end of the DAKE."""

    def __init__(self, t: Transcript) -> None:
        self.t = t
        self.rngs = {p: ReplayRng(t, p) for p in ("alice", "bob")}
        done = dake_done_step(t)
        self.now = float(t["now_unix"])
        self.ratchets: dict[str, DoubleRatchet] = {
            p: DoubleRatchet.from_dake(recorded_dake(t, p), self.rngs[p], self.now)  # type: ignore[arg-type]
            for p in ("alice", "bob")
        }
        # Bob's state right after the DAKE is recorded on the Auth-R delivery.
        auth_r = next(
            s for s in t["steps"] if (s.get("message") or {}).get("type") == "AuthRMessage"
        )
        check_state(self.ratchets["bob"], instance_state(auth_r, "bob"))
        check_state(self.ratchets["alice"], instance_state(self.step(done), "alice"))
        self.sent: dict[int, list[Step]] = {}
        for d in data_deliveries(t):
            self.sent.setdefault(d["sent_in_step"], []).append(d)
        self.start = done + 1
        self.sealed: dict[int, ratchet_mod.Sealed] = {}
        self.opened: dict[int, ratchet_mod.Opened] = {}

    def step(self, n: int) -> Step:
        return next(s for s in self.t["steps"] if s["step"] == n)

    def run(self) -> None:
        for s in self.t["steps"]:
            if s["step"] < self.start:
                continue
            party = s.get("to") or s.get("party")
            touched = False
            if s["kind"] == "deliver" and s["message"]["type"] == "DataMessage4":
                self.deliver(s)
                touched = True
            for d in self.sent.get(s["step"], []):
                assert d["from"] == party
                self.send(d)
                touched = True
            if touched:
                check_state(self.ratchets[party], instance_state(s, party))
        assert all(rng.used == len(rng.draws) for rng in self.rngs.values())

    def send(self, delivery: Step) -> None:
        """Seal what otr4j sent and compare with the bytes delivered later."""
        party: Party = delivery["from"]
        fields = delivery["message"]["fields"]
        sealed = self.ratchets[party].seal(
            H(delivery["keys"]["plaintext"]), fields["flags"], self.now
        )
        assert sealed.message.encode().hex() == delivery["message"]["bytes"]
        assert sealed.extra_key.hex() == delivery["keys"]["extra_symmetric_key"]
        self.sealed[delivery["step"]] = sealed

    def deliver(self, s: Step) -> None:
        party: Party = s["to"]
        r = self.ratchets[party]
        keys = s["keys"]
        msg = DataMessage4.decode(H(s["message"]["bytes"]))
        opened = r.open(msg, self.now)
        assert opened.plaintext.hex() == keys["plaintext"]
        assert opened.extra_key.hex() == keys["extra_symmetric_key"]
        assert (opened.ratchet_id, opened.message_id) == (keys["ratchet_id"], keys["message_id"])
        assert opened.new_ratchet == keys["receiver_rotates"]
        if keys["receiver_rotates"]:
            prov = keys["receiver_provisional"]
            assert r.i == prov["i"]
            assert r._root_key.hex() == prov["root_key"]
            assert r._brace_key.hex() == prov["brace_key"]
        self.opened[s["step"]] = opened


@pytest.mark.parametrize("tid", PLAYABLE)
def test_transcript_played_by_both_sides(tid: str) -> None:
    """Each of our two ratchets decrypts the other side's recorded messages and,
    fed otr4j's random draws, produces otr4j's own messages byte for byte."""
    player = Player(transcripts()[tid])
    player.run()
    assert len(player.opened) == len(list(data_deliveries(player.t)))


@pytest.mark.parametrize("tid", PLAYABLE)
def test_message_keys_match_otr4j(tid: str) -> None:
    """chain key -> MKenc, MKmac, extra key, authenticator of every recorded message."""
    for s in data_deliveries(transcripts()[tid]):
        keys = s["keys"]
        mk_enc, extra, _next = ratchet_mod._message_keys(H(keys["chain_key"]))
        assert mk_enc.hex() == keys["mk_enc"]
        assert extra.hex() == keys["extra_symmetric_key"]
        assert ratchet_mod._mac_key(mk_enc).hex() == keys["mk_mac"]
        msg = DataMessage4.decode(H(s["message"]["bytes"]))
        assert ratchet_mod._authenticator(H(keys["mk_mac"]), msg.authenticated_section()) == (
            msg.authenticator
        )


def test_extra_symmetric_keys_of_t4() -> None:
    """T4: raw keys of both sides, the per-TLV-7 chain, and the sender's key after a
    pending ratchet (otr4j's getExtraSymmetricKey would give the stale one)."""
    t = transcripts()["T4"]
    player = Player(t)
    player.run()
    checked = 0
    for s in data_deliveries(t):
        found = [e for e in s["events"] if e.get("event") == "EXTRA_SYMMETRIC_KEY_DISCOVERED"]
        opened = player.opened[s["step"]]
        _text, tlvs = decode_plaintext(opened.plaintext)
        derived = derive_extra_keys(opened.extra_key, tlvs)
        assert [(c.hex(), k.hex()) for _i, c, k in derived] == [
            (e["context"], e["key"]) for e in found
        ]
        assert player.sealed[s["step"]].extra_key == opened.extra_key
        checked += len(found)
    assert checked == 4
    pending = next(
        s
        for s in t["steps"]
        if (s.get("detail") or {}).get("nextRotation_before_send") == "SENDING"
    )
    (delivery,) = player.sent[pending["step"]]
    stale = pending["detail"]["getExtraSymmetricKey_with_assertions_off"]
    assert (
        player.sealed[delivery["step"]].extra_key.hex() == delivery["keys"]["extra_symmetric_key"]
    )
    assert stale != delivery["keys"]["extra_symmetric_key"]


def test_extra_key_context_padding_and_index_byte() -> None:
    raw = bytes(range(64))
    tlvs = [Tlv(1), Tlv(7, b"\x01"), Tlv(7, b"\x00\x00\x00\x02data")]
    (first, second) = derive_extra_keys(raw, tlvs)
    assert first[:2] == (1, b"\x01\x00\x00\x00")
    expect1 = hashlib.shake_256(b"OTRv4\x01" + b"\x01\x00\x00\x00" + raw).digest(64)
    assert first[2] == expect1
    expect2 = hashlib.shake_256(b"OTRv4\x02" + b"\x00\x00\x00\x02" + expect1).digest(64)
    assert second == (2, b"\x00\x00\x00\x02", expect2)
    assert derive_extra_keys(raw, [Tlv(0), Tlv(2)]) == []
