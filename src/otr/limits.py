"""Every resource limit of a conversation, in one place, with its default.

A :class:`Limits` is passed to :class:`otr.Conversation` (``limits=``).  The limits
bound what a peer - or anyone able to inject into the IM stream - can make us hold:

========================  =========  ===================================================
setting                   default    meaning
========================  =========  ===================================================
``max_message_bytes``     262144     Largest message the user may send: UTF-8 text plus
                                     encoded TLVs, in bytes.  ``send`` raises
                                     :class:`~otr.errors.LocalProtocolError` above it,
                                     before anything changes, in every message state.
``max_instances``         16         Remote instances (sessions) kept per conversation.
                                     When a new one would exceed it, the least recently
                                     active instance that never completed a key exchange
                                     is forgotten; else the least recently active one in
                                     PLAINTEXT or FINISHED; else the new instance is
                                     refused (``MessageUnreadable``).  The selected
                                     instance is never evicted.
``max_fragments``         4096       Fragments in one reassembled message (the sender
                                     refuses a message that would need more).
``max_reassembly_chars``  derived    Characters of fragment pieces held per instance:
                                     by default exactly the longest encoded message
                                     ``max_message_bytes`` can produce, so the receiver's
                                     limit is never smaller than the sender's.
``max_received_chars``    4194368    Longest text ``receive`` looks at (the envelope's
                                     4 MiB base-64 limit plus some room); longer text is
                                     reported as ``MessageUnreadable`` without scanning.
``resend_record``         16         Recently sent messages remembered per instance (for
                                     ``MessagesPossiblyLost`` and the resend after a
                                     peer restarts; see :class:`otr.Conversation`).
``offline_early_count``   16         OTRv4 data messages held per instance that arrive
                                     before the Non-Interactive-Auth message starting
                                     their session (reordered by the network or a
                                     server); read once it arrives.  Only while the
                                     instance has no session, we accept offline starts
                                     (published prekeys) and the message is of the first
                                     ratchet (id 0).  One more is handled at once (an
                                     unreadable message, the peer is told).
``offline_early_bytes``   262144     Bytes of such messages held per instance, likewise.
``offline_early_age``     300.0      Seconds such a message is held; then it is reported
                                     as ``MessageUnreadable`` (and the peer told) as it
                                     would have been on arrival.  Below the 10 minutes
                                     the spec suggests for messages overtaking Auth-I:
                                     a peer that lost its session is told this late.
========================  =========  ===================================================

Memory a hostile peer can make one conversation hold is therefore at most about
``max_instances * (max_reassembly_chars + 64 * max_fragments + offline_early_bytes +
a session's few KB)`` (16 x 0.7 MB with the defaults), whatever it sends; once the caps
are reached every further hostile message costs no more memory.

OTRv4's other limits (skipped message keys, v4 fragment buffers, data messages
overtaking Auth-I) are in :class:`otr.v4.session.V4Settings`; the prekey server's in
:mod:`otr.prekey.limits` and :class:`otr.prekey.storage.StorageCaps`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DATA_MESSAGE_OVERHEAD", "Limits", "encoded_length_bound"]

DATA_MESSAGE_OVERHEAD = 2048
"""Upper bound on the bytes an OTRv3 data message adds to its plaintext: header and
instance tags (11), flags and key ids (9), the next D-H key as an MPI (at most
4 + 192), the counter (8), the length fields (12), the MAC (20) and the revealed MAC
keys (at most 20 * 64 = 1280, :data:`otr.v3.session.MAX_REVEAL_BYTES`): 1536 bytes,
rounded up."""

_MAX_ENCODED_LEN = 4 * 1024 * 1024
"""The envelope's limit on base-64 characters (:data:`otr.wire.envelope.MAX_ENCODED_LEN`)."""


def encoded_length_bound(plaintext_bytes: int) -> int:
    """The most characters an encoded data message (``?OTR:`` + base 64 + ``.``)
    carrying ``plaintext_bytes`` bytes of plaintext can take."""
    binary = plaintext_bytes + DATA_MESSAGE_OVERHEAD
    return 6 + 4 * ((binary + 2) // 3)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one conversation (see the module docstring for each)."""

    max_message_bytes: int = 256 * 1024
    max_instances: int = 16
    max_fragments: int = 4096
    max_reassembly_chars: int = 0
    """0: derived from ``max_message_bytes`` (:func:`encoded_length_bound`)."""
    max_received_chars: int = _MAX_ENCODED_LEN + 64
    resend_record: int = 16
    offline_early_count: int = 16
    offline_early_bytes: int = 256 * 1024
    offline_early_age: float = 300.0

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1:
            raise ValueError("max_message_bytes must be positive")
        if encoded_length_bound(self.max_message_bytes) > _MAX_ENCODED_LEN:
            raise ValueError("max_message_bytes exceeds what a receiver accepts (4 MiB encoded)")
        if self.max_instances < 1:
            raise ValueError("max_instances must be at least 1")
        if not 1 <= self.max_fragments <= 0xFFFF:
            raise ValueError("max_fragments must be in 1..65535")
        if self.max_reassembly_chars == 0:
            object.__setattr__(
                self, "max_reassembly_chars", encoded_length_bound(self.max_message_bytes)
            )
        elif self.max_reassembly_chars < encoded_length_bound(self.max_message_bytes):
            raise ValueError("max_reassembly_chars must hold the largest message we send")
        if self.max_received_chars < self.max_reassembly_chars:
            raise ValueError("max_received_chars must hold the largest message we send")
        if self.resend_record < 0:
            raise ValueError("resend_record must not be negative")
        if self.offline_early_count < 0 or self.offline_early_bytes < 0:
            raise ValueError("offline_early_count and offline_early_bytes must not be negative")
        if not self.offline_early_age >= 0:
            raise ValueError("offline_early_age must not be negative")
