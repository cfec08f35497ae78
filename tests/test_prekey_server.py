"""The sans-I/O prekey server core (otr.prekey.server): every message type
with good and bad input; bad input gets a Failure or no answer and changes
no stored data."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.crypto import kdf
from otr.prekey import client as pc
from otr.prekey import messages as msg
from otr.prekey import proofs
from otr.prekey.dake import SessionKeys
from otr.prekey.limits import RateLimits
from otr.prekey.server import PrekeyServer, ServerSettings, bare_jid
from otr.prekey.storage import StorageCaps
from otr.prekey.storage.sqlite import SqliteStorage
from otr.v4.prekeys import PrekeyMessage, generate_prekey_message
from otr.v4.profiles import build_client_profile, build_prekey_profile
from prekey_util import NOW, SERVER_ID, Party, make_client, make_party, make_rng, pump

BOB = make_party("bob@example.org", 0x1234, 1)
BOB_JID = "bob@example.org/phone"
ALICE = make_party("alice@remote.net", 0x5678, 2)
ALICE_JID = "alice@remote.net/laptop"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "prekeys.db"


def _server(db: Path, **settings: object) -> PrekeyServer:
    return PrekeyServer(SqliteStorage(db), ServerSettings(SERVER_ID, **settings), make_rng(7))  # type: ignore[arg-type]


@pytest.fixture
def server(db: Path) -> Iterator[PrekeyServer]:
    s = _server(db)
    yield s
    s.storage.close()


def snapshot(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows: list[tuple[object, ...]] = []
        for table in ("client_profiles", "prekey_profiles", "prekey_messages"):
            rows += [(table, *r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3")]
    return rows


def _publish(server: PrekeyServer, party: Party = BOB, sender: str = BOB_JID, n: int = 3) -> None:
    client = make_client(party, 11, server_fingerprint=server.fingerprint)
    assert pump(client, server, client.publish(prekey_messages=n), sender) == [
        pc.PublicationSucceeded(n)
    ]


# -- happy paths -------------------------------------------------------------------


def test_publish_status_retrieve(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3, server_fingerprint=server.fingerprint)
    assert pump(bob, server, bob.publish(prekey_messages=5), BOB_JID) == [
        pc.PublicationSucceeded(5)
    ]
    assert len(bob.store) == 5
    assert pump(bob, server, bob.request_storage_status(), BOB_JID) == [pc.StorageStatusReceived(5)]
    alice = make_client(ALICE, 4)
    (got,) = pump(alice, server, alice.retrieve("bob@example.org"), ALICE_JID)
    assert isinstance(got, pc.EnsemblesReceived) and got.discarded == 0
    (ensemble,) = got.ensembles
    assert ensemble.client_profile.encode() == BOB.client_profile.encode()
    assert bob.store.has_prekey(ensemble.prekey_message.identifier)
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 4
    # versions without 4: nothing handed out
    (none,) = pump(alice, server, alice.retrieve("bob@example.org", b"5"), ALICE_JID)
    assert none == pc.NoEnsemblesReceived("bob@example.org", msg.NO_ENSEMBLES_TEXT)
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 4
    (none,) = pump(alice, server, alice.retrieve("carol@example.org"), ALICE_JID)
    assert isinstance(none, pc.NoEnsemblesReceived)


def test_profiles_only_then_prekeys_only(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3)
    assert pump(bob, server, bob.publish(), BOB_JID) == [pc.PublicationSucceeded(0)]
    assert pump(
        bob,
        server,
        bob.publish(prekey_messages=2, client_profile=False, prekey_profile=False),
        BOB_JID,
    ) == [pc.PublicationSucceeded(2)]
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 2


def test_fingerprint_stable_across_restart(db: Path) -> None:
    first = _server(db)
    fp = first.fingerprint
    first.storage.close()
    second = _server(db)
    assert second.fingerprint == fp and len(fp) == 56
    assert kdf.kdf(0x00, second.public_key, 56) == fp
    second.storage.close()


def test_fragmented_publication_and_reply(db: Path) -> None:
    server = _server(db, max_reply_chars=300)
    bob = make_client(BOB, 3, max_message_chars=400)
    texts = bob.publish(prekey_messages=3)
    assert pump(bob, server, texts, BOB_JID) == [pc.PublicationSucceeded(3)]
    alice = make_client(ALICE, 4)
    replies = server.handle(ALICE_JID, alice.retrieve("bob@example.org")[0], NOW)
    assert len(replies) > 1 and all(r.startswith("?OTRP|") for r in replies)
    events = [e for r in replies for e in alice.receive(r, NOW)]
    assert isinstance(events[-1], pc.EnsemblesReceived) and len(events[-1].ensembles) == 1
    server.storage.close()


# -- the DAKE ------------------------------------------------------------------------


def test_dake1_only_from_local_domains(server: PrekeyServer, db: Path) -> None:
    alice = make_client(ALICE, 4)
    assert server.handle(ALICE_JID, alice.publish(prekey_messages=1)[0], NOW) == []
    assert server.session_count == 0 and snapshot(db) == []


def test_dake1_rate_limited(db: Path) -> None:
    server = _server(db, limits=RateLimits(dake1_per_requester=(0.0, 2.0)))
    answers = [
        server.handle(BOB_JID, make_client(BOB, i).request_storage_status()[0], NOW)
        for i in range(4)
    ]
    assert [len(a) for a in answers] == [1, 1, 0, 0]
    server.storage.close()


def _session(
    server: PrekeyServer, party: Party = BOB, sender: str = BOB_JID
) -> tuple[pc.PrekeyClient, SessionKeys, msg.Dake3]:
    client = make_client(party, 21, server_fingerprint=server.fingerprint)
    (dake2,) = server.handle(sender, client.publish(prekey_messages=1)[0], NOW)
    (ev,) = client.receive(dake2, NOW)
    assert isinstance(ev, pc.SendToServer)
    request = client._request
    assert request is not None and request.keys is not None
    return client, request.keys, msg.Dake3.decode(msg.decode_text(ev.text))


def test_replayed_and_orphan_dake3(server: PrekeyServer, db: Path) -> None:
    _client, _keys, dake3 = _session(server)
    text = msg.encode_text(dake3.encode())
    assert server.handle("eve@example.org/x", text, NOW) == []  # another sender: no session
    assert len(server.handle(BOB_JID, text, NOW)) == 1
    before = snapshot(db)
    assert server.handle(BOB_JID, text, NOW) == []  # replay: the session is gone
    assert snapshot(db) == before


def test_session_timeout_and_cap(db: Path) -> None:
    server = _server(db, session_timeout=5.0, max_sessions=2)
    _client, _keys, dake3 = _session(server)
    assert server.handle(BOB_JID, msg.encode_text(dake3.encode()), NOW + 6) == []
    for i in range(3):
        server.handle(
            f"bob@example.org/r{i}", make_client(BOB, 30 + i).request_storage_status()[0], NOW
        )
    assert server.session_count == 2
    server.storage.close()


def test_bad_dake3_signature_no_answer(server: PrekeyServer, db: Path) -> None:
    _client, _keys, dake3 = _session(server)
    forged = replace(dake3, sigma=replace(dake3.sigma, c1=(dake3.sigma.c1 + 1) % 7))
    assert server.handle(BOB_JID, msg.encode_text(forged.encode()), NOW) == []
    assert snapshot(db) == []


# -- publications with bad contents ------------------------------------------------------


def _failure(keys: SessionKeys, tag: int = BOB.tag) -> list[str]:
    return [msg.encode_text(msg.Failure(tag, keys.failure_mac(tag)).encode())]


def _build(
    keys: SessionKeys,
    n: int = 3,
    *,
    party: Party = BOB,
    tags: list[int] | None = None,
    client_profile: object = "default",
    prekey_profile: object = "default",
    shared_secret: int | None = None,
    wrong_secret_at: int | None = None,
    ids: list[int] | None = None,
    mac: bytes | None = None,
) -> bytes:
    rng = make_rng(99)
    m = proofs.proof_context(keys.sk)
    secrets = [generate_prekey_message(party.tag, rng) for _ in range(n)]
    pms = [s.public() for s in secrets]
    if tags is not None:
        pms = [replace(p, instance_tag=t) for p, t in zip(pms, tags, strict=True)]
    if ids is not None:
        pms = [replace(p, identifier=i) for p, i in zip(pms, ids, strict=True)]
    ys = [s.ecdh.secret for s in secrets]
    bs = [s.dh.secret for s in secrets]
    if wrong_secret_at is not None:
        ys[wrong_secret_at] += 1
    ep = proofs.prove_ecdh(ys, [p.y for p in pms], m, rng) if n else None
    dp = proofs.prove_dh(bs, [p.b for p in pms], m, rng) if n else None
    cp = party.client_profile if client_profile == "default" else client_profile
    pp = party.prekey_profile if prekey_profile == "default" else prekey_profile
    pp_proof = None
    if pp is not None:
        secret = party.shared.secret if shared_secret is None else shared_secret
        pp_proof = proofs.prove_ecdh(
            [secret], [pp.shared_prekey], m, rng, usage=kdf.PS_USAGE_PROOF_SHARED_ECDH
        )  # type: ignore[attr-defined]
    pub = msg.PrekeyPublication(tuple(pms), cp, pp, ep, dp, pp_proof, bytes(64))  # type: ignore[arg-type]
    return replace(pub, mac=keys.mac_of(pub) if mac is None else mac).encode()


def _send(server: PrekeyServer, dake3: msg.Dake3, inner: bytes) -> list[str]:
    return server.handle(BOB_JID, msg.encode_text(replace(dake3, message=inner).encode()), NOW)


OTHER_KEY_PP = build_prekey_profile(
    make_party("x@y", 0x1234, 50).keypair, 0x1234, int(NOW) + 999, BOB.shared.public
)
EXPIRED_CP = build_client_profile(
    BOB.keypair, BOB.client_profile.forging_key, BOB.tag, "4", int(NOW) - 1, rng=make_rng(5)
)
FOREIGN_CP = make_party("bob@example.org", 0x9999, 51).client_profile

BAD_PUBLICATIONS: dict[str, Callable[[SessionKeys], bytes]] = {
    "bad MAC": lambda k: _build(k, mac=bytes(64)),
    "MAC by another session": lambda k: _build(SessionKeys(b"s" * 64, b"m" * 64)),
    "one bad ECDH value in the batch": lambda k: _build(k, 4, wrong_secret_at=2),
    "bad prekey profile proof": lambda k: _build(k, shared_secret=12345),
    "mixed instance tags": lambda k: _build(k, tags=[BOB.tag, 0x9999, BOB.tag]),
    "all prekeys of another tag": lambda k: _build(k, 2, tags=[0x9999, 0x9999]),
    "duplicate identifiers": lambda k: _build(k, ids=[5, 6, 5]),
    "expired client profile": lambda k: _build(k, client_profile=EXPIRED_CP),
    "foreign client profile": lambda k: _build(k, client_profile=FOREIGN_CP),
    "prekey profile of another key": lambda k: _build(k, prekey_profile=OTHER_KEY_PP),
    "empty publication": lambda k: _build(k, 0, client_profile=None, prekey_profile=None),
    "undecodable publication": lambda k: b"\x00\x04\x08\x05garbage",
}


@pytest.mark.parametrize("case", sorted(BAD_PUBLICATIONS))
def test_bad_publication_gets_failure_and_changes_nothing(
    server: PrekeyServer, db: Path, case: str
) -> None:
    _publish(server, n=2)
    before = snapshot(db)
    _client, keys, dake3 = _session(server)
    assert _send(server, dake3, BAD_PUBLICATIONS[case](keys)) == _failure(keys)
    assert snapshot(db) == before


def test_publication_caps_and_stored_duplicates(db: Path) -> None:
    server = _server(db, caps=StorageCaps(max_instance_tags=1, max_prekeys_per_instance=4))
    _publish(server, n=3)
    before = snapshot(db)
    _c, keys, dake3 = _session(server)
    assert _send(server, dake3, _build(keys, 2)) == _failure(keys)  # 3 + 2 > 4
    stored_id = int(before[-1][3])  # type: ignore[call-overload]
    _c, keys, dake3 = _session(server)
    assert _send(server, dake3, _build(keys, 1, ids=[stored_id])) == _failure(keys)
    other = make_party("bob@example.org", 0x4444, 60)
    _c, keys, dake3 = _session(server, other)
    assert _send(server, dake3, _build(keys, 1, party=other)) == _failure(keys, other.tag)
    assert snapshot(db) == before
    server.storage.close()


def test_oversized_message_ignored(db: Path) -> None:
    server = _server(db, max_message_chars=2000)
    _c, keys, dake3 = _session(server)
    assert _send(server, dake3, _build(keys, 5)) == []
    assert snapshot(db) == []
    server.storage.close()


def test_storage_request_bad_mac_and_stray_inner(server: PrekeyServer) -> None:
    _c, keys, dake3 = _session(server)
    assert _send(server, dake3, msg.StorageInfoRequest(bytes(64)).encode()) == _failure(keys)
    _c, keys, dake3 = _session(server)
    assert _send(server, dake3, msg.Success(1, bytes(64)).encode()) == []


# -- retrieval ---------------------------------------------------------------------------


def test_retrieval_rate_limits_consume_nothing(db: Path) -> None:
    limits = RateLimits(retrievals_per_requester=(0.0, 3.0), retrievals_per_target=(0.0, 4.0))
    server = _server(db, limits=limits)
    _publish(server, n=10)
    alice = make_client(ALICE, 4)
    query = alice.retrieve("bob@example.org")[0]
    alice.cancel()
    kinds = [
        msg.message_type(msg.decode_text(server.handle(ALICE_JID, query, NOW)[0])) for _ in range(5)
    ]
    assert kinds == [msg.TYPE_ENSEMBLE_RETRIEVAL] * 3 + [msg.TYPE_NO_ENSEMBLES] * 2
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 7
    carol = "carol@remote.net/x"
    kinds = [
        msg.message_type(msg.decode_text(server.handle(carol, query, NOW)[0])) for _ in range(3)
    ]
    assert kinds == [msg.TYPE_ENSEMBLE_RETRIEVAL] + [msg.TYPE_NO_ENSEMBLES] * 2  # target's bucket
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 6
    # tokens come back with time
    later = server.handle(ALICE_JID, query, NOW + 10_000)
    assert msg.message_type(msg.decode_text(later[0])) == msg.TYPE_NO_ENSEMBLES  # rate 0: never
    server.storage.close()


def test_one_ensemble_per_instance_tag(server: PrekeyServer) -> None:
    _publish(server, n=2)
    second = make_party("bob@example.org", 0x2222, 70)
    _publish(server, second, "bob@example.org/tablet", n=1)
    alice = make_client(ALICE, 4)
    (got,) = pump(alice, server, alice.retrieve("bob@example.org"), ALICE_JID)
    assert isinstance(got, pc.EnsemblesReceived)
    assert sorted(e.instance_tag for e in got.ensembles) == [0x1234, 0x2222]


# -- robustness ---------------------------------------------------------------------------


@given(st.text(max_size=300))
def test_garbage_never_raises(text: str) -> None:
    assert GARBAGE_SERVER.handle(BOB_JID, text, NOW) == []


@given(st.binary(max_size=200))
def test_garbage_binary_never_raises(data: bytes) -> None:
    for prefix in (b"", b"\x00\x04\x35", b"\x00\x04\x37", b"\x00\x04\x10"):
        assert GARBAGE_SERVER.handle(BOB_JID, msg.encode_text(prefix + data), NOW) in ([],)


def test_unexpected_message_types_ignored(server: PrekeyServer) -> None:
    for m in (
        msg.Success(1, bytes(64)),
        msg.StorageStatus(1, 2, bytes(64)),
        msg.NoEnsembles(1, "x"),
    ):
        assert server.handle(BOB_JID, msg.encode_text(m.encode()), NOW) == []
    pm = PrekeyMessage(1, 0x1234, BOB.shared.public, 4)
    assert server.handle(BOB_JID, msg.encode_text(pm.encode()), NOW) == []


def test_bare_jid_and_domains() -> None:
    assert bare_jid("a@b.c/res/x") == "a@b.c" and bare_jid("a@b.c") == "a@b.c"
    assert ServerSettings("prekey.example.org").publishing_domains() == {"example.org"}
    assert ServerSettings("p.x", local_domains=frozenset({"A.org"})).publishing_domains() == {
        "a.org"
    }


GARBAGE_SERVER = PrekeyServer(SqliteStorage(":memory:"), ServerSettings(SERVER_ID), make_rng(8))


def test_is_retrieval_routing_hint() -> None:
    from otr.prekey.server import is_retrieval

    query = msg.encode_text(msg.EnsembleQuery(1, "bob@example.org", b"4").encode())
    assert is_retrieval(query)
    assert not is_retrieval(make_client(BOB, 3).request_storage_status()[0])
    assert not is_retrieval("?OTRP|1|2|3,1,2,AAQQ,")


def test_oversized_raw_text_dropped_before_parsing(db: Path) -> None:
    server = _server(db, max_message_chars=1000)
    assert server.handle(BOB_JID, "?OTRP|1|2|0,1,2," + "A" * 2000 + ",", NOW) == []
    assert server.handle(BOB_JID, "A" * 5000 + ".", NOW) == []
    server.storage.close()


# -- batches (group commit) ---------------------------------------------------------


class _CountingStorage(SqliteStorage):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def take_batch(self, requests, now):  # type: ignore[no-untyped-def]
        self.batches.append(len(requests))
        return super().take_batch(requests, now)


def test_handle_batch_answers_retrievals_from_one_transaction(db: Path) -> None:
    storage = _CountingStorage(db)
    server = PrekeyServer(
        storage,
        ServerSettings(SERVER_ID, limits=RateLimits(retrievals_per_requester=(0.0, 1.0))),
        make_rng(7),
    )
    _publish(server, n=3)
    alice, carol, again = make_client(ALICE, 4), make_client(ALICE, 5), make_client(ALICE, 6)
    work = [(ALICE_JID, alice.retrieve("bob@example.org")[0]), (ALICE_JID, "garbage")]
    work += [("carol@remote.net/x", carol.retrieve("bob@example.org")[0])]
    work += [(ALICE_JID, again.retrieve("bob@example.org")[0])]  # rate-limited: no pop
    replies = server.handle_batch(work, NOW)
    assert storage.batches == [2]
    assert replies[1] == []
    ids = set()
    for client, (reply,) in ((alice, replies[0]), (carol, replies[2])):
        (got,) = client.receive(reply, NOW)
        assert isinstance(got, pc.EnsemblesReceived)
        ids.add(got.ensembles[0].prekey_message.identifier)
    assert len(ids) == 2  # one target twice in a batch: two prekeys
    (refused,) = again.receive(replies[3][0], NOW)
    assert isinstance(refused, pc.NoEnsemblesReceived) and "Too many" in refused.text
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 1
    storage.close()


def test_handle_batch_storage_failure_raises_and_delivers_nothing(db: Path) -> None:
    """Each reply only after the commit that covers it: a batch whose transaction
    fails raises (the host sends no reply of it) and hands nothing out."""
    server = _server(db)
    _publish(server, n=2)
    before = snapshot(db)
    query = make_client(ALICE, 4).retrieve("bob@example.org")[0]

    def broken(requests: object, now: float) -> list[list[bytes]]:
        raise sqlite3.OperationalError("disk I/O error")

    server.storage.take_batch = broken  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        server.handle_batch([(ALICE_JID, query), ("carol@remote.net/x", query)], NOW)
    assert snapshot(db) == before
    server.storage.close()
