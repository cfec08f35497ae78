"""The interactive DAKE against otr4j's transcripts and against itself.

* phi, t, K, SSID, brace key and first root key equal otr4j's recorded values;
* with otr4j's recorded random draws we play both roles and produce otr4j's
  Identity, Auth-R and Auth-I byte for byte (T1-T4, and T5's second DAKE);
* T5 (tie-break on an established instance) and T6 (crossing Identity
  messages) complete here, where otr4j desynchronises or stalls (ERRATA D.3);
* two of our objects complete against each other;
* forged, mutated, misaddressed or ill-timed messages raise only
  otr.errors exceptions (or are ignored) and never change the state.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto import dh3072, ed448, kdf
from otr.crypto.dh3072 import DHKeyPair
from otr.crypto.ring import RingSignature
from otr.errors import AuthenticationFailed, OtrError, RemoteProtocolError
from otr.v4.dake import (
    TRANSITIONS,
    Dake,
    DakeResult,
    DakeSide,
    DakeState,
    DakeStep,
    first_root_key,
    mixed_shared_secret,
    phi,
    ring_message,
    side_phi,
    ssid_of,
    tie_break_value,
)
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile, ProfileError, ProfileRejection, build_client_profile
from otr.wire.v4.dake import (
    AuthIMessage,
    AuthRMessage,
    DakeMessage,
    IdentityMessage,
    decode_dake_message,
)
from otr4j_transcripts import DrawRng, deliveries, load_transcripts, message_bytes, transcript
from otr4j_transcripts import wire_bytes as wire_binary

INTERACTIVE = [t for t in load_transcripts() if "auth_i" in t["dake"]]  # T1..T5 (first DAKE)


def _point(h: str) -> ed448.Point:
    return ed448.decode_point(bytes.fromhex(h))


def _scalar(h: str) -> int:
    return int.from_bytes(bytes.fromhex(h), "little")


def make_dake(t: dict[str, Any], party: str, rng: Any, their_instance: int = 0) -> Dake:
    who = t["parties"][party]
    return Dake(
        keypair=Ed448KeyPair.from_symmetric_key(bytes.fromhex(who["long_term"]["symmetric_key"])),
        forging_key=_point(who["forging"]["public"]),
        profile=ClientProfile.decode(bytes.fromhex(who["client_profile"])),
        instance_tag=who["instance_tag"],
        account=who["account"],
        peer=who["peer"],
        rng=rng,
        their_instance=their_instance,
    )


def first_dake(t: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    ident, auth_r, auth_i = (message_bytes(s) for s in list(deliveries(t))[:3])
    return ident, auth_r, auth_i


def _ids(t: Any) -> str:
    return str(t["id"])


# --- the DAKEZ values against otr4j's -----------------------------------------------------


@pytest.mark.parametrize("t", INTERACTIVE, ids=_ids)
def test_phi_and_t_equal_otr4j(t: dict[str, Any]) -> None:
    ident_b, auth_r_b, _ = first_dake(t)
    ident = IdentityMessage.decode(ident_b)
    auth_r = AuthRMessage.decode(auth_r_b)
    bob = t["parties"][t["dake"]["identity_sender"]["party"]]
    alice = t["parties"][t["dake"]["auth_r_sender"]["party"]]
    rec_r = t["dake"]["auth_r_sender"]["ring_signature"]
    rec_i = t["dake"]["auth_i"]
    phi_r = phi(
        auth_r.sender_tag,
        auth_r.receiver_tag,
        auth_r.first_ecdh,
        auth_r.first_dh,
        ident.first_ecdh,
        ident.first_dh,
        alice["account"],
        bob["account"],
    )
    # the transcripts record phi hashed, as it enters t: KDF(0x07 / 0x0A, phi, 64)
    assert kdf.kdf(kdf.USAGE_AUTH_R_PHI, phi_r, 64).hex() == rec_r["phi"]
    phi_i = phi(
        ident.sender_tag,
        auth_r.sender_tag,
        ident.first_ecdh,
        ident.first_dh,
        auth_r.first_ecdh,
        auth_r.first_dh,
        bob["account"],
        alice["account"],
    )
    assert kdf.kdf(kdf.USAGE_AUTH_I_PHI, phi_i, 64).hex() == rec_i["phi"]
    bob_side = DakeSide(
        ident.sender_tag,
        bob["account"],
        ident.profile,
        ident.y,
        ident.b,
        ident.first_ecdh,
        ident.first_dh,
    )
    alice_side = DakeSide(
        auth_r.sender_tag,
        alice["account"],
        auth_r.profile,
        auth_r.x,
        auth_r.a,
        auth_r.first_ecdh,
        auth_r.first_dh,
    )
    assert side_phi(alice_side, bob_side) == phi_r and side_phi(bob_side, alice_side) == phi_i
    assert ring_message("auth_r", bob_side, alice_side).hex() == rec_r["t"]
    assert ring_message("auth_i", bob_side, alice_side).hex() == rec_i["t"]
    assert len(ring_message("auth_r", bob_side, alice_side)) == 1083


@pytest.mark.parametrize("t", INTERACTIVE, ids=_ids)
def test_mixed_shared_secret_equals_otr4j(t: dict[str, Any]) -> None:
    secrets = t["dake"]["identity_sender_secrets"]
    sender = t["dake"]["auth_r_sender"]
    shared = sender["shared"]
    y = ECDHKeyPair(_scalar(secrets["y"]["secret"]), _point(secrets["y"]["public"]))
    b = DHKeyPair.from_secret(int(secrets["b"]["secret"], 16))
    x = ECDHKeyPair(_scalar(sender["x"]["secret"]), _point(sender["x"]["public"]))
    a = DHKeyPair.from_secret(int(sender["a"]["secret"], 16))
    assert b.public == int(secrets["b"]["public"], 16)
    assert a.public == int(sender["a"]["public"], 16)
    assert y.shared_secret(x.public).hex() == shared["K_ecdh"]
    k_dh = dh3072.encode_k_dh(a.shared_secret(b.public))
    assert k_dh.hex() == shared["k_dh"]
    for ours, theirs, dh, their_dh in ((x, y.public, a, b.public), (y, x.public, b, a.public)):
        k, brace = mixed_shared_secret(ours, theirs, dh, their_dh)
        assert (k.hex(), brace.hex()) == (shared["K"], shared["brace_key"])
        assert ssid_of(k).hex() == shared["ssid"]
        assert first_root_key(k).hex() == shared["first_root_key"]


def test_key_generation_takes_randomness_as_otr4j() -> None:
    t = transcript("T1")
    for party in ("alice", "bob"):
        for d in t["random_draws"][party][:4]:
            raw = bytes.fromhex(d["bytes"])
            if d["len"] == 57:
                kp = ECDHKeyPair.from_random_bytes(raw)
                assert kp.secret == _scalar(d["derived"]["secret"])
            else:
                kp2 = DHKeyPair.generate(lambda n, raw=raw: raw)
                assert kp2.public == int(d["derived"]["public"], 16)


def test_tie_break_value_equals_otr4j() -> None:
    for tid in ("T5", "T6"):
        rec = transcript(tid)["identity_tie_break"]
        for party in ("alice", "bob"):
            value = tie_break_value(int(rec[party]["B"], 16))
            assert value.to_bytes(32, "big").hex() == rec[party]["shake256_32_of_MPI_B"]


# --- playing both roles with otr4j's random draws -------------------------------------------


def _check_result(t: dict[str, Any], result: DakeResult | None, role: str) -> DakeResult:
    assert result is not None and result.role == role
    shared = t["dake"]["auth_r_sender"]["shared"]
    assert result.k.hex() == shared["K"]
    assert result.ssid.hex() == shared["ssid"]
    assert result.brace_key.hex() == shared["brace_key"]
    assert first_root_key(result.k).hex() == shared["first_root_key"]
    return result


@pytest.mark.parametrize("t", INTERACTIVE[:4], ids=_ids)
def test_both_roles_byte_identical_to_otr4j(t: dict[str, Any]) -> None:
    now = t["now_unix"]
    ident, auth_r, auth_i = first_dake(t)
    bob_party = t["dake"]["identity_sender"]["party"]
    alice_party = t["dake"]["auth_r_sender"]["party"]
    bob = make_dake(t, bob_party, DrawRng(t, bob_party))
    alice = make_dake(t, alice_party, DrawRng(t, alice_party))
    assert bob.start().encode() == ident
    assert bob.state is DakeState.WAITING_AUTH_R
    step = alice.receive(decode_dake_message(ident), now)
    assert step.reply is not None and step.reply.encode() == auth_r and step.result is None
    assert alice.state is DakeState.WAITING_AUTH_I
    step = bob.receive(decode_dake_message(auth_r), now)
    assert step.reply is not None and step.reply.encode() == auth_i
    res_bob = _check_result(t, step.result, "bob")
    step = alice.receive(decode_dake_message(auth_i), now)
    assert step.reply is None
    res_alice = _check_result(t, step.result, "alice")
    assert bob.state is alice.state is DakeState.START
    # The "first" keys go to the ratchet, crosswise.
    secrets = t["dake"]["identity_sender_secrets"]
    assert res_bob.our_ecdh.public.encode().hex() == secrets["firstECDHKeyPair"]["public"]
    assert res_bob.our_ecdh.secret == _scalar(secrets["firstECDHKeyPair"]["secret"])
    assert res_bob.our_dh.secret == int(secrets["firstDHKeyPair"]["secret"], 16)
    assert (res_bob.their_ecdh, res_bob.their_dh) == (
        res_alice.our_ecdh.public,
        res_alice.our_dh.public,
    )
    assert (res_alice.their_ecdh, res_alice.their_dh) == (
        res_bob.our_ecdh.public,
        res_bob.our_dh.public,
    )
    assert res_bob.their_instance == res_alice.our_instance == alice.instance_tag
    assert res_alice.their_instance == res_bob.our_instance == bob.instance_tag
    assert res_bob.their_profile == res_alice.our_profile
    assert "k=" not in repr(res_bob)


def _steps(t: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["step"]: s for s in t["steps"]}


def _sent(step: dict[str, Any]) -> list[bytes]:
    return [wire_binary(x["wire"]) for x in step["sent"]]


def test_t5_tie_break_completes_with_the_same_auth_r() -> None:
    """T5: both restart the DAKE on an established instance.  Alice's hash is
    larger.  Our Bob answers her re-sent Identity message with the SAME Auth-R
    (otr4j makes a second one and cannot verify Alice's Auth-I), so both end
    on the keys Alice derived."""
    t = transcript("T5")
    now = t["now_unix"]
    s = _steps(t)
    assert t["identity_tie_break"]["larger_hash"] == "alice"
    tags = {p: t["parties"][p]["instance_tag"] for p in ("alice", "bob")}
    alice = make_dake(t, "alice", DrawRng(t, "alice", 6), tags["bob"])
    bob = make_dake(t, "bob", DrawRng(t, "bob", 7), tags["alice"])
    assert [alice.start().encode()] == _sent(s[6])
    assert [bob.start().encode()] == _sent(s[7])
    # Bob (smaller) answers Alice's Identity message as if in START: otr4j's Auth-R.
    step = bob.receive(decode_dake_message(message_bytes(s[8])), now)
    assert step.reply is not None and [step.reply.encode()] == _sent(s[8])
    first_auth_r = step.reply
    # Alice (larger) ignores Bob's and re-sends hers, unchanged.
    step = alice.receive(decode_dake_message(message_bytes(s[9])), now)
    assert [step.reply.encode()] == _sent(s[9]) if step.reply else False
    assert alice.state is DakeState.WAITING_AUTH_R
    # Alice completes with Bob's Auth-R: otr4j's Auth-I, otr4j's new SSID.
    step = alice.receive(decode_dake_message(message_bytes(s[10])), now)
    assert step.reply is not None and [step.reply.encode()] == _sent(s[10])
    assert step.result is not None and step.result.role == "bob"
    alice_result = step.result
    (instance,) = s[10]["state_after"]["alice"]["instances"]
    assert alice_result.ssid.hex() == instance["ssid"]
    # The re-sent Identity message: the same Auth-R again (otr4j: a new one).
    step = bob.receive(decode_dake_message(message_bytes(s[11])), now)
    assert step.reply == first_auth_r
    assert [step.reply.encode()] != _sent(s[11])
    # Alice's Auth-I now verifies on our Bob: both sides share K.
    step = bob.receive(decode_dake_message(message_bytes(s[12])), now)
    assert step.result is not None and step.result.role == "alice"
    assert step.result.k == alice_result.k and step.result.ssid == alice_result.ssid
    # The duplicate Auth-R reaches Alice after completion: ignored.
    assert alice.receive(first_auth_r, now) == DakeStep()


def test_t6_crossing_identity_messages_complete() -> None:
    """T6: both send an Identity message with receiver tag 0.  otr4j stalls; we
    run the tie-break (Alice larger) and complete.  Bob's Auth-R is otr4j's."""
    t = transcript("T6")
    now = t["now_unix"]
    s = _steps(t)
    recorded = DrawRng(t, "alice", 1)
    recorded.draws = recorded.draws[:4]  # her Identity message; otr4j's later draws were
    # for an Auth-R she no longer sends, so her Auth-I draws fresh randomness

    def alice_rng(n: int) -> bytes:
        return recorded(n) if recorded.pos < len(recorded.draws) else os.urandom(n)

    alice = make_dake(t, "alice", alice_rng)
    bob = make_dake(t, "bob", DrawRng(t, "bob", 2))
    assert [alice.start().encode()] == _sent(s[1])
    assert [bob.start().encode()] == _sent(s[2])
    step_b = bob.receive(decode_dake_message(message_bytes(s[3])), now)
    assert step_b.reply is not None and [step_b.reply.encode()] == _sent(s[3])
    step_a = alice.receive(decode_dake_message(message_bytes(s[4])), now)
    assert step_a.reply is not None and [step_a.reply.encode()] == _sent(s[1])  # re-sent
    assert bob.receive(step_a.reply, now).reply == step_b.reply  # same Auth-R
    alice_done = alice.receive(decode_dake_message(step_b.reply.encode()), now)
    assert alice_done.reply is not None and alice_done.result is not None
    bob_done = bob.receive(decode_dake_message(alice_done.reply.encode()), now)
    assert bob_done.result is not None
    assert bob_done.result.k == alice_done.result.k
    assert {bob_done.result.role, alice_done.result.role} == {"alice", "bob"}


# --- two of our objects -------------------------------------------------------------------

NOW = 1_800_000_000


@dataclasses.dataclass
class Party:
    keypair: Ed448KeyPair
    forging: ForgingKey
    profile: ClientProfile
    tag: int
    account: str

    @classmethod
    def new(cls, tag: int, account: str, versions: str = "4") -> Party:
        kp = Ed448KeyPair.generate(os.urandom)
        forging = ForgingKey.generate(os.urandom)
        profile = build_client_profile(kp, forging.public, tag, versions, NOW + 86400)
        return cls(kp, forging, profile, tag, account)

    def dake(self, peer: str, rng: Any = os.urandom) -> Dake:
        return Dake(
            keypair=self.keypair,
            forging_key=self.forging,
            profile=self.profile,
            instance_tag=self.tag,
            account=self.account,
            peer=peer,
            rng=rng,
        )


ALICE = Party.new(0x1111_1111, "alice@example.org")
BOB = Party.new(0x2222_2222, "bob@example.org")
MALLORY = Party.new(0x3333_3333, "mallory@example.org")


def pair() -> tuple[Dake, Dake]:
    return ALICE.dake(BOB.account), BOB.dake(ALICE.account)


def run(alice: Dake, bob: Dake) -> tuple[DakeResult, DakeResult, list[DakeMessage]]:
    ident = bob.start()
    auth_r = alice.receive(ident, NOW).reply
    assert isinstance(auth_r, AuthRMessage)
    step = bob.receive(auth_r, NOW)
    assert isinstance(step.reply, AuthIMessage) and step.result is not None
    done = alice.receive(step.reply, NOW)
    assert done.result is not None
    return done.result, step.result, [ident, auth_r, step.reply]


def test_two_of_ours_complete() -> None:
    alice, bob = pair()
    ra, rb, msgs = run(alice, bob)
    assert (ra.role, rb.role) == ("alice", "bob")
    assert ra.k == rb.k and ra.ssid == rb.ssid and ra.brace_key == rb.brace_key
    assert len(ra.ssid) == 8 and len(ra.k) == 64 and len(ra.brace_key) == 32
    assert ra.their_ecdh == rb.our_ecdh.public and rb.their_dh == ra.our_dh.public
    assert ra.their_profile == BOB.profile and rb.their_profile == ALICE.profile
    assert (ra.our_instance, ra.their_instance) == (ALICE.tag, BOB.tag)
    for m in msgs:
        assert decode_dake_message(m.encode()) == m
    assert alice.their_instance == BOB.tag and bob.their_instance == ALICE.tag
    # and again, on the same objects: new keys
    ra2, rb2, _ = run(alice, bob)
    assert ra2.k == rb2.k != ra.k


def test_both_start_at_once() -> None:
    alice, bob = pair()
    ia, ib = alice.start(), bob.start()
    ra = alice.receive(ib, NOW)
    rb = bob.receive(ia, NOW)
    # exactly one side re-sends its Identity message, the other answers with Auth-R
    replies = [ra.reply, rb.reply]
    assert sorted(type(r).__name__ for r in replies) == ["AuthRMessage", "IdentityMessage"]
    higher, lower = (alice, bob) if isinstance(ra.reply, IdentityMessage) else (bob, alice)
    resent = ra.reply if higher is alice else rb.reply
    auth_r = rb.reply if higher is alice else ra.reply
    assert isinstance(resent, IdentityMessage) and isinstance(auth_r, AuthRMessage)
    assert lower.receive(resent, NOW).reply == auth_r
    done = higher.receive(auth_r, NOW)
    assert done.result is not None and isinstance(done.reply, AuthIMessage)
    final = lower.receive(done.reply, NOW)
    assert final.result is not None and final.result.k == done.result.k


def test_restart_in_every_state() -> None:
    alice, bob = pair()
    ident = bob.start()
    alice.receive(ident, NOW)
    assert alice.state is DakeState.WAITING_AUTH_I
    alice.start()
    assert alice.state is DakeState.WAITING_AUTH_R
    bob.reset()
    assert bob.state is DakeState.START
    ra, rb, _ = run(bob, alice)  # now Alice sends the Identity message
    assert (ra.role, rb.role) == ("alice", "bob") and ra.k == rb.k


def test_new_identity_in_waiting_auth_i_gets_a_new_auth_r() -> None:
    alice, bob = pair()
    first = bob.start()
    r1 = alice.receive(first, NOW).reply
    bob2 = BOB.dake(ALICE.account)
    second = dataclasses.replace(bob2.start(), receiver_tag=ALICE.tag)
    r2 = alice.receive(second, NOW).reply
    assert isinstance(r2, AuthRMessage) and r2 != r1
    # the new Auth-R is the one that counts
    done = bob2.receive(r2, NOW)
    assert done.result is not None and done.reply is not None
    assert alice.receive(done.reply, NOW).result is not None


def test_transition_table_is_the_spec() -> None:
    assert set(TRANSITIONS) == {
        (DakeState.START, IdentityMessage),
        (DakeState.WAITING_AUTH_R, IdentityMessage),
        (DakeState.WAITING_AUTH_I, IdentityMessage),
        (DakeState.WAITING_AUTH_R, AuthRMessage),
        (DakeState.WAITING_AUTH_I, AuthIMessage),
    }


def test_unexpected_messages_are_ignored() -> None:
    alice, bob = pair()
    _, _, (_, auth_r, auth_i) = run(*pair())
    for dake in (alice, bob):
        for msg in (auth_r, auth_i):
            before = dake.snapshot()
            assert dake.receive(msg, NOW) == DakeStep()
            assert dake.snapshot() == before
    bob.start()
    before = bob.snapshot()
    assert bob.receive(auth_i, NOW) == DakeStep()  # Auth-I in WAITING_AUTH_R
    assert bob.snapshot() == before
    alice.receive(bob.start(), NOW)
    before = alice.snapshot()
    assert alice.receive(auth_r, NOW) == DakeStep()  # Auth-R in WAITING_AUTH_I
    assert alice.snapshot() == before


# --- rejections: an exception, and nothing changes ------------------------------------------


def _rejects(dake: Dake, msg: DakeMessage, exc: type[Exception] = RemoteProtocolError) -> Any:
    before = dake.snapshot()
    with pytest.raises(exc) as info:
        dake.receive(msg, NOW)
    assert dake.snapshot() == before
    return info.value


def _bob_waiting() -> tuple[Dake, Dake, IdentityMessage, AuthRMessage]:
    alice, bob = pair()
    ident = bob.start()
    auth_r = alice.receive(ident, NOW).reply
    assert isinstance(auth_r, AuthRMessage)
    return alice, bob, ident, auth_r


def test_forged_identity_rejected() -> None:
    alice, bob = pair()
    ident = bob.start()
    # Bob's profile with Mallory's key in it: the profile signature fails.
    forged_profile = ClientProfile.decode(
        bob.start().profile.encode().replace(BOB.keypair.public_bytes, MALLORY.keypair.public_bytes)
    )
    err = _rejects(alice, dataclasses.replace(ident, profile=forged_profile), ProfileError)
    assert err.reason is ProfileRejection.SIGNATURE_INVALID
    # Mallory's own valid profile under Bob's instance tag: owner tag mismatch.
    err = _rejects(alice, dataclasses.replace(ident, profile=MALLORY.profile), ProfileError)
    assert err.reason is ProfileRejection.INSTANCE_TAG_MISMATCH
    # expired profile
    alice2 = ALICE.dake(BOB.account)
    before = alice2.snapshot()
    with pytest.raises(ProfileError) as info:
        alice2.receive(ident, BOB.profile.expiration)
    assert info.value.reason is ProfileRejection.EXPIRED and alice2.snapshot() == before


def test_identity_checks() -> None:
    alice, bob = pair()
    ident = bob.start()
    _rejects(alice, dataclasses.replace(ident, first_ecdh=ident.y))
    _rejects(alice, dataclasses.replace(ident, first_dh=ident.b))
    _rejects(alice, dataclasses.replace(ident, receiver_tag=ALICE.tag + 1))
    _rejects(alice, dataclasses.replace(ident, sender_tag=ALICE.tag))  # a reflection
    # in WAITING_AUTH_I a different Identity must carry our tag as receiver
    alice.receive(ident, NOW)
    other = BOB.dake(ALICE.account).start()
    assert other.receiver_tag == 0
    _rejects(alice, other)


def test_forged_auth_r_rejected() -> None:
    _, bob, ident, auth_r = _bob_waiting()
    # Mallory swaps in her own profile (and tag) but cannot sign for it.
    swapped = dataclasses.replace(auth_r, profile=MALLORY.profile, sender_tag=MALLORY.tag)
    _rejects(bob, swapped, AuthenticationFailed)
    # An Auth-R signed by Mallory, answering Bob's Identity message.
    mallory = MALLORY.dake(BOB.account)
    forged = mallory.receive(ident, NOW).reply
    assert isinstance(forged, AuthRMessage)
    # valid for Mallory's identity, but phi names alice: verification fails for Bob
    _rejects(bob, forged, AuthenticationFailed)
    _rejects(bob, dataclasses.replace(auth_r, receiver_tag=BOB.tag + 1))
    _rejects(bob, dataclasses.replace(auth_r, first_ecdh=auth_r.x))
    c = auth_r.sigma
    _rejects(
        bob, dataclasses.replace(auth_r, sigma=dataclasses.replace(c, r1=(c.r1 + 1) % ed448.Q))
    )
    # the untouched message still works
    assert bob.receive(auth_r, NOW).result is not None


def test_forged_auth_i_rejected() -> None:
    alice, bob, _, auth_r = _bob_waiting()
    auth_i = bob.receive(auth_r, NOW).reply
    assert isinstance(auth_i, AuthIMessage)
    _rejects(
        alice,
        dataclasses.replace(auth_i, sigma=RingSignature(1, 2, 3, 4, 5, 6)),
        AuthenticationFailed,
    )
    _rejects(alice, dataclasses.replace(auth_i, receiver_tag=0))
    _rejects(alice, dataclasses.replace(auth_i, sender_tag=MALLORY.tag))
    assert alice.receive(auth_i, NOW).result is not None


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        Dake(
            keypair=ALICE.keypair,
            forging_key=ALICE.forging,
            profile=BOB.profile,
            instance_tag=BOB.tag,
            account="a",
            peer="b",
            rng=os.urandom,
        )
    with pytest.raises(ValueError):
        Dake(
            keypair=ALICE.keypair,
            forging_key=BOB.forging,
            profile=ALICE.profile,
            instance_tag=ALICE.tag,
            account="a",
            peer="b",
            rng=os.urandom,
        )
    assert "WAITING" not in repr(ALICE.dake("b")) and "secret" not in repr(ALICE.dake("b"))


# --- hypothesis: mutated messages never raise anything else and never change state -----------

_FIXED = _bob_waiting()


def _mutate(data: bytes, draw: st.DataObject) -> bytes:
    kind = draw.draw(st.sampled_from(["flip", "cut", "byte"]))
    if kind == "cut":
        return data[: draw.draw(st.integers(0, len(data) - 1))]
    pos = draw.draw(st.integers(0, len(data) - 1))
    out = bytearray(data)
    if kind == "flip":
        out[pos] ^= 1 << draw.draw(st.integers(0, 7))
    else:
        out[pos] = draw.draw(st.integers(0, 255).filter(lambda b: b != data[pos]))
    return bytes(out)


def _deliver_mutated(dake: Dake, data: bytes, draw: st.DataObject) -> None:
    mutated = _mutate(data, draw)
    before = dake.snapshot()
    try:
        msg = decode_dake_message(mutated)
        dake.receive(msg, NOW)
    except OtrError as exc:
        assert isinstance(exc, RemoteProtocolError)
        assert dake.snapshot() == before
    else:
        # Only a change the DAKE does not authenticate can pass (e.g. in the
        # Identity message, which carries no signature): it was still decoded
        # and validated, and re-encodes to what was sent.
        assert msg.encode() == mutated


@given(st.data())
def test_mutated_identity(draw: st.DataObject) -> None:
    alice = ALICE.dake(BOB.account)
    _deliver_mutated(alice, _FIXED[2].encode(), draw)


@given(st.data())
def test_mutated_auth_r(draw: st.DataObject) -> None:
    _, bob, _, auth_r = _FIXED
    assert bob.state is DakeState.WAITING_AUTH_R
    _deliver_mutated(bob, auth_r.encode(), draw)


def _auth_i_fixture() -> tuple[Dake, AuthIMessage]:
    alice, bob, _, auth_r = _bob_waiting()
    auth_i = bob.receive(auth_r, NOW).reply
    assert isinstance(auth_i, AuthIMessage)
    return alice, auth_i


_FIXED_AUTH_I = _auth_i_fixture()


@given(st.data())
def test_mutated_auth_i(draw: st.DataObject) -> None:
    alice, auth_i = _FIXED_AUTH_I
    assert alice.state is DakeState.WAITING_AUTH_I
    _deliver_mutated(alice, auth_i.encode(), draw)


def test_kdf_usage_ids_used() -> None:
    # the usages of the DAKE are the final table's (ERRATA C)
    assert (kdf.USAGE_AUTH_R_PHI, kdf.USAGE_AUTH_I_PHI, kdf.USAGE_SSID) == (0x07, 0x0A, 0x04)
