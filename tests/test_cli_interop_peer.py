"""``otr interop-peer`` over real stdio, paired with libotr's ``otrpeer``."""

from __future__ import annotations

import json
import subprocess
import sys
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
        self.fingerprint = next(e for e in evs if e["ev"] == "init")["fingerprint"]

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
