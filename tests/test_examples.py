"""The scripts in examples/ run and do what their docstrings say."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from otr import events as ev
from otr.conversation import Conversation
from otr.policy import Policy
from v3_util import dsa_key

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_accounts_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "two_accounts.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "bob got (encrypted): Hello Bob, this is private." in out
    assert "alice got (encrypted): Hi Alice!" in out
    assert out.count("SMP succeeded") == 2
    assert "bob: the peer ended the private conversation" in out
    assert "PLAINTEXT" not in out


def _talk(bot_receive: Any, peer: Conversation, first: list[ev.Event]) -> list[ev.Event]:
    """Relay between ``peer`` and the bot until quiet; return the peer's other events."""
    seen: list[ev.Event] = []
    queue = deque(first)
    while queue:
        event = queue.popleft()
        if not isinstance(event, ev.SendMessage):
            seen.append(event)
            continue
        for text in bot_receive(event.text):
            queue.extend(peer.receive(text, 1000.0))
    return seen


def _peer() -> Conversation:
    return Conversation(
        dsa_key("bob"),
        "echo@example.org",
        account="bob@example.org",
        protocol="xmpp",
        policy=Policy.named("MANUAL"),
    )


def test_echo_bot_in_process() -> None:
    bot = _load("echo_bot").EchoBot(dsa_key("echo"), "echo@example.org", max_peers=2)
    peer = _peer()

    def receive(text: str) -> list[str]:
        return [
            t for to, t in bot.receive("bob@example.org", text, 1000.0) if to == "bob@example.org"
        ]

    seen = _talk(receive, peer, peer.send("plain hello", 1000.0))
    assert any(isinstance(e, ev.SessionSecured) for e in seen)  # the bot's query started it
    seen = _talk(receive, peer, peer.send("are you there?", 1000.0))
    echoes = [e for e in seen if isinstance(e, ev.MessageReceived) and e.text]
    assert [(e.text, e.encrypted) for e in echoes] == [("echo: are you there?", True)]
    for other in ("carol", "dave", "erin"):
        bot.receive(other, "hi", 1000.0)
    assert len(bot.conversations) == 2


def test_echo_bot_over_stdio() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "echo_bot.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout

    def receive(text: str) -> list[str]:
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps({"from": "bob@example.org", "text": text}) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        return [m["text"] for m in reply["send"]]

    try:
        peer = _peer()
        _talk(receive, peer, peer.start(1000.0))
        assert peer.is_encrypted
        seen = _talk(receive, peer, peer.send("ping ✓", 1000.0))
        assert [e.text for e in seen if isinstance(e, ev.MessageReceived)] == ["echo: ping ✓"]
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
