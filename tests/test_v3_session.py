"""OTRv3 data messages and key management (spec "Data Message", "Key Management",
"Revealing MAC keys", "Extra symmetric key")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED
from otr.accelerator import ACCELERATED
from otr.crypto import modp
from otr.errors import RemoteProtocolError
from otr.v3 import datacrypt, session
from otr.v3.ake import Ake, AkeResult, DHKeyPair
from otr.v3.session import DataSession, SessionKeys
from otr.wire import envelope
from otr.wire import v3 as w
from v3_util import CountingRng, dsa_key

T = TypeVar("T")

KAT: dict[str, Any] = json.loads(
    (SHARED / "spec" / "vectors" / "otrv3-coyim-otr3-kat.json").read_text()
)


def test_kat_session_keys() -> None:
    k = KAT["data_message_keys"]
    x = int(k["our_private_hex"], 16)
    ours = DHKeyPair(x, modp.powmod_g(x))
    assert int(ours.gx) == int(k["our_public_hex"], 16)
    sk = SessionKeys(ours, int(k["their_public_hex"], 16))
    assert sk.send_key.hex() == k["sending_aes"]
    assert sk.send_mac.hex() == k["sending_mac"]
    assert sk.rcv_key.hex() == k["receiving_aes"]
    assert sk.rcv_mac.hex() == k["receiving_mac"]
    assert sk.extra_key.hex() == k["extra_key"]


def ake(seed: str = "s") -> tuple[AkeResult, AkeResult]:
    alice = Ake(dsa_key("alice"), CountingRng(seed + "a"))
    bob = Ake(dsa_key("bob"), CountingRng(seed + "b"))
    k = alice.receive(3, bob.start(3))
    assert k.reply is not None
    rs = bob.receive(3, k.reply)
    assert rs.reply is not None
    sig = alice.receive(3, rs.reply)
    assert sig.reply is not None and sig.result is not None
    done = bob.receive(3, sig.reply)
    assert done.result is not None
    return sig.result, done.result


def sessions(seed: str = "s", version: int = 3) -> tuple[DataSession, DataSession]:
    ra, rb = ake(seed)
    a = DataSession(ra, version, 0x100, 0x200, CountingRng(seed + "A"))
    b = DataSession(rb, version, 0x200, 0x100, CountingRng(seed + "B"))
    return a, b


def seal(src: DataSession, text: bytes, flags: int = 0) -> bytes:
    """``src.encrypt`` as the binary message."""
    return envelope.decode_otr_message(src.encrypt(text, flags))


def deliver(src: DataSession, dst: DataSession, text: bytes, flags: int = 0) -> bytes:
    binary = seal(src, text, flags)
    decoded = w.decode_message(binary)
    if src.version == 3:
        assert decoded.header.sender_instance == src.our_instance
        assert decoded.header.receiver_instance == src.their_instance
    msg = decoded.message
    assert isinstance(msg, w.DataMessage) and msg.flags == flags
    return dst.decrypt(binary).plaintext


@pytest.mark.parametrize("version", [2, 3])
def test_messages_both_ways_with_rotation(version: int) -> None:
    a, b = sessions("rot", version)
    for i in range(6):
        assert deliver(a, b, b"ping %d" % i) == b"ping %d" % i
        assert deliver(b, a, b"pong %d" % i) == b"pong %d" % i
    # Keys rotated: key ids advanced on both sides.
    assert a.our_keyid > 3 and b.our_keyid > 3
    assert len(a.our_dh) == 2 and len(a.their_y) <= 2


def test_one_way_stream_and_counters() -> None:
    a, b = sessions("oneway")
    seen = set()
    for i in range(20):
        binary = seal(a, b"m%d" % i)
        msg = w.decode_message(binary).message
        assert isinstance(msg, w.DataMessage)
        assert msg.ctr != bytes(8)
        seen.add((msg.sender_keyid, msg.recipient_keyid, msg.ctr))
        assert b.decrypt(binary).plaintext == b"m%d" % i
    assert len(seen) == 20


def pure_python(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` with session keys made by the pure-Python reference implementation."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(session, "DirectionKeys", datacrypt.PyDirectionKeys)
        return fn(*args)


@pytest.mark.skipif(not ACCELERATED, reason="C accelerator not built")
@pytest.mark.parametrize("version", [2, 3])
def test_accelerated_and_pure_python_sessions_agree(version: int) -> None:
    # Twin sessions from the same seeds, one pair on the C accelerator and one on
    # the pure-Python reference: the same wire text, plaintexts and rotation.
    a, b = sessions("twin", version)
    a2, b2 = sessions("twin", version)
    for i in range(8):
        src, dst, src2, dst2 = (a, b, a2, b2) if i % 3 else (b, a, b2, a2)
        text, flags = b"m%d" % i * i, i % 2
        wire = src.encrypt(text, flags)
        assert pure_python(src2.encrypt, text, flags) == wire
        binary = envelope.decode_otr_message(wire)
        assert pure_python(dst2.decrypt, binary) == dst.decrypt(binary)
        assert (dst2.our_keyid, dst2.their_keyid) == (dst.our_keyid, dst.their_keyid)
    assert all(type(k.send) is datacrypt.DirectionKeys for k in a._keys.values())
    assert all(type(k.send) is datacrypt.PyDirectionKeys for k in a2._keys.values())


@pytest.mark.parametrize("version", [2, 3])
def test_other_version_and_replay_rejected(version: int) -> None:
    a, b = sessions("ver", version)
    binary = seal(a, b"x")
    assert b.decrypt(binary).plaintext == b"x"
    with pytest.raises(RemoteProtocolError):
        b.decrypt(binary)  # replayed
    other = bytearray(seal(a, b"y"))
    other[1] = 5 - version  # the other protocol version
    with pytest.raises(RemoteProtocolError):
        b.decrypt(bytes(other))


def test_replay_and_lower_counter_rejected() -> None:
    a, b = sessions("replay")
    first = seal(a, b"one")
    second = seal(a, b"two")
    assert b.decrypt(second).plaintext == b"two"
    with pytest.raises(RemoteProtocolError):
        b.decrypt(second)  # replay
    with pytest.raises(RemoteProtocolError):
        b.decrypt(first)  # lower counter
    assert deliver(a, b, b"three") == b"three"


def test_mac_keys_revealed_after_rotation() -> None:
    a, b = sessions("reveal")
    deliver(a, b, b"1")
    deliver(b, a, b"2")
    deliver(a, b, b"3")
    deliver(b, a, b"4")
    revealed = []
    for _ in range(3):
        binary = seal(a, b"x")
        msg = w.decode_message(binary).message
        assert isinstance(msg, w.DataMessage)
        revealed.append(msg.old_mac_keys)
        assert w.encode_message(3, 0x100, 0x200, msg) == binary
        b.decrypt(binary)
    assert revealed[0] and len(revealed[0]) % 20 == 0
    assert revealed[1] == b""  # revealed once only


def test_tampering_is_detected_and_state_kept() -> None:
    a, b = sessions("tamper")
    binary = seal(a, b"secret")
    decoded = w.decode_message(binary)
    msg = decoded.message
    assert isinstance(msg, w.DataMessage)
    for bad in (
        msg._replace(encrypted=b"X" + msg.encrypted[1:]),
        msg._replace(ctr=bytes(7) + b"\x09"),
        msg._replace(mac=bytes(20)),
        msg._replace(sender_keyid=7),
        msg._replace(recipient_keyid=9),
        msg._replace(flags=1),
    ):
        bad_bin = w.encode_message(3, 0x100, 0x200, bad)
        with pytest.raises(RemoteProtocolError):
            b.decrypt(bad_bin)
    assert b.decrypt(binary).plaintext == b"secret"


def test_invalid_next_dh_rejected_without_state_change() -> None:
    a, b = sessions("nextdh")
    # Forge a message with a bad next D-H key but a valid MAC, using A's keys.
    binary = seal(a, b"hello")
    msg = w.decode_message(binary).message
    assert isinstance(msg, w.DataMessage)
    sk = a._session(msg.sender_keyid, msg.recipient_keyid)
    bad = msg._replace(next_dh=1)
    auth = w.encode_data_authenticated(3, 0x100, 0x200, bad)
    from otr.crypto.primitives import hmac_sha1

    forged = bad._replace(mac=hmac_sha1(sk.send_mac, auth))
    with pytest.raises(RemoteProtocolError):
        b.decrypt(w.encode_message(3, 0x100, 0x200, forged))
    assert b.decrypt(binary).plaintext == b"hello"


def test_extra_symmetric_key_matches() -> None:
    a, b = sessions("extra")
    key = a.sending_extra_key()
    assert b.decrypt(seal(a, b"")).extra_key == key
    assert len(key) == 32


@settings(max_examples=25)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=50)), min_size=1, max_size=12))
def test_random_conversation(script: list[tuple[bool, bytes]]) -> None:
    a, b = sessions("prop")
    for a_sends, text in script:
        src, dst = (a, b) if a_sends else (b, a)
        assert deliver(src, dst, text) == text


def test_rng_failure_during_key_rotation_defers_it() -> None:
    """Issue 12.5: the rng raising while our next key is made (on receipt of a message
    using our newest key) neither loses the message nor breaks the session: the
    rotation happens on a later message instead."""
    a, b = sessions("flaky")
    calls = {"fail": False}
    good = b.rng

    def flaky(n: int) -> bytes:
        if calls["fail"]:
            calls["fail"] = False
            raise OSError("no entropy")
        return good(n)

    b.rng = flaky
    for i in range(6):
        wire = a.encrypt(f"a{i}".encode())
        calls["fail"] = True
        assert b.decrypt(envelope.decode_otr_message(wire)).plaintext == f"a{i}".encode()
        back = b.encrypt(f"b{i}".encode())
        assert a.decrypt(envelope.decode_otr_message(back)).plaintext == f"b{i}".encode()
    b.rng = good
    for _ in range(3):
        wire = a.encrypt(b"more")
        assert b.decrypt(envelope.decode_otr_message(wire)).plaintext == b"more"
        back = b.encrypt(b"reply")
        assert a.decrypt(envelope.decode_otr_message(back)).plaintext == b"reply"
    assert b.our_keyid > 3  # rotations resumed
