"""``otr chat``: a terminal OTR chat over XMPP (prompt_toolkit).

    otr chat alice@example.org --server HOST:PORT [--ca FILE] [--peer JID]

The password comes from ``--password-file FILE``, else ``$OTR_XMPP_PASSWORD``,
else a prompt.  Keys, trust and instance tags live in the key directory
(``--dir``, default as ``otr keys``: ``$OTR_DIR`` or ``~/.local/share/otr``);
the account's DSA key is generated on first run, with progress shown.  TLS
(STARTTLS) is required unless ``--insecure-plaintext`` (alias ``--no-tls``) is
given, which is for a local test server only.

Typed lines go to the current peer (``/peer JID``); what is typed before a
private conversation is up is held and sent encrypted once it is (see
:mod:`otr.account.manager`).  Commands: ``/start``, ``/end``, ``/smp
[question]`` (asks for the secret; answers the peer's request if there is
one), ``/trust`` (mark the peer's current fingerprint verified),
``/fingerprint``, ``/peer JID``, ``/help``, ``/quit``.  The bottom toolbar
always shows each conversation's state and trust; incoming messages appear
above the prompt.  Login failures print one line and exit with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import events as ev
from ..account import HandleUpdated, MessageLost, Routed, SendState, SessionManager
from ..adapters.asyncio import load_identity
from ..conversation import MsgState
from ..crypto.dsa import human_fingerprint
from ..errors import LocalProtocolError
from ..policy import Policy
from .keys import default_dir

if TYPE_CHECKING:  # slixmpp (the xmpp extra) is only imported when chatting
    from ..adapters.xmpp import TlsMode, XmppOtr

__all__ = ["ChatUI", "add_arguments", "run"]

PROTOCOL = "xmpp"
HELP = (
    "/start  /end  /smp [question]  /trust  /fingerprint  /peer JID  /help  /quit"
    " -- anything else is sent to the current peer"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("jid", help="our XMPP account, e.g. alice@example.org")
    parser.add_argument("--server", metavar="HOST:PORT", help="server to connect to (default: DNS)")
    parser.add_argument("--ca", type=Path, metavar="FILE", help="trusted CA certificates (PEM)")
    parser.add_argument("--password-file", type=Path, metavar="FILE")
    parser.add_argument("--peer", metavar="JID", help="whom to talk to first")
    parser.add_argument("-d", "--dir", type=Path, default=None, metavar="DIR")
    parser.add_argument(
        "--resource",
        help="XMPP resource when the JID has none (default: otr-HOSTNAME); our OTR "
        "instance tag is kept per resource",
    )
    parser.add_argument(
        "--policy",
        default="OPPORTUNISTIC",
        choices=["MANUAL", "OPPORTUNISTIC", "ALWAYS"],
        type=str.upper,
        help="libotr's policy (default OPPORTUNISTIC: plaintext with the whitespace tag to "
        "a peer never seen using OTR; ALWAYS: never plaintext)",
    )
    parser.add_argument(
        "--insecure-plaintext",
        "--no-tls",
        dest="no_tls",
        action="store_true",
        help="INSECURE: no TLS to the server (for a local test server only)",
    )


def _server(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--server wants HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


class ChatUI:
    """What the chat shows and does, apart from the terminal itself."""

    def __init__(self, client: XmppOtr, peer: str | None, out: Callable[[str], None]) -> None:
        self.client = client
        self.peer = peer
        self.out = out
        self.smp_asked: dict[str, str | None] = {}
        self.peers: list[str] = [peer] if peer else []
        from ..adapters.xmpp import CarbonCopy, bare_jid

        self._carbon_type = CarbonCopy
        self.peer = bare_jid(peer) if peer else None
        self.peers = [self.peer] if self.peer else []

    def _see(self, peer: str) -> None:
        if peer not in self.peers:
            self.peers.append(peer)

    # ------------------------------------------------------------- events

    def on_event(self, routed: Routed) -> None:
        peer, e = routed.peer, routed.event
        if not isinstance(e, ev.Warning):  # warnings may concern the connection
            self._see(peer)
        line = self._describe(peer, e)
        if line:
            self.out(line)

    def _describe(self, peer: str, e: ev.Event) -> str | None:
        if isinstance(e, ev.MessageReceived):
            lock = "" if e.encrypted else " [NOT PRIVATE]"
            return f"{peer}{lock}: {e.text}"
        if isinstance(e, ev.SessionSecured):
            what = "refreshed" if e.refreshed else "started"
            return (
                f"* private conversation with {peer} {what} ({e.trust.value} fingerprint"
                f" {human_fingerprint(e.their_fingerprint)})"
            )
        if isinstance(e, ev.SessionFinished):
            return f"* {peer} ended the private conversation: /end or /start"
        if isinstance(e, ev.SessionEnded):
            return f"* private conversation with {peer} ended"
        if isinstance(e, ev.SmpRequested):
            self.smp_asked[peer] = e.question
            q = f": {e.question}" if e.question else ""
            return f"* {peer} wants to authenticate (SMP){q} -- answer with /smp"
        if isinstance(e, ev.SmpSucceeded):
            return f"* SMP with {peer} succeeded"
        if isinstance(e, ev.SmpFailed | ev.SmpCheated):
            return f"* SMP with {peer} FAILED"
        if isinstance(e, ev.SmpAborted):
            return f"* SMP with {peer} aborted"
        if isinstance(e, ev.NewFingerprint | ev.FingerprintChanged):
            change = "CHANGED" if isinstance(e, ev.FingerprintChanged) else "new"
            return f"* {change} fingerprint for {peer}: {human_fingerprint(e.fingerprint)}"
        if isinstance(e, HandleUpdated):
            h = e.handle
            if h.state is SendState.SENT and (h.resent or h.created != h.sent_at):
                return f"* sent encrypted to {peer}: {h.text}"
            if h.state is SendState.PENDING:
                return f"* held until the conversation with {peer} is private"
            if h.state is SendState.FAILED and h.sent_at:
                return f"! {peer} did NOT get ({h.reason}): {h.text}"
            if h.state in (SendState.REFUSED, SendState.FAILED):
                return f"! NOT SENT to {peer} ({h.reason}): {h.text}"
            return None
        if isinstance(e, MessageLost):
            if e.incoming:
                return f"! a message from {peer} could not be read (asked for it again)"
            if e.handle is not None and e.handle.state is SendState.SENT:
                return f"! {peer} {e.reason.split(': ', 1)[-1]}: {e.handle.text}"
            return None  # our handle's FAILED update says which to resend
        if isinstance(e, ev.UnencryptedReceived):
            return f"! {peer} sent that message unencrypted"
        if isinstance(e, ev.ErrorReceived):
            return f"! OTR error from {peer}: {e.text}"
        if isinstance(e, ev.Warning):
            return f"* {e.message}"
        if isinstance(e, self._carbon_type):
            arrow = "(sent from another device)" if e.sent else "(to another device)"
            return f"{peer} {arrow}: {e.text}"
        return None

    # ---------------------------------------------------------- toolbar

    def status(self, peer: str) -> str:
        otr = self.client.otr
        if otr is None:
            return "connecting"
        conv = otr.manager.conversation(peer)
        if conv.msgstate is MsgState.ENCRYPTED:
            return f"private, {conv.trust_level.value}"
        if conv.msgstate is MsgState.FINISHED:
            return "finished"
        return "not private"

    def toolbar(self) -> str:
        if not self.peers:
            return " no conversation: /peer JID"
        parts = []
        for p in self.peers:
            mark = "> " if p == self.peer else ""
            parts.append(f"{mark}{p}: {self.status(p)}")
        return " " + " | ".join(parts)

    # ---------------------------------------------------------- commands

    def command(self, line: str) -> tuple[str, str] | None:
        """Handle a typed line.  Returns ("secret", question-or-"") when the caller
        must ask for an SMP secret, ("quit", "") to stop, else None."""
        line = line.strip()
        if not line:
            return None
        otr = self.client.otr
        if otr is None:
            self.out("! not connected yet")
            return None
        if not line.startswith("/") or line.startswith("//"):
            text = line[1:] if line.startswith("//") else line
            if self.peer is None:
                self.out("! no peer: /peer JID")
                return None
            try:
                handle = otr.send(self.peer, text)
            except LocalProtocolError as exc:
                self.out(f"! {exc}")
                return None
            if handle.state is SendState.SENT and not handle.encrypted:
                self.out(f"! sent UNENCRYPTED to {self.peer} (it has not shown OTR support)")
            return None
        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        if cmd in ("/quit", "/exit"):
            return ("quit", "")
        if cmd == "/help":
            self.out(HELP)
            return None
        if cmd == "/peer":
            from ..adapters.xmpp import bare_jid

            if not arg:
                self.out("! /peer JID")
                return None
            try:
                self.peer = bare_jid(arg)
            except ValueError as exc:
                self.out(f"! {exc}")
                return None
            self._see(self.peer)
            self.out(f"* talking to {self.peer}")
            return None
        if cmd == "/fingerprint":
            self.out(f"* ours: {human_fingerprint(otr.manager.identity.fingerprint)}")
            if self.peer is not None:
                fp = otr.manager.conversation(self.peer).their_fingerprint
                if fp:
                    self.out(f"* {self.peer}: {human_fingerprint(fp)}")
            return None
        if self.peer is None:
            self.out("! no peer: /peer JID")
            return None
        peer = self.peer
        try:
            if cmd == "/start":
                otr.start(peer)
                self.out(f"* starting a private conversation with {peer}")
            elif cmd == "/end":
                otr.end(peer)
            elif cmd == "/trust":
                fp = otr.manager.conversation(peer).their_fingerprint
                if not fp:
                    self.out("! no private conversation: no fingerprint to trust")
                else:
                    otr.manager.identity.set_verified(peer, fp)
                    self.out(f"* {peer}'s fingerprint {human_fingerprint(fp)} is now verified")
            elif cmd == "/smp":
                if not otr.manager.conversation(peer).is_encrypted:
                    self.out("! SMP needs a private conversation: /start")
                    return None
                return ("secret", arg)
            else:
                self.out(f"! unknown command {cmd}; {HELP}")
        except LocalProtocolError as exc:
            self.out(f"! {exc}")
        return None

    def smp(self, question: str, secret: str) -> None:
        """The secret for ``/smp``: answer the peer's request, or start SMP."""
        otr = self.client.otr
        if otr is None or self.peer is None or not secret:
            return
        try:
            if self.peer in self.smp_asked:
                self.smp_asked.pop(self.peer)
                otr.smp_respond(self.peer, secret)
                self.out(f"* answered {self.peer}'s SMP question")
            else:
                otr.smp_start(self.peer, secret, question or None)
                self.out(f"* SMP started with {self.peer}")
        except LocalProtocolError as exc:
            self.out(f"! {exc}")


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file is not None:
        return str(args.password_file.read_text().rstrip("\r\n"))
    return os.environ.get("OTR_XMPP_PASSWORD")


