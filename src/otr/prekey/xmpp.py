"""The prekey server over XMPP (otr-v4-prekey-server.md "A Prekey Server for
OTRv4 over XMPP", "Storage of Prekeys Ensembles for XMPP"), with slixmpp.

* :class:`PrekeyComponent` - an XEP-0114 external component.  It answers
  disco#info with the identity ``auth``/``otr-prekey`` and the feature
  :data:`FEATURE`, and disco#items with an item whose node is
  ``fingerprint`` and whose name is the server's fingerprint in hex (112
  digits).  Every ``<message><body>`` goes to
  :meth:`otr.prekey.server.PrekeyServer.handle` with the sender's full JID;
  the replies go back to that JID.  Retrieval queries go to a
  :class:`otr.prekey.batching.GroupCommit`: the queries that arrived while
  the previous batch was being committed are answered from one storage
  transaction (on the event loop unless ``threaded_retrievals``), and each
  reply is sent after that commit.  DAKE messages and publications run on a
  worker thread, in arrival order, so the XMPP connection never waits for a
  publication to be verified.
* :func:`discover` - a client's service discovery: disco#items of its
  domain, disco#info of each item, a random choice among the prekey servers
  found ("anyone should be able to use it ... randomly choose one"), then the
  ``fingerprint`` item of the chosen one.
* :class:`XmppPrekeyTransport` - drives a :class:`otr.prekey.client.PrekeyClient`
  over a slixmpp client: sends its texts to the server JID as message bodies
  and returns the events a request ends with.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import slixmpp
from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Message

from . import client as pc
from .batching import DEFAULT_MAX_BATCH, GroupCommit
from .client import PrekeyClient
from .server import PrekeyServer, is_retrieval

__all__ = [
    "FEATURE",
    "IDENTITY_CATEGORY",
    "IDENTITY_TYPE",
    "PrekeyComponent",
    "XmppPrekeyTransport",
    "discover",
]

FEATURE = "http://jabber.org/protocol/otrv4-prekey-server"
IDENTITY_CATEGORY = "auth"
IDENTITY_TYPE = "otr-prekey"
IDENTITY_NAME = "OTR Prekey Server"
FINGERPRINT_NODE = "fingerprint"

_log = logging.getLogger(__name__)

MessageType = Literal["normal", "chat"]


class PrekeyComponent(slixmpp.ComponentXMPP):
    """The XEP-0114 component serving one :class:`PrekeyServer`."""

    def __init__(
        self,
        jid: str,
        secret: str,
        host: str,
        port: int,
        server: PrekeyServer,
        *,
        now: Callable[[], float] = time.time,
        max_batch: int = DEFAULT_MAX_BATCH,
        threaded_retrievals: bool = False,
    ) -> None:
        super().__init__(jid, secret, host, port)  # type: ignore[no-untyped-call]
        self.prekey_server = server
        self._now = now
        self.retrievals = GroupCommit(
            server, now=now, max_batch=max_batch, threaded=threaded_retrievals
        )
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prekey")
        self.register_plugin("xep_0030")
        self.add_event_handler("session_start", self._session_start)
        self.add_event_handler("message", self._message)
        self._advertise()

    def _advertise(self) -> None:
        disco = self.plugin["xep_0030"]
        disco.add_identity(category=IDENTITY_CATEGORY, itype=IDENTITY_TYPE, name=IDENTITY_NAME)
        disco.add_feature(FEATURE)
        disco.add_item(
            jid=self.boundjid.bare,
            name=self.prekey_server.fingerprint.hex().upper(),
            subnode=FINGERPRINT_NODE,
        )

    async def _session_start(self, _event: object) -> None:
        _log.info("prekey component %s online", self.boundjid.bare)

    def _message(self, stanza: Message) -> None:
        # A plain (not async) handler: slixmpp calls it directly, no task per stanza.
        if stanza["type"] not in ("normal", "chat"):
            return
        mtype: MessageType = "chat" if stanza["type"] == "chat" else "normal"
        body = stanza["body"]
        if not body:
            return
        sender = stanza["from"]
        if is_retrieval(body):  # answered in a batch, after the commit that covers it
            pending = self.retrievals.submit(str(sender), body)
            pending.add_done_callback(lambda done: self._finish(sender, mtype, done))
            return
        # DAKE messages cost ring signatures, publications batch proofs
        future = asyncio.get_running_loop().run_in_executor(
            self._worker, self.prekey_server.handle, str(sender), body, self._now()
        )
        future.add_done_callback(lambda done: self._finish(sender, mtype, done))

    def _finish(self, to: JID, mtype: MessageType, done: asyncio.Future[list[str]]) -> None:
        try:
            replies = done.result()
        except Exception:  # a local failure (e.g. the database is down), not the peer's
            _log.exception("the prekey server failed on a message")
            return
        self._send(to, mtype, replies)

    def _send(self, to: JID, mtype: MessageType, replies: list[str]) -> None:
        for reply in replies:
            self.send_message(mto=to, mbody=reply, mtype=mtype, mfrom=self.boundjid)

    def shutdown(self) -> None:
        """Stop the worker threads (after disconnecting)."""
        self.retrievals.shutdown()
        self._worker.shutdown(wait=True)


async def discover(
    xmpp: slixmpp.BaseXMPP, domain: str, *, choose: Callable[[list[str]], str] = random.choice
) -> tuple[str, bytes] | None:
    """Find a prekey server of ``domain``: its JID and its 56-byte fingerprint,
    or None when the domain advertises none (or only malformed fingerprints).
    Items that answer disco#info with an error (e.g. a component that is not
    connected) are skipped; an error from ``domain`` itself propagates."""
    disco = xmpp.plugin["xep_0030"]
    items = await disco.get_items(jid=JID(domain))
    candidates: list[str] = []
    for item_jid, _node, _name in items["disco_items"]["items"]:
        try:
            info = await disco.get_info(jid=item_jid)
        except (IqError, IqTimeout):  # an item that does not answer is not a candidate
            continue
        identities = {(c, t) for c, t, _lang, _n in info["disco_info"]["identities"]}
        if (IDENTITY_CATEGORY, IDENTITY_TYPE) in identities and FEATURE in info["disco_info"][
            "features"
        ]:
            candidates.append(str(item_jid))
    if not candidates:
        return None
    chosen = choose(candidates)
    try:
        own = await disco.get_items(jid=JID(chosen))
    except (IqError, IqTimeout):
        return None
    for _jid, node, name in own["disco_items"]["items"]:
        if node != FINGERPRINT_NODE or not name:
            continue
        try:
            fp = bytes.fromhex(name)
        except ValueError:
            continue
        if len(fp) == 56:
            return chosen, fp
    return None


class XmppPrekeyTransport:
    """Runs :class:`PrekeyClient` requests over a connected slixmpp client."""

    def __init__(
        self,
        xmpp: slixmpp.BaseXMPP,
        server_jid: str,
        client: PrekeyClient,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.xmpp = xmpp
        self.server_jid = JID(server_jid)
        self.client = client
        self._now = now
        self._events: asyncio.Queue[pc.ClientEvent] = asyncio.Queue()
        xmpp.add_event_handler("message", self._message)

    def _message(self, stanza: Message) -> None:
        if stanza["from"].bare != self.server_jid.bare or not stanza["body"]:
            return
        for event in self.client.receive(stanza["body"], self._now()):
            if isinstance(event, pc.SendToServer):
                self._send([event.text])
            else:
                self._events.put_nowait(event)

    def _send(self, texts: list[str]) -> None:
        for text in texts:
            self.xmpp.send_message(mto=self.server_jid, mbody=text, mtype="normal")

    async def _request(self, texts: list[str], timeout: float) -> list[pc.ClientEvent]:
        self._send(texts)
        events: list[pc.ClientEvent] = []
        try:
            while True:
                event = await asyncio.wait_for(self._events.get(), timeout)
                events.append(event)
                if not isinstance(event, pc.AnswerRejected) and not self.client.busy:
                    # give a pending top-up publication its own answer
                    break
        except TimeoutError:
            self.client.cancel()
        return events

    async def publish(self, prekey_messages: int, *, timeout: float = 30.0) -> list[pc.ClientEvent]:
        return await self._request(self.client.publish(prekey_messages=prekey_messages), timeout)

    async def storage_status(self, *, timeout: float = 30.0) -> list[pc.ClientEvent]:
        return await self._request(self.client.request_storage_status(), timeout)

    async def top_up(self, *, timeout: float = 30.0) -> list[pc.ClientEvent]:
        return await self._request(self.client.top_up(), timeout)

    async def retrieve(self, identity: str, *, timeout: float = 30.0) -> list[pc.ClientEvent]:
        return await self._request(self.client.retrieve(identity), timeout)
