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

from harness import DeterministicRng

from otr import events as ev
from otr.accelerator import native
from otr.conversation import Conversation
from otr.crypto.dsa import DSAPrivateKey, generate_dsa_key
from otr.events import Tlv
from otr.policy import Policy
from otr.smp.v3 import Smp
from otr.storage.keyfile import KeyFile
from otr.wire import tlv


def _share_direction_keys() -> None:
    """Let ``copy.deepcopy`` share the C accelerator's ``DirectionKeys`` between copies.

    The C object cannot be pickled (its OpenSSL contexts hold the keys), but it is
    immutable between calls (the key schedules are set once; the IV and the scratch
    hash state are set anew by every ``seal``/``open``), so copies may share it."""
    if native is not None:
        copy._deepcopy_dispatch[native.DirectionKeys] = lambda x, memo: x  # type: ignore[attr-defined]


_share_direction_keys()


@functools.cache
def dsa_key(name: str) -> DSAPrivateKey:
    """One DSA key per name per process (generation is the slow part of a setup)."""
    return generate_dsa_key()


# -- SMP (otr.smp.v3) -------------------------------------------------------------------


@dataclass
class SmpRun:
    """A full SMP exchange: the Smp object of each state, and the TLVs that flowed."""

    states: dict[str, Smp] = field(default_factory=dict)
    tlvs: list[Tlv] = field(default_factory=list)


SMP_STATES = ("expect1", "expect1_pending", "expect2", "expect3", "expect4")
"""The keys of :attr:`SmpRun.states`, in the order the SMP target numbers them."""


@functools.cache
def smp_run() -> SmpRun:
    """Alice asks a question, Bob answers with the same secret: snapshots of both sides in
    each SMPSTATE (EXPECT1 fresh and with a request pending, EXPECT2, EXPECT3, EXPECT4)."""
    fp_a, fp_b, ssid = bytes(range(20)), bytes(range(20, 40)), b"ssid-otr"
    alice = Smp(fp_a, fp_b, ssid, DeterministicRng(b"smp-alice"))
    bob = Smp(fp_b, fp_a, ssid, DeterministicRng(b"smp-bob"))
    run = SmpRun()
    run.states["expect1"] = copy.deepcopy(bob)
    (m1,) = alice.start(b"the pier", "Where did we meet?").tlvs
    run.states["expect2"] = copy.deepcopy(alice)
    bob.receive(m1)
    run.states["expect1_pending"] = copy.deepcopy(bob)
    (m2,) = bob.respond(b"the pier").tlvs
    run.states["expect3"] = copy.deepcopy(bob)
    (m3,) = alice.receive(m2).tlvs
    run.states["expect4"] = copy.deepcopy(alice)
    (m4,) = bob.receive(m3).tlvs
    alice.receive(m4)
    m1_plain = Smp(fp_a, fp_b, ssid, DeterministicRng(b"smp-alice-2")).start(b"x").tlvs[0]
    run.tlvs = [m1, m1_plain, m2, m3, m4, Tlv(tlv.SMP_ABORT)]
    return run


def fork_smp(smp: Smp) -> Smp:
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
