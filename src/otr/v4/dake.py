"""The OTRv4 interactive DAKE (DAKEZ): otr-v4.md "Interactive Deniable
Authenticated Key Exchange (DAKE)", "Shared Session State", "Secure Session
ID", and the state machine's "Receiving an Identity / Auth-R / Auth-I
Message"; where the spec is ambiguous we do what otr4j does (ERRATA D).

Roles use the spec's names: **Bob** sends the Identity message and the Auth-I
message, **Alice** answers with the Auth-R message::

    Bob                                   Alice
    Identity(Y, B, first keys)  ------>
                                <------   Auth-R(X, A, sigma_R, first keys)
    Auth-I(sigma_I)             ------>

Values (ERRATA D.1 / D.2, all checked against otr4j's transcripts):

* ``phi`` (B.8) = ``tag_S || tag_R || first_ECDH_S || MPI(first_DH_S) ||
  first_ECDH_R || MPI(first_DH_R) || DATA(id_S) || DATA(id_R)`` where S is the
  sender of the message being signed (Alice for Auth-R, Bob for Auth-I), R
  the other party, tags 4-byte big-endian, ids the account names in UTF-8.
  Nothing is sorted (the spec's "sort" sentence contradicts its example).
* ``t`` (B.6) = ``flag || KDF(u1, Bob's profile, 64) || KDF(u2, Alice's
  profile, 64) || Y || X || MPI(B) || MPI(A) || KDF(u3, phi, 64)``: flag 0x00
  and usages 0x05/0x06/0x07 for Auth-R, 0x01 and 0x08/0x09/0x0A for Auth-I;
  profiles as their full encodings.
* Rings (B.4): Auth-R ``RSig(H_a, {F_b, H_a, Y}, t)``, Auth-I
  ``RSig(H_b, {H_b, F_a, X}, t)`` (:mod:`otr.crypto.ring`).
* Mixed shared secret (B.3, D.2 "DAKE values"): ``K_ecdh = ECDH`` as a POINT,
  ``brace = KDF(0x01, k_dh minimal big-endian, 32)``,
  ``K = KDF(0x03, K_ecdh || brace, 64)``, ``SSID = KDF(0x04, K, 8)`` (B.19).
  The first root key ``KDF(0x0B, K, 64)`` is the ratchet's.
* Checks: the peer's Client Profile is validated against ``now`` with owner
  tag == the message's sender tag; every point and DH value is validated on
  decoding (:mod:`otr.wire.v4.dake`); the Identity message's ``Y`` must differ
  from its first ECDH key and ``B`` from its first DH key (otr4j,
  ``IdentityMessages``); we apply the same rule to ``X``/``A`` of an Auth-R.
  Auth-R and Auth-I must be addressed to our instance tag; an Auth-I must
  come from the instance whose Identity message we answered; a message that
  claims our own instance tag as sender (a reflection) is rejected.
* Tie-break (B.9): in WAITING_AUTH_R, an incoming valid Identity message is
  resolved by comparing ``SHAKE-256(MPI(B), 32)`` (plain SHAKE, no prefix) of
  ours and theirs as unsigned big-endian numbers: the higher side ignores it
  and re-sends its own Identity message unchanged; the other side forgets its
  ephemerals and answers as if in START.

Two deliberate deviations from otr4j, for the spec's intent (ERRATA D.3):

* **WAITING_AUTH_I and a repeated Identity message.** otr4j (and the spec's
  literal WAITING_AUTH_I rule) answers every Identity message with a *new*
  Auth-R.  When the larger side of a tie-break re-sends its Identity message,
  the smaller side, already in WAITING_AUTH_I, thus makes a second Auth-R;
  the larger side's Auth-I is for the first one and can no longer be
  verified, and the two sides end on different keys (transcript T5).  Like
  OTRv3 with a repeated D-H Commit, we answer a byte-identical Identity
  message with the *same* Auth-R and keep our state; T5 then completes.
  A different Identity message is answered with a new Auth-R as the spec says.
* **Crossing Identity messages before instance tags are known** (T6): otr4j
  puts each incoming Identity message on a fresh instance, so no tie-break
  happens and both sides wait for an Auth-I forever.  This object is the DAKE
  of one peer whatever the receiver tag (0 or ours), so the tie-break runs and
  the DAKE completes.

The machine is sans-I/O: :meth:`Dake.start` returns the Identity message to
send; :meth:`Dake.receive` takes a decoded DAKE message and ``now`` (Unix
seconds, for profile validation) and returns a :class:`DakeStep` with the
reply to send (if any) and, when the DAKE completes, the :class:`DakeResult`
for the double ratchet (INTERFACES.md).  Transitions are data
(:data:`TRANSITIONS`, keyed by state and message type); a message the table
has no entry for is ignored, as the spec says.  A message that fails a check
raises :class:`~otr.errors.RemoteProtocolError` (or a subclass:
``AuthenticationFailed`` for a ring signature, ``ProfileError`` for a
profile, ``InvalidGroupElement`` for a point) and changes nothing: every
transition computes its new context first and assigns it as its last step.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from ..crypto import dh3072, kdf, ring
from ..crypto.dh3072 import DHKeyPair
from ..crypto.ed448 import Point, Rng
from ..errors import AuthenticationFailed, RemoteProtocolError
from ..wire.buffer import encode_data, encode_int, encode_mpi
from ..wire.v4.dake import AuthIMessage, AuthRMessage, DakeMessage, IdentityMessage
from .keys import ECDHKeyPair, Ed448KeyPair, ForgingKey
from .profiles import ClientProfile

__all__ = [
    "SSID_BYTES",
    "TRANSITIONS",
    "Dake",
    "DakeResult",
    "DakeSide",
    "DakeState",
    "DakeStep",
    "RingMessage",
    "first_root_key",
    "mixed_shared_secret",
    "phi",
    "ring_message",
    "side_phi",
    "ssid_of",
    "tie_break_value",
]

SSID_BYTES: Final = 8
_HASH_BYTES: Final = 64
_BRACE_KEY_BYTES: Final = 32
_K_BYTES: Final = 64


class DakeState(enum.Enum):
    """The DAKE's own states ("Protocol States"; ENCRYPTED is the session's)."""

    START = "START"
    WAITING_AUTH_R = "WAITING_AUTH_R"
    WAITING_AUTH_I = "WAITING_AUTH_I"


@dataclass(frozen=True)
class DakeResult:
    """What the DAKE hands to the double ratchet (INTERFACES.md)."""

    role: Literal["alice", "bob"]
    """"bob" sent the Identity message (and Auth-I), "alice" sent Auth-R."""
    ssid: bytes
    k: bytes = field(repr=False)
    """The mixed shared secret K (64 bytes)."""
    brace_key: bytes = field(repr=False)
    our_ecdh: ECDHKeyPair = field(repr=False)
    """Our "first" ECDH key pair (not X/Y)."""
    our_dh: DHKeyPair = field(repr=False)
    their_ecdh: Point = field(repr=False)
    their_dh: int = field(repr=False)
    our_profile: ClientProfile = field(repr=False)
    their_profile: ClientProfile = field(repr=False)
    our_instance: int
    their_instance: int


@dataclass(frozen=True)
class DakeStep:
    """The outcome of one input: a reply to send and/or the completed DAKE."""

    reply: DakeMessage | None = None
    result: DakeResult | None = None


# -- the DAKEZ values -----------------------------------------------------------------------


def phi(
    sender_tag: int,
    receiver_tag: int,
    sender_first_ecdh: Point,
    sender_first_dh: int,
    receiver_first_ecdh: Point,
    receiver_first_dh: int,
    sender_id: str,
    receiver_id: str,
) -> bytes:
    """The shared session state of one signed message (ERRATA D.1 B.8)."""
    return b"".join(
        (
            encode_int(sender_tag),
            encode_int(receiver_tag),
            sender_first_ecdh.encode(),
            encode_mpi(sender_first_dh),
            receiver_first_ecdh.encode(),
            encode_mpi(receiver_first_dh),
            encode_data(sender_id.encode("utf-8")),
            encode_data(receiver_id.encode("utf-8")),
        )
    )


@dataclass(frozen=True)
class DakeSide:
    """One party's public values in a DAKE: what ``phi`` and ``t`` are built from.

    ``ecdh``/``dh`` are Y and B for Bob, X and A for Alice; ``account`` is the
    party's own account id (UTF-8 in ``phi``).
    """

    tag: int
    account: str
    profile: ClientProfile = field(repr=False)
    ecdh: Point = field(repr=False)
    dh: int = field(repr=False)
    first_ecdh: Point = field(repr=False)
    first_dh: int = field(repr=False)


RingMessage = Literal["auth_r", "auth_i"]

_T_PARAMETERS: Final[dict[str, tuple[int, int, int, int]]] = {
    # flag, usage of Bob's profile, of Alice's profile, of phi (ERRATA D.1 B.6)
    "auth_r": (
        0x00,
        kdf.USAGE_AUTH_R_BOB_CLIENT_PROFILE,
        kdf.USAGE_AUTH_R_ALICE_CLIENT_PROFILE,
        kdf.USAGE_AUTH_R_PHI,
    ),
    "auth_i": (
        0x01,
        kdf.USAGE_AUTH_I_BOB_CLIENT_PROFILE,
        kdf.USAGE_AUTH_I_ALICE_CLIENT_PROFILE,
        kdf.USAGE_AUTH_I_PHI,
    ),
}


def side_phi(sender: DakeSide, receiver: DakeSide) -> bytes:
    """``phi`` of a message from ``sender`` to ``receiver``."""
    return phi(
        sender.tag,
        receiver.tag,
        sender.first_ecdh,
        sender.first_dh,
        receiver.first_ecdh,
        receiver.first_dh,
        sender.account,
        receiver.account,
    )


def ring_message(which: RingMessage, bob: DakeSide, alice: DakeSide) -> bytes:
    """The message ``t`` that the ring signature of Auth-R (``which="auth_r"``,
    sent by Alice) or Auth-I (``"auth_i"``, sent by Bob) signs (ERRATA D.1 B.6):
    ``flag || KDF(u1, Bob's profile, 64) || KDF(u2, Alice's profile, 64) || Y
    || X || MPI(B) || MPI(A) || KDF(u3, phi, 64)``."""
    flag, u_bob, u_alice, u_phi = _T_PARAMETERS[which]
    sender, receiver = (alice, bob) if which == "auth_r" else (bob, alice)
    return b"".join(
        (
            bytes((flag,)),
            kdf.kdf(u_bob, bob.profile.encode(), _HASH_BYTES),
            kdf.kdf(u_alice, alice.profile.encode(), _HASH_BYTES),
            bob.ecdh.encode(),
            alice.ecdh.encode(),
            encode_mpi(bob.dh),
            encode_mpi(alice.dh),
            kdf.kdf(u_phi, side_phi(sender, receiver), _HASH_BYTES),
        )
    )


def mixed_shared_secret(
    our_ecdh: ECDHKeyPair, their_ecdh: Point, our_dh: DHKeyPair, their_dh: int
) -> tuple[bytes, bytes]:
    """``(K, brace_key)`` from the DAKE's ephemerals (ERRATA B.3, D.2 "DAKE values").

    ``K_ecdh`` is the POINT ``our.secret * their`` (identity rejected),
    ``brace = KDF(0x01, k_dh, 32)`` with minimal-length ``k_dh``,
    ``K = KDF(0x03, K_ecdh || brace, 64)``.
    """
    k_ecdh = our_ecdh.shared_secret(their_ecdh)
    k_dh = dh3072.encode_k_dh(our_dh.shared_secret(their_dh))
    brace = kdf.kdf(kdf.USAGE_THIRD_BRACE_KEY, k_dh, _BRACE_KEY_BYTES)
    return kdf.kdf(kdf.USAGE_SHARED_SECRET, (k_ecdh, brace), _K_BYTES), brace


def ssid_of(k: bytes) -> bytes:
    """``SSID = KDF(0x04, K, 8)`` (ERRATA B.19)."""
    return kdf.kdf(kdf.USAGE_SSID, k, SSID_BYTES)


def first_root_key(k: bytes) -> bytes:
    """``KDF(0x0B, K, 64)``: the double ratchet's first root key (ERRATA D.2)."""
    return kdf.kdf(kdf.USAGE_FIRST_ROOT_KEY, k, 64)


