"""The sans-I/O prekey client (otr.prekey.client): requests, and every answer
of a lying server rejected or filtered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from otr.errors import LocalProtocolError
from otr.prekey import client as pc
from otr.prekey import messages as msg
from otr.prekey.server import PrekeyServer, ServerSettings
from otr.prekey.storage.sqlite import SqliteStorage
from otr.v4.keys import Ed448KeyPair
from otr.v4.prekeys import PrekeyEnsemble, generate_prekey_message
from otr.v4.profiles import build_prekey_profile
from prekey_util import NOW, SERVER_ID, make_client, make_party, make_rng, pump

BOB = make_party("bob@example.org", 0x1234, 1)
BOB_JID = "bob@example.org/phone"
ALICE = make_party("alice@remote.net", 0x5678, 2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrekeyServer]:
    s = PrekeyServer(SqliteStorage(tmp_path / "p.db"), ServerSettings(SERVER_ID), make_rng(7))
    yield s
    s.storage.close()


def _rejected(events: list[pc.ClientEvent]) -> bool:
    return len(events) == 1 and isinstance(events[0], pc.AnswerRejected)


def test_wrong_fingerprint_stops_the_dake(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3, server_fingerprint=bytes(56))
    (dake2,) = server.handle(BOB_JID, bob.publish(prekey_messages=2)[0], NOW)
    assert _rejected(bob.receive(dake2, NOW))
    assert len(bob.store) == 0 and bob.busy


def test_wrong_server_identity_stops_the_dake(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3, server_identity="other.example.org")
    (dake2,) = server.handle(BOB_JID, bob.request_storage_status()[0], NOW)
    assert _rejected(bob.receive(dake2, NOW))


def test_answers_with_bad_macs_or_tags_are_rejected(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3)
    (dake2,) = server.handle(BOB_JID, bob.request_storage_status()[0], NOW)
    (dake3,) = bob.receive(dake2, NOW)
    assert isinstance(dake3, pc.SendToServer)
    (status_text,) = server.handle(BOB_JID, dake3.text, NOW)
    status = msg.decode_message(msg.decode_text(status_text))
    assert isinstance(status, msg.StorageStatus)
    request = bob._request
    assert request is not None and request.keys is not None
    lies = [
        replace(status, count=status.count + 100),  # MAC covers the count
        replace(status, receiver_tag=0x999),
        replace(status, mac=bytes(64)),
        msg.Success(BOB.tag, status.mac),
        msg.Success(BOB.tag, request.keys.success_mac(BOB.tag)),  # right MAC, wrong kind
        msg.Failure(BOB.tag, bytes(64)),
        msg.Dake2(
            BOB.tag,
            SERVER_ID,
            BOB.keypair.public,
            BOB.keypair.public,
            msg.RingSignature(1, 2, 3, 4, 5, 6),
        ),
    ]
    for lie in lies:
        assert _rejected(bob.receive(msg.encode_text(lie.encode()), NOW))
    assert bob.receive(status_text, NOW) == [pc.StorageStatusReceived(0)]
    assert not bob.busy
    assert _rejected(bob.receive(status_text, NOW))  # replay: no request in flight
    assert _rejected(bob.receive("not a message", NOW))


def test_verified_failure_forgets_the_prekeys(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3)
    (dake2,) = server.handle(BOB_JID, bob.publish(prekey_messages=3)[0], NOW)
    (_dake3,) = bob.receive(dake2, NOW)
    assert len(bob.store) == 3  # kept before sending
    request = bob._request
    assert request is not None and request.keys is not None
    failure = msg.Failure(BOB.tag, request.keys.failure_mac(BOB.tag))
    assert bob.receive(msg.encode_text(failure.encode()), NOW) == [pc.PublicationFailed()]
    assert len(bob.store) == 0


def test_one_request_at_a_time() -> None:
    bob = make_client(BOB, 3)
    bob.request_storage_status()
    with pytest.raises(LocalProtocolError):
        bob.publish(prekey_messages=1)
    with pytest.raises(LocalProtocolError):
        bob.retrieve("x@y")
    bob.cancel()
    bob.retrieve("x@y")
    with pytest.raises(ValueError):
        make_client(BOB, 4).publish(prekey_messages=256)


def test_top_up_publishes_below_threshold(server: PrekeyServer) -> None:
    bob = make_client(BOB, 3, top_up_threshold=5, top_up_target=8)
    assert pump(bob, server, bob.top_up(), BOB_JID) == [
        pc.StorageStatusReceived(0),
        pc.PublicationSucceeded(8),
    ]
    assert server.storage.count_prekeys("bob@example.org", BOB.tag) == 8
    assert pump(bob, server, bob.top_up(), BOB_JID) == [pc.StorageStatusReceived(8)]
    for _ in range(4):
        server.storage.take_ensembles("bob@example.org", NOW, "someone")
    assert pump(bob, server, bob.top_up(), BOB_JID) == [
        pc.StorageStatusReceived(4),
        pc.PublicationSucceeded(4),
    ]
    assert len(bob.store) == 12


def _retrieval(
    alice: pc.PrekeyClient,
    ensembles: list[PrekeyEnsemble],
    *,
    tag: int | None = None,
    identity: str = "bob@example.org",
) -> list[pc.ClientEvent]:
    alice.retrieve("bob@example.org")
    answer = msg.EnsembleRetrieval(ALICE.tag if tag is None else tag, identity, tuple(ensembles))
    return alice.receive(msg.encode_text(answer.encode()), NOW)


def test_lying_ensemble_retrievals() -> None:
    pm = generate_prekey_message(BOB.tag, make_rng(5)).public()
    good = PrekeyEnsemble(BOB.client_profile, BOB.prekey_profile, pm)
    alice = make_client(ALICE, 4)
    assert _rejected(_retrieval(alice, [good], tag=0x9999))
    alice.cancel()
    assert _rejected(_retrieval(alice, [good], identity="mallory@example.org"))
    alice.cancel()
    forged_pp = build_prekey_profile(
        Ed448KeyPair.generate(make_rng(6)), BOB.tag, int(NOW) + 99, BOB.shared.public
    )
    expired = make_party("bob@example.org", 0x4444, 7, expires=NOW - 5)
    bad = [
        replace(good, prekey_profile=forged_pp),  # bad signature
        replace(good, prekey_message=replace(pm, instance_tag=0x4321)),  # mixed tags
        PrekeyEnsemble(
            expired.client_profile, expired.prekey_profile, replace(pm, instance_tag=0x4444)
        ),
        good,  # duplicate
    ]
    (got,) = _retrieval(alice, [good, *bad])
    assert isinstance(got, pc.EnsemblesReceived)
    assert got.ensembles == [good] and got.discarded == 4
    (none,) = _retrieval(alice, bad[:3])
    assert isinstance(none, pc.EnsemblesReceived) and none.ensembles == [] and none.discarded == 3
    alice.retrieve("bob@example.org")
    no = msg.NoEnsembles(ALICE.tag, "bob@example.org")
    assert alice.receive(msg.encode_text(no.encode()), NOW) == [
        pc.NoEnsemblesReceived("bob@example.org", msg.NO_ENSEMBLES_TEXT)
    ]


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        pc.PrekeyClient(
            identity="b@x",
            server_identity=SERVER_ID,
            keypair=BOB.keypair,
            client_profile=BOB.client_profile,
            rng=make_rng(1),
            prekey_profile=BOB.prekey_profile,
        )
    with pytest.raises(ValueError):
        pc.PrekeyClient(
            identity="b@x",
            server_identity=SERVER_ID,
            keypair=BOB.keypair,
            client_profile=BOB.client_profile,
            rng=make_rng(1),
            prekey_profile=BOB.prekey_profile,
            shared_prekey=ALICE.shared,
        )
