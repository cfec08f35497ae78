"""Offline conversation starts (otr.v4.offline, Conversation.start_offline): two
of our Conversations, Bob publishing an ensemble (handed over) and Alice
starting with a first message while he is offline; refused ensembles; replays;
the interactive-only mode; an independent re-derivation of the XZDH keys from
the spec text; mutated Non-Interactive-Auth messages (hypothesis)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otr import events as ev
from otr.conversation import Conversation
from otr.crypto.dsa import generate_dsa_key
from otr.errors import LocalProtocolError
from otr.instance import MsgState
from otr.limits import Limits
from otr.policy import Policy
from otr.prekey.secrets import PrekeySecretStore, StoredPrekey
from otr.v4.keys import Ed448KeyPair, ForgingKey
from otr.v4.offline import OfflineKeys, choose_ensembles
from otr.v4.prekeys import PrekeyEnsemble, PrekeyMessageSecrets, generate_prekey_message
from otr.v4.profiles import PrekeyProfile, build_client_profile, build_prekey_profile
from otr.v4.session import V4Credentials, V4Mode, V4Settings
from otr.wire import envelope
from otr.wire.buffer import encode_mpi
from otr.wire.v4.non_interactive import NonInteractiveAuth

NOW = 1_800_000_000.0
DAY = 86400
DSA_A, DSA_B = generate_dsa_key(), generate_dsa_key()
TAG_A, TAG_B = 0x1111_1111, 0x2222_2222
ALICE_ID, BOB_ID = "alice@example.org", "bob@example.org"


@dataclass
class Publisher:
    """Bob's OTRv4 identity with his published prekey values."""

    creds: V4Credentials
    shared: Ed448KeyPair
    prekey_profile: PrekeyProfile
    store: PrekeySecretStore
    prekeys: list[PrekeyMessageSecrets]

    def ensemble(self, index: int = 0) -> PrekeyEnsemble:
        return PrekeyEnsemble(self.creds.profile, self.prekey_profile, self.prekeys[index].public())

    def with_store(self) -> V4Credentials:
        return replace(self.creds, prekeys=OfflineKeys(self.store, (self.prekey_profile,)))


def identity(tag: int, expires: float = NOW + 14 * DAY) -> V4Credentials:
    kp = Ed448KeyPair.generate(os.urandom)
    forging = ForgingKey.generate(os.urandom)
    profile = build_client_profile(kp, forging.public, tag, "4", int(expires))
    return V4Credentials(kp, forging, profile)


def publisher(
    tag: int = TAG_B, count: int = 2, path: Path | None = None, expires: float = NOW + 14 * DAY
) -> Publisher:
    creds = identity(tag, expires)
    shared = Ed448KeyPair.generate(os.urandom)
    pp = build_prekey_profile(creds.keypair, tag, int(expires), shared.public)
    store = PrekeySecretStore(path)
    store.add_shared_prekey(tag, pp.expiration, shared.sym_key)
    prekeys = [generate_prekey_message(tag, os.urandom) for _ in range(count)]
    store.add_prekeys([StoredPrekey.of(p) for p in prekeys])
    return Publisher(creds, shared, pp, store, prekeys)


CREDS_A = identity(TAG_A)
BOB = publisher()


def conv(
    who: str, v4: V4Credentials, mode: V4Mode = V4Mode.STANDALONE, limits: Limits | None = None
) -> Conversation:
    a = who == "alice"
    c = Conversation(
        DSA_A if a else DSA_B,
        BOB_ID if a else ALICE_ID,
        account=ALICE_ID if a else BOB_ID,
        protocol="xmpp",
        policy=Policy.named("MANUAL").with_versions(frozenset({4})),
        instance_tag=TAG_A if a else TAG_B,
        v4=v4,
        v4_settings=V4Settings(mode=mode),
        limits=limits,
    )
    c.reraise_internal_errors = True
    return c


def sent(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.SendMessage)]


def deliver(to: Conversation, texts: list[str], now: float = NOW) -> list[ev.Event]:
    return [e for t in texts for e in to.receive(t, now)]


def texts(events: list[ev.Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, ev.MessageReceived)]


