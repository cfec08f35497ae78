"""The OTRv4 double ratchet: data message keys, seal and open (otr-v4.md "Key
Management", "Rotating ECDH Keys and Brace Key as sender/as receiver", "Deriving
Double Ratchet Keys", "Calculating Encryption and MAC Keys", "Session
Expiration", "Data Exchange", "When you send a Data Message", "When you receive
a Data Message", "Deletion of Stored Message Keys", "Extra Symmetric Key",
"Revealing MAC Keys").

How the spec's ambiguities are resolved (ERRATA part B, answered as otr4j does,
part D; every formula below was checked against the otr4j transcripts):

* Keys (B.1, B.12, D.2)::

      K          = KDF(0x03, K_ecdh || brace_key, 64)      K_ecdh a POINT
      brace_key  = KDF(0x01, k_dh, 32) on a DH ratchet, else KDF(0x02, brace_key, 32)
      chain key  = KDF(0x13, root || K, 64);  next root = KDF(0x12, root || K, 64)
      next chain = KDF(0x14, chain, 64)
      MKenc      = KDF(0x15, chain, 64);  MKmac = KDF(0x16, MKenc, 64)
      extra key  = KDF(0x17, 0xFF || chain, 64)
      authenticator = KDF(0x18, MKmac || encoded message up to the ciphertext DATA, 64)

  ChaCha20 uses MKenc[0:32], a zero nonce and block counter 0 (B.13).
* Initialisation (B.29): the first root key is ``KDF(0x0B, K_dake, 64)`` and the
  first ratchet mixes the two "first" ECDH and DH key pairs of the DAKE.  Alice
  (who receives Auth-I) starts with i = 0 and a sending chain; Bob starts with
  the receiving chain and at once rotates his sending side with fresh ECDH and
  DH keys (so :meth:`DoubleRatchet.from_dake` draws randomness for Bob), giving
  i = 1.  Both sides' first messages carry ratchet id 0.
* i, ratchet ids and pn (B.11, B.29): ``i`` grows by one at every rotation,
  sending or receiving; a rotation is a DH ratchet (new 3072-bit key, brace key
  from k_dh) when ``i % 3 == 0`` before the increment.  A message carries ratchet
  id ``max(0, i - 1)`` and message id ``j``; ``pn`` is the length of the
  sender's previous sending chain.  A received ratchet id equal to our ``i``
  (while we wait for the peer's new keys) starts a new receiving ratchet; a
  larger one is rejected.
* Out-of-order and lost messages: keys of skipped messages are stored under
  (ratchet id of *their* chain, message id).  otr4j files them under
  ``max(0, i - 1)`` of the receiver's *current* counter, which loses messages
  that arrive late across a DH ratchet (ERRATA D.3); we do what the spec means
  (its dictionary is keyed by the chain's ECDH key, which a chain's ratchet id
  names uniquely).  The store is bounded by :class:`RatchetLimits`: a message
  may make us skip at most ``max_skip`` keys of one chain (else it is rejected),
  at most ``max_stored`` keys are held (the oldest are dropped first) and none is
  kept longer than ``max_skipped_age`` seconds.  Dropped keys have their MKmac
  revealed, as the spec asks.
* A new receiving ratchet is computed on local values and adopted only once the
  authenticator has verified (B.11, "any changes ... should be discarded"):
  every failure of :meth:`DoubleRatchet.open` leaves the ratchet unchanged.
* Replays: a message whose key was used, dropped or never derived is rejected
  with :class:`MessageReplayed`.
* MAC revelation (D.2): the MKmac of every verified message waits in a list
  that is sent in the first message of our next sending ratchet (and with
  ``reveal_pending=True``, the session-expiry message).  otr4j rejects a message
  with ratchet id > 0, message id 0 and no revealed MAC (``DataMessage4s``); we
  enforce the same and, as a sender, always have at least one to reveal there
  (the rotation follows a verified message).  The list is bounded by
  ``max_pending_reveals``; beyond it the oldest are forgotten (less
  forgeability, never less secrecy).
* Extra symmetric key (B.14): :class:`Sealed` and :class:`Opened` carry the raw
  key of *that* message's chain key, so the sender gets the key of the message
  it actually sent, after any pending rotation (otr4j's ``getExtraSymmetricKey``
  returns the key of the stale chain, ERRATA D.3).  :func:`derive_extra_keys`
  gives the per-TLV-7 keys.
* Session expiry (B.25): :attr:`DoubleRatchet.last_rotation` is the time of the
  last rotation (sending or receiving) and :meth:`DoubleRatchet.expired` compares
  it with ``RatchetLimits.session_expiry``.  All times are Unix seconds
  (``time.time()``); a wall-clock jump only makes a timer fire early or late.

* The fused path: :meth:`DoubleRatchet.seal_wire` (no rotation due, nothing to
  reveal) and :meth:`DoubleRatchet.open_wire` (the next message of the current
  receiving chain, no TLVs) do what :meth:`DoubleRatchet.seal` + encoding and
  decoding + :meth:`DoubleRatchet.open` do for the common case, in one C call
  each (:func:`otr.v4.datacrypt.seal_wire`, :func:`otr.v4.datacrypt.open_wire`),
  with the same bytes and the same state afterwards; anything else returns None
  with nothing changed.

Python cannot wipe memory: "securely delete" here means dropping the reference
as soon as the spec allows (see SECURITY.md).
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple, Protocol

from ..crypto import dh3072, kdf
from ..crypto.dh3072 import DHKeyPair
from ..crypto.ed448 import Point
from ..errors import AuthenticationFailed, RemoteProtocolError
from ..events import Tlv
from ..wire.v4.data import (
    TLV_EXTRA_SYMMETRIC_KEY,
    DataMessage4,
    Head,
    chain_head,
    dh_key_expected,
    encode_head,
    with_counters,
)
from . import datacrypt
from .datacrypt import mac_key, message_keys
from .keys import ECDHKeyPair

__all__ = [
    "DakeOutput",
    "DoubleRatchet",
    "MessageReplayed",
    "Opened",
    "RatchetLimits",
    "RatchetStart",
    "Rotation",
    "Sealed",
    "TooManySkippedKeys",
    "derive_extra_keys",
    "extra_key_context",
]

Rng = Callable[[int], bytes]

ROOT_KEY_BYTES: Final = 64
CHAIN_KEY_BYTES: Final = 64
EXTRA_KEY_BYTES: Final = 64
MAX_PLAINTEXT: Final = datacrypt.MAX_SECTION - 4096
"""Largest plaintext :meth:`DoubleRatchet.seal` takes (the head is at most ~450 bytes)."""


class MessageReplayed(RemoteProtocolError):
    """The message's key was already used, dropped (limits, age) or never derived."""


