"""otr.tools.forge: session keys against coyim's known answers; forged Data Messages that a
real receiver accepts (our Conversation, and libotr 4.1.1 through the interop peer)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import SPEC_VECTORS
from otr import events as ev
from otr.errors import AuthenticationFailed, DecodeError
from otr.tools.forge import (
    forge_transcript,
    mac_key,
    modify_data_message,
    read_data_message,
    remac_data_message,
    replace_plaintext,
    session_keys,
)
from otr.tools.inspect import Inspector, KeyRing, inspect_transcript
from otr.wire import v3 as wire3
from tools_util import ConvPeer, Logged, Pair, make_pair, received_texts

KAT = json.loads((SPEC_VECTORS / "otrv3-coyim-otr3-kat.json").read_text())


def test_session_keys_match_coyim() -> None:
    dm = KAT["data_message_keys"]
    keys = session_keys(int(dm["our_private_hex"], 16), int(dm["their_public_hex"], 16))
    assert keys.high is dm["we_are_high_end"]
    assert keys.sending_aes.hex() == dm["sending_aes"]
    assert keys.sending_mac.hex() == dm["sending_mac"]
    assert keys.receiving_aes.hex() == dm["receiving_aes"]
    assert keys.receiving_mac.hex() == dm["receiving_mac"]
    assert keys.extra_symmetric_key.hex() == dm["extra_key"]
    ake = KAT["ake_shared_secret"]
    for name in ("ssid", "c", "c_prime", "m1", "m2", "m1_prime", "m2_prime"):
        assert getattr(keys.ake, name).hex() == ake[name]
    # The other side, from its own private key, sees the same keys the other way round.
    other = session_keys(int(KAT["dh_key"]["y_hex"], 16), int(dm["our_public_hex"], 16))
    assert other.sending_aes == keys.receiving_aes and other.high is not keys.high


def test_mac_key_matches_coyim() -> None:
    dm = KAT["data_message_keys"]
    assert mac_key(bytes.fromhex(dm["sending_aes"])).hex() == dm["sending_mac"]
    with pytest.raises(ValueError):
        mac_key(b"short")


def _secured_pair() -> Pair:
    pair = make_pair((3,), seed="forge")
    pair.pump(pair.alice, pair.alice.start(pair.now))
    assert pair.alice.is_encrypted and pair.bob.is_encrypted
    return pair


def _captured(pair: Pair, text: str) -> str:
    """Alice sends ``text``; the wire text is captured, not delivered."""
    (out,) = [e for e in pair.alice.send(text, pair.now) if isinstance(e, ev.SendMessage)]
    return out.text


def _alice_keys(pair: Pair, wire: str) -> tuple[bytes, bytes]:
    """(AES key, MAC key) of ``wire`` as an inspector finds them from Alice's own D-H secrets
    (what Alice, wishing to deny, kept)."""
    inspector = Inspector(KeyRing(dh_secrets=tuple(pair.alice_rng.dh_secrets)))
    for text in pair.wire:
        inspector.inspect(text)
    found = inspector.inspect(wire).sections["decrypted"]
    return bytes(found["aes_key"]), bytes(found["mac_key"])


def test_session_keys_from_the_ake_open_the_first_message() -> None:
    pair = _secured_pair()
    wire = _captured(pair, "attack at dawn")
    reports = inspect_transcript(pair.wire)
    gx = next(r for r in reports if r.message_type == wire3.REVEAL_SIGNATURE).fields[
        "gx (revealed)"
    ]
    x = pair.alice_rng.dh_secrets[0]  # Alice answered the D-H Commit with her first key
    keys = session_keys(x, int(gx))
    result = read_data_message(wire, keys.sending_aes)
    assert result.mac_ok and result.plaintext.startswith(b"attack at dawn")
    assert result.describe()["message"] == "attack at dawn"
    assert not read_data_message(wire, keys.receiving_aes).mac_ok


def test_replaced_plaintext_is_accepted_by_the_receiver() -> None:
    pair = _secured_pair()
    wire = _captured(pair, "attack at dawn")
    aes, _ = _alice_keys(pair, wire)
    forged = replace_plaintext(wire, aes, b"retreat, it is a trap")
    assert forged != wire
    assert received_texts(pair.bob.receive(forged, pair.now)) == ["retreat, it is a trap"]
    # The original is now a replay (its counter was used): refused.
    assert not received_texts(pair.bob.receive(wire, pair.now))
    with pytest.raises(AuthenticationFailed):
        replace_plaintext(wire, bytes(16), b"x")


def test_modified_with_the_mac_key_only_is_accepted() -> None:
    pair = _secured_pair()
    wire = _captured(pair, "attack at dawn")
    _, mac = _alice_keys(pair, wire)
    forged = modify_data_message(wire, mac, b"dawn", b"dusk", len("attack at "))
    assert received_texts(pair.bob.receive(forged, pair.now)) == ["attack at dusk"]
    with pytest.raises(ValueError):
        modify_data_message(wire, mac, b"dawn", b"du", 10)
    with pytest.raises(ValueError):
        modify_data_message(wire, mac, b"dawn", b"dusk", 1000)


def test_wrong_mac_key_is_refused() -> None:
    pair = _secured_pair()
    wire = _captured(pair, "attack at dawn")
    forged = modify_data_message(wire, bytes(20), b"dawn", b"dusk", 10)
    got = pair.bob.receive(forged, pair.now)
    assert not received_texts(got)
    assert any(isinstance(e, ev.MessageUnreadable) for e in got)


def test_remac_with_changed_fields() -> None:
    pair = _secured_pair()
    wire = _captured(pair, "attack at dawn")
    _, mac = _alice_keys(pair, wire)
    forged = remac_data_message(wire, mac, flags=1)
    (report,) = inspect_transcript([forged], KeyRing(mac_keys=(mac,)))
    assert report.fields["flags"] == 1 and "decrypted" in report.sections
    assert received_texts(pair.bob.receive(forged, pair.now)) == ["attack at dawn"]
    with pytest.raises(ValueError):
        remac_data_message(wire, mac, mac=bytes(20))
    with pytest.raises(ValueError):
        remac_data_message(wire, mac, colour="red")
    with pytest.raises(DecodeError):
        remac_data_message(pair.wire[1], mac)  # a D-H Commit, not a Data Message


def test_forged_transcript_is_accepted_and_consistent() -> None:
    """A recorded transcript rewritten with Alice's secrets: Bob, receiving the forged lines,
    reads the forged texts; a fresh inspector finds every MAC consistent."""
    pair = _secured_pair()
    sent = [_captured(pair, t) for t in ("one", "two", "three")]
    transcript = [*pair.wire, *sent]
    first = len(pair.wire) + 1
    keys = KeyRing(dh_secrets=tuple(pair.alice_rng.dh_secrets))
    forged = forge_transcript(transcript, keys, {first: "uno", first + 2: "tres ✓"})
    assert forged[: first - 1] == transcript[: first - 1]
    assert forged[first] == transcript[first]
    got = [t for line in forged[first - 1 :] for t in received_texts(pair.bob.receive(line))]
    assert got == ["uno", "two", "tres ✓"]
    reports = inspect_transcript(forged, keys)
    assert [r.sections["decrypted"]["message"] for r in reports[first - 1 :]] == got
    with pytest.raises(ValueError, match="not an unfragmented Data Message"):
        forge_transcript(transcript, keys, {1: "x"})
    with pytest.raises(ValueError, match="no AES key"):
        forge_transcript(transcript, KeyRing(), {first: "x"})
    with pytest.raises(ValueError, match="no line"):
        forge_transcript(transcript, keys, {99: "x"})
    with pytest.raises(ValueError, match="NUL"):
        forge_transcript(transcript, keys, {first: "a\0b"})


def test_revealed_mac_keys_let_anyone_forge() -> None:
    """After a key pair is retired its MAC key is published: a third party with nothing
    but the transcript makes a message that verifies under it (what deniability means)."""
    pair = _secured_pair()
    a, b = pair.alice, pair.bob
    pair.pump(a, a.send("I owe you nothing", pair.now))
    pair.pump(b, b.send("ok", pair.now))
    pair.pump(a, a.send("bye", pair.now))
    pair.pump(b, b.send("bye", pair.now))
    reports = inspect_transcript(pair.wire)
    revealed = [
        m for r in reports if r.message_type == wire3.DATA for m in r.fields["old_mac_keys"]
    ]
    assert revealed
    target = next(r for r in reports if r.message_type == wire3.DATA)
    line = pair.wire[target.index - 1]
    forged = modify_data_message(line, revealed[0], b"nothing", b"$10,000", 10)
    (check,) = inspect_transcript([forged], KeyRing(mac_keys=tuple(revealed)))
    assert check.sections["decrypted"]["keys_from"] == "MAC key #1"


# -- libotr 4.1.1 as the receiver and as the sender


@pytest.mark.interop
def test_libotr_accepts_forged_messages(peer_module: Any) -> None:
    with peer_module.OtrPeer(account="bob", peer="alice", versions=(3,)) as lib:
        _forge_with_libotr(peer_module, lib)


def _forge_with_libotr(peer_module: Any, lib: Any) -> None:
    pair = make_pair((3,), seed="libotr-forge")
    ours = pair.alice
    wire: list[str] = []
    us = ConvPeer(ours, wire)
    them = Logged(lib, wire)
    route = {us: them, them: us}
    peer_module.relay({us: us.convert(ours.start(us.now))}, route)
    assert ours.is_encrypted and lib.status()["msgstate"] == "encrypted"
    keys = KeyRing(dh_secrets=tuple(pair.alice_rng.dh_secrets))
    # libotr's AKE messages decode and its signed part opens with our secrets.
    reports = inspect_transcript(wire, keys)
    assert all(r.error is None for r in reports)
    types = {(r.inner or r).message_type for r in reports}
    assert {wire3.DH_COMMIT, wire3.DH_KEY, wire3.REVEAL_SIGNATURE, wire3.SIGNATURE} <= types
    signed = [(r.inner or r).sections.get("signed_part") for r in reports]
    assert lib.fingerprint in {s["fingerprint"] for s in signed if s}

    # Ours -> libotr: forged with our own secrets; libotr shows the forged text.
    (out,) = [e.text for e in ours.send("attack at dawn", us.now) if isinstance(e, ev.SendMessage)]
    inspector = Inspector(keys)
    for text in wire:
        inspector.inspect(text)
    found = inspector.inspect(out).sections["decrypted"]
    forged = modify_data_message(out, bytes(found["mac_key"]), b"dawn", b"dusk", 10)
    got = lib.recv(forged)
    assert [m["text"] for m in peer_module.of(got, "message")] == ["attack at dusk"]
    replaced = replace_plaintext(
        _send(ours, "second", us.now), bytes(found["aes_key"]), b"forged by the sender"
    )
    got = lib.recv(replaced)
    assert [m["text"] for m in peer_module.of(got, "message")] == ["forged by the sender"]

    # libotr -> ours: libotr's message, rewritten with the keys we share with it.
    (from_lib,) = peer_module.injects(lib.send("the real text from libotr"))
    for text in wire:
        inspector.inspect(text)
    found = inspector.inspect(from_lib).sections["decrypted"]
    assert found["message"] == "the real text from libotr"
    forged = replace_plaintext(from_lib, bytes(found["aes_key"]), b"words libotr never sent")
    assert received_texts(ours.receive(forged, us.now)) == ["words libotr never sent"]


def _send(conv: Any, text: str, now: float) -> str:
    (out,) = [e.text for e in conv.send(text, now) if isinstance(e, ev.SendMessage)]
    return str(out)