async def _main(args: argparse.Namespace) -> int:
    from prompt_toolkit import PromptSession, print_formatted_text
    from prompt_toolkit.patch_stdout import patch_stdout

    from ..adapters.xmpp import XmppConnectError, XmppOtr

    jid = args.jid
    bare = jid.split("/", 1)[0]
    if "/" not in jid and args.resource:
        jid = f"{bare}/{args.resource}"
    try:
        server = _server(args.server)
        password = _password(args)
    except (ValueError, OSError) as exc:
        print(f"otr chat: {exc}", file=sys.stderr)
        return 1
    session: PromptSession[str] = PromptSession()
    if password is None:
        password = await session.prompt_async(f"password for {bare}: ", is_password=True)
    directory = args.dir or default_dir()

    def progress(seconds: float, done: bool) -> None:
        end = "\n" if done else "\r"
        state = "done" if done else "..."
        print(
            f"generating a DSA key for {bare} (first run) {state} {seconds:.1f} s",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    identity = await load_identity(directory, bare, PROTOCOL, progress=progress)
    ui_holder: list[ChatUI] = []

    def on_event(r: Routed) -> None:
        ui_holder[0].on_event(r)

    tls: TlsMode = "none" if args.no_tls else "starttls"
    client = XmppOtr(
        jid,
        password,
        lambda resource: SessionManager(
            identity, instance=resource, policy=Policy.named(args.policy)
        ),
        server=server,
        tls=tls,
        ca_file=args.ca,
        on_event=on_event,
    )
    try:
        ui = ChatUI(client, args.peer, lambda s: print_formatted_text(s))
    except ValueError as exc:
        print(f"otr chat: --peer: {exc}", file=sys.stderr)
        return 1
    ui_holder.append(ui)
    if args.no_tls:
        print("WARNING: --insecure-plaintext: the connection to the server is NOT encrypted")
    try:
        await client.connect()
    except XmppConnectError as exc:
        print(f"otr chat: {exc}", file=sys.stderr)
        return 1
    print(f"connected as {client.jid}; fingerprint {human_fingerprint(identity.fingerprint)}")
    print(HELP)
    try:
        with patch_stdout():
            while True:
                try:
                    line = await session.prompt_async(
                        "> ", bottom_toolbar=ui.toolbar, refresh_interval=0.3, is_password=False
                    )
                except (EOFError, KeyboardInterrupt):
                    break
                action = ui.command(line)
                if action is None:
                    continue
                if action[0] == "quit":
                    break
                secret = await session.prompt_async("SMP secret: ", is_password=True)
                ui.smp(action[1], secret)
    finally:
        await client.disconnect()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))
