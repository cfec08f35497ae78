"""Real protocol runs that the targets start from and :mod:`seeds` writes out.

Everything is deterministic (fixed DSA keys from :data:`KEY_A`/:data:`KEY_B` built once,
:class:`harness.DeterministicRng`), so a finding replays exactly.  The snapshots are
deep-copied per input by the targets: each input meets the same state.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from gmpy2 import mpz
from harness import DeterministicRng

from otr import events as ev
from otr.accelerator import native
from otr.conversation import Conversation
from otr.crypto import dh3072
from otr.crypto.dsa import DSAPrivateKey, DSAPublicKey, generate_dsa_key
from otr.crypto.ed448 import Point
from otr.crypto.fixed_base import Comb
from otr.crypto.primitives import AesCtr, HmacKey
from otr.errors import DecodeError
from otr.events import Tlv
from otr.instance import MsgState, Output, Transmit
from otr.policy import Policy
from otr.smp.machine import SmpMachine, SmpState
from otr.smp.v3 import Smp
from otr.smp.v4 import Smp as Smp4
from otr.storage.keyfile import KeyFile
from otr.v3 import ake as v3ake
from otr.v3.datacrypt import PyDirectionKeys
from otr.v4.dake import DakeResult
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile, PrekeyProfile, build_client_profile
from otr.v4.ratchet import RatchetLimits
from otr.v4.session import V4Credentials, V4Protocol, V4Session, V4Settings
from otr.wire import envelope, registry, tlv


def _share_immutable_objects() -> None:
    """Let ``copy.deepcopy`` share, between copies, objects that cannot be copied but
    never change once made: the C accelerator's ``DirectionKeys`` (its OpenSSL contexts
    hold the keys; the IV and scratch hash state are set anew by every call) and its
    pure-Python twin (an AES-ECB context fed whole blocks, HMAC states copied per
    message), Ed448
    points (values; they cache only their own encoding) and ``cryptography``'s Ed448
    private keys; and, to make the per-input copies cheap, GMP numbers and the frozen
    value objects the sessions hold (keys, key pairs, profiles, AKE/DAKE results,
    policies, limits, comb tables: none changes once made)."""
    kinds: list[type] = [
        Point,
        type(Ed448PrivateKey.from_private_bytes(bytes(57))),
        type(mpz(0)),
        DSAPrivateKey,
        DSAPublicKey,
        Policy,
        Comb,
        PyDirectionKeys,
        AesCtr,
        HmacKey,
        v3ake.DHKeyPair,
        v3ake.AkeKeys,
        v3ake.AkeResult,
        Ed448KeyPair,
        ForgingKey,
        ECDHKeyPair,
        dh3072.DHKeyPair,
        ClientProfile,
        PrekeyProfile,
        RatchetLimits,
        V4Credentials,
        V4Settings,
        DakeResult,
    ]
    if native is not None:
        kinds.append(native.DirectionKeys)
    for kind in kinds:
        copy._deepcopy_dispatch[kind] = lambda x, memo: x  # type: ignore[attr-defined]


_share_immutable_objects()


@functools.cache
def dsa_key(name: str) -> DSAPrivateKey:
    """One DSA key per name per process (generation is the slow part of a setup)."""
    return generate_dsa_key()


# -- SMP (otr.smp.v3) -------------------------------------------------------------------


@dataclass
class SmpRun:
    """A full SMP exchange: the Smp object of each state, and the TLVs that flowed."""

    states: dict[str, Any] = field(default_factory=dict)
    tlvs: list[Tlv] = field(default_factory=list)


AnySmp = TypeVar("AnySmp", bound=SmpMachine[Any, Any])

SMP_STATES = ("expect1", "expect1_pending", "expect2", "expect3", "expect4")
"""The keys of :attr:`SmpRun.states`, in the order the SMP target numbers them."""


@functools.cache
def smp_run(version: int = 3) -> SmpRun:
    """Alice asks a question, Bob answers with the same secret, over SMP ``version`` (3:
    :mod:`otr.smp.v3`, 4: :mod:`otr.smp.v4`): snapshots of both sides in each SMPSTATE
    (EXPECT1 fresh and with a request pending, EXPECT2, EXPECT3, EXPECT4)."""
    cls: type[Smp] | type[Smp4] = Smp if version == 3 else Smp4
    n = cls.FINGERPRINT_BYTES
    fp_a, fp_b, ssid = bytes(range(n)), bytes(range(n, 2 * n)), b"ssid-otr"
    alice: Any = cls(fp_a, fp_b, ssid, DeterministicRng(b"smp-alice"))
    bob: Any = cls(fp_b, fp_a, ssid, DeterministicRng(b"smp-bob"))
    run = SmpRun()
    run.states["expect1"] = fork_smp(bob)
    (m1,) = alice.start(b"the pier", "Where did we meet?").tlvs
    run.states["expect2"] = fork_smp(alice)
    bob.receive(m1)
    run.states["expect1_pending"] = fork_smp(bob)
    (m2,) = bob.respond(b"the pier").tlvs
    run.states["expect3"] = fork_smp(bob)
    (m3,) = alice.receive(m2).tlvs
    run.states["expect4"] = fork_smp(alice)
    (m4,) = bob.receive(m3).tlvs
    alice.receive(m4)
    m1_plain = cls(fp_a, fp_b, ssid, DeterministicRng(b"smp-alice-2")).start(b"x").tlvs[-1]
    run.tlvs = [m1, m1_plain, m2, m3, m4, Tlv(tlv.SMP_ABORT)]
    return run


def check_smp_receive(version: int, data: bytes) -> None:
    """The SMP targets' invariant (spec "The SMP state machine"), for one input: byte 0
    picks the state, byte 1 the TLV type (0-7), the rest is the TLV value.  ``receive``
    never raises; what it returns encodes as TLVs; a cheat or an unexpected message
    resets to EXPECT1 and answers with exactly an SMP abort TLV."""
    if len(data) < 2:
        return
    run = smp_run(version)
    smp = fork_smp(run.states[SMP_STATES[data[0] % len(SMP_STATES)]])
    step = smp.receive(Tlv(data[1] % 8, data[2 : 2 + tlv.MAX_TLV_VALUE]))
    assert isinstance(smp.state, SmpState)
    tlv.encode_tlvs(step.tlvs)
    assert all(isinstance(e, ev.Event) for e in step.events)
    if any(isinstance(e, ev.SmpCheated | ev.SmpAborted) for e in step.events):
        assert smp.state is SmpState.SMPSTATE_EXPECT1
        assert not smp.request_pending
    if any(isinstance(e, ev.SmpCheated) for e in step.events) or any(
        isinstance(e, ev.SmpAborted) and not e.by_peer for e in step.events
    ):
        assert step.tlvs == (Tlv(tlv.SMP_ABORT),)


def fork_smp(smp: AnySmp) -> AnySmp:
    """A copy of ``smp`` that can be driven without touching the original: the Smp and
    its per-exchange records and rng are copied; the comb tables inside (immutable once
    built) are shared, which makes this ~10x cheaper than a deep copy."""
    new = copy.copy(smp)
    new._alice = copy.copy(smp._alice)
    new._bob = copy.copy(smp._bob)
    new._rng = copy.deepcopy(smp._rng)
    return new


# -- Conversations (otr.conversation) ---------------------------------------------------


def _party(
    name: str, account: str, peer: str, tag: int, policy: Policy, seed: bytes
) -> Conversation:
    return Conversation(
        dsa_key(name),
        peer,
        account=account,
        protocol="fuzz",
        policy=policy,
        instance_tag=tag,
        rng=DeterministicRng(b"conv-" + name.encode() + seed),
    )


class Pair:
    """Our Conversation ``a`` and its peer ``b`` on an in-memory network that records
    every wire text (``wire``: (sender name, text))."""

    def __init__(self, policy: Policy, max_message_size: int = 0, seed: bytes = b"") -> None:
        if max_message_size:
            policy = dataclasses.replace(policy, max_message_size=max_message_size)
        self.a = _party("a", "alice", "bob", 0x1000A, policy, seed)
        self.b = _party("b", "bob", "alice", 0x1000B, policy, seed)
        self.wire: list[tuple[str, str]] = []
        self.now = 1_000.0

    def pump(self, sender: Conversation, events: list[ev.Event]) -> list[ev.Event]:
        """Deliver SendMessage events (and their replies); return every other event."""
        seen: list[ev.Event] = []
        q = deque((sender, e) for e in events)
        while q:
            src, e = q.popleft()
            if not isinstance(e, ev.SendMessage):
                seen.append(e)
                continue
            dst = self.b if src is self.a else self.a
            self.wire.append(("a" if src is self.a else "b", e.text))
            q.extend((dst, g) for g in dst.receive(e.text, self.now))
        return seen


CONVERSATION_STATES = ("plaintext", "awaiting_dhkey", "encrypted", "smp", "finished", "v2")
"""The keys of :func:`conversation_states`, in the order the Conversation target numbers
them."""


def manual_policy() -> Policy:
    return Policy.named("MANUAL")


@functools.cache
def conversation_states() -> dict[str, Pair]:
    """Snapshots of a pair in the states the Conversation target starts from:

    * ``plaintext``: nothing happened yet;
    * ``awaiting_dhkey``: ``a`` sent a D-H Commit to any instance (after a Query);
    * ``encrypted``: AKE done, messages exchanged both ways;
    * ``smp``: encrypted, ``a`` started an SMP (``b`` has a request pending);
    * ``finished``: ``b`` ended the private conversation, ``a`` is FINISHED;
    * ``v2``: encrypted over protocol version 2 (no instance tags).
    """
    states: dict[str, Pair] = {}
    pair = Pair(manual_policy())
    states["plaintext"] = copy.deepcopy(pair)
    query = pair.b.start(pair.now)
    pair.a.receive(query[0].text, pair.now)  # type: ignore[attr-defined]
    states["awaiting_dhkey"] = copy.deepcopy(pair)
    pair = Pair(manual_policy())
    pair.pump(pair.a, pair.a.start(pair.now))
    pair.pump(pair.a, pair.a.send("hello bob", pair.now))
    pair.pump(pair.b, pair.b.send("hello alice", pair.now))
    states["encrypted"] = copy.deepcopy(pair)
    pair.pump(pair.a, pair.a.smp_start("the pier", "Where?", pair.now))
    states["smp"] = copy.deepcopy(pair)
    pair = copy.deepcopy(states["encrypted"])
    pair.pump(pair.b, pair.b.end(pair.now))
    states["finished"] = pair
    pair = Pair(manual_policy().with_versions({2}))
    pair.pump(pair.a, pair.a.start(pair.now))
    states["v2"] = pair
    for snapshot in states.values():
        snapshot.wire.clear()  # not needed per input, and copied per input otherwise
    return states


def full_run(max_message_size: int = 0) -> Pair:
    """A conversation exercising every message kind, for seeds: query, AKE, messages
    with TLVs, SMP with a question, the extra symmetric key, an error, a whitespace tag,
    the end; fragmented when ``max_message_size`` is set."""
    pair = Pair(manual_policy(), max_message_size, seed=b"full%d" % max_message_size)
    a, b, now = pair.a, pair.b, pair.now
    pair.pump(a, a.start(now))
    pair.pump(a, a.send("hello bob", now))
    pair.pump(b, b.send("hello alice", now, tlvs=[Tlv(0x1234, b"custom")]))
    pair.pump(a, a.smp_start("the pier", "Where did we meet?", now))
    pair.pump(b, b.smp_respond("the pier", now))
    pair.pump(a, a.use_extra_key(7, b"file.txt", now))
    pair.pump(b, b.receive("?OTR Error: You transmitted an unreadable encrypted message.", now))
    pair.pump(b, b.send("bye", now))
    pair.pump(a, a.end(now))
    tagged = Pair(Policy.named("OPPORTUNISTIC"), max_message_size, seed=b"tag")
    tagged.pump(tagged.a, tagged.a.send("tagged hello", now))
    pair.wire += tagged.wire
    return pair


def check_store_round_trip(cls: type[KeyFile], data: bytes) -> None:
    """The storage targets' invariant: what loads re-serialises to bytes that load to
    the same number of entries and serialise identically again."""
    store = cls.from_bytes(data)
    again = cls.from_bytes(store.to_bytes())
    assert again.to_bytes() == store.to_bytes(), "the file does not re-serialise stably"
    assert len(again) == len(store)  # type: ignore[arg-type]


# -- OTRv4 sessions (otr.v4.session) -----------------------------------------------------

V4_NOW = 1_800_000_000.0
"""The fixed Unix time of the OTRv4 scenarios (profiles are valid for 14 days after)."""
V4_TAGS = {"alice": 0x1111_1111, "bob": 0x2222_2222}


class V4Peer:
    """One side: a V4Protocol and its sessions by remote instance tag (as the front door
    would route them; the v4 session is not in ``Conversation`` yet)."""

    def __init__(self, name: str, peer: str) -> None:
        rng = DeterministicRng(b"v4-" + name.encode())
        keypair = Ed448KeyPair.generate(rng)
        forging = ForgingKey.generate(rng)
        tag = V4_TAGS[name]
        profile = build_client_profile(keypair, forging.public, tag, "4", int(V4_NOW) + 14 * 86400)
        self.protocol = V4Protocol(
            V4Credentials(keypair, forging, profile),
            our_instance=tag,
            account=name,
            peer=peer,
            rng=rng,
        )
        self.sessions: dict[int, V4Session] = {}

    def session(self, their: int) -> V4Session:
        if their not in self.sessions:
            self.sessions[their] = self.protocol.new_session(4, their)
        return self.sessions[their]

    def receive(self, binary: bytes, now: float = V4_NOW) -> list[Output]:
        """Route one binary message by its sender tag and hand it to that session."""
        header, message = registry.decode(binary)
        if header.version != 4:
            raise DecodeError("not an OTRv4 message")
        return self.session(header.sender_instance).receive(4, message, binary, now)


def transmitted(outputs: list[Output]) -> list[bytes]:
    return [envelope.decode_otr_message(o.wire) for o in outputs if isinstance(o, Transmit)]


V4_STATES = ("fresh", "awaiting_auth_r", "awaiting_auth_i", "encrypted")
"""The keys of :func:`v4_states`: (the party the target feeds, its state)."""


@functools.cache
def v4_states() -> dict[str, tuple[V4Peer, V4Peer]]:
    """(receiver, its peer) snapshots: ``fresh`` (alice, nothing happened),
    ``awaiting_auth_r`` (bob sent an Identity message), ``awaiting_auth_i`` (alice
    answered with Auth-R), ``encrypted`` (alice, after the DAKE and a message each way)."""
    alice, bob = V4Peer("alice", "bob"), V4Peer("bob", "alice")
    states = {"fresh": copy.deepcopy((alice, bob))}
    (identity,) = transmitted(bob.protocol.start(4, V4_NOW))
    states["awaiting_auth_r"] = copy.deepcopy((bob, alice))
    (auth_r,) = transmitted(alice.receive(identity))
    states["awaiting_auth_i"] = copy.deepcopy((alice, bob))
    (auth_i,) = transmitted(bob.receive(auth_r))
    alice.receive(auth_i)
    a, b = alice.sessions[V4_TAGS["bob"]], bob.sessions[V4_TAGS["alice"]]
    for src, dst, text in ((a, bob, "hello bob"), (b, alice, "hello alice")):
        for binary in transmitted(src.send(text.encode(), (), V4_NOW)):
            dst.receive(binary)
    assert a.msgstate is MsgState.ENCRYPTED and b.msgstate is MsgState.ENCRYPTED
    states["encrypted"] = copy.deepcopy((alice, bob))
    return states
