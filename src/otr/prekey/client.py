"""The sans-I/O prekey-server client (otr-v4-prekey-server.md "Key Exchange"
(Alice's side), "Publishing Prekey Values", "Retrieving Prekey Ensembles",
"Query the Prekey Server for its Storage Status").

:class:`PrekeyClient` turns requests into message bodies to send to the
server and the server's answers into events.  One request is in flight at a
time, as the spec assumes ("synchronous" communication).  The server is
untrusted, so everything it says is checked: DAKE-2's receiver tag, server
identity, fingerprint (when known, e.g. from disco#items) and ring
signature; the MACs of Storage Status, Success and Failure; an Ensemble
Retrieval's receiver tag and identity, and every ensemble
(:func:`otr.v4.prekeys.select_ensembles`: wrong tags, bad signatures,
expired profiles and duplicates are dropped and counted).  An answer that
fails a check becomes :class:`AnswerRejected` and changes nothing.

Prekey secrets are written to the :class:`~.secrets.PrekeySecretStore`
*before* the publication is sent (the server may hand a prekey out before
its Success reaches us) and removed again on a verified Failure.

Events: :class:`SendToServer`, :class:`StorageStatusReceived`,
:class:`PublicationSucceeded`, :class:`PublicationFailed`,
:class:`EnsemblesReceived`, :class:`NoEnsemblesReceived`,
:class:`AnswerRejected`.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass, field

from ..crypto import kdf
from ..crypto.ed448 import Rng
from ..errors import LocalProtocolError, RemoteProtocolError
from ..v4.keys import Ed448KeyPair
from ..v4.prekeys import PrekeyEnsemble, generate_prekey_message, select_ensembles
from ..v4.profiles import ClientProfile, PrekeyProfile
from . import messages as msg
from . import proofs
from .dake import ClientDakeState, SessionKeys, client_accept_dake2, client_start
from .fragments import Reassembler, fragment_if_needed, is_fragment, parse_fragment
from .secrets import PrekeySecretStore, StoredPrekey

__all__ = [
    "AnswerRejected",
    "ClientEvent",
    "EnsemblesReceived",
    "NoEnsemblesReceived",
    "PrekeyClient",
    "PublicationFailed",
    "PublicationSucceeded",
    "SendToServer",
    "StorageStatusReceived",
]


@dataclass(frozen=True)
class SendToServer:
    text: str


@dataclass(frozen=True)
class StorageStatusReceived:
    count: int


@dataclass(frozen=True)
class PublicationSucceeded:
    prekey_messages: int


@dataclass(frozen=True)
class PublicationFailed:
    pass


@dataclass(frozen=True)
class EnsemblesReceived:
    identity: str
    ensembles: list[PrekeyEnsemble]
    """Valid ensembles, one per (instance tag, long-term key)."""
    discarded: int
    """Ensembles the server sent that were invalid or duplicates."""


@dataclass(frozen=True)
class NoEnsemblesReceived:
    identity: str
    text: str


@dataclass(frozen=True)
class AnswerRejected:
    reason: str


ClientEvent = (
    SendToServer
    | StorageStatusReceived
    | PublicationSucceeded
    | PublicationFailed
    | EnsemblesReceived
    | NoEnsemblesReceived
    | AnswerRejected
)


class _Intent(enum.Enum):
    STATUS = "status"
    PUBLISH = "publish"
    TOP_UP = "top up"


@dataclass
class _Request:
    intent: _Intent
    dake: ClientDakeState | None = None
    keys: SessionKeys | None = field(default=None, repr=False)
    prekeys: int = 0
    with_client_profile: bool = False
    with_prekey_profile: bool = False
    published: list[int] = field(default_factory=list)
    query_identity: str | None = None


class PrekeyClient:
    """A publisher and retriever talking to one prekey server."""

    def __init__(
        self,
        *,
        identity: str,
        server_identity: str,
        keypair: Ed448KeyPair,
        client_profile: ClientProfile,
        rng: Rng,
        store: PrekeySecretStore | None = None,
        server_fingerprint: bytes | None = None,
        prekey_profile: PrekeyProfile | None = None,
        shared_prekey: Ed448KeyPair | None = None,
        top_up_threshold: int = 20,
        top_up_target: int = 100,
        max_message_chars: int | None = None,
    ) -> None:
        """``identity`` is our bare JID (phi), ``server_identity`` the server's.
        A Prekey Profile is published only with its ``shared_prekey`` pair (its
        proof needs ``d``); both are kept in ``store``.  Outgoing messages longer
        than ``max_message_chars`` are sent as ``?OTRP|`` fragments."""
        if (prekey_profile is None) != (shared_prekey is None):
            raise ValueError("a prekey profile goes with its shared prekey key pair")
        if (
            prekey_profile is not None
            and shared_prekey is not None
            and prekey_profile.shared_prekey != shared_prekey.public
        ):
            raise ValueError("the shared prekey does not match the prekey profile")
        self.identity = identity
        self.server_identity = server_identity
        self.keypair = keypair
        self.client_profile = client_profile
        self.instance_tag = client_profile.instance_tag
        self.prekey_profile = prekey_profile
        self._shared = shared_prekey
        self.server_fingerprint = server_fingerprint
        self.store = store if store is not None else PrekeySecretStore()
        self.top_up_threshold = top_up_threshold
        self.top_up_target = min(top_up_target, msg.MAX_PREKEY_MESSAGES)
        self.max_message_chars = max_message_chars
        self._rng = rng
        self._request: _Request | None = None
        self._reassembler = Reassembler()

    @property
    def busy(self) -> bool:
        return self._request is not None

    def cancel(self) -> None:
        """Forget the request in flight (e.g. after a timeout)."""
        self._request = None

    # -- requests ------------------------------------------------------------------

    def _start_dake(self, request: _Request) -> list[str]:
        if self._request is not None:
            raise LocalProtocolError("a request to the prekey server is already in flight")
        dake1, state = client_start(
            publisher=self.identity,
            server_identity=self.server_identity,
            instance_tag=self.instance_tag,
            client_profile=self.client_profile,
            rng=self._rng,
            expected_fingerprint=self.server_fingerprint,
        )
        request.dake = state
        self._request = request
        return self._out(dake1.encode())

    def _out(self, binary: bytes) -> list[str]:
        text = msg.encode_text(binary)
        return fragment_if_needed(text, self.max_message_chars, self._rng, self.instance_tag, 0)

    def request_storage_status(self) -> list[str]:
        """Start a DAKE that asks how many of our Prekey Messages are stored."""
        return self._start_dake(_Request(_Intent.STATUS))

    def publish(
        self, *, prekey_messages: int = 0, client_profile: bool = True, prekey_profile: bool = True
    ) -> list[str]:
        """Start a DAKE that publishes our profiles and ``prekey_messages`` new
        Prekey Messages (at most 255)."""
        if not 0 <= prekey_messages <= msg.MAX_PREKEY_MESSAGES:
            raise ValueError("0 to 255 prekey messages per publication")
        with_pp = prekey_profile and self.prekey_profile is not None
        if not (prekey_messages or client_profile or with_pp):
            raise ValueError("nothing to publish")
        request = _Request(
            _Intent.PUBLISH,
            prekeys=prekey_messages,
            with_client_profile=client_profile,
            with_prekey_profile=with_pp,
        )
        return self._start_dake(request)

    def top_up(self) -> list[str]:
        """Ask for the storage status; when fewer than ``top_up_threshold`` Prekey
        Messages remain, publish up to ``top_up_target`` (with the profiles)."""
        return self._start_dake(_Request(_Intent.TOP_UP))

    def retrieve(self, identity: str, versions: bytes = b"4") -> list[str]:
        """Ask for the Prekey Ensembles of ``identity`` (no DAKE needed)."""
        if self._request is not None:
            raise LocalProtocolError("a request to the prekey server is already in flight")
        self._request = _Request(_Intent.STATUS, query_identity=identity)
        query = msg.EnsembleQuery(self.instance_tag, identity, versions)
        return self._out(query.encode())

    # -- answers -------------------------------------------------------------------

    def receive(self, text: str, now: float) -> list[ClientEvent]:
        """Process one message body from the server."""
        try:
            if is_fragment(text):
                whole = self._reassembler.feed(
                    "server", parse_fragment(text), now, our_tag=self.instance_tag
                )
                if whole is None:
                    return []
                text = whole
            data = msg.decode_text(text)
            return self._dispatch(msg.decode_message(data), now)
        except RemoteProtocolError as exc:
            return [AnswerRejected(str(exc))]

    def _dispatch(self, message: msg.Message, now: float) -> list[ClientEvent]:
        request = self._request
        if request is None:
            raise RemoteProtocolError("no request in flight")
        if isinstance(message, msg.Dake2):
            if request.dake is None or request.keys is not None:
                raise RemoteProtocolError("DAKE-2 outside a DAKE")
            return self._dake2(request, message)
        if isinstance(message, msg.EnsembleRetrieval | msg.NoEnsembles):
            return self._ensembles(request, message, now)
        if isinstance(message, msg.StorageStatus | msg.Success | msg.Failure):
            return self._final(request, message)
        raise RemoteProtocolError("not a message a prekey client receives")

    def _dake2(self, request: _Request, dake2: msg.Dake2) -> list[ClientEvent]:
        assert request.dake is not None
        keys, sigma = client_accept_dake2(request.dake, dake2, self.keypair, self._rng)
        if request.intent is _Intent.PUBLISH:
            inner = self._publication(request, keys)
        else:
            inner = msg.StorageInfoRequest(keys.storage_info_mac()).encode()
        request.keys = keys
        request.dake = None
        dake3 = msg.Dake3(self.instance_tag, sigma, inner)
        return [SendToServer(t) for t in self._out(dake3.encode())]

    def _publication(self, request: _Request, keys: SessionKeys) -> bytes:
        m = proofs.proof_context(keys.sk)
        secrets = [
            generate_prekey_message(self.instance_tag, self._rng) for _ in range(request.prekeys)
        ]
        publics = tuple(s.public() for s in secrets)
        ecdh_proof = dh_proof = profile_proof = None
        if secrets:
            ecdh_proof = proofs.prove_ecdh(
                [s.ecdh.secret for s in secrets], [p.y for p in publics], m, self._rng
            )
            dh_proof = proofs.prove_dh(
                [s.dh.secret for s in secrets], [p.b for p in publics], m, self._rng
            )
        pp = self.prekey_profile if request.with_prekey_profile else None
        if pp is not None:
            assert self._shared is not None
            profile_proof = proofs.prove_ecdh(
                [self._shared.secret],
                [pp.shared_prekey],
                m,
                self._rng,
                usage=kdf.PS_USAGE_PROOF_SHARED_ECDH,
            )
            self.store.add_shared_prekey(pp.instance_tag, pp.expiration, self._shared.sym_key)
        cp = self.client_profile if request.with_client_profile else None
        unsigned = msg.PrekeyPublication(
            publics, cp, pp, ecdh_proof, dh_proof, profile_proof, bytes(msg.MAC_BYTES)
        )
        publication = msg.PrekeyPublication(
            publics, cp, pp, ecdh_proof, dh_proof, profile_proof, keys.mac_of(unsigned)
        )
        # Keep the secrets before the server can hand the prekeys out.
        self.store.add_prekeys([StoredPrekey.of(s) for s in secrets])
        request.published = [s.identifier for s in secrets]
        return publication.encode()

    def _final(
        self, request: _Request, answer: msg.StorageStatus | msg.Success | msg.Failure
    ) -> list[ClientEvent]:
        keys = request.keys
        if keys is None:
            raise RemoteProtocolError("an answer before the DAKE completed")
        if answer.receiver_tag != self.instance_tag:
            raise RemoteProtocolError("answer for another instance tag")
        if isinstance(answer, msg.StorageStatus) == (request.intent is _Intent.PUBLISH):
            raise RemoteProtocolError("an answer to another kind of request")
        if isinstance(answer, msg.StorageStatus):
            expected = keys.status_mac(answer.receiver_tag, answer.count)
        elif isinstance(answer, msg.Success):
            expected = keys.success_mac(answer.receiver_tag)
        else:
            expected = keys.failure_mac(answer.receiver_tag)
        if not hmac.compare_digest(answer.mac, expected):
            raise RemoteProtocolError("the server's answer has a bad MAC")
        self._request = None
        if isinstance(answer, msg.Success):
            return [PublicationSucceeded(len(request.published))]
        if isinstance(answer, msg.Failure):
            self.store.discard_prekeys(request.published)
            return [PublicationFailed()]
        events: list[ClientEvent] = [StorageStatusReceived(answer.count)]
        if request.intent is _Intent.TOP_UP and answer.count < self.top_up_threshold:
            wanted = max(0, self.top_up_target - answer.count)
            texts = self.publish(prekey_messages=min(wanted, msg.MAX_PREKEY_MESSAGES))
            events += [SendToServer(t) for t in texts]
        return events

    def _ensembles(
        self, request: _Request, answer: msg.EnsembleRetrieval | msg.NoEnsembles, now: float
    ) -> list[ClientEvent]:
        if request.query_identity is None:
            raise RemoteProtocolError("ensembles without a query")
        if answer.receiver_tag != self.instance_tag:
            raise RemoteProtocolError("ensembles for another instance tag")
        if answer.identity != request.query_identity:
            raise RemoteProtocolError("ensembles of another identity")
        self._request = None
        if isinstance(answer, msg.NoEnsembles):
            return [NoEnsemblesReceived(answer.identity, answer.text)]
        valid = select_ensembles(answer.ensembles, now)
        return [EnsemblesReceived(answer.identity, valid, len(answer.ensembles) - len(valid))]