class TooManySkippedKeys(RemoteProtocolError):
    """The message would make us derive more than ``max_skip`` skipped keys."""


class Rotation(enum.Enum):
    """Which rotation comes next (otr4j's ``next_rotation``)."""

    SENDING = "sending"
    """We received the peer's new keys: our next message starts a new sending ratchet."""
    RECEIVING = "receiving"
    """We sent our new keys: the peer's next new ratchet id starts a receiving ratchet."""


_RECEIVING: Final = Rotation.RECEIVING
"""For :meth:`DoubleRatchet.seal_wire`: a module global, not an enum member read
through its class (~100 ns on Python 3.11)."""


@dataclass(frozen=True)
class RatchetLimits:
    """Bounds on what a peer can make us hold (otr-v4.md "Deletion of Stored Message Keys")."""

    max_skip: int = 1000
    """Most keys one message may make us skip in one chain (the spec's ``max_skip``)."""
    max_stored: int = 1000
    """Most skipped message keys held at once (otr4j: 1000); the oldest go first."""
    max_skipped_age: float = 7200.0
    """Seconds a skipped message key is kept."""
    max_pending_reveals: int = 4096
    """Most MAC keys waiting to be revealed (256 KiB); the oldest are forgotten."""
    session_expiry: float = 7200.0
    """Seconds without a rotation after which the session should expire (otr4j: 7200)."""

    def __post_init__(self) -> None:
        if min(self.max_skip, self.max_stored, self.max_pending_reveals) < 1:
            raise ValueError("ratchet limits must be positive")
        if self.max_skipped_age <= 0 or self.session_expiry <= 0:
            raise ValueError("ratchet time limits must be positive")