def of_type(events: list[ev.Event], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def test_offline_start_then_both_continue(tmp_path: Path) -> None:
    bob_id = publisher(path=tmp_path / "prekeys.json")
    alice = conv("alice", CREDS_A)
    out = alice.start_offline([bob_id.ensemble()], NOW, text="hello, offline Bob")
    (secured,) = of_type(out, ev.SessionSecured)
    assert secured.offline and secured.version == 4 and secured.their_instance == TAG_B
    assert alice.is_encrypted and alice.their_instance == TAG_B
    wire = sent(out)
    assert len(wire) == 2  # the Non-Interactive-Auth message, then the data message
    assert NonInteractiveAuth.decode(envelope.decode_otr_message(wire[0])).receiver_tag == TAG_B

    # Bob comes online later (a new process: the store is read back from its file)
    stored = PrekeySecretStore(tmp_path / "prekeys.json")
    assert (tmp_path / "prekeys.json").stat().st_mode & 0o777 == 0o600
    creds = replace(bob_id.creds, prekeys=OfflineKeys(stored, (bob_id.prekey_profile,)))
    bob = conv("bob", creds)
    got = deliver(bob, wire, NOW + 3600)
    (bob_secured,) = of_type(got, ev.SessionSecured)
    assert bob_secured.offline and bob_secured.ssid == secured.ssid
    assert bob_secured.their_fingerprint == CREDS_A.profile.fingerprint()
    assert bob_secured.ssid_first_half_bold != secured.ssid_first_half_bold
    assert texts(got) == ["hello, offline Bob"]
    identifier = bob_id.prekeys[0].identifier
    assert not stored.has_prekey(identifier) and stored.has_prekey(bob_id.prekeys[1].identifier)
    assert not PrekeySecretStore(tmp_path / "prekeys.json").has_prekey(identifier)  # persisted

    # both continue in the ratchet, several rounds each way (DH ratchets included)
    for i in range(4):
        assert texts(deliver(alice, sent(bob.send(f"b{i}", NOW + 3601)), NOW + 3602)) == [f"b{i}"]
        assert texts(deliver(bob, sent(alice.send(f"a{i}", NOW + 3603)), NOW + 3604)) == [f"a{i}"]
        assert texts(deliver(bob, sent(alice.send(f"a{i}'", NOW + 3603)), NOW + 3604)) == [f"a{i}'"]
    # the replayed Non-Interactive-Auth message is rejected and changes nothing
    replay = bob.receive(wire[0], NOW + 3700)
    assert of_type(replay, ev.MessageUnreadable) and not of_type(replay, ev.SessionSecured)
    assert bob.ssid == secured.ssid
    assert texts(deliver(alice, sent(bob.send("still here", NOW + 3701)), NOW + 3702)) == [
        "still here"
    ]


def test_alice_may_send_more_before_bob_answers() -> None:
    bob_id = publisher()
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW))
    assert len(wire) == 1  # no text: only the Non-Interactive-Auth message
    wire += sent(alice.send("one", NOW)) + sent(alice.send("two", NOW))
    bob = conv("bob", bob_id.with_store())
    assert texts(deliver(bob, wire)) == ["one", "two"]
    assert texts(deliver(alice, sent(bob.send("ack", NOW)))) == ["ack"]


def test_one_instance_per_tag_and_every_instance() -> None:
    bob_id = publisher(count=3)
    other_device = publisher(tag=0x3333_3333)
    alice = conv("alice", CREDS_A)
    ensembles = [bob_id.ensemble(0), bob_id.ensemble(1), other_device.ensemble(0)]
    out = alice.start_offline(ensembles, NOW, text="hi")
    assert {e.their_instance for e in of_type(out, ev.SessionSecured)} | {
        e.their_instance for e in of_type(out, ev.OtherInstanceSecured)
    } == {TAG_B, 0x3333_3333}
    (refused,) = of_type(out, ev.EnsembleRefused)
    assert refused.instance_tag == TAG_B and "another ensemble" in refused.reason
    assert len(sent(out)) == 4  # a Non-Interactive-Auth and "hi" for each instance
    chosen, _ = choose_ensembles([*ensembles, ensembles[0]], NOW)  # duplicates dropped
    assert [e.instance_tag for e in chosen] == [TAG_B, 0x3333_3333]


