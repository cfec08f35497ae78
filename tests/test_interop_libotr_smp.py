"""Interop for issue 3: SMP and the extra symmetric key between our Conversation
and the real libotr 4.1.1 (``otrpeer``), relayed over its JSON-lines protocol."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import libotr_peer_module
from interop_util import OurPeer, establish, run

pytestmark = pytest.mark.interop

peer_mod = libotr_peer_module()
of = peer_mod.of


def smp_run(
    lib: Any,
    ours: OurPeer,
    starter: str,
    secret: str,
    answer: str,
    question: str | None = None,
) -> dict[Any, list[dict[str, Any]]]:
    """Start SMP from ``starter``; the other side answers when asked."""
    first, second = (lib, ours) if starter == "lib" else (ours, lib)

    def on_event(party: Any, e: dict[str, Any]) -> list[dict[str, Any]]:
        if e["ev"] == "smp" and e["event"] in ("ask_for_secret", "ask_for_answer"):
            assert party is second
            if question is None:
                assert e["event"] == "ask_for_secret"
            else:
                assert e["event"] == "ask_for_answer" and e["question"] == question
            result: list[dict[str, Any]] = party.smp_respond(answer)
            return result
        return []

    log: dict[Any, list[dict[str, Any]]] = peer_mod.relay(
        {first: first.smp(secret, question)}, {lib: ours, ours: lib}, on_event
    )
    log.setdefault(lib, [])
    log.setdefault(ours, [])
    return log


def outcome(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["event"]
        for e in of(events, "smp")
        if e["event"] in ("success", "failure", "abort", "cheated", "error")
    ]


@pytest.mark.parametrize("starter", ["lib", "ours"])
@pytest.mark.parametrize("question", [None, "Where did we meet?"])
def test_smp_right_secret(pair_factory: Any, starter: str, question: str | None) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    log = smp_run(lib, ours, starter, "the pier", "the pier", question)
    assert outcome(log[lib]) == ["success"]
    assert outcome(log[ours]) == ["success"]
    # The side that asked a question (or answered without one) now trusts the peer.
    # libotr's rule, mirrored: the side that only answered a question learns
    # nothing about the peer's identity and does not change its trust.
    if starter == "ours" or question is None:
        assert ours.status()["trust"] == "verified"
    else:
        assert ours.status()["trust"] != "verified"


@pytest.mark.parametrize("starter", ["lib", "ours"])
def test_smp_wrong_secret(pair_factory: Any, starter: str) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    log = smp_run(lib, ours, starter, "blue", "green")
    assert outcome(log[lib]) == ["failure"]
    assert outcome(log[ours]) == ["failure"]
    assert ours.status()["trust"] != "verified"


@pytest.mark.parametrize("starter", ["lib", "ours"])
def test_smp_unicode_secret_and_question(pair_factory: Any, starter: str) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    secret = "żółw 🐢 café"
    log = smp_run(lib, ours, starter, secret, secret, "¿Dónde? 日本")
    assert outcome(log[lib]) == ["success"] and outcome(log[ours]) == ["success"]


@pytest.mark.parametrize("starter", ["lib", "ours"])
def test_smp_over_fragments(pair_factory: Any, starter: str) -> None:
    lib, ours = pair_factory(max_msg_size=200)
    establish(lib, ours)
    log = smp_run(lib, ours, starter, "fragmented secret", "fragmented secret")
    assert outcome(log[lib]) == ["success"] and outcome(log[ours]) == ["success"]
    for who in (lib, ours):
        assert all(len(d) <= 200 for d in peer_mod.injects(log[who]))


@pytest.mark.parametrize("aborter", ["lib", "ours"])
def test_smp_abort_midway(pair_factory: Any, aborter: str) -> None:
    """The responder is asked for the secret and aborts instead of answering."""
    lib, ours = pair_factory()
    establish(lib, ours)
    starter, responder = (ours, lib) if aborter == "lib" else (lib, ours)
    log = run(lib, ours, {starter: starter.smp("s3cret")})
    assert [e["event"] for e in of(log[responder], "smp")][:1] == ["ask_for_secret"]
    log = run(lib, ours, {responder: responder.smp_abort()})
    assert "abort" in outcome(log[starter])
    # The session is still usable and a new SMP succeeds.
    log = smp_run(lib, ours, "ours", "again", "again")
    assert outcome(log[lib]) == ["success"] and outcome(log[ours]) == ["success"]


@pytest.mark.parametrize("user", ["lib", "ours"])
def test_extra_symmetric_key(pair_factory: Any, user: str) -> None:
    lib, ours = pair_factory()
    establish(lib, ours)
    first = lib if user == "lib" else ours
    for use, usedata in ((1, ""), (0x01020304, "cafe")):
        log = run(lib, ours, {first: first.symkey(use=use, usedata=usedata)})
        local = of(log[first], "symkey", origin="local")
        other = ours if first is lib else lib
        remote = of(log[other], "symkey", origin="remote")
        assert len(local) == 1 and len(remote) == 1
        assert local[0]["key"] == remote[0]["key"] and len(local[0]["key"]) == 64
        assert remote[0]["use"] == use and remote[0]["usedata"] == usedata
    # Data still flows after the TLV-only messages.
    log = run(lib, ours, {lib: lib.send("after symkey")})
    assert [m["text"] for m in of(log[ours], "message")] == ["after symkey"]