class DakeOutput(Protocol):
    """What the ratchet needs from the DAKE (``otr.v4.dake.DakeResult`` provides it)."""

    @property
    def role(self) -> Literal["alice", "bob"]: ...
    @property
    def k(self) -> bytes: ...
    @property
    def our_ecdh(self) -> ECDHKeyPair: ...
    @property
    def our_dh(self) -> DHKeyPair: ...
    @property
    def their_ecdh(self) -> Point: ...
    @property
    def their_dh(self) -> int: ...
    @property
    def our_instance(self) -> int: ...
    @property
    def their_instance(self) -> int: ...


@dataclass(frozen=True)
class RatchetStart:
    """A :class:`DakeOutput` built by hand: the values a DAKE ends with (for the
    non-interactive DAKE, tests and benchmarks; the interactive DAKE's
    ``DakeResult`` carries the same fields)."""

    role: Literal["alice", "bob"]
    """"bob" sent the Identity message, "alice" sent Auth-R."""
    k: bytes = field(repr=False)
    """The mixed shared secret K of the DAKE (64 bytes)."""
    our_ecdh: ECDHKeyPair
    our_dh: DHKeyPair
    their_ecdh: Point
    their_dh: int
    our_instance: int
    their_instance: int


class Sealed(NamedTuple):
    """An outgoing message and the raw extra symmetric key of its chain key."""

    message: DataMessage4
    extra_key: bytes

    def __repr__(self) -> str:
        return f"Sealed({self.message!r}, extra_key=...)"


class Opened(NamedTuple):
    """A verified, decrypted message."""

    plaintext: bytes
    """``message || 0x00 || TLVs`` (see :func:`otr.wire.v4.data.decode_plaintext`)."""
    extra_key: bytes
    """The raw extra symmetric key of the message's chain key (B.14)."""
    ratchet_id: int
    message_id: int
    flags: int
    new_ratchet: bool
    """Whether this message started a new receiving ratchet."""

    def __repr__(self) -> str:
        return (
            f"Opened(ratchet_id={self.ratchet_id}, message_id={self.message_id}, "
            f"flags={self.flags}, new_ratchet={self.new_ratchet}, plaintext=..., extra_key=...)"
        )


@dataclass(frozen=True)
class _Skipped:
    mk_enc: bytes = field(repr=False)
    extra_key: bytes = field(repr=False)
    stored_at: float


@dataclass
class _ReceivingChain:
    ratchet_id: int
    ecdh: bytes
    """Their ECDH public key (POINT bytes) that every message of the chain carries."""
    dh: int | None
    """Their DH public key as messages of the chain carry it (None unless id % 3 == 0)."""
    chain_key: bytes = field(repr=False)
    k: int = 0
    """Next expected message id."""
    head: bytes = b""
    """:func:`~otr.wire.v4.data.chain_head` of the chain, for :meth:`DoubleRatchet.open_wire`."""


def _derive_ratchet_keys(root_key: bytes, k: bytes) -> tuple[bytes, bytes]:
    """``derive_ratchet_keys``: (new root key, chain key) from the previous root and K (B.1)."""
    material = root_key + k
    return (
        kdf.kdf(kdf.USAGE_ROOT_KEY, material, ROOT_KEY_BYTES),
        kdf.kdf(kdf.USAGE_CHAIN_KEY, material, CHAIN_KEY_BYTES),
    )


def _mixed_secret(k_ecdh: bytes, brace_key: bytes) -> bytes:
    """``K = KDF(usage_shared_secret || K_ecdh || brace_key, 64)``."""
    return kdf.kdf(kdf.USAGE_SHARED_SECRET, (k_ecdh, brace_key), 64)


def _dh_brace_key(our_secret: int, their_public: int) -> bytes:
    """``KDF(usage_third_brace_key || k_dh, 32)`` with k_dh minimal big-endian (B.3)."""
    k_dh = dh3072.shared_secret(our_secret, their_public)
    return kdf.kdf(kdf.USAGE_THIRD_BRACE_KEY, dh3072.encode_k_dh(k_dh), 32)


