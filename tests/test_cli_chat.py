"""``otr chat`` (otr.cli.chat) as a person uses it: two chats in tmux (send-keys,
capture-pane) against the test Prosody; login errors; argument parsing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otr.cli.chat import _server


def test_server_argument() -> None:
    assert _server("127.0.0.1:5222") == ("127.0.0.1", 5222)
    assert _server("[::1]:5222") == ("::1", 5222)
    assert _server(None) is None
    with pytest.raises(ValueError):
        _server("example.org")


def chat_command(prosody: Any, user: str, keydir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from otr.cli import main; sys.exit(main())",
        "chat",
        f"{prosody.jid(user)}/tty",
        "--server",
        f"127.0.0.1:{prosody.c2s_port}",
        "--insecure-plaintext",
        "--dir",
        str(keydir),
        *extra,
    ]


def test_login_errors_are_one_clear_line(prosody: Any, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("not the password\n")
    cmd = chat_command(prosody, "alice", tmp_path / "k", "--password-file", str(pw))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert res.returncode == 1
    assert "wrong password" in res.stderr and "Traceback" not in res.stderr
    # The key was made on this first run, with progress shown.
    assert "generating a DSA key" in res.stderr
    assert (tmp_path / "k" / "otr.private_key").exists()
    cmd[cmd.index("--server") + 1] = "127.0.0.1:1"
    env = dict(os.environ, OTR_XMPP_PASSWORD="ecila")
    cmd.remove("--password-file")
    cmd.remove(str(pw))
    res = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env
    )
    assert res.returncode == 1 and "cannot reach the server 127.0.0.1:1" in res.stderr


class Tmux:
    """A tmux server of our own (its own socket); each chat in its own session."""

    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"otr-chat-test-{os.getpid()}"
        self.tmp_path = tmp_path

    def tmux(self, *args: str) -> str:
        res = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return res.stdout

    def start(self, name: str, cmd: list[str]) -> None:
        shell = f"{shlex.join(cmd)}; echo CHAT-EXITED $?; sleep 60"
        self.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "40", shell)

    def type(self, name: str, text: str) -> None:
        self.tmux("send-keys", "-t", name, "-l", text)
        self.tmux("send-keys", "-t", name, "Enter")

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", name)

    def wait(self, name: str, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(name)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared on {name}:\n{screen}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (./run test installs it)")
    t = Tmux(tmp_path)
    try:
        yield t
    finally:
        t.kill()


def test_two_chats_in_tmux(prosody: Any, tmp_path: Path, tmux: Tmux) -> None:
    for user in ("alice", "bob"):
        (tmp_path / f"{user}.pw").write_text(user[::-1] + "\n")
    alice, bob = prosody.jid("alice"), prosody.jid("bob")
    for name, user, peer in (("a", "alice", bob), ("b", "bob", alice)):
        pw = str(tmp_path / f"{user}.pw")
        keys = tmp_path / f"k{name}"
        extra = ("--password-file", pw, "--peer", peer, "--policy", "always")
        tmux.start(name, chat_command(prosody, user, keys, *extra))
    tmux.wait("a", "connected as")
    tmux.wait("b", "connected as")
    # The trust state of the conversation is always visible in the toolbar.
    tmux.wait("a", f"{bob}: not private")
    tmux.type("a", "/start")
    tmux.wait("a", f"{bob}: private, unverified")
    tmux.wait("b", f"{alice}: private, unverified")
    tmux.type("a", "hello from alice")
    tmux.wait("b", f"{alice}: hello from alice")
    tmux.type("b", "hello from bob")
    tmux.wait("a", f"{bob}: hello from bob")
    assert "NOT PRIVATE" not in tmux.screen("a") + tmux.screen("b")
    # SMP: Alice asks, Bob answers; the secret is never echoed.
    tmux.type("a", "/smp the place we met?")
    tmux.wait("a", "SMP secret:")
    tmux.type("a", "the pier")
    tmux.wait("b", "wants to authenticate (SMP): the place we met?")
    tmux.type("b", "/smp")
    tmux.wait("b", "SMP secret:")
    tmux.type("b", "the pier")
    tmux.wait("a", f"SMP with {bob} succeeded")
    tmux.wait("a", f"{bob}: private, verified")
    assert "the pier" not in tmux.screen("a") + tmux.screen("b")
    # /fingerprint and /trust.
    tmux.type("b", "/fingerprint")
    tmux.wait("b", "* ours: ")
    tmux.type("b", "/trust")
    tmux.wait("b", f"{alice}: private, verified")
    # /end: Bob's side sees it.
    tmux.type("a", "/end")
    tmux.wait("b", f"{alice} ended the private conversation")
    tmux.wait("b", f"{alice}: finished")
    # Alice types again (policy ALWAYS, and Bob's key is known): it is held, a new AKE runs, and
    # it goes out encrypted -- never in plaintext.
    tmux.type("a", "typed after the end")
    tmux.wait("a", f"held until the conversation with {bob} is private")
    tmux.wait("b", f"{alice}: typed after the end")
    tmux.wait("a", f"sent encrypted to {bob}: typed after the end")
    assert "NOT PRIVATE" not in tmux.screen("b")
    tmux.type("b", "/quit")
    tmux.wait("b", "CHAT-EXITED 0")


def test_chat_ui_lines_without_a_terminal() -> None:
    from types import SimpleNamespace

    from otr import events as ev
    from otr.account import HandleUpdated, MessageLost, Routed, SendHandle, SendState
    from otr.cli.chat import ChatUI

    lines: list[str] = []
    ui = ChatUI(SimpleNamespace(otr=None), "Bob@Example.org", lines.append)  # type: ignore[arg-type]
    assert ui.peer == "bob@example.org"
    assert ui.toolbar() == " > bob@example.org: connecting"
    ui.command("hello")
    assert lines[-1] == "! not connected yet"
    peer = "bob@example.org"
    lost = SendHandle(1, peer, "gone", 1.0, SendState.FAILED, sent_at=1.0, reason="lost")
    refused = SendHandle(2, peer, "never", 1.0, SendState.REFUSED, reason="ended")
    for e in (
        ev.MessageReceived("hi", encrypted=False),
        HandleUpdated(lost),
        HandleUpdated(refused),
        MessageLost("unreadable", incoming=True),
        ev.SmpRequested("where?"),
    ):
        ui.on_event(Routed(peer, e))
    assert lines[1:] == [
        f"{peer} [NOT PRIVATE]: hi",
        f"! {peer} did NOT get (lost): gone",
        f"! NOT SENT to {peer} (ended): never",
        f"! a message from {peer} could not be read (asked for it again)",
        f"* {peer} wants to authenticate (SMP): where? -- answer with /smp",
    ]
    assert ui.smp_asked == {peer: "where?"}