def test_refused_ensembles() -> None:
    alice = conv("alice", CREDS_A)
    good = BOB.ensemble()
    stranger = publisher()
    cases = {
        "expired": (good, NOW + 30 * DAY, "Client Profile is invalid"),
        "foreign prekey profile": (
            replace(good, prekey_profile=stranger.prekey_profile),
            NOW,
            "Prekey Profile is invalid",
        ),
        "mismatched prekey message": (
            replace(good, prekey_message=replace(good.prekey_message, instance_tag=0x4444_4444)),
            NOW,
            "different instance tags",
        ),
    }
    for ensemble, now, reason in cases.values():
        out = alice.start_offline([ensemble], now, text="secret")
        (refused,) = of_type(out, ev.EnsembleRefused)
        assert reason in refused.reason and refused.instance_tag == TAG_B
        (not_sent,) = of_type(out, ev.MessageNotSent)
        assert not_sent.text == "secret" and not sent(out)
        assert alice.msgstate is MsgState.PLAINTEXT and not alice.sessions


def test_local_errors_raise_before_anything_is_sent() -> None:
    with pytest.raises(LocalProtocolError):
        conv("alice", CREDS_A, V4Mode.INTERACTIVE_ONLY).start_offline([BOB.ensemble()], NOW)
    no_v4 = Conversation(DSA_A, BOB_ID, instance_tag=TAG_A)
    with pytest.raises(LocalProtocolError):
        no_v4.start_offline([BOB.ensemble()], NOW)
    alice = conv("alice", CREDS_A)
    with pytest.raises(LocalProtocolError):
        alice.start_offline([BOB.ensemble()], NOW, text="a\0b")
    assert not alice.sessions


def _nia(bob_id: Publisher) -> str:
    return sent(conv("alice", CREDS_A).start_offline([bob_id.ensemble()], NOW))[0]


def test_bob_refuses_without_prekeys_or_in_interactive_only_mode() -> None:
    bob_id = publisher()
    nia = _nia(bob_id)
    for bob in (
        conv("bob", bob_id.creds),  # no store: cannot answer offline starts
        conv("bob", bob_id.with_store(), V4Mode.INTERACTIVE_ONLY),
        conv("bob", replace(bob_id.creds, prekeys=OfflineKeys(bob_id.store, ()))),
    ):
        out = bob.receive(nia, NOW)
        assert of_type(out, ev.MessageUnreadable) and not bob.is_encrypted
    assert bob_id.store.has_prekey(bob_id.prekeys[0].identifier)  # nothing burnt
    assert of_type(conv("bob", bob_id.with_store()).receive(nia, NOW), ev.SessionSecured)


def test_overlapping_prekey_profiles() -> None:
    """Bob renewed his Prekey Profile: a message built on the old one still verifies."""
    bob_id = publisher()
    nia = _nia(bob_id)
    renewed = Ed448KeyPair.generate(os.urandom)
    bob_id.store.add_shared_prekey(TAG_B, int(NOW + 20 * DAY), renewed.sym_key)
    new_pp = build_prekey_profile(bob_id.creds.keypair, TAG_B, int(NOW + 20 * DAY), renewed.public)
    creds = replace(
        bob_id.creds, prekeys=OfflineKeys(bob_id.store, (new_pp, bob_id.prekey_profile))
    )
    assert of_type(conv("bob", creds).receive(nia, NOW), ev.SessionSecured)


# -- Bob renewed his Client Profile after publishing -----------------------------------