def tie_break_value(b: int) -> int:
    """``SHAKE-256(MPI(B), 32)`` as an unsigned big-endian number (ERRATA B.9)."""
    return int.from_bytes(kdf.shake256(encode_mpi(b), 32), "big")


# -- contexts (immutable; a transition builds a new one) -----------------------------------


@dataclass(frozen=True)
class _Ephemerals:
    """One side's four ephemeral key pairs: Y/y or X/x, B/b or A/a, and the first keys."""

    ecdh: ECDHKeyPair = field(repr=False)
    dh: DHKeyPair = field(repr=False)
    first_ecdh: ECDHKeyPair = field(repr=False)
    first_dh: DHKeyPair = field(repr=False)

    @classmethod
    def generate(cls, rng: Rng) -> _Ephemerals:
        # otr4j's order (AbstractState.initiate / handleIdentityMessage):
        # ECDH, DH, first ECDH, first DH.
        ecdh = ECDHKeyPair.generate(rng)
        dh = DHKeyPair.generate(rng)
        first_ecdh = ECDHKeyPair.generate(rng)
        return cls(ecdh, dh, first_ecdh, DHKeyPair.generate(rng))


@dataclass(frozen=True)
class _WaitingAuthR:
    """Bob after sending an Identity message."""

    ours: _Ephemerals
    identity: IdentityMessage


