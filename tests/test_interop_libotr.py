"""Interop: our Conversation paired with the real libotr 4.1.1 (``otrpeer``).

Every test relays wire text between the libotr process and our code; nothing
here talks to a second copy of our own library.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from conftest import libotr_peer_module
from interop_util import OurPeer, establish, run, secure

pytestmark = pytest.mark.interop

peer_mod = libotr_peer_module()
OtrPeer = peer_mod.OtrPeer
relay = peer_mod.relay
of = peer_mod.of
injects = peer_mod.injects

WHITESPACE_BASE = " \t  \t\t\t\t \t \t \t  "
WHITESPACE_V3 = "  \t\t  \t\t"


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in of(events, "message")]


def exchange(lib: Any, ours: OurPeer, text: str) -> None:
    log = run(lib, ours, {lib: lib.send(text)})
    got = of(log[ours], "message")
    assert [m["text"] for m in got] == [text] and got[0]["encrypted"]
    log = run(lib, ours, {ours: ours.send(text[::-1])})
    got = of(log[lib], "message")
    assert [m["text"] for m in got] == [text[::-1]] and got[0]["encrypted"]


@pytest.mark.parametrize("version", [3, 2])
@pytest.mark.parametrize("starter", ["lib", "ours"])
def test_ake_by_query(pair_factory: Any, version: int, starter: str) -> None:
    lib, ours = pair_factory(versions=(version,))
    establish(lib, ours, starter)
    assert lib.status()["protocol_version"] == version
    assert ours.status()["protocol_version"] == version
    exchange(lib, ours, f"hello over v{version}")


@pytest.mark.parametrize("starter", ["lib", "ours"])
def test_ake_by_whitespace_tag(pair_factory: Any, starter: str) -> None:
    lib, ours = pair_factory(policy="OPPORTUNISTIC")
    first, second = (lib, ours) if starter == "lib" else (ours, lib)
    evs = first.send("plain hello")
    tagged = injects(evs)
    assert len(tagged) == 1
    tag = tagged[0][len("plain hello") :]
    assert tag.startswith(WHITESPACE_BASE) and WHITESPACE_V3 in tag[16:]
    log = run(lib, ours, {first: evs})
    assert texts(log[second]) == ["plain hello"]
    secure(log, lib)
    secure(log, ours)
    exchange(lib, ours, "after the tag")


def test_v2_by_whitespace_tag(pair_factory: Any) -> None:
    lib, ours = pair_factory(policy="OPPORTUNISTIC", versions=(2,))
    log = run(lib, ours, {lib: lib.send("hi")})
    assert secure(log, ours)["protocol_version"] == 2
    exchange(lib, ours, "v2 text")


def test_unicode_and_large_messages(pair_factory: Any) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    exchange(lib, ours, "Grüße, 世界! 🙂 — ünïcødé")
    big = "".join(chr(0x41 + i % 26) for i in range(20 * 1024))
    exchange(lib, ours, big)
    for i in range(5):  # several turns: key rotation both ways
        exchange(lib, ours, f"turn {i}")


@pytest.mark.parametrize("starter", ["lib", "ours"])
def test_fragmentation_200_bytes(pair_factory: Any, starter: str) -> None:
    lib, ours = pair_factory(max_msg_size=200)
    log = run(
        lib, ours, {lib if starter == "lib" else ours: (lib if starter == "lib" else ours).query()}
    )
    secure(log, lib)
    secure(log, ours)
    text = "fragmented " * 150
    evs = ours.send(text)
    frags = injects(evs)
    assert len(frags) > 5 and all(len(f) <= 200 for f in frags)
    log = run(lib, ours, {ours: evs})
    assert texts(log[lib]) == [text]
    evs = lib.send(text)
    assert len(injects(evs)) > 5
    log = run(lib, ours, {lib: evs})
    assert texts(log[ours]) == [text]


def test_both_start_at_once(pair_factory: Any) -> None:
    lib, ours = pair_factory()
    q_lib, q_ours = lib.query(), ours.query()
    # Both queries cross on the wire; then each side's D-H Commit crosses too.
    log = run(lib, ours, {lib: q_lib, ours: q_ours})
    a, b = secure(log, lib), secure(log, ours)
    assert lib.status()["ssid"] == ours.status()["ssid"]
    assert a and b
    exchange(lib, ours, "after a simultaneous start")


def test_both_commit_at_once(pair_factory: Any) -> None:
    lib, ours = pair_factory()
    # Each side receives the other's query first, so both D-H Commits cross.
    commit_lib = lib.recv(injects(ours.query())[0])
    commit_ours = ours.recv(injects(lib.query())[0])
    log = run(lib, ours, {lib: commit_lib, ours: commit_ours})
    secure(log, lib)
    secure(log, ours)
    assert lib.status()["ssid"] == ours.status()["ssid"]
    exchange(lib, ours, "after crossing commits")


@pytest.mark.parametrize("ender", ["lib", "ours"])
def test_end_from_either_side(pair_factory: Any, ender: str) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    first, second = (lib, ours) if ender == "lib" else (ours, lib)
    log = run(lib, ours, {first: first.end()})
    assert first.status()["msgstate"] == "plaintext"
    assert second.status()["msgstate"] == "finished"
    # The finished side refuses to send in plaintext.
    evs = second.send("must not leak")
    assert not any("must not leak" in d for d in injects(evs))
    second.end()
    assert second.status()["msgstate"] == "plaintext"
    assert log


def test_always_policy_holds_text_until_secure(pair_factory: Any) -> None:
    lib, ours = pair_factory(policy="ALWAYS")
    evs = ours.send("held until encrypted")
    sent = injects(evs)
    assert sent and all("held until encrypted" not in s for s in sent)
    log = run(lib, ours, {ours: evs})
    secure(log, lib)
    got = of(log[lib], "message")
    assert [m["text"] for m in got] == ["held until encrypted"] and got[0]["encrypted"]
    # And the other way: libotr holds under ALWAYS, we receive it encrypted.
    lib2, ours2 = pair_factory(policy="ALWAYS")
    evs = lib2.send("libotr held this")
    log = run(lib2, ours2, {lib2: evs})
    got = of(log[ours2], "message")
    assert [m["text"] for m in got] == ["libotr held this"] and got[0]["encrypted"]


def test_message_for_other_instance_is_ignored(pair_factory: Any) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    # libotr's data message, re-addressed to an instance tag that is not ours
    # (receiver instance tag: bytes 7..10 of the v3 header).
    wire = injects(lib.send("for someone else"))[0]
    raw = bytearray(base64.b64decode(wire[5:-1]))
    raw[7:11] = (ours.instag ^ 0x5A5A5A5A).to_bytes(4, "big")
    forged = "?OTR:" + base64.b64encode(bytes(raw)).decode() + "."
    evs = ours.recv(forged)
    assert of(evs, "msg_event", event="rcvdmsg_for_other_instance")
    assert not of(evs, "message") and not injects(evs)
    exchange(lib, ours, "still fine")


def test_plaintext_in_encrypted_state_warns(pair_factory: Any) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    evs = ours.recv("just plain text")
    assert texts(evs) == ["just plain text"]
    assert of(evs, "msg_event", event="rcvdmsg_unencrypted")


def test_our_restarted_peer_is_recovered(pair_factory: Any, tmp_path: Any) -> None:
    """Issue 12.4 against libotr: our side restarts (same key and instance tag) while
    libotr is ENCRYPTED; we answer its data message with an OTR Error as the spec
    says, which makes libotr (ERROR_START_AKE) restart the AKE.  (libotr 4.1.1 does
    not resend that message: its resend flag is set on the master context, which is
    not the ENCRYPTED one; we do resend in the mirror case, see test_conversation.)"""
    lib, _ = pair_factory(policy="OPPORTUNISTIC")
    key = str(tmp_path / "bob.key")
    ours = OurPeer(privkey_file=key, policy="OPPORTUNISTIC")
    establish(lib, ours)
    ours2 = OurPeer(privkey_file=key, policy="OPPORTUNISTIC", instag=ours.instag)
    log = run(lib, ours2, {lib: lib.send("lost after the restart?")})
    assert [e for e in log[ours2] if e["ev"] == "msg_event"]  # told: unreadable
    assert any(e["ev"] == "gone_secure" for e in log[ours2])
    assert ours2.status()["msgstate"] == "encrypted"
    exchange(lib, ours2, "and afterwards")
