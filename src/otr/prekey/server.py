"""The sans-I/O prekey server core (otr-v4-prekey-server.md "Key Exchange",
"State machine", "Publishing Prekey Values", "Retrieving Prekey Ensembles",
"Query the Prekey Server for its Storage Status", "Fragmentation").

``PrekeyServer.handle(sender, text, now) -> list[str]`` takes one message
body from the network address ``sender`` (an XMPP full JID) and returns the
bodies to send back to ``sender``.  It never raises for anything the network
sends: malformed, forged, replayed, unauthorised or rate-limited input gets
no answer (or a MAC'd Failure once the publisher is authenticated), and no
stored data changes unless a publication passed every check.

* The server's long-term Ed448 key lives in the storage (``server_key``),
  so its fingerprint is stable across restarts and shared by every process
  on one database.
* Sessions (state IN_DAKE, between DAKE-2 and DAKE-3) are in memory, keyed by
  (sender, sender instance tag), at most ``max_sessions`` and
  ``session_timeout`` seconds each; a DAKE-3 consumes its session, so a
  replayed DAKE-3 finds none and is ignored.
* Publishing and storage status need a DAKE and are accepted only from
  identities in ``local_domains``; retrieval is open to anyone but
  rate-limited per requester and per target before storage is touched.
* A publication is checked completely - Prekey MAC (constant time), K/J/N
  consistency, both profiles (signatures, expiry, owner tag = the DAKE's
  sender tag, the Prekey Profile signed by the Client Profile's key), every
  Prekey Message's owner tag and identifier (unique), the three proofs - and
  then stored in one transaction.  Batch proofs can only accept or reject
  the whole batch (:mod:`.proofs`), so one bad value fails the publication
  (the spec's "discard any invalid values" cannot be applied per value).
* The storage identity is ``identity_of(sender)``: the bare JID by default
  ("Storage of Prekeys Ensembles for XMPP").
* :meth:`PrekeyServer.handle_batch` handles several messages at once and
  answers the retrievals among them from one storage transaction (group
  commit: one commit, one fsync on a durable store, for the whole batch);
  a host drains its queue of retrievals in batches (:mod:`.batching`).
  ``handle`` is a batch of one.
* ``handle`` may be called from several threads at once (a lock guards the
  in-memory state; it is never held during cryptography or storage calls),
  so a host can answer cheap retrievals inline and verify publications on a
  worker thread (:func:`is_retrieval`).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..crypto import kdf
from ..crypto.ed448 import Rng
from ..errors import DecodeError, RemoteProtocolError
from ..v4.keys import Ed448KeyPair
from ..v4.prekeys import PrekeyMessage
from ..v4.profiles import ClientProfile
from . import messages as msg
from . import proofs
from .dake import ServerDakeState, SessionKeys, server_fingerprint, server_respond
from .dake import server_verify_dake3 as _verify_dake3
from .fragments import (
    Reassembler,
    ReassemblyLimits,
    fragment_if_needed,
    is_fragment,
    parse_fragment,
)
from .limits import RateLimits, allow_all
from .storage.base import (
    PrekeyStorage,
    StorageCaps,
    StorageRejected,
    StoredPublication,
    TakeRequest,
)

__all__ = ["PrekeyServer", "ServerSettings", "bare_jid", "is_retrieval"]

_log = logging.getLogger(__name__)

RATE_LIMITED_TEXT = "Too many requests; try again later"


_QUERY_PREFIX = "AAQQ"
"""Base 64 of 00 04 10, the start of every encoded Ensemble Query Retrieval."""


def is_retrieval(text: str) -> bool:
    """Whether ``text`` looks like an Ensemble Query Retrieval (cheap to handle:
    no public-key operation); only a routing hint, ``handle`` checks everything."""
    return text.startswith(_QUERY_PREFIX)


def bare_jid(address: str) -> str:
    """``user@domain/resource`` -> ``user@domain`` (XMPP storage identity)."""
    return address.split("/", 1)[0]


def _domain(identity: str) -> str:
    return identity.rsplit("@", 1)[-1].lower()


@dataclass(frozen=True)
class ServerSettings:
    identity: str
    """The server's own identity, e.g. the component JID ``prekey.example.org``."""
    local_domains: frozenset[str] = frozenset()
    """Domains whose users may publish; empty: the identity without its first label."""
    key_name: str = "default"
    """Name of the long-term key in storage."""
    identity_of: Callable[[str], str] = bare_jid
    session_timeout: float = 60.0
    max_sessions: int = 10_000
    max_message_chars: int = 512 * 1024
    """Largest (reassembled) message accepted: bounds publication size."""
    max_reply_chars: int | None = None
    """Fragment replies longer than this (None: never)."""
    caps: StorageCaps = field(default_factory=StorageCaps)
    limits: RateLimits = field(default_factory=RateLimits)
    reassembly: ReassemblyLimits = field(default_factory=ReassemblyLimits)
    profile_grace: int = 0

    def publishing_domains(self) -> frozenset[str]:
        if self.local_domains:
            return frozenset(d.lower() for d in self.local_domains)
        parts = self.identity.split(".", 1)
        return frozenset({parts[-1].lower()})


