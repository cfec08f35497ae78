"""OTR over XMPP with slixmpp (``pip install otr[xmpp]``).

One :class:`~otr.account.SessionManager` per XMPP account; one conversation per
peer's *bare* JID (``chat`` and ``normal`` messages), whose remote instances are
the peer's resources: the adapter remembers which full JID each sender instance
tag came from and sends a message addressed to an instance (v3 header or
fragment receiver tag) to that resource, anything else (plaintext, Query
Messages, a D-H Commit to "any instance") to the bare JID.  Our own instance
tag is per resource (:meth:`otr.account.Identity.instance_tag`), so two of our
devices are two OTR instances to the peer.

Every OTR message (``?OTR:`` and fragments) carries XEP-0380's
``<encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:otr:0' name='OTR'/>``,
XEP-0334's ``<no-store/>`` / ``<no-permanent-store/>`` hints and XEP-0280's
``<private/>`` (the other devices could not read it).  Carbons are enabled; a
carbon of an OTR message (from a server that copied it anyway) is never fed to a
conversation nor shown (:class:`CarbonCopy` only reports plaintext ones).

Presence: a roster contact with no available resource is offline: what is
typed for it is held without an AKE (:meth:`SessionManager.set_presence`) and
released when it comes online.  A peer whose messages carry XEP-0380's OTR
element is marked as speaking OTR (nothing more to it in plaintext).

A data message the server bounces (``<message type='error'>`` with its id:
the peer is gone) is counted as lost (:meth:`SessionManager.undeliverable`) and
resent after the next AKE, like one the peer answered with an OTR Error.

Connection failures raise :class:`XmppConnectError` with ``kind`` "auth" (wrong
password or unknown account), "unreachable" (no TCP connection), "tls"
(handshake or certificate failure) or "timeout".
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import slixmpp

from .. import events as ev
from ..account import Routed, SendHandle, SessionManager
from ..errors import RemoteProtocolError
from ..wire import envelope
from ..wire.fragment import parse_fragment
from .asyncio import AsyncOtr

__all__ = [
    "EME_NS",
    "OTR_NS",
    "CarbonCopy",
    "XmppConnectError",
    "XmppOtr",
    "bare_jid",
    "default_resource",
    "instance_tags",
]

log = logging.getLogger(__name__)

EME_NS = "urn:xmpp:eme:0"
"""XEP-0380 Explicit Message Encryption."""
OTR_NS = "urn:xmpp:otr:0"
"""XEP-0380's namespace value for OTR."""
HINTS_NS = "urn:xmpp:hints"
CARBONS_NS = "urn:xmpp:carbons:2"
MAX_RESOURCES = 32
"""Instance-tag -> resource entries kept per peer (oldest dropped)."""
MAX_PEERS_ROUTED = 10_000
"""Peers whose resources are remembered (oldest forgotten: their messages go to
the bare JID until they write again)."""
MAX_TRACKED_IDS = 256
"""Stanza ids of our recent data messages, to recognise their bounces."""
_DATA_PREFIX = ("?OTR:AAMD", "?OTR:AAID")
"""Unfragmented v3/v2 data messages (a fragmented one would bounce once per piece)."""

_TAGS = struct.Struct(">II")


def instance_tags(text: str) -> tuple[int, int] | None:
    """(sender, receiver) instance tags of an OTRv3+ encoded message or fragment,
    None for anything else (plaintext, query, error, v2, malformed)."""
    kind = envelope.classify(text)
    try:
        if kind is envelope.MessageKind.FRAGMENT:
            frag = parse_fragment(text)
            if frag.version < 3:
                return None
            return frag.sender_instance, frag.receiver_instance
        if kind is envelope.MessageKind.ENCODED:
            binary = envelope.decode_otr_message(text)
            if len(binary) < 11 or binary[1] < 3:
                return None
            sender, receiver = _TAGS.unpack_from(binary, 3)
            return sender, receiver
    except RemoteProtocolError:
        return None
    return None