def _next_brace_key(brace_key: bytes) -> bytes:
    """``KDF(usage_brace_key || brace_key, 32)``."""
    return kdf.kdf(kdf.USAGE_BRACE_KEY, brace_key, 32)


def _skip(
    chain_key: bytes, start: int, stop: int, ratchet_id: int, now: float
) -> tuple[bytes, list[tuple[tuple[int, int], _Skipped]]]:
    """Advance ``chain_key`` (of message ``start``) to message ``stop``, collecting the keys
    of the messages in between."""
    out: list[tuple[tuple[int, int], _Skipped]] = []
    for message_id in range(start, stop):
        mk_enc, extra, chain_key = message_keys(chain_key)
        out.append(((ratchet_id, message_id), _Skipped(mk_enc, extra, now)))
    return chain_key, out


class DoubleRatchet:
    """One party's double ratchet after a completed DAKE.

    :meth:`seal` and :meth:`open` are the only operations that change it; a
    failing :meth:`open` changes nothing.  Not thread-safe.
    """

    def __init__(
        self,
        *,
        rng: Rng,
        limits: RatchetLimits,
        now: float,
        our_instance: int,
        their_instance: int,
        root_key: bytes,
        our_ecdh: ECDHKeyPair,
        our_dh: DHKeyPair,
        their_ecdh: Point,
        their_dh: int,
        brace_key: bytes,
    ) -> None:
        """The ratchet before its first chain; use :meth:`from_dake`."""
        self._rng = rng
        self.limits = limits
        self.our_instance = our_instance
        self.their_instance = their_instance
        self._root_key = root_key
        self._our_ecdh: ECDHKeyPair | None = our_ecdh
        self._our_ecdh_public = our_ecdh.public
        self._our_dh: DHKeyPair | None = our_dh
        self._their_ecdh = their_ecdh
        self._their_dh = their_dh
        self._brace_key = brace_key
        self._i = 0
        self._pn = 0
        self._j = 0
        self._sending_key: bytes | None = None
        self._sending_dh: int | None = None
        self._send_head: Head
        self._send_head_bytes = b""
        self._next = Rotation.RECEIVING
        self._receiving: _ReceivingChain | None = None
        self._skipped: OrderedDict[tuple[int, int], _Skipped] = OrderedDict()
        self._reveals: deque[bytes] = deque(maxlen=limits.max_pending_reveals)
        self._to_reveal_next: bytes = b""
        self.last_rotation = now

    # --- construction ------------------------------------------------------------

    @classmethod
    def from_dake(
        cls, result: DakeOutput, rng: Rng, now: float, limits: RatchetLimits | None = None
    ) -> DoubleRatchet:
        """The ratchet right after the interactive DAKE (B.29).

        The first ratchet mixes the DAKE's "first" key pairs on the root key
        ``KDF(usage_first_root_key || K, 64)``.  Alice gets the sending chain;
        Bob gets the receiving chain and rotates his sending side at once (one
        ECDH and one DH key drawn from ``rng``, as otr4j draws them).
        """
        k_ecdh = result.our_ecdh.shared_secret(result.their_ecdh)
        brace = _dh_brace_key(result.our_dh.secret, result.their_dh)
        root, chain = _derive_ratchet_keys(
            kdf.kdf(kdf.USAGE_FIRST_ROOT_KEY, result.k, ROOT_KEY_BYTES),
            _mixed_secret(k_ecdh, brace),
        )
        return cls.from_first_chain(result, root, chain, brace, rng, now, limits)

    @classmethod
    def from_first_chain(
        cls,
        result: DakeOutput,
        root_key: bytes,
        chain_key: bytes,
        brace_key: bytes,
        rng: Rng,
        now: float,
        limits: RatchetLimits | None = None,
    ) -> DoubleRatchet:
        """The ratchet once the first root and chain keys are known.

        The interactive DAKE derives them in :meth:`from_dake`; the
        non-interactive DAKE (:mod:`otr.v4.offline`) takes ``KDF(0x12, K)`` and
        ``KDF(0x13, K)`` (otr-v4.md "Non-Interactive DAKE Overview").  "alice"
        sends on ``chain_key`` (her first messages carry ``result.our_ecdh`` and
        ``result.our_dh``); "bob" receives on it from ``result.their_ecdh`` /
        ``their_dh`` and rotates his sending side at once (drawing from ``rng``).
        """
        ratchet = cls(
            rng=rng,
            limits=limits or RatchetLimits(),
            now=now,
            our_instance=result.our_instance,
            their_instance=result.their_instance,
            root_key=root_key,
            our_ecdh=result.our_ecdh,
            our_dh=result.our_dh,
            their_ecdh=result.their_ecdh,
            their_dh=result.their_dh,
            brace_key=brace_key,
        )
        if result.role == "alice":
            ratchet._start_sending_chain(chain_key, result.our_dh.public)
        else:
            ratchet._receiving = ratchet._receiving_chain(
                0, result.their_ecdh.encode(), result.their_dh, chain_key, 0
            )
            ratchet._next = Rotation.SENDING
            ratchet._rotate_sending(now)
        return ratchet

    # --- inspection --------------------------------------------------------------

    @property
    def i(self) -> int:
        """The spec's ``i``: rotations so far (sending and receiving)."""
        return self._i

    @property
    def j(self) -> int:
        """Next sending message id."""
        return self._j

    @property
    def k(self) -> int:
        """Next expected message id of the current receiving chain (0 without one)."""
        return self._receiving.k if self._receiving else 0

    @property
    def pn(self) -> int:
        return self._pn

    @property
    def next_rotation(self) -> Rotation:
        return self._next

    @property
    def skipped_count(self) -> int:
        """Number of stored skipped message keys."""
        return len(self._skipped)

    @property
    def pending_reveals(self) -> int:
        """Number of MAC keys waiting to be revealed."""
        return len(self._reveals)

    @property
    def our_ecdh_public(self) -> Point:
        return self._our_ecdh_public

    def expires_at(self) -> float:
        """Unix time at which the session expires without a new rotation."""
        return self.last_rotation + self.limits.session_expiry

    def expired(self, now: float) -> bool:
        return now >= self.expires_at()

    # --- sending -----------------------------------------------------------------

    def _rotate_sending(self, now: float) -> None:
        """Spec "Rotating ECDH Keys and Brace Key as sender", and the new sending chain."""
        dh_ratchet = self._i % 3 == 0
        our_ecdh = ECDHKeyPair.generate(self._rng)
        k_ecdh = our_ecdh.shared_secret(self._their_ecdh)
        dh_public = None
        if dh_ratchet:
            our_dh = DHKeyPair.generate(self._rng)
            brace = _dh_brace_key(our_dh.secret, self._their_dh)
            self._our_dh = our_dh
            dh_public = our_dh.public
        else:
            brace = _next_brace_key(self._brace_key)
        self._root_key, chain_key = _derive_ratchet_keys(
            self._root_key, _mixed_secret(k_ecdh, brace)
        )
        self._brace_key = brace
        self._our_ecdh = our_ecdh
        self._our_ecdh_public = our_ecdh.public
        self._pn = self._j
        self._j = 0
        self._i += 1
        self._start_sending_chain(chain_key, dh_public)
        self._next = Rotation.RECEIVING
        self._to_reveal_next = b"".join(self._reveals)
        self._reveals.clear()
        self.last_rotation = now

    def seal(
        self, plaintext: bytes, flags: int, now: float, *, reveal_pending: bool = False
    ) -> Sealed:
        """Encrypt and authenticate one data message ("When you send a Data Message").

        Performs the pending sending rotation first (drawing a new ECDH key, and
        a DH key every third ratchet).  ``reveal_pending`` also reveals every MAC
        key still waiting and those of all stored skipped keys, which are then
        dropped: the session-expiry message of "Session Expiration".
        """
        if not 0 <= flags <= 0xFF:
            raise ValueError("flags do not fit a BYTE")
        if len(plaintext) > MAX_PLAINTEXT:
            raise ValueError("plaintext too long")
        if self._next is Rotation.SENDING:
            self._rotate_sending(now)  # changes nothing when it fails
        chain_key = self._sending_key
        assert chain_key is not None  # Alice has one from the DAKE, Bob rotates at once
        reveal = self._to_reveal_next
        self._to_reveal_next = b""
        if reveal_pending:
            self._drop_skipped(lambda _entry: True)
            reveal += b"".join(self._reveals)
            self._reveals.clear()
        j = self._j
        head_bytes = with_counters(self._send_head_bytes, flags, j)
        section, authenticator, extra, self._sending_key = datacrypt.seal_message(
            chain_key, head_bytes, plaintext
        )
        message = DataMessage4.assemble(
            self._send_head, flags, j, section, len(head_bytes) + 4, authenticator, reveal
        )
        self._j = j + 1
        return Sealed(message, extra)

    def seal_wire(self, message: bytes, flags: int) -> str | None:
        """The fused common case of :meth:`seal`: no rotation due and no MAC key to
        reveal.  The encoded ``"?OTR:...."`` data message of the plaintext
        ``message`` (NUL -> ``?``) || 0x00 (no TLVs), byte for byte what :meth:`seal`
        of that plaintext encodes to; None (nothing changed) when :meth:`seal`
        must be used."""
        chain_key = self._sending_key
        if self._next is not _RECEIVING or self._to_reveal_next or chain_key is None:
            return None
        if len(message) >= MAX_PLAINTEXT:
            raise ValueError("plaintext too long")
        j = self._j
        wire, self._sending_key = datacrypt.seal_wire(
            chain_key, self._send_head_bytes, flags, j, message, b""
        )
        self._j = j + 1
        return wire

    def _start_sending_chain(self, chain_key: bytes, dh_public: int | None) -> None:
        """A new sending chain: its key and the head its messages share (B.11)."""
        self._sending_key = chain_key
        self._sending_dh = dh_public
        self._send_head = Head(
            self.our_instance,
            self.their_instance,
            0,
            self._pn,
            max(0, self._i - 1),
            0,
            self._our_ecdh_public,
            dh_public,
        )
        self._send_head_bytes = encode_head(self._send_head)

    # --- receiving ---------------------------------------------------------------

    def _live(self, entry: _Skipped, now: float) -> bool:
        return now - entry.stored_at < self.limits.max_skipped_age

    def _drop_skipped(self, predicate: Callable[[_Skipped], bool]) -> None:
        """Drop stored keys matching ``predicate``, revealing their MAC keys."""
        for key in [key for key, entry in self._skipped.items() if predicate(entry)]:
            self._add_reveal(mac_key(self._skipped.pop(key).mk_enc))

    def _add_reveal(self, mk_mac: bytes, *, first: bool = False) -> None:
        """Queue ``mk_mac`` for revelation, at the end (or the front, as otr4j puts the
        key of a message that started a new ratchet); beyond ``max_pending_reveals``
        the key at the other end is forgotten."""
        # A deque of maxlen max_pending_reveals drops from the other end.
        if first:
            self._reveals.appendleft(mk_mac)
        else:
            self._reveals.append(mk_mac)

    def open(self, message: DataMessage4, now: float) -> Opened:
        """Verify and decrypt one data message ("When you receive a Data Message").

        Raises (and leaves the ratchet unchanged): :class:`AuthenticationFailed`
        for a bad authenticator, :class:`MessageReplayed` for a used, dropped or
        underivable key, :class:`TooManySkippedKeys` beyond ``max_skip``,
        :class:`~otr.errors.InvalidGroupElement` for a degenerate ECDH or DH
        result, :class:`~otr.errors.RemoteProtocolError` for wrong instance
        tags, a ratchet id from the future or keys that do not belong to the
        message's chain.
        """
        if message.receiver_tag != self.our_instance or message.sender_tag != self.their_instance:
            raise RemoteProtocolError("data message for another instance")
        rid, mid = message.ratchet_id, message.message_id
        if rid > 0 and mid == 0 and not message.revealed_macs:
            raise RemoteProtocolError("first message of a ratchet reveals no MAC key (otr4j rule)")
        entry = self._skipped.get((rid, mid)) if self._skipped else None
        if entry is not None and self._live(entry, now):
            return self._open_skipped(message, entry, now)
        chain = self._receiving
        if chain is not None and rid == chain.ratchet_id:
            return self._open_current(message, chain, now)
        if rid == self._i and self._next is Rotation.RECEIVING:
            return self._open_new_ratchet(message, chain, now)
        if rid >= self._i:
            raise RemoteProtocolError("ratchet id from the future")
        raise MessageReplayed("no key for this message (used, dropped or never derived)")

    @staticmethod
    def _verify_decrypt(
        message: DataMessage4, chain_key: bytes
    ) -> tuple[bytes, bytes, bytes, bytes]:
        """(plaintext, MKmac, extra key, next chain key) or AuthenticationFailed."""
        section = message.authenticated_section()
        opened = datacrypt.open_message(
            chain_key, section, len(section) - len(message.ciphertext), message.authenticator
        )
        if opened is None:
            raise AuthenticationFailed("data message authenticator does not verify")
        return opened

    def _opened(
        self, message: DataMessage4, plaintext: bytes, extra: bytes, new_ratchet: bool
    ) -> Opened:
        return Opened(
            plaintext, extra, message.ratchet_id, message.message_id, message.flags, new_ratchet
        )

    def _open_skipped(self, message: DataMessage4, entry: _Skipped, now: float) -> Opened:
        section = message.authenticated_section()
        opened = datacrypt.open_with_message_key(
            entry.mk_enc, section, len(section) - len(message.ciphertext), message.authenticator
        )
        if opened is None:
            raise AuthenticationFailed("data message authenticator does not verify")
        plaintext, mk_mac = opened
        del self._skipped[(message.ratchet_id, message.message_id)]
        self._add_reveal(mk_mac)
        self._expire_skipped(now)
        return self._opened(message, plaintext, entry.extra_key, False)

    def _check_skip(self, start: int, stop: int) -> None:
        if stop - start > self.limits.max_skip:
            raise TooManySkippedKeys("message would skip more keys than max_skip")

    def _open_current(self, message: DataMessage4, chain: _ReceivingChain, now: float) -> Opened:
        """A message of the current receiving chain (the per-message hot path)."""
        mid, k = message.message_id, chain.k
        if mid < k:
            raise MessageReplayed("message id already used in this chain")
        if message.ecdh.encode() != chain.ecdh or message.dh != chain.dh:
            raise RemoteProtocolError("public keys do not belong to this ratchet")
        chain_key = chain.chain_key
        skipped: list[tuple[tuple[int, int], _Skipped]] = []
        if mid > k:
            self._check_skip(k, mid)
            chain_key, skipped = _skip(chain_key, k, mid, chain.ratchet_id, now)
        plaintext, mk_mac, extra, next_key = self._verify_decrypt(message, chain_key)
        # Adopt: nothing below can fail.
        chain.chain_key = next_key
        chain.k = mid + 1
        if skipped:
            self._store(skipped)
        self._add_reveal(mk_mac)
        if self._skipped:
            self._expire_skipped(now)
        return Opened(plaintext, extra, message.ratchet_id, mid, message.flags, False)

    def _open_new_ratchet(
        self, message: DataMessage4, old: _ReceivingChain | None, now: float
    ) -> Opened:
        """Spec "Rotating ECDH Keys and Brace Key as receiver", computed provisionally."""
        rid, mid = message.ratchet_id, message.message_id
        skipped: list[tuple[tuple[int, int], _Skipped]] = []
        if old is not None and message.pn > old.k:
            self._check_skip(old.k, message.pn)
            _, skipped = _skip(old.chain_key, old.k, message.pn, old.ratchet_id, now)
        self._check_skip(0, mid)
        our_ecdh = self._our_ecdh
        if our_ecdh is None:  # pragma: no cover - a rotation always leaves a fresh key pair
            raise RemoteProtocolError("no ECDH key for a new ratchet")
        k_ecdh = our_ecdh.shared_secret(message.ecdh)
        if dh_key_expected(rid):
            our_dh = self._our_dh
            if our_dh is None or message.dh is None:
                raise RemoteProtocolError("no DH key for a DH ratchet")
            brace = _dh_brace_key(our_dh.secret, message.dh)
        else:
            brace = _next_brace_key(self._brace_key)
        root, chain_key = _derive_ratchet_keys(self._root_key, _mixed_secret(k_ecdh, brace))
        chain_key, more = _skip(chain_key, 0, mid, rid, now)
        plaintext, mk_mac, extra, next_key = self._verify_decrypt(message, chain_key)
        # Adopt the provisional ratchet: nothing below can fail.
        self._root_key = root
        self._brace_key = brace
        self._their_ecdh = message.ecdh
        if message.dh is not None:
            self._their_dh = message.dh
            self._our_dh = None  # used for the last time ("securely delete our_dh.secret")
        self._our_ecdh = None  # "securely delete our_ecdh.secret"
        self._receiving = self._receiving_chain(
            rid, message.ecdh.encode(), message.dh, next_key, mid + 1
        )
        self._i += 1
        self._next = Rotation.SENDING
        self.last_rotation = now
        self._store(skipped + more)
        self._add_reveal(mk_mac, first=True)
        self._expire_skipped(now)
        return self._opened(message, plaintext, extra, True)

    def _receiving_chain(
        self, ratchet_id: int, ecdh: bytes, dh: int | None, chain_key: bytes, k: int
    ) -> _ReceivingChain:
        head = chain_head(self.their_instance, self.our_instance, ratchet_id, ecdh, dh)
        return _ReceivingChain(ratchet_id, ecdh, dh, chain_key, k, head)

    def open_wire(self, text: str, now: float) -> str | None:
        """The fused common case of :meth:`open`: ``text`` straight from the wire is
        the next message of the current receiving chain, without TLVs
        (:func:`otr.v4.datacrypt.open_wire` lists what it takes).  Returns its
        text, with the ratchet advanced exactly as :meth:`open` advances it; None
        for anything else, with nothing changed (then decode it and call
        :meth:`open`, which handles and reports it)."""
        chain = self._receiving
        if chain is None:
            return None
        k = chain.k
        if self._skipped and (chain.ratchet_id, k) in self._skipped:
            return None  # never so (skipped ids are below k); open() would use the stored key
        opened = datacrypt.open_wire(text, chain.chain_key, chain.head, k)
        if opened is None:
            return None
        message, mk_mac, chain.chain_key = opened
        chain.k = k + 1
        self._reveals.append(mk_mac)  # _add_reveal(mk_mac)
        if self._skipped:
            self._expire_skipped(now)
        return message

    def _store(self, entries: list[tuple[tuple[int, int], _Skipped]]) -> None:
        if not entries:
            return
        for key, entry in entries:
            self._skipped[key] = entry
        while len(self._skipped) > self.limits.max_stored:
            _, oldest = self._skipped.popitem(last=False)
            self._add_reveal(mac_key(oldest.mk_enc))

    def _expire_skipped(self, now: float) -> None:
        """Drop skipped keys older than ``max_skipped_age`` (their MACs are revealed)."""
        if self._skipped:
            self._drop_skipped(lambda entry: not self._live(entry, now))

    def expire_skipped(self, now: float) -> None:
        """Timer hook: drop skipped keys older than ``max_skipped_age``."""
        self._expire_skipped(now)


def extra_key_context(value: bytes) -> bytes:
    """The 4-byte context of a TLV 7: its first 4 bytes, zero-padded when shorter (B.14)."""
    return value[:4].ljust(4, b"\0")


def derive_extra_keys(raw_key: bytes, tlvs: Iterable[Tlv]) -> list[tuple[int, bytes, bytes]]:
    """The keys of every TLV 7 of a message, as otr4j derives them (B.14).

    For the TLV 7 at 0-based position ``index`` of the TLV list (every TLV
    counts), ``key = SHAKE-256("OTRv4" || byte(index) || context || prev, 64)``
    where ``prev`` is the raw key for the first TLV 7 and the previously derived
    key afterwards (a chain).  ``byte(index)`` is the low 8 bits of the index.
    Returns ``(index, context, key)`` per TLV 7; otr4j sets no 10-key limit.
    """
    out: list[tuple[int, bytes, bytes]] = []
    prev = raw_key
    for index, record in enumerate(tlvs):
        if record.type != TLV_EXTRA_SYMMETRIC_KEY:
            continue
        context = extra_key_context(record.value)
        prev = kdf.kdf(index & 0xFF, (context, prev), EXTRA_KEY_BYTES)
        out.append((index, context, prev))
    return out