def test_previous_client_profile_is_accepted_until_it_expires() -> None:
    bob_id = publisher()
    nia = _nia(bob_id)  # Alice used an ensemble with Bob's first Client Profile
    kp, forging = bob_id.creds.keypair, bob_id.creds.forging_key
    renewed = build_client_profile(kp, forging.public, TAG_B, "4", int(NOW + 20 * DAY))
    old = bob_id.creds.profile
    renewed_only = replace(bob_id.with_store(), profile=renewed)
    refused = conv("bob", renewed_only).receive(nia, NOW)
    assert of_type(refused, ev.MessageUnreadable) and not of_type(refused, ev.SessionSecured)
    with_previous = replace(renewed_only, previous_profiles=(old,))
    assert of_type(conv("bob", with_previous).receive(nia, NOW), ev.SessionSecured)
    assert bob_id.store.has_prekey(bob_id.prekeys[1].identifier)
    # an expired previous profile is not tried (a message on the second prekey)
    late = NOW + 14 * DAY + 1
    stale = PrekeyEnsemble(old, bob_id.prekey_profile, bob_id.prekeys[1].public())
    nia2 = sent(conv("alice", identity(TAG_A, late + DAY)).start_offline([stale], NOW))[0]
    assert of_type(conv("bob", with_previous).receive(nia2, late), ev.MessageUnreadable)
    assert of_type(conv("bob", with_previous).receive(nia2, late - 2), ev.SessionSecured)


def test_identity_keeps_the_replaced_profile_across_a_restart(tmp_path: Path) -> None:
    from otr.storage.identity import IdentityStore
    from otr.v4.identity import PROFILE_RENEW_BEFORE, Identity

    bob = Identity.generate(BOB_ID, "xmpp", os.urandom, NOW, instance_tag=TAG_B)
    assert bob.client_profile is not None and bob.v4 is not None
    first = bob.client_profile
    shared = Ed448KeyPair.generate(os.urandom)
    pp = build_prekey_profile(bob.v4.long_term, TAG_B, int(NOW + 20 * DAY), shared.public)
    store = PrekeySecretStore()
    store.add_shared_prekey(TAG_B, pp.expiration, shared.sym_key)
    prekey = generate_prekey_message(TAG_B, os.urandom)
    store.add_prekeys([StoredPrekey.of(prekey)])
    ensemble = PrekeyEnsemble(first, pp, prekey.public())  # published, then retrieved
    renewal = first.expiration - PROFILE_RENEW_BEFORE + 1
    assert bob.renew_profile(renewal, os.urandom)
    assert bob.previous_profiles == [first] and bob.client_profile is not first
    keys = IdentityStore()
    keys.set(bob)
    keys.save(tmp_path / "otr.identities")
    loaded = IdentityStore.from_file(tmp_path / "otr.identities").get(BOB_ID, "xmpp")
    assert loaded is not None
    assert [p.encode() for p in loaded.previous_profiles] == [first.encode()]
    creds = replace(V4Credentials.from_identity(loaded), prekeys=OfflineKeys(store, (pp,)))
    nia = sent(conv("alice", CREDS_A).start_offline([ensemble], renewal + 10))[0]
    assert of_type(conv("bob", creds).receive(nia, renewal + 20), ev.SessionSecured)
    assert not loaded.renew_profile(first.expiration + 1, os.urandom)  # still fresh
    assert loaded.previous_profiles == []  # the old one expired: forgotten


# -- the prekey's removal cannot be saved ----------------------------------------------


def test_unsaved_prekey_removal_is_reported_and_the_secret_never_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from otr.prekey import secrets as secrets_module

    path = tmp_path / "prekeys.json"
    bob_id = publisher(path=path)
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW, text="hi"))
    real_write = secrets_module.atomic_write

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(secrets_module, "atomic_write", disk_full)
    bob = conv("bob", bob_id.with_store())
    got = deliver(bob, wire)  # does not raise
    assert of_type(got, ev.SessionSecured) and texts(got) == ["hi"]
    identifier = bob_id.prekeys[0].identifier
    (unsaved,) = of_type(got, ev.PrekeyNotSaved)
    assert unsaved.identifier == identifier and "No space left" in unsaved.reason
    assert bob_id.store.unsaved and not bob_id.store.has_prekey(identifier)
    replay = conv("bob", bob_id.with_store()).receive(wire[0], NOW)  # this process: never again
    assert of_type(replay, ev.MessageUnreadable) and not of_type(replay, ev.SessionSecured)
    assert PrekeySecretStore(path).has_prekey(identifier)  # the file is behind ...
    monkeypatch.setattr(secrets_module, "atomic_write", real_write)
    bob_id.store.save()  # ... until the next save
    assert not bob_id.store.unsaved and not PrekeySecretStore(path).has_prekey(identifier)
    assert texts(deliver(alice, sent(bob.send("ok", NOW)))) == ["ok"]  # the session works on