@dataclass(frozen=True)
class _Retrieval:
    """An Ensemble Query that passed the rate limits, waiting for its pop."""

    query: msg.EnsembleQuery
    requester: str
    target: str


class PrekeyServer:
    """One prekey server (several may share one storage)."""

    def __init__(self, storage: PrekeyStorage, settings: ServerSettings, rng: Rng) -> None:
        self.storage = storage
        self.settings = settings
        self._rng = rng
        sym = storage.server_key(settings.key_name, lambda: rng(57))
        self._key = Ed448KeyPair.from_symmetric_key(sym)
        self.fingerprint = server_fingerprint(self._key.public)
        self._domains = settings.publishing_domains()
        self._lock = threading.Lock()
        """Guards the in-memory state (sessions, fragments, buckets), never held
        during cryptography or storage calls."""
        self._sessions: OrderedDict[tuple[str, int], ServerDakeState] = OrderedDict()
        self._reassembler = Reassembler(settings.reassembly)
        limits = settings.limits
        self._by_requester = limits.limiter(limits.retrievals_per_requester)
        self._by_target = limits.limiter(limits.retrievals_per_target)
        self._dake1 = limits.limiter(limits.dake1_per_requester)

    @property
    def public_key(self) -> bytes:
        return self._key.public.encode()

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def expire(self, now: float) -> None:
        """Drop sessions and fragment buffers past their timeouts."""
        timeout = self.settings.session_timeout
        with self._lock:
            while self._sessions:
                key, state = next(iter(self._sessions.items()))
                if now - state.created < timeout:
                    break
                del self._sessions[key]
            self._reassembler.expire(now)

    # -- entry point ---------------------------------------------------------------

    def handle(self, sender: str, text: str, now: float) -> list[str]:
        """Process one message body from ``sender``; return the reply bodies."""
        (replies,) = self.handle_batch([(sender, text)], now)
        return replies

    def handle_batch(self, messages: Sequence[tuple[str, str]], now: float) -> list[list[str]]:
        """Process ``(sender, body)`` pairs; return the replies of each, in order.
        The retrievals among them take their Prekey Messages in one storage
        transaction (:meth:`~.storage.base.PrekeyStorage.take_batch`: group
        commit); if the storage raises, it raises and no reply of the batch
        must be sent (nothing of it was committed)."""
        self.expire(now)
        out: list[list[str]] = []
        pending: list[tuple[int, _Retrieval]] = []
        for sender, text in messages:
            step = self._step(sender, text, now)
            if isinstance(step, _Retrieval):
                pending.append((len(out), step))
                step = []
            out.append(step)
        if pending:
            requests = [TakeRequest(r.target, r.requester, msg.MAX_ENSEMBLES) for _, r in pending]
            taken = self.storage.take_batch(requests, now)
            for (index, retrieval), ensembles in zip(pending, taken, strict=True):
                out[index] = self._ensembles_reply(retrieval.query, ensembles)
        return out

    def _step(self, sender: str, text: str, now: float) -> list[str] | _Retrieval:
        """Everything but the storage's pop: the replies, or the retrieval to make."""
        if len(text) > self.settings.max_message_chars:
            return []
        try:
            if is_fragment(text):
                frag = parse_fragment(text)
                with self._lock:
                    whole = self._reassembler.feed(sender, frag, now)
                if whole is None:
                    return []
                text = whole
            if len(text) > self.settings.max_message_chars:
                raise DecodeError("message too large")
            data = msg.decode_text(text)
            kind = msg.message_type(data)
            if kind == msg.TYPE_ENSEMBLE_QUERY:
                return self._retrieve(sender, msg.EnsembleQuery.decode(data), now)
            if kind == msg.TYPE_DAKE1:
                return self._dake1_received(sender, msg.Dake1.decode(data), now)
            if kind == msg.TYPE_DAKE3:
                return self._dake3_received(sender, msg.Dake3.decode(data), now)
            raise DecodeError("not a message a prekey server receives")
        except RemoteProtocolError as exc:
            _log.debug("ignored a message from %s: %s", sender, exc)
            return []

    def _reply(self, binary: bytes, receiver_tag: int) -> list[str]:
        text = msg.encode_text(binary)
        return fragment_if_needed(text, self.settings.max_reply_chars, self._rng, 0, receiver_tag)

    # -- retrieval -----------------------------------------------------------------

    def _retrieve(
        self, sender: str, query: msg.EnsembleQuery, now: float
    ) -> list[str] | _Retrieval:
        """Rate limits first (a refusal consumes no prekey), then the pop to make."""
        requester = self.settings.identity_of(sender)
        target = query.identity
        with self._lock:
            allowed = allow_all(((self._by_requester, requester), (self._by_target, target)), now)
        if not allowed:
            refusal = msg.NoEnsembles(query.sender_tag, target, RATE_LIMITED_TEXT)
            return self._reply(refusal.encode(), query.sender_tag)
        if b"4" not in query.versions:
            return self._ensembles_reply(query, [])
        return _Retrieval(query, requester, target)

    def _ensembles_reply(self, query: msg.EnsembleQuery, ensembles: list[bytes]) -> list[str]:
        if not ensembles:
            return self._reply(
                msg.NoEnsembles(query.sender_tag, query.identity).encode(), query.sender_tag
            )
        binary = msg.EnsembleRetrieval.encode_raw(query.sender_tag, query.identity, ensembles)
        return self._reply(binary, query.sender_tag)

    # -- DAKE ----------------------------------------------------------------------

    def _may_publish(self, identity: str) -> bool:
        return "@" in identity and _domain(identity) in self._domains

    def _dake1_received(self, sender: str, dake1: msg.Dake1, now: float) -> list[str]:
        publisher = self.settings.identity_of(sender)
        if not self._may_publish(publisher):
            raise RemoteProtocolError("publisher is not of a local domain")
        with self._lock:
            allowed = self._dake1.allow(publisher, now)
        if not allowed:
            raise RemoteProtocolError("DAKE-1 rate limit")
        dake2, state = server_respond(
            dake1,
            server_key=self._key,
            server_identity=self.settings.identity,
            publisher=publisher,
            now=now,
            rng=self._rng,
        )
        key = (sender, dake1.sender_tag)
        with self._lock:
            self._sessions.pop(key, None)
            while len(self._sessions) >= self.settings.max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[key] = state
        return [msg.encode_text(dake2.encode())]

    def _dake3_received(self, sender: str, dake3: msg.Dake3, now: float) -> list[str]:
        with self._lock:
            state = self._sessions.pop((sender, dake3.sender_tag), None)
        if state is None:
            raise RemoteProtocolError("DAKE-3 outside a DAKE")
        _verify_dake3(state, dake3, self._key.public)
        keys = state.keys
        inner = dake3.message
        kind = msg.message_type(inner)
        tag = state.sender_tag
        if kind == msg.TYPE_STORAGE_INFO_REQUEST:
            request = msg.StorageInfoRequest.decode(inner)
            if not hmac.compare_digest(request.mac, keys.storage_info_mac()):
                return [self._failure(keys, tag)]
            count = self.storage.count_prekeys(state.publisher, tag)
            status = msg.StorageStatus(tag, count, keys.status_mac(tag, count))
            return [msg.encode_text(status.encode())]
        if kind == msg.TYPE_PUBLICATION:
            try:
                publication = msg.PrekeyPublication.decode(inner)
                self._store(state, publication, now)
            except (RemoteProtocolError, StorageRejected, ValueError) as exc:
                _log.debug("publication from %s refused: %s", sender, exc)
                return [self._failure(keys, tag)]
            success = msg.Success(tag, keys.success_mac(tag))
            return [msg.encode_text(success.encode())]
        raise DecodeError("DAKE-3 carries neither a publication nor a storage request")

    @staticmethod
    def _failure(keys: SessionKeys, tag: int) -> str:
        return msg.encode_text(msg.Failure(tag, keys.failure_mac(tag)).encode())

    # -- publication ---------------------------------------------------------------

    def _store(self, state: ServerDakeState, pub: msg.PrekeyPublication, now: float) -> None:
        keys = state.keys
        if not hmac.compare_digest(pub.mac, keys.mac_of(pub)):
            raise RemoteProtocolError("Prekey MAC does not verify")
        tag = state.sender_tag
        grace = self.settings.profile_grace
        owner: ClientProfile = state.client_profile
        stored_cp: tuple[bytes, int] | None = None
        stored_pp: tuple[bytes, int] | None = None
        m = proofs.proof_context(keys.sk)
        if pub.client_profile is not None:
            pub.client_profile.validate(now, sender_instance_tag=tag, grace=grace)
            owner = pub.client_profile
            stored_cp = (owner.encode(), owner.expiration)
        if pub.prekey_profile is not None:
            pp = pub.prekey_profile
            pp.validate(owner.public_key, now, sender_instance_tag=tag, grace=grace)
            if pub.profile_proof is None or not proofs.verify_ecdh(
                pub.profile_proof, [pp.shared_prekey], m, usage=kdf.PS_USAGE_PROOF_SHARED_ECDH
            ):
                raise RemoteProtocolError("the Prekey Profile proof does not verify")
            stored_pp = (pp.encode(), pp.expiration)
        messages: tuple[PrekeyMessage, ...] = pub.prekey_messages
        if messages:
            if any(pm.instance_tag != tag for pm in messages):
                raise RemoteProtocolError("prekey messages of another instance tag")
            if len({pm.identifier for pm in messages}) != len(messages):
                raise RemoteProtocolError("duplicate prekey message identifiers")
            assert pub.ecdh_proof is not None and pub.dh_proof is not None  # by the decoder
            if not proofs.verify_ecdh(pub.ecdh_proof, [pm.y for pm in messages], m):
                raise RemoteProtocolError("the prekey messages' ECDH proof does not verify")
            if not proofs.verify_dh(pub.dh_proof, [pm.b for pm in messages], m):
                raise RemoteProtocolError("the prekey messages' DH proof does not verify")
        if stored_cp is None and stored_pp is None and not messages:
            raise RemoteProtocolError("empty publication")
        self.storage.publish(
            StoredPublication(
                state.publisher,
                tag,
                stored_cp,
                stored_pp,
                [(pm.identifier, pm.encode()) for pm in messages],
            ),
            self.settings.caps,
        )