def bare_jid(jid: str) -> str:
    """The normalised bare JID (the conversation's peer name); ValueError if invalid."""
    try:
        return str(slixmpp.JID(jid).bare)
    except slixmpp.jid.InvalidJID as exc:
        raise ValueError(f"not a JID: {jid!r}") from exc


def default_resource() -> str:
    """The resource used when the JID has none: ``otr-HOSTNAME``."""
    return f"otr-{socket.gethostname()}"


def _is_otr_payload(text: str) -> bool:
    kind = envelope.classify(text)
    return kind in (envelope.MessageKind.ENCODED, envelope.MessageKind.FRAGMENT)


@dataclass(frozen=True)
class CarbonCopy(ev.Event):
    """A plaintext message one of our other devices sent (``sent``) or received."""

    text: str
    sent: bool


class XmppConnectError(Exception):
    """Could not log in; ``kind`` says why (see the module docstring)."""

    def __init__(
        self, kind: Literal["auth", "unreachable", "tls", "timeout"], message: str
    ) -> None:
        super().__init__(message)
        self.kind = kind


TlsMode = Literal["starttls", "direct", "none"]


class XmppOtr:
    """An XMPP account speaking OTR.  Build it inside a running event loop, then
    ``await connect()``.

    ``jid`` is our full or bare JID (bare: the resource is :func:`default_resource`);
    ``server`` the (host, port) to connect to (default: DNS for the JID's
    domain); ``tls`` "starttls" (default), "direct" (XEP-0368) or "none"
    (plaintext: local test servers only); ``ca_file`` a PEM bundle of trusted CAs.
    ``make_manager(resource)`` builds the session manager once the resource is
    known (the instance tag depends on it).
    """

    def __init__(
        self,
        jid: str,
        password: str,
        make_manager: Callable[[str], SessionManager],
        *,
        server: tuple[str, int] | None = None,
        tls: TlsMode = "starttls",
        ca_file: Path | None = None,
        on_event: Callable[[Routed], None] | None = None,
    ) -> None:
        self._make_manager = make_manager
        self._on_event = on_event
        self.server = server
        self.tls = tls
        self.otr: AsyncOtr | None = None
        self._resources: dict[str, dict[int, str]] = {}
        self._online: dict[str, set[str]] = {}
        self._ready: asyncio.Future[None] | None = None
        self._secure = False
        self._closing = False
        self._data_ids: dict[str, str] = {}
        self.carbons_dropped = 0
        if "/" not in jid:
            # A stable resource: our instance tag is kept per resource, and a
            # server-chosen random one would make a new tag at every login.
            jid = f"{jid}/{default_resource()}"
        xmpp = slixmpp.ClientXMPP(jid, password)
        xmpp.enable_direct_tls = tls == "direct"
        xmpp.enable_starttls = tls == "starttls"
        xmpp.enable_plaintext = tls == "none"
        if tls == "none":
            # Test servers only: SCRAM over plaintext (the password is not sent,
            # but the session is readable and forgeable on the wire).
            xmpp.plugin["feature_mechanisms"].unencrypted_scram = True
        else:
            ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            xmpp.ssl_context = ctx
        for plugin in ("xep_0030", "xep_0280", "xep_0199"):
            xmpp.register_plugin(plugin)
        xmpp.add_event_handler("session_start", self._session_start)
        xmpp.add_event_handler("message", self._on_message)
        xmpp.add_event_handler("carbon_received", self._on_carbon_received)
        xmpp.add_event_handler("carbon_sent", self._on_carbon_sent)
        xmpp.add_event_handler("presence_available", self._on_available)
        xmpp.add_event_handler("presence_unavailable", self._on_unavailable)
        xmpp.add_event_handler("failed_all_auth", self._failed_auth)
        xmpp.add_event_handler("tls_success", self._tls_success)
        xmpp.add_event_handler("connection_failed", self._connection_failed)
        xmpp.add_event_handler("ssl_invalid_chain", self._tls_failed)
        xmpp.add_event_handler("disconnected", self._disconnected)
        self.xmpp = xmpp

    # -------------------------------------------------------------- lifecycle

    @property
    def jid(self) -> str:
        return str(self.xmpp.boundjid)

    async def connect(self, timeout: float = 20.0) -> None:
        """Connect, log in, enable carbons, fetch the roster and send presence."""
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        if self.server is not None:
            self.xmpp.connect(self.server[0], self.server[1])
        else:
            self.xmpp.connect()
        try:
            await asyncio.wait_for(self._ready, timeout)
        except TimeoutError:
            self._abort()
            raise XmppConnectError("timeout", "no answer from the server in time") from None
        except XmppConnectError:
            self._abort()
            raise

    async def disconnect(self) -> None:
        self._closing = True
        if self.otr is not None:
            await self.otr.drain()
            self.otr.close()
        if self.xmpp.transport is not None:
            await self.xmpp.disconnect()

    def _abort(self) -> None:
        self.xmpp._current_connection_attempt = None  # stop slixmpp's retry loop
        self.xmpp.abort()

    def _fail(self, error: XmppConnectError) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)

    def _tls_success(self, _event: Any) -> None:
        self._secure = True

    def _failed_auth(self, _event: Any) -> None:
        if self.tls != "none" and not self._secure:
            # slixmpp will not authenticate on a plaintext stream.
            message = "the server offered no TLS: refusing to log in without it"
            self._fail(XmppConnectError("tls", message))
            return
        self._fail(XmppConnectError("auth", "login failed: wrong password or unknown account"))

    def _connection_failed(self, error: Any) -> None:
        where = f"{self.server[0]}:{self.server[1]}" if self.server else self.xmpp.boundjid.domain
        self._fail(XmppConnectError("unreachable", f"cannot reach the server {where}: {error}"))

    def _tls_failed(self, error: Any) -> None:
        self._fail(
            XmppConnectError("tls", f"TLS failed: {error} (is the server's CA given with --ca?)")
        )

    def _disconnected(self, reason: Any) -> None:
        if self._ready is not None and not self._ready.done():
            if self.tls != "none" and not self._secure:
                self._tls_failed(reason)
            else:
                self._fail(XmppConnectError("unreachable", f"the connection closed: {reason}"))
        elif self.otr is not None and not self._closing:
            # Lost after login: tell the application (the peers' sessions stay in
            # memory; what is sent now goes nowhere until it reconnects).
            mine = self.xmpp.boundjid.bare
            self._emit(Routed(mine, ev.Warning(f"disconnected from the server: {reason}")))

    async def _session_start(self, _event: Any) -> None:
        xmpp = self.xmpp
        manager = self._make_manager(xmpp.boundjid.resource)
        self.otr = AsyncOtr(manager, self._transmit, on_event=self._emit)
        try:
            await xmpp.plugin["xep_0280"].enable()
        except Exception as exc:  # carbons are optional
            log.info("carbons not enabled: %s", type(exc).__name__)
        await xmpp.get_roster()
        mine = xmpp.boundjid.bare
        for contact in xmpp.client_roster:
            item = xmpp.client_roster[contact]
            if contact != mine and item["subscription"] in ("to", "both"):
                self.otr.set_presence(contact, False)
        xmpp.send_presence()
        try:
            # The server handles a stream's stanzas in order: once it answers, it
            # has our presence, and messages to our bare JID reach this resource.
            await xmpp.plugin["xep_0199"].ping(jid=slixmpp.JID(xmpp.boundjid.domain), timeout=10)
        except Exception as exc:
            log.info("no answer to a ping: %s", type(exc).__name__)
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    # ----------------------------------------------------------------- sending

    def send(self, peer: str, text: str) -> SendHandle:
        """The user typed ``text`` for ``peer`` (a JID; its bare form is the
        conversation, see :func:`bare_jid`)."""
        return self._require().send(bare_jid(peer), text)

    def subscribe(self, peer: str) -> None:
        """Ask for the peer's presence (the peer's client accepts automatically
        with slixmpp's defaults)."""
        self.xmpp.send_presence(pto=peer, ptype="subscribe")

    def _require(self) -> AsyncOtr:
        if self.otr is None:
            raise RuntimeError("not connected")
        return self.otr

    def _transmit(self, peer: str, text: str) -> None:
        to = peer
        tags = instance_tags(text)
        if tags is not None and tags[1]:
            to = self._resources.get(peer, {}).get(tags[1], peer)
        msg = self.xmpp.make_message(mto=to, mbody=text, mtype="chat")
        if text.startswith(_DATA_PREFIX):
            # Remember it: a bounce (<message type='error'> with this id) means
            # the peer never got it (see SessionManager.undeliverable).
            self._data_ids[msg["id"]] = peer
            while len(self._data_ids) > MAX_TRACKED_IDS:
                del self._data_ids[next(iter(self._data_ids))]
        if _is_otr_payload(text):
            xml = msg.xml
            ET.SubElement(xml, f"{{{EME_NS}}}encryption", namespace=OTR_NS, name="OTR")
            ET.SubElement(xml, f"{{{HINTS_NS}}}no-store")
            ET.SubElement(xml, f"{{{HINTS_NS}}}no-permanent-store")
            ET.SubElement(xml, f"{{{CARBONS_NS}}}private")
        msg.send()

    def _emit(self, routed: Routed) -> None:
        if self._on_event is not None:
            self._on_event(routed)

    # --------------------------------------------------------------- receiving

    def _on_message(self, msg: Any) -> None:
        if msg["type"] == "error":
            peer = self._data_ids.pop(msg["id"], None)
            if peer is not None and self.otr is not None:
                self.otr.undeliverable(peer)
            return
        if msg["type"] not in ("chat", "normal"):
            return
        body = msg["body"]
        if not body or self.otr is None:
            return
        frm = msg["from"]
        peer = frm.bare
        if peer == self.xmpp.boundjid.bare:
            return  # carbons arrive as wrappers from our own account (handled below)
        tags = instance_tags(body)
        if tags is not None and tags[0] and frm.resource:
            self._remember(peer, tags[0], str(frm))
        if msg.xml.find(f"{{{EME_NS}}}encryption[@namespace='{OTR_NS}']") is not None:
            self.otr.manager.set_peer_supports_otr(peer)
        self.otr.feed(peer, body)

    def _remember(self, peer: str, tag: int, full_jid: str) -> None:
        if peer not in self._resources and len(self._resources) >= MAX_PEERS_ROUTED:
            del self._resources[next(iter(self._resources))]
        seen = self._resources.setdefault(peer, {})
        seen.pop(tag, None)
        seen[tag] = full_jid
        while len(seen) > MAX_RESOURCES:
            del seen[next(iter(seen))]

    def _carbon(self, inner: Any, sent: bool) -> None:
        body = inner["body"]
        if not body or self.otr is None:
            return
        if envelope.classify(body) is not envelope.MessageKind.PLAINTEXT:
            # An OTR message of another of our devices: never shown nor fed.
            self.carbons_dropped += 1
            return
        peer = (inner["to"] if sent else inner["from"]).bare
        self._emit(Routed(peer, CarbonCopy(body, sent)))

    def _on_carbon_received(self, msg: Any) -> None:
        self._carbon(msg["carbon_received"], sent=False)

    def _on_carbon_sent(self, msg: Any) -> None:
        self._carbon(msg["carbon_sent"], sent=True)

    def _on_available(self, pres: Any) -> None:
        frm = pres["from"]
        peer = frm.bare
        if peer == self.xmpp.boundjid.bare or self.otr is None:
            return
        resources = self._online.setdefault(peer, set())
        was_online = bool(resources)
        resources.add(frm.resource)
        if not was_online:
            self.otr.set_presence(peer, True)

    def _on_unavailable(self, pres: Any) -> None:
        frm = pres["from"]
        peer = frm.bare
        if peer == self.xmpp.boundjid.bare or self.otr is None:
            return
        resources = self._online.get(peer, set())
        resources.discard(frm.resource)
        if not resources:
            self.otr.set_presence(peer, False)

    def online(self, peer: str) -> bool:
        return bool(self._online.get(peer))