# -- data messages that overtake their Non-Interactive-Auth ----------------------------


def test_data_messages_before_their_non_interactive_auth_are_held() -> None:
    bob_id = publisher()
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW, text="one"))
    wire += sent(alice.send("two", NOW))
    bob = conv("bob", bob_id.with_store())
    early = deliver(bob, wire[:0:-1], NOW + 10)  # "two", then "one": before the auth
    assert early == [] and bob.next_deadline() == NOW + 10 + Limits().offline_early_age
    got = bob.receive(wire[0], NOW + 20)
    assert of_type(got, ev.SessionSecured) and texts(got) == ["two", "one"]
    assert not of_type(got, ev.MessageUnreadable) and bob.next_deadline() != NOW + 310
    assert texts(deliver(alice, sent(bob.send("ack", NOW + 21)))) == ["ack"]


def test_held_messages_are_bounded_and_reported_when_the_auth_never_comes() -> None:
    bob_id = publisher()
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW, text="one"))
    for n in ("two", "three"):
        wire += sent(alice.send(n, NOW))
    limits = Limits(offline_early_count=2, offline_early_age=60.0)
    bob = conv("bob", bob_id.with_store(), limits=limits)
    assert deliver(bob, wire[1:3], NOW) == []
    third = bob.receive(wire[3], NOW)  # over the count: as without a hold
    (unreadable,) = of_type(third, ev.MessageUnreadable)
    assert unreadable.peer_told and len(sent(third)) == 1 and "ERROR" in sent(third)[0]
    assert bob.handle_timer(NOW + 59) == []
    assert bob.next_deadline() == NOW + 60
    late = bob.handle_timer(NOW + 60)
    assert len(of_type(late, ev.MessageUnreadable)) == 2 and len(sent(late)) == 2
    assert "Non-Interactive-Auth" in of_type(late, ev.MessageUnreadable)[0].reason
    assert bob.next_deadline() is None
    after = bob.receive(wire[0], NOW + 61)  # the auth, too late for them
    assert of_type(after, ev.SessionSecured) and texts(after) == []

    # bytes: a bound of one message's size holds one
    bob_id = publisher()
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW, text="x"))
    wire += sent(alice.send("y", NOW))
    size = len(envelope.decode_otr_message(wire[1]))
    bob = conv("bob", bob_id.with_store(), limits=Limits(offline_early_bytes=size))
    assert bob.receive(wire[1], NOW) == []
    assert of_type(bob.receive(wire[2], NOW), ev.MessageUnreadable)
    assert texts(bob.receive(wire[0], NOW)) == ["x"]


def test_no_hold_without_offline_starts() -> None:
    bob_id = publisher()
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW, text="one"))
    for bob in (
        conv("bob", bob_id.creds),
        conv("bob", bob_id.with_store(), V4Mode.INTERACTIVE_ONLY),
    ):
        assert of_type(bob.receive(wire[1], NOW), ev.MessageUnreadable)
        assert bob.next_deadline() is None


# -- the derivation against an independent reading of the spec ---------------------------


def _kdf(usage: int, value: bytes, size: int) -> bytes:
    """otr-v4.md "Key Derivation Functions": SHAKE-256("OTRv4" || usage || value)."""
    return hashlib.shake_256(b"OTRv4" + bytes([usage]) + value).digest(size)


