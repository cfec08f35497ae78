"""The OTRv3 AKE (spec "Authenticated Key Exchange", "Authentication state"):
coyim/otr3 known answers, full runs, both sides starting at once, every
ignore/resend case, and tampering."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED
from otr.crypto import modp
from otr.crypto.primitives import aes128_ctr, sha256
from otr.errors import RemoteProtocolError
from otr.v3.ake import Ake, AkeKeys, AkeResult, AkeStep, AuthState
from otr.wire import v3 as w
from otr.wire.buffer import encode_mpi
from v3_util import CountingRng, dsa_key

KAT: dict[str, Any] = json.loads(
    (SHARED / "spec" / "vectors" / "otrv3-coyim-otr3-kat.json").read_text()
)


def test_kat_group_and_commit_values() -> None:
    assert int(modp.P) == int(KAT["group"]["p_hex"], 16)
    c = KAT["dh_commit"]
    x = int(c["x_hex"], 16)
    gx = modp.powmod_g(x)
    assert int(gx) == int(c["gx_hex"], 16)
    gxmpi = encode_mpi(int(gx))
    assert gxmpi.hex() == c["gxmpi_hex"]
    r = bytes.fromhex(c["r_hex"])
    assert aes128_ctr(r, gxmpi).hex() == c["aes128ctr_r_ctr0_of_gxmpi_hex"]
    assert sha256(gxmpi).hex() == c["sha256_gxmpi_hex"]
    y = int(KAT["dh_key"]["y_hex"], 16)
    assert int(modp.powmod_g(y)) == int(KAT["dh_key"]["gy_hex"], 16)


def test_kat_ake_keys() -> None:
    s = KAT["ake_shared_secret"]
    x = int(KAT["dh_commit"]["x_hex"], 16)
    gy = int(KAT["dh_key"]["gy_hex"], 16)
    secret = modp.powmod(gy, x)
    assert int(secret) == int(s["s_hex"], 16)
    keys = AkeKeys.from_secret(secret)
    assert keys.ssid.hex() == s["ssid"]
    assert keys.c.hex() == s["c"]
    assert keys.c_prime.hex() == s["c_prime"]
    assert keys.m1.hex() == s["m1"]
    assert keys.m2.hex() == s["m2"]
    assert keys.m1_prime.hex() == s["m1_prime"]
    assert keys.m2_prime.hex() == s["m2_prime"]


def pair(seed: str = "ake") -> tuple[Ake, Ake]:
    return Ake(dsa_key("alice"), CountingRng(seed + "a")), Ake(
        dsa_key("bob"), CountingRng(seed + "b")
    )


def run_ake(bob: Ake, alice: Ake, version: int = 3) -> tuple[AkeResult, AkeResult]:
    """Bob starts (spec naming): Commit, Key, Reveal Signature, Signature."""
    commit = bob.start(version)
    assert bob.state is AuthState.AUTHSTATE_AWAITING_DHKEY
    k = alice.receive(version, commit)
    assert isinstance(k.reply, w.DHKey) and k.result is None
    assert alice.state is AuthState.AUTHSTATE_AWAITING_REVEALSIG
    rs = bob.receive(version, k.reply)
    assert isinstance(rs.reply, w.RevealSignature)
    assert bob.state is AuthState.AUTHSTATE_AWAITING_SIG
    sig = alice.receive(version, rs.reply)
    assert isinstance(sig.reply, w.Signature) and sig.result is not None
    done = bob.receive(version, sig.reply)
    assert done.reply is None and done.result is not None
    assert alice.state is bob.state is AuthState.AUTHSTATE_NONE
    return done.result, sig.result


@pytest.mark.parametrize("version", [2, 3])
def test_full_ake(version: int) -> None:
    alice, bob = pair()
    rb, ra = run_ake(bob, alice, version)
    assert rb.ssid == ra.ssid and len(rb.ssid) == 8
    assert rb.ssid_first_half_bold and not ra.ssid_first_half_bold
    assert rb.their_pubkey == dsa_key("alice").public
    assert ra.their_pubkey == dsa_key("bob").public
    assert rb.their_dh == ra.our_dh.gx and ra.their_dh == rb.our_dh.gx
    assert rb.their_keyid == ra.our_keyid == 1
    assert rb.version == ra.version == version


def test_messages_survive_the_wire() -> None:
    alice, bob = pair("wire")

    def wire(m: w.AkeMessage) -> w.Message:
        return w.decode_message(w.encode_message(3, 0x100, 0x200, m)).message

    commit = bob.start(3)
    k = alice.receive(3, wire(commit))
    assert k.reply is not None
    rs = bob.receive(3, wire(k.reply))
    assert rs.reply is not None
    sig = alice.receive(3, wire(rs.reply))
    assert sig.reply is not None
    assert bob.receive(3, wire(sig.reply)).result is not None


def test_both_start_at_once() -> None:
    alice, bob = pair("both")
    ca, cb = alice.start(3), bob.start(3)
    ra, rb = alice.receive(3, cb), bob.receive(3, ca)
    high, low = (alice, bob) if ca.hashed_gx > cb.hashed_gx else (bob, alice)
    r_high, r_low = (ra, rb) if high is alice else (rb, ra)
    # The higher hash resends its commit; the lower answers with a D-H Key.
    assert r_high.reply == (ca if high is alice else cb)
    assert high.state is AuthState.AUTHSTATE_AWAITING_DHKEY
    assert isinstance(r_low.reply, w.DHKey)
    assert low.state is AuthState.AUTHSTATE_AWAITING_REVEALSIG
    # The low side receiving the resent commit retransmits the same D-H Key.
    again = low.receive(3, r_high.reply)
    assert again.reply == r_low.reply
    rs = high.receive(3, r_low.reply)
    assert isinstance(rs.reply, w.RevealSignature)
    sig = low.receive(3, rs.reply)
    assert sig.result is not None and sig.reply is not None
    assert high.receive(3, sig.reply).result is not None


def test_ignore_and_resend_cases() -> None:
    alice, bob = pair("cases")
    commit = bob.start(3)
    # Messages out of place are ignored.
    assert alice.receive(3, w.DHKey(5)) == alice.receive(3, w.Signature(b"", bytes(20)))
    assert alice.state is AuthState.AUTHSTATE_NONE
    assert alice.receive(3, w.RevealSignature(bytes(16), b"", bytes(20))).reply is None
    k = alice.receive(3, commit)
    assert k.reply is not None
    rs = bob.receive(3, k.reply)
    # AWAITING_SIG: the same D-H Key makes Bob retransmit; a different one is ignored.
    assert bob.receive(3, k.reply).reply == rs.reply
    assert bob.receive(3, w.DHKey(12345)).reply is None
    # A commit in AWAITING_SIG: reply with a new D-H Key, go to AWAITING_REVEALSIG.
    other = copy.copy(bob)
    fresh = other.receive(3, Ake(dsa_key("alice"), CountingRng("x")).start(3))
    assert isinstance(fresh.reply, w.DHKey)
    assert other.state is AuthState.AUTHSTATE_AWAITING_REVEALSIG
    # A version mismatch is ignored.
    assert bob.receive(2, w.Signature(b"", bytes(20))).reply is None
    assert rs.reply is not None
    sig = alice.receive(3, rs.reply)
    assert sig.reply is not None
    assert bob.receive(3, sig.reply).result is not None


def test_tampered_reveal_signature_raises_and_keeps_state() -> None:
    alice, bob = pair("tamper")
    commit = bob.start(3)
    k = alice.receive(3, commit)
    assert k.reply is not None
    rs = bob.receive(3, k.reply)
    assert isinstance(rs.reply, w.RevealSignature)
    bad_sig = bytearray(rs.reply.encrypted_signature)
    bad_sig[5] ^= 1
    for bad in (
        replace(rs.reply, revealed_key=bytes(16)),
        replace(rs.reply, encrypted_signature=bytes(bad_sig)),
        replace(rs.reply, mac=bytes(20)),
    ):
        with pytest.raises(RemoteProtocolError):
            alice.receive(3, bad)
        assert alice.state is AuthState.AUTHSTATE_AWAITING_REVEALSIG
    assert alice.receive(3, rs.reply).result is not None


def test_invalid_group_elements_rejected() -> None:
    _alice, bob = pair("group")
    bob.start(3)
    for gy in (0, 1, int(modp.P) - 1, int(modp.P)):
        with pytest.raises(RemoteProtocolError):
            bob.receive(3, w.DHKey(gy))
        assert bob.state is AuthState.AUTHSTATE_AWAITING_DHKEY


def test_signature_by_wrong_key_fails() -> None:
    """A MITM re-signing with its own key under Alice's name cannot pass: the
    signature covers both g^x and g^y, so a forged Signature fails the MAC."""
    alice, bob = pair("mitm")
    commit = bob.start(3)
    k = alice.receive(3, commit)
    assert k.reply is not None
    rs = bob.receive(3, k.reply)
    assert rs.reply is not None
    mallory = Ake(dsa_key("mallory"), CountingRng("m"))
    mallory.receive(3, commit)
    with pytest.raises(RemoteProtocolError):
        mallory.receive(3, rs.reply)  # different g^y: the MAC cannot verify


@settings(max_examples=30)
@given(st.binary(min_size=0, max_size=300), st.binary(min_size=20, max_size=20))
def test_random_signature_messages_never_succeed(enc: bytes, mac: bytes) -> None:
    alice, bob = pair("rand")
    commit = bob.start(3)
    k = alice.receive(3, commit)
    assert k.reply is not None
    bob.receive(3, k.reply)
    try:
        step = bob.receive(3, w.Signature(enc, mac))
    except RemoteProtocolError:
        assert bob.state is AuthState.AUTHSTATE_AWAITING_SIG
    else:
        assert step.result is None


def test_rng_failure_leaves_the_authstate_unchanged() -> None:
    """Issue 12.5: start and the D-H Key reply draw their randomness first."""

    def broken(n: int) -> bytes:
        raise OSError("no entropy")

    ake = Ake(dsa_key("alice"), broken)
    with pytest.raises(OSError):
        ake.start(3)
    assert ake.state is AuthState.AUTHSTATE_NONE and ake.version == 0
    commit = Ake(dsa_key("bob"), CountingRng("b")).start(3)
    with pytest.raises(OSError):
        ake.receive(3, commit)
    assert ake.state is AuthState.AUTHSTATE_NONE and ake.version == 0


def test_transition_table_ignores_every_pair_it_does_not_list() -> None:
    """The authstate machine is the TRANSITIONS table: every (message, state) pair
    absent from it is ignored with the state unchanged (spec "ignore the message")."""
    from otr.v3.ake import TRANSITIONS

    a = Ake(dsa_key("alice"), CountingRng("ta"))
    b = Ake(dsa_key("bob"), CountingRng("tb"))
    commit = b.start(3)
    dhkey = a.receive(3, commit).reply
    reveal = b.receive(3, dhkey).reply
    sig = a.receive(3, reveal).reply
    assert dhkey is not None and reveal is not None and sig is not None
    messages: list[w.AkeMessage] = [commit, dhkey, reveal, sig]
    # One machine in each authstate.
    states: dict[AuthState, Ake] = {AuthState.AUTHSTATE_NONE: Ake(dsa_key("c"), CountingRng("c"))}
    waiting_dhkey = Ake(dsa_key("c"), CountingRng("c1"))
    waiting_dhkey.start(3)
    states[AuthState.AUTHSTATE_AWAITING_DHKEY] = waiting_dhkey
    waiting_reveal = Ake(dsa_key("c"), CountingRng("c2"))
    waiting_reveal.receive(3, commit)
    states[AuthState.AUTHSTATE_AWAITING_REVEALSIG] = waiting_reveal
    waiting_sig = Ake(dsa_key("c"), CountingRng("c3"))
    waiting_sig.start(3)
    waiting_sig.receive(3, Ake(dsa_key("d"), CountingRng("d")).receive(3, waiting_sig._sent).reply)
    states[AuthState.AUTHSTATE_AWAITING_SIG] = waiting_sig
    assert {s: m.state for s, m in states.items()} == {s: s for s in states}
    listed = 0
    for state, machine in states.items():
        for msg in messages:
            if (type(msg), state) in TRANSITIONS:
                listed += 1
                continue
            trial = copy.copy(machine)
            assert trial.receive(3, msg) == AkeStep()
            assert trial.state is state
    assert listed == len(TRANSITIONS) == 8
