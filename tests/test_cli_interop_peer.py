"""``otr interop-peer`` over real stdio: two of ours speaking OTRv4 (keys kept in
``keys_dir`` across runs), and ours (v3+v4) paired with libotr's ``otrpeer``, which
falls back to OTRv3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import libotr_peer_module
from otr.cli.interop_peer import InteropPeer


class StdioPeer:
    """Our endpoint as a subprocess speaking PROTOCOL.md."""

    def __init__(self, **init: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from otr.cli import main; main(['interop-peer'])"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        evs = self.cmd("init", **init)
        self.info = next(e for e in evs if e["ev"] == "init")
        self.fingerprint = self.info["fingerprint"]

    def cmd(self, name: str, **kw: Any) -> list[dict[str, Any]]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"cmd": name, "id": 7, **kw}) + "\n")
        self.proc.stdin.flush()
        out = []
        while True:
            line = self.proc.stdout.readline()
            assert line, "interop-peer exited"
            ev = json.loads(line)
            if ev["ev"] == "done":
                assert ev["ok"], ev
                assert ev["id"] == 7 and ev["cmd"] == name
                return out
            out.append(ev)

    def recv(self, data: str) -> list[dict[str, Any]]:
        return self.cmd("recv", data=data)

    def close(self) -> None:
        self.cmd("quit")
        self.proc.wait(timeout=10)

    __hash__ = object.__hash__


@pytest.mark.interop
def test_stdio_endpoint_against_libotr() -> None:
    peer = libotr_peer_module()
    lib = peer.OtrPeer(account="alice@x", peer="bob@x", policy="MANUAL", max_msg_size=200)
    ours = StdioPeer(account="bob@x", peer="alice@x", policy="MANUAL", max_msg_size=200)
    try:
        log = peer.relay({ours: ours.cmd("query")}, {lib: ours, ours: lib})
        assert peer.of(log[lib], "gone_secure") and peer.of(log[ours], "gone_secure")
        log = peer.relay({ours: ours.cmd("send", text="über stdio " * 40)}, {lib: ours, ours: lib})
        assert [m["text"] for m in peer.of(log[lib], "message")] == ["über stdio " * 40]
        log = peer.relay({lib: lib.send("back")}, {lib: ours, ours: lib})
        assert [m["text"] for m in peer.of(log[ours], "message")] == ["back"]
        status = ours.cmd("status")[0]
        assert status["msgstate"] == "encrypted" and status["their_fingerprint"] == lib.fingerprint
    finally:
        lib.close()
        ours.close()


def test_bad_commands_answer_ok_false() -> None:
    p = InteropPeer()
    assert p.handle({"cmd": "send", "text": "x"})[-1]["ok"] is False
    assert p.handle({"cmd": "bogus", "id": 3})[-1] == {
        "ev": "done",
        "cmd": "bogus",
        "ok": False,
        "error": "init first",
        "id": 3,
    }
    p.handle({"cmd": "init", "policy": "MANUAL"})
    done = p.handle({"cmd": "smp", "secret": "x"})[-1]
    assert done["ok"] is False and "private" in done["error"]


Log = dict[StdioPeer, list[dict[str, Any]]]


class _Relay:
    """Delivers ``inject`` events between two of our peers until the network is quiet
    (PROTOCOL.md; libotr's peer.py has the same helper, this one needs no libotr)."""

    def __init__(self, a: StdioPeer, b: StdioPeer) -> None:
        self.route = {a: b, b: a}

    def relay(self, sender: StdioPeer, evs: list[dict[str, Any]], answer: Any = None) -> Log:
        log: Log = {p: [] for p in self.route}
        log[sender] += evs
        work = [(sender, e) for e in evs]
        while work:
            src, e = work.pop(0)
            if e["ev"] == "inject":
                dest = self.route[src]
                got = dest.recv(e["data"])
                log[dest] += got
                work += [(dest, g) for g in got]
            extra = answer(src, e) if answer is not None else None
            if extra:
                log[src] += extra
                work += [(src, g) for g in extra]
        return log

    @staticmethod
    def of(evs: list[dict[str, Any]], name: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in evs if e["ev"] == name and all(e.get(k) == v for k, v in match.items())]


def test_two_of_our_peers_talk_v4(tmp_path: Path) -> None:
    """PROTOCOL.md with OTRv4: [3,4] against [4] negotiates OTRv4; gone_secure and
    status carry 56-byte fingerprints and the 8-byte SSID; messages, SMP, TLV 7 and
    the end; the identity in keys_dir survives a restart."""
    alice_dir, bob_dir = tmp_path / "alice", tmp_path / "bob"
    alice = StdioPeer(
        account="alice@x", peer="bob@x", policy="MANUAL", versions=[3, 4], keys_dir=str(alice_dir)
    )
    bob = StdioPeer(
        account="bob@x",
        peer="alice@x",
        policy="MANUAL",
        versions=[4],
        keys_dir=str(bob_dir),
        max_msg_size=300,
    )
    try:
        a_fp, b_fp = alice.info["fingerprint_v4"], bob.info["fingerprint_v4"]
        assert len(a_fp) == len(b_fp) == 112 and bob.fingerprint == b_fp
        assert len(alice.fingerprint) == 40  # alice also has her OTRv3 key
        relay = _Relay(alice, bob)
        log = relay.relay(bob, bob.cmd("query"))
        (sa,) = relay.of(log[alice], "gone_secure")
        (sb,) = relay.of(log[bob], "gone_secure")
        assert sa["protocol_version"] == sb["protocol_version"] == 4
        assert sa["ssid"] == sb["ssid"] and len(sa["ssid"]) == 16
        assert sa["fingerprint"] == b_fp and sb["fingerprint"] == a_fp
        text = "über v4 " * 60  # fragmented at 300 characters by bob
        log = relay.relay(bob, bob.cmd("send", text=text))
        assert len(relay.of(log[bob], "inject")) > 1
        assert [m["text"] for m in relay.of(log[alice], "message")] == [text]
        log = relay.relay(alice, alice.cmd("send", text="back"))
        assert [m["text"] for m in relay.of(log[bob], "message")] == ["back"]
        for me, them, fp, their_fp in ((alice, bob, a_fp, b_fp), (bob, alice, b_fp, a_fp)):
            status = me.cmd("status")[0]
            assert status["msgstate"] == "encrypted" and status["protocol_version"] == 4
            assert status["our_fingerprint"] == fp and status["their_fingerprint"] == their_fp
            assert status["ssid"] == sa["ssid"]
            assert status["their_instance"] == them.info["instag"]

        def answer(party: Any, e: Any) -> Any:
            if e.get("ev") == "smp" and e["event"] == "ask_for_answer":
                return alice.cmd("smp_respond", secret="the pier")
            return None

        log = relay.relay(bob, bob.cmd("smp", secret="the pier", question="where?"), answer)
        assert relay.of(log[alice], "smp", event="success")
        assert relay.of(log[bob], "smp", event="success")
        local = bob.cmd("symkey", use=7, usedata="cafe")
        (mine,) = relay.of(local, "symkey")
        log = relay.relay(bob, local)
        (theirs,) = relay.of(log[alice], "symkey")
        assert theirs["origin"] == "remote" and theirs["key"] == mine["key"]
        assert theirs["use"] == 7 and theirs["usedata"] == "cafe"
        log = relay.relay(alice, alice.cmd("end"))
        assert relay.of(log[bob], "gone_insecure", msgstate="finished")
    finally:
        alice.close()
        bob.close()
    again = StdioPeer(
        account="alice@x", peer="bob@x", policy="MANUAL", versions=[3, 4], keys_dir=str(alice_dir)
    )
    try:
        assert again.info["fingerprint_v4"] == a_fp and again.fingerprint == alice.fingerprint
        assert again.info["instag"] == alice.info["instag"]
    finally:
        again.close()


@pytest.mark.interop
def test_our_v3_v4_peer_falls_back_to_v3_against_libotr(tmp_path: Path) -> None:
    peer = libotr_peer_module()
    lib = peer.OtrPeer(account="alice@x", peer="bob@x", policy="MANUAL")
    ours = StdioPeer(
        account="bob@x", peer="alice@x", policy="MANUAL", versions=[3, 4], keys_dir=str(tmp_path)
    )
    try:
        assert len(ours.info["fingerprint_v4"]) == 112
        log = peer.relay({ours: ours.cmd("query")}, {lib: ours, ours: lib})
        (mine,) = peer.of(log[ours], "gone_secure")
        assert mine["protocol_version"] == 3 and mine["fingerprint"] == lib.fingerprint
        assert peer.of(log[lib], "gone_secure")
        log = peer.relay({ours: ours.cmd("send", text="v3 it is")}, {lib: ours, ours: lib})
        assert [m["text"] for m in peer.of(log[lib], "message")] == ["v3 it is"]
        status = ours.cmd("status")[0]
        assert status["protocol_version"] == 3 and status["our_fingerprint"] == ours.fingerprint
        assert len(status["ssid"]) == 16
    finally:
        lib.close()
        ours.close()