def test_bob_keys_match_the_spec_text() -> None:
    """Recompute Bob's side of "Non-Interactive DAKE Overview" from the received
    message and his secrets, with hashlib and plain integer arithmetic, and check
    the SSID the Conversation reports, the Auth MAC and the first chain key (it
    must open Alice's first data message)."""
    from otr.crypto import dh3072

    bob_id = publisher()
    alice = conv("alice", CREDS_A)
    wire = sent(alice.start_offline([bob_id.ensemble()], NOW, text="first"))
    m = NonInteractiveAuth.decode(envelope.decode_otr_message(wire[0]))
    pk = bob_id.prekeys[0]
    k_ecdh = (m.x * pk.ecdh.secret).encode()
    k_dh = int(pow(m.a, pk.dh.secret, int(dh3072.DH_P)))
    brace = _kdf(0x01, k_dh.to_bytes((k_dh.bit_length() + 7) // 8, "big"), 32)
    with_d = (m.x * bob_id.shared.secret).encode()
    with_h = (m.x * bob_id.creds.keypair.secret).encode()
    tmp_k = _kdf(0x0C, k_ecdh + with_d + with_h + brace, 64)
    k = _kdf(0x03, tmp_k, 64)
    assert alice.ssid == _kdf(0x04, k, 8)
    # t and the Auth MAC (phi: sender tag, receiver tag, first ECDH, first DH, ids)
    phi = (
        TAG_A.to_bytes(4, "big")
        + TAG_B.to_bytes(4, "big")
        + m.first_ecdh.encode()
        + encode_mpi(m.first_dh)
        + len(ALICE_ID).to_bytes(4, "big")
        + ALICE_ID.encode()
        + len(BOB_ID).to_bytes(4, "big")
        + BOB_ID.encode()
    )
    t = (
        _kdf(0x0E, bob_id.creds.profile.encode(), 64)
        + _kdf(0x0F, m.client_profile.encode(), 64)
        + pk.ecdh.public.encode()
        + m.x.encode()
        + encode_mpi(pk.dh.public)
        + encode_mpi(m.a)
        + bob_id.shared.public.encode()
        + _kdf(0x10, phi, 64)
    )
    assert m.auth_mac == _kdf(0x11, _kdf(0x0D, tmp_k, 64) + t, 64)
    # Alice's first data message is sealed with chain_key_sending[0] = KDF(0x13, K)
    from otr.v4.datacrypt import open_message
    from otr.wire.v4.data import DataMessage4

    data = DataMessage4.decode(envelope.decode_otr_message(wire[1]))
    section = data.authenticated_section()
    opened = open_message(
        _kdf(0x13, k, 64), section, len(section) - len(data.ciphertext), data.authenticator
    )
    assert opened is not None and opened[0].startswith(b"first\0")


# -- mutated Non-Interactive-Auth messages -----------------------------------------------

MUTANT_BOB = publisher()
MUTANT_NIA = envelope.decode_otr_message(_nia(MUTANT_BOB))


@settings(max_examples=40, deadline=None)
@given(
    pos=st.integers(0, len(MUTANT_NIA) - 1),
    bit=st.integers(0, 7),
    cut=st.booleans(),
)
def test_mutated_non_interactive_auth_never_raises_and_changes_nothing(
    pos: int, bit: int, cut: bool
) -> None:
    data = bytearray(MUTANT_NIA)
    if cut:
        del data[pos:]
    else:
        data[pos] ^= 1 << bit
    bob = conv("bob", MUTANT_BOB.with_store())
    bob.reraise_internal_errors = False
    out = bob.receive(envelope.encode_otr_message(bytes(data)), NOW)
    assert not of_type(out, ev.SessionSecured)
    assert not bob.is_encrypted
    assert all(s.msgstate is MsgState.PLAINTEXT for s in bob.sessions.values())
    assert MUTANT_BOB.store.has_prekey(MUTANT_BOB.prekeys[0].identifier)


def test_held_messages_meet_an_interactive_dake_instead() -> None:
    """Bob holds a message for an offline start, but an interactive DAKE with that
    instance completes first: the message is tried on its keys and reported."""
    bob_id = publisher()
    offline_alice = conv("alice", CREDS_A)
    held = sent(offline_alice.start_offline([bob_id.ensemble()], NOW, text="lost"))[1]
    bob = conv("bob", bob_id.with_store())
    assert bob.receive(held, NOW) == []
    alice = conv("alice", CREDS_A)
    to_bob, at_bob = sent(alice.start(NOW)), []
    while to_bob:  # the interactive DAKE
        got = deliver(bob, to_bob)
        at_bob += got
        to_bob = sent(deliver(alice, sent(got)))
    assert bob.is_encrypted and alice.is_encrypted
    (unreadable,) = of_type(at_bob, ev.MessageUnreadable)  # tried on the new keys
    assert not unreadable.peer_told
    assert bob.next_deadline() != NOW + Limits().offline_early_age
    late = bob.handle_timer(NOW + Limits().offline_early_age)
    assert not of_type(late, ev.MessageUnreadable) and not sent(late)