@dataclass(frozen=True)
class _WaitingAuthI:
    """Alice after answering ``identity`` with ``auth_r``."""

    identity: IdentityMessage
    identity_bytes: bytes = field(repr=False)
    auth_r: AuthRMessage
    ours: _Ephemerals
    k: bytes = field(repr=False)
    brace_key: bytes = field(repr=False)


_Context = _WaitingAuthR | _WaitingAuthI | None


# -- the state machine -----------------------------------------------------------------------


class Dake:
    """The interactive DAKE with one peer, from our side.

    ``keypair``: our long-term Ed448 key (``H``, ``sk_h``); ``forging_key``:
    our forging key ``F`` (only the public key is used); ``profile``: our
    (valid) Client Profile, owner tag ``instance_tag``; ``account`` and
    ``peer``: the two account ids that go into ``phi``; ``rng``: randomness
    (drawn exactly as otr4j draws it: ECDH keys from 57 bytes, DH secrets
    from 80 bytes, ring-signature scalars from 57 bytes each);
    ``their_instance``: the peer's instance tag when known (0 otherwise; it
    becomes the receiver tag of our Identity message).
    """

    def __init__(
        self,
        *,
        keypair: Ed448KeyPair,
        forging_key: ForgingKey | Point,
        profile: ClientProfile,
        instance_tag: int,
        account: str,
        peer: str,
        rng: Rng,
        their_instance: int = 0,
    ) -> None:
        if profile.instance_tag != instance_tag or profile.public_key != keypair.public:
            raise ValueError("the profile is not this key's for this instance tag")
        forging = forging_key.public if isinstance(forging_key, ForgingKey) else forging_key
        if profile.forging_key != forging:
            raise ValueError("the profile carries another forging key")
        self._keypair = keypair
        self._forging = forging
        self._profile = profile
        self._tag = instance_tag
        self._account = account
        self._peer = peer
        self._rng = rng
        self._their_instance = their_instance
        self._state = DakeState.START
        self._ctx: _Context = None

    def __repr__(self) -> str:
        return f"Dake(state={self._state.name}, instance=0x{self._tag:08x})"

    @property
    def state(self) -> DakeState:
        return self._state

    @property
    def instance_tag(self) -> int:
        return self._tag

    @property
    def their_instance(self) -> int:
        """The peer's instance tag as far as known (0 before it is)."""
        return self._their_instance

    def snapshot(self) -> tuple[DakeState, object, int]:
        """An opaque value that changes whenever the DAKE's state does (for tests)."""
        return (self._state, self._ctx, self._their_instance)

    # -- local events ----------------------------------------------------------------------

    def start(self) -> IdentityMessage:
        """ "Starting a conversation interactively" (any state): a new Identity
        message with fresh ephemerals; the state becomes WAITING_AUTH_R."""
        ours = _Ephemerals.generate(self._rng)
        identity = IdentityMessage(
            sender_tag=self._tag,
            receiver_tag=self._their_instance,
            profile=self._profile,
            y=ours.ecdh.public,
            b=ours.dh.public,
            first_ecdh=ours.first_ecdh.public,
            first_dh=ours.first_dh.public,
        )
        self._set(DakeState.WAITING_AUTH_R, _WaitingAuthR(ours, identity))
        return identity

    def reset(self) -> None:
        """Forget any DAKE in progress (back to START)."""
        self._set(DakeState.START, None)

    # -- network events --------------------------------------------------------------------

    def receive(self, message: DakeMessage, now: float) -> DakeStep:
        """Process a decoded DAKE message; ``now`` is Unix time in seconds.

        Returns what to send and, on completion, the :class:`DakeResult`.
        A message the current state does not expect is ignored (empty step).
        Raises :class:`RemoteProtocolError` (or a subclass) for a message that
        fails a check; the state is then unchanged.
        """
        handler = TRANSITIONS.get((self._state, type(message)))
        if handler is None:
            return DakeStep()
        if message.sender_tag == self._tag:
            raise RemoteProtocolError("DAKE message claims our own instance tag")
        return handler(self, message, now)

    # -- transitions -----------------------------------------------------------------------

    def _on_identity_in_start(self, message: DakeMessage, now: float) -> DakeStep:
        assert isinstance(message, IdentityMessage)
        if message.receiver_tag not in (0, self._tag):
            raise RemoteProtocolError("Identity message for another instance")
        return self._answer_identity(message, now)

    def _on_identity_waiting_auth_r(self, message: DakeMessage, now: float) -> DakeStep:
        assert isinstance(message, IdentityMessage)
        ctx = self._ctx
        assert isinstance(ctx, _WaitingAuthR)
        if message.receiver_tag not in (0, self._tag):
            raise RemoteProtocolError("Identity message for another instance")
        self._check_identity(message, now)
        if tie_break_value(ctx.ours.dh.public) > tie_break_value(message.b):
            # Ours wins: ignore theirs and send ours again, unchanged.
            return DakeStep(reply=ctx.identity)
        return self._answer_identity(message, now)

    def _on_identity_waiting_auth_i(self, message: DakeMessage, now: float) -> DakeStep:
        assert isinstance(message, IdentityMessage)
        ctx = self._ctx
        assert isinstance(ctx, _WaitingAuthI)
        if message.encode() == ctx.identity_bytes:
            # ERRATA D.3 recommendation: the same Identity message gets the same Auth-R.
            return DakeStep(reply=ctx.auth_r)
        if message.receiver_tag != self._tag:
            raise RemoteProtocolError("Identity message for another instance")
        return self._answer_identity(message, now)

    def _on_auth_r(self, message: DakeMessage, now: float) -> DakeStep:
        """Bob, WAITING_AUTH_R: verify Auth-R, reply with Auth-I, complete."""
        assert isinstance(message, AuthRMessage)
        ctx = self._ctx
        assert isinstance(ctx, _WaitingAuthR)
        if message.receiver_tag != self._tag:
            raise RemoteProtocolError("Auth-R message for another instance")
        their_profile = message.profile
        their_profile.validate(now, sender_instance_tag=message.sender_tag)
        _require_distinct(message.x, message.first_ecdh, message.a, message.first_dh)
        ours = ctx.ours
        bob, alice = self._our_side(ours), self._their_side(message)
        r_ring = (self._forging, their_profile.public_key, ours.ecdh.public)
        if not ring.rvrf(r_ring, message.sigma, ring_message("auth_r", bob, alice)):
            raise AuthenticationFailed("Auth-R ring signature does not verify")
        k, brace = mixed_shared_secret(ours.ecdh, message.x, ours.dh, message.a)
        i_ring = (self._keypair.public, their_profile.forging_key, message.x)
        sigma = self._sign(i_ring, ring_message("auth_i", bob, alice))
        result = self._result("bob", k, brace, ours, alice)
        self._their_instance = message.sender_tag
        self._set(DakeState.START, None)
        return DakeStep(reply=AuthIMessage(self._tag, message.sender_tag, sigma), result=result)

    def _on_auth_i(self, message: DakeMessage, now: float) -> DakeStep:
        """Alice, WAITING_AUTH_I: verify Auth-I, complete."""
        assert isinstance(message, AuthIMessage)
        ctx = self._ctx
        assert isinstance(ctx, _WaitingAuthI)
        if message.receiver_tag != self._tag:
            raise RemoteProtocolError("Auth-I message for another instance")
        bob = self._their_side(ctx.identity)
        if message.sender_tag != bob.tag:
            raise RemoteProtocolError("Auth-I message from another instance")
        alice = self._our_side(ctx.ours)
        i_ring = (bob.profile.public_key, self._forging, alice.ecdh)
        if not ring.rvrf(i_ring, message.sigma, ring_message("auth_i", bob, alice)):
            raise AuthenticationFailed("Auth-I ring signature does not verify")
        result = self._result("alice", ctx.k, ctx.brace_key, ctx.ours, bob)
        self._set(DakeState.START, None)
        return DakeStep(result=result)

    # -- helpers ---------------------------------------------------------------------------

    def _check_identity(self, message: IdentityMessage, now: float) -> None:
        """ "To verify an Identity message" (points and DH values were checked on decoding)."""
        message.profile.validate(now, sender_instance_tag=message.sender_tag)
        _require_distinct(message.y, message.first_ecdh, message.b, message.first_dh)

    def _answer_identity(self, message: IdentityMessage, now: float) -> DakeStep:
        """Alice: validate the Identity message, make the Auth-R, go to WAITING_AUTH_I."""
        self._check_identity(message, now)
        ours = _Ephemerals.generate(self._rng)
        bob, alice = self._their_side(message), self._our_side(ours)
        r_ring = (bob.profile.forging_key, self._keypair.public, bob.ecdh)
        auth_r = AuthRMessage(
            sender_tag=self._tag,
            receiver_tag=bob.tag,
            profile=self._profile,
            x=alice.ecdh,
            a=alice.dh,
            sigma=self._sign(r_ring, ring_message("auth_r", bob, alice)),
            first_ecdh=alice.first_ecdh,
            first_dh=alice.first_dh,
        )
        k, brace = mixed_shared_secret(ours.ecdh, message.y, ours.dh, message.b)
        ctx = _WaitingAuthI(message, message.encode(), auth_r, ours, k, brace)
        self._their_instance = message.sender_tag
        self._set(DakeState.WAITING_AUTH_I, ctx)
        return DakeStep(reply=auth_r)

    def _our_side(self, ours: _Ephemerals) -> DakeSide:
        return DakeSide(
            self._tag,
            self._account,
            self._profile,
            ours.ecdh.public,
            ours.dh.public,
            ours.first_ecdh.public,
            ours.first_dh.public,
        )

    def _their_side(self, message: IdentityMessage | AuthRMessage) -> DakeSide:
        ecdh, dh = (
            (message.y, message.b)
            if isinstance(message, IdentityMessage)
            else (
                message.x,
                message.a,
            )
        )
        return DakeSide(
            message.sender_tag,
            self._peer,
            message.profile,
            ecdh,
            dh,
            message.first_ecdh,
            message.first_dh,
        )

    def _sign(self, keys: tuple[Point, Point, Point], t: bytes) -> ring.RingSignature:
        return ring.rsig(self._keypair.secret, self._keypair.public, keys, t, self._rng)

    def _result(
        self,
        role: Literal["alice", "bob"],
        k: bytes,
        brace_key: bytes,
        ours: _Ephemerals,
        theirs: DakeSide,
    ) -> DakeResult:
        return DakeResult(
            role=role,
            ssid=ssid_of(k),
            k=k,
            brace_key=brace_key,
            our_ecdh=ours.first_ecdh,
            our_dh=ours.first_dh,
            their_ecdh=theirs.first_ecdh,
            their_dh=theirs.first_dh,
            our_profile=self._profile,
            their_profile=theirs.profile,
            our_instance=self._tag,
            their_instance=theirs.tag,
        )

    def _set(self, state: DakeState, ctx: _Context) -> None:
        self._state = state
        self._ctx = ctx


def _require_distinct(ecdh: Point, first_ecdh: Point, dh: int, first_dh: int) -> None:
    if ecdh == first_ecdh or dh == first_dh:
        raise RemoteProtocolError("DAKE ephemeral key equals the first ratchet key")


_Handler = Callable[[Dake, DakeMessage, float], DakeStep]

TRANSITIONS: Final[dict[tuple[DakeState, type], _Handler]] = {
    (DakeState.START, IdentityMessage): Dake._on_identity_in_start,
    (DakeState.WAITING_AUTH_R, IdentityMessage): Dake._on_identity_waiting_auth_r,
    (DakeState.WAITING_AUTH_I, IdentityMessage): Dake._on_identity_waiting_auth_i,
    (DakeState.WAITING_AUTH_R, AuthRMessage): Dake._on_auth_r,
    (DakeState.WAITING_AUTH_I, AuthIMessage): Dake._on_auth_i,
}
"""(state, message type) -> transition.  Missing pairs are ignored ("If the
state is not WAITING_AUTH_R: Ignore this message", and so on)."""
