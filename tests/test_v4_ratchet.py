"""The OTRv4 double ratchet against the otr4j transcripts (both roles, byte for
byte), and between two of our ratchets over a lossy, reordering, duplicating
network."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otr.crypto.dh3072 import DH_P, DHKeyPair
from otr.crypto.ed448 import G
from otr.errors import AuthenticationFailed, DecodeError, InvalidGroupElement, RemoteProtocolError
from otr.events import Tlv
from otr.v4 import datacrypt
from otr.v4 import ratchet as ratchet_mod
from otr.v4.keys import ECDHKeyPair
from otr.v4.ratchet import (
    DoubleRatchet,
    MessageReplayed,
    RatchetLimits,
    RatchetStart,
    Rotation,
    TooManySkippedKeys,
    derive_extra_keys,
)
from otr.wire import envelope
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
            p: DoubleRatchet.from_dake(recorded_dake(t, p), self.rngs[p], self.now)
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


# --- two of our ratchets over a hostile network ---------------------------------------


def counting_rng(seed: bytes) -> Callable[[int], bytes]:
    counter = iter(range(1 << 30))
    return lambda n: hashlib.shake_256(seed + next(counter).to_bytes(4, "big")).digest(n)


def ratchet_pair(
    limits: RatchetLimits | None = None, now: float = 1_800_000_000.0, seed: bytes = b"pair"
) -> tuple[DoubleRatchet, DoubleRatchet]:
    """Alice and Bob right after a (simulated) DAKE: a shared K and first key pairs."""
    rng = counting_rng(seed)
    k = rng(64)
    ecdh = {p: ECDHKeyPair.generate(rng) for p in ("alice", "bob")}
    dh = {p: DHKeyPair.generate(rng) for p in ("alice", "bob")}
    tags = {"alice": 0x100, "bob": 0x200}

    def side(p: Literal["alice", "bob"], q: Literal["alice", "bob"]) -> DoubleRatchet:
        result = RatchetStart(p, k, ecdh[p], dh[p], ecdh[q].public, dh[q].public, tags[p], tags[q])
        return DoubleRatchet.from_dake(result, counting_rng(seed + p.encode()), now, limits)

    return side("alice", "bob"), side("bob", "alice")


def snapshot(r: DoubleRatchet) -> dict[str, Any]:
    state = {k: v for k, v in vars(r).items() if k != "_rng"}
    state["_receiving"] = r._receiving and dataclasses.replace(r._receiving)
    state["_skipped"] = list(r._skipped.items())
    state["_reveals"] = list(r._reveals)
    return state


@dataclasses.dataclass
class Wire:
    data: bytes
    plaintext: bytes
    to: str
    delivered: bool = False


class Network:
    """Two ratchets and every message either has sent, delivered in any order.

    Each party also has a twin (the same seed) that takes the fused path
    (:meth:`DoubleRatchet.seal_wire`, :meth:`DoubleRatchet.open_wire`) wherever it
    can and the general one otherwise: the twins must stay equal to the parties."""

    def __init__(self, limits: RatchetLimits | None = None) -> None:
        alice, bob = ratchet_pair(limits)
        self.r = {"alice": alice, "bob": bob}
        alice, bob = ratchet_pair(limits)
        self.twin = {"alice": alice, "bob": bob}
        self.limits = limits or RatchetLimits()
        self.now = 1_800_000_000.0
        self.wires: list[Wire] = []
        self.count = 0
        self.fused = {"seal": 0, "open": 0}

    def send(self, party: str) -> None:
        """seal(), and seal_wire() on the twin: the same bytes and state, or None
        (a rotation is due) with nothing changed."""
        self.count += 1
        text = f"{party} {self.count}"
        plaintext = text.encode() + b"\0"
        r, twin = self.r[party], self.twin[party]
        before = snapshot(twin)
        fused = twin.seal_wire(text.encode(), 0)
        data = r.seal(plaintext, 0, self.now).message.encode()
        if fused is None:
            assert snapshot(twin) == before and r.pending_reveals == 0  # rotated
            twin.seal(plaintext, 0, self.now)
        else:
            assert fused == envelope.encode_otr_message(data)
            self.fused["seal"] += 1
        assert snapshot(twin) == snapshot(r)
        other = "bob" if party == "alice" else "alice"
        self.wires.append(Wire(data, plaintext, other))

    def attempt(self, party: str, data: bytes) -> ratchet_mod.Opened | RemoteProtocolError:
        """Decode and open; on any failure the ratchet must be unchanged.  The twin
        tries open_wire() first: it must take exactly the in-order messages of the
        current chain, to the same text and state, and change nothing otherwise."""
        r, twin = self.r[party], self.twin[party]
        before = snapshot(r)
        chain = r._receiving
        msg = DataMessage4.decode(data)
        in_order = chain is not None and (chain.ratchet_id, chain.k) == (
            msg.ratchet_id,
            msg.message_id,
        )
        fused = twin.open_wire(envelope.encode_otr_message(data), self.now)
        if fused is None:
            assert snapshot(twin) == before
        try:
            result: ratchet_mod.Opened | RemoteProtocolError = r.open(msg, self.now)
        except RemoteProtocolError as exc:
            assert snapshot(r) == before
            result = exc
        finally:
            assert r.skipped_count <= self.limits.max_stored
            assert r.pending_reveals <= self.limits.max_pending_reveals
        if isinstance(result, ratchet_mod.Opened) and in_order and not result.new_ratchet:
            assert fused is not None and fused.encode() + b"\0" == result.plaintext
            self.fused["open"] += 1
        else:
            assert fused is None
            with contextlib.suppress(RemoteProtocolError):
                twin.open(DataMessage4.decode(data), self.now)
        assert snapshot(twin) == snapshot(r)
        return result

    def deliver(self, wire: Wire, *, lossless: bool) -> None:
        result = self.attempt(wire.to, wire.data)
        if wire.delivered:
            assert isinstance(result, MessageReplayed)
        elif isinstance(result, ratchet_mod.Opened):
            assert result.plaintext == wire.plaintext
            wire.delivered = True
        else:
            assert not lossless, result
            assert isinstance(result, MessageReplayed | TooManySkippedKeys)

    def tamper(self, wire: Wire, n: int) -> None:
        msg = DataMessage4.decode(wire.data)
        covered = msg.authenticated_length + 64
        kind = n % 5
        if kind == 0:  # one bit flipped anywhere the authenticator covers, or in it
            bit = n % (8 * covered)
            forged = bytearray(wire.data)
            forged[bit // 8] ^= 1 << (bit % 8)
            data = bytes(forged)
            try:
                DataMessage4.decode(data)
            except (DecodeError, InvalidGroupElement):
                return
        elif kind == 1:  # another ratchet id (keeping the DH-key rule)
            rid = msg.ratchet_id + 3 * (n % 5) - 6
            if rid < 0 or rid == msg.ratchet_id:
                return
            data = dataclasses.replace(msg, ratchet_id=rid).encode()
        elif kind == 2:  # another valid ECDH point: a new ratchet is computed, then fails
            data = dataclasses.replace(msg, ecdh=G * (n + 2)).encode()
        elif kind == 3:  # another valid DH key (where the message carries one)
            if msg.dh is None:
                return
            data = dataclasses.replace(msg, dh=pow(msg.dh, 2, int(DH_P))).encode()
        else:  # a forged authenticator
            data = dataclasses.replace(msg, authenticator=bytes([n % 256]) * 64).encode()
        assert isinstance(self.attempt(wire.to, data), RemoteProtocolError)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["send alice", "send bob", "deliver", "deliver", "tamper", "tick"]),
        st.integers(0, 2**16),
    ),
    max_size=40,
)


def play(ops: list[tuple[str, int]], net: Network, *, lossless: bool) -> None:
    for op, n in ops:
        if op.startswith("send"):
            net.send(op.split()[1])
        elif op == "tick":
            net.now += n % 3000
        elif net.wires:
            wire = net.wires[n % len(net.wires)]
            if op == "deliver":
                net.deliver(wire, lossless=lossless)
            else:
                net.tamper(wire, n)


@settings(max_examples=25)
@given(ops=OPS)
def test_network_delivers_every_message_exactly_once(ops: list[tuple[str, int]]) -> None:
    """Drops (never delivered), reordering, duplicates, forgeries: every message that
    arrives is delivered once with its plaintext, replays are rejected, failures
    change nothing."""
    net = Network(RatchetLimits(max_skipped_age=1e9))
    play(ops, net, lossless=True)
    for wire in net.wires:  # everything still in flight arrives at the end
        net.deliver(wire, lossless=True)
        net.deliver(wire, lossless=True)


@settings(max_examples=25)
@given(ops=OPS)
def test_network_with_tight_limits(ops: list[tuple[str, int]]) -> None:
    """With small limits, late messages may be refused (replay / too many skipped),
    never accepted twice, and the store stays within its bounds."""
    limits = RatchetLimits(max_skip=3, max_stored=4, max_skipped_age=2000.0, max_pending_reveals=5)
    net = Network(limits)
    play(ops, net, lossless=False)
    for wire in net.wires:
        net.deliver(wire, lossless=False)


def test_fused_path_on_a_fixed_schedule() -> None:
    """In-order messages, losses, reordering, replays, forgeries and rotations: the
    fused twins take the common case (and only it) and stay equal to the parties."""
    net = Network()
    ops = [("send alice", 0)] * 3 + [("deliver", 0), ("deliver", 1), ("deliver", 2)]
    ops += [("send bob", 0), ("deliver", 3), ("send alice", 0), ("send alice", 0)]
    ops += [("deliver", 5), ("deliver", 4), ("deliver", 5), ("tamper", 4), ("tamper", 9)]
    ops += [("send alice", 0), ("deliver", 6), ("tick", 2999), ("send bob", 0), ("deliver", 7)]
    play(ops, net, lossless=True)
    assert net.fused == {"seal": 6, "open": 4}


# --- specific rules ---------------------------------------------------------------------


def exchange(a: DoubleRatchet, b: DoubleRatchet, now: float, text: bytes = b"x\0") -> None:
    """a -> b, one message, delivered at once."""
    b.open(a.seal(text, 0, now).message, now)


def test_first_messages_and_draws() -> None:
    """Alice starts with the sending chain and draws nothing; Bob rotates his
    sending side at once: one ECDH (57 bytes) and one DH (80 bytes) draw (B.29)."""
    drawn: list[int] = []
    inner = counting_rng(b"draws")

    def rng(n: int) -> bytes:
        drawn.append(n)
        return inner(n)

    alice, _ = ratchet_pair()
    mine = ECDHKeyPair.generate(inner), DHKeyPair.generate(inner)
    theirs = ECDHKeyPair.generate(inner), DHKeyPair.generate(inner)
    for role, expect in (("alice", []), ("bob", [57, 80])):
        drawn.clear()
        result = RatchetStart(
            role, bytes(range(64)), *mine, theirs[0].public, theirs[1].public, 1, 2
        )  # type: ignore[arg-type]
        DoubleRatchet.from_dake(result, rng, 0.0)
        assert drawn == expect
    alice, bob = ratchet_pair()
    assert (alice.i, alice.next_rotation, alice._receiving) == (0, Rotation.RECEIVING, None)
    assert (bob.i, bob.next_rotation, bob.k) == (1, Rotation.RECEIVING, 0)
    a0, b0 = alice.seal(b"a\0", 0, 1.0).message, bob.seal(b"b\0", 0, 1.0).message
    assert (a0.ratchet_id, a0.message_id, a0.dh is not None) == (0, 0, True)
    assert (b0.ratchet_id, b0.message_id, b0.dh is not None) == (0, 0, True)
    assert bob.open(a0, 1.0).new_ratchet is False
    assert alice.open(b0, 1.0).new_ratchet is True


def test_dh_every_third_ratchet_and_reveals() -> None:
    alice, bob = ratchet_pair()
    now = 10.0
    exchange(alice, bob, now)
    exchange(alice, bob, now)
    ids = []
    for turn in range(9):
        sender, receiver = (bob, alice) if turn % 2 == 0 else (alice, bob)
        msg = sender.seal(b"t\0", 0, now).message
        ids.append(msg.ratchet_id)
        assert (msg.dh is not None) == (msg.ratchet_id % 3 == 0)
        if msg.ratchet_id > 0:
            assert msg.revealed_macs and len(msg.revealed_macs) % 64 == 0
        receiver.open(msg, now)
    assert ids == list(range(9))


def test_out_of_order_across_dh_ratchets() -> None:
    """A message lost in ratchet 0 still opens after several ratchets, including a DH
    ratchet (ERRATA D.3: otr4j files it under the wrong ratchet id)."""
    alice, bob = ratchet_pair()
    now = 5.0
    late = alice.seal(b"late\0", 0, now).message
    exchange(alice, bob, now)
    for turn in range(6):
        exchange(*((bob, alice) if turn % 2 == 0 else (alice, bob)), now)
    assert bob.i >= 4 and bob.skipped_count == 1
    opened = bob.open(late, now)
    assert opened.plaintext == b"late\0" and (opened.ratchet_id, opened.message_id) == (0, 0)
    assert bob.skipped_count == 0
    with pytest.raises(MessageReplayed):
        bob.open(late, now)


def test_message_from_the_future_and_wrong_instance() -> None:
    alice, bob = ratchet_pair()
    msg = alice.seal(b"x\0", 0, 0.0).message
    ahead = dataclasses.replace(msg, ratchet_id=3, revealed_macs=bytes(64))
    with pytest.raises(RemoteProtocolError, match="future"):
        bob.open(ahead, 0.0)
    with pytest.raises(RemoteProtocolError, match="instance"):
        bob.open(dataclasses.replace(msg, receiver_tag=7), 0.0)
    with pytest.raises(RemoteProtocolError, match="instance"):
        bob.open(dataclasses.replace(msg, sender_tag=7), 0.0)
    bob.open(msg, 0.0)


def test_first_message_of_a_ratchet_must_reveal_a_mac() -> None:
    """otr4j's rule (ERRATA D.2): ratchet id > 0, message id 0, no revealed MAC -> rejected.
    The revealed MACs are not authenticated, so stripping them is possible."""
    alice, bob = ratchet_pair()
    exchange(alice, bob, 0.0)
    exchange(bob, alice, 0.0)
    msg = alice.seal(b"x\0", 0, 0.0).message
    assert (msg.ratchet_id, msg.message_id) == (1, 0) and msg.revealed_macs
    before = snapshot(bob)
    with pytest.raises(RemoteProtocolError, match="reveals no MAC"):
        bob.open(dataclasses.replace(msg, revealed_macs=b""), 0.0)
    assert snapshot(bob) == before
    bob.open(msg, 0.0)


def test_authenticator_covers_flags_and_ciphertext() -> None:
    alice, bob = ratchet_pair()
    msg = alice.seal(b"x\0", 0, 0.0).message
    for forged in (
        dataclasses.replace(msg, flags=1),
        dataclasses.replace(msg, ciphertext=bytes([msg.ciphertext[0] ^ 1]) + msg.ciphertext[1:]),
    ):
        with pytest.raises(AuthenticationFailed):
            bob.open(forged, 0.0)
    assert bob.open(msg, 0.0).plaintext == b"x\0"


def test_skip_limit_and_store_bound_reveal_dropped_macs() -> None:
    limits = RatchetLimits(max_skip=5, max_stored=3)
    alice, bob = ratchet_pair(limits)
    msgs = [alice.seal(b"%d\0" % n, 0, 0.0).message for n in range(9)]
    with pytest.raises(TooManySkippedKeys):
        bob.open(msgs[6], 0.0)
    bob.open(msgs[5], 0.0)  # skips 0..4: the two oldest are dropped, their MACs revealed
    assert bob.skipped_count == 3 and bob.pending_reveals == 1 + 2
    for n in (0, 1):
        with pytest.raises(MessageReplayed):
            bob.open(msgs[n], 0.0)
    for n in (2, 3, 4, 6):
        bob.open(msgs[n], 0.0)


def test_skipped_keys_expire_by_age() -> None:
    alice, bob = ratchet_pair(RatchetLimits(max_skipped_age=100.0))
    lost = alice.seal(b"lost\0", 0, 0.0).message
    kept = alice.seal(b"kept\0", 0, 0.0).message
    gone = alice.seal(b"gone\0", 0, 0.0).message
    bob.open(alice.seal(b"now\0", 0, 0.0).message, 1000.0)  # skips all three at t=1000
    assert bob.skipped_count == 3
    bob.open(kept, 1099.0)
    with pytest.raises(MessageReplayed):
        bob.open(gone, 1100.0)  # too old: treated as absent, state untouched
    assert bob.skipped_count == 2
    bob.expire_skipped(1100.0)
    assert bob.skipped_count == 0
    with pytest.raises(MessageReplayed):
        bob.open(lost, 1100.0)


def test_reveal_pending_for_session_expiry() -> None:
    alice, bob = ratchet_pair()
    lost = alice.seal(b"lost\0", 0, 0.0).message
    exchange(alice, bob, 0.0)
    assert (bob.skipped_count, bob.pending_reveals) == (1, 1)
    (entry,) = bob._skipped.values()
    lost_mac = datacrypt.mac_key(entry.mk_enc)
    final = bob.seal(b"\0\x00\x01\x00\x00", 1, 0.0, reveal_pending=True).message
    assert len(final.revealed_macs) == 2 * 64
    assert (bob.skipped_count, bob.pending_reveals) == (0, 0)
    assert lost_mac in {final.revealed_macs[:64], final.revealed_macs[64:]}
    alice.open(final, 0.0)
    with pytest.raises(MessageReplayed):
        bob.open(lost, 0.0)


def test_session_expiry_bookkeeping() -> None:
    limits = RatchetLimits(session_expiry=60.0)
    alice, bob = ratchet_pair(limits, now=100.0)
    assert alice.last_rotation == bob.last_rotation == 100.0
    assert alice.expires_at() == 160.0 and not alice.expired(159.9) and alice.expired(160.0)
    exchange(alice, bob, 130.0)  # no rotation on either side
    assert alice.last_rotation == bob.last_rotation == 100.0
    exchange(bob, alice, 150.0)  # Alice's receiving rotation
    assert alice.last_rotation == 150.0 and bob.last_rotation == 100.0
    exchange(alice, bob, 170.0)  # Alice's sending rotation, Bob's receiving rotation
    assert alice.last_rotation == bob.last_rotation == 170.0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_skip": 0}, {"max_stored": 0}, {"max_pending_reveals": 0}, {"session_expiry": 0}],
)
def test_limits_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RatchetLimits(**kwargs)  # type: ignore[arg-type]


def test_results_do_not_show_secrets() -> None:
    alice, bob = ratchet_pair()
    sealed = alice.seal(b"top secret\0", 0, 0.0)
    opened = bob.open(sealed.message, 0.0)
    for text in (repr(sealed), repr(opened), repr(bob._receiving), repr(alice)):
        assert "top secret" not in text and sealed.extra_key.hex() not in text
        assert repr(sealed.extra_key) not in text
