"""OTRv2/v3 data messages and key management (spec "Data Message", "Key Management",
"Computing AES keys, MAC keys, and the secure session id", "Extra symmetric key",
"Revealing MAC keys").

:class:`DataSession` holds our two most recent D-H key pairs and the peer's two
most recent public keys, derives per-pair session keys on first use (and caches
them), enforces strictly increasing counters per key pair, rotates keys as the
spec says and collects used receiving MAC keys to reveal in the next message.
:meth:`DataSession.decrypt` either succeeds or raises a
:class:`~otr.errors.RemoteProtocolError` with the state unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, NamedTuple

from ..crypto import modp
from ..crypto.primitives import sha1, sha256
from ..errors import AuthenticationFailed, DecodeError
from ..wire.buffer import encode_mpi
from ..wire.v3 import DataMessage, data_next_dh, encode_data_authenticated, split_data
from .ake import AkeResult, DHKeyPair, generate_dh_keypair
from .datacrypt import DirectionKeys

__all__ = ["DataSession", "Decrypted", "SessionKeys", "aes_keys", "extra_symmetric_key"]

Rng = Callable[[int], bytes]

MAX_REVEAL_BYTES = 20 * 64
"""Bound on MAC keys waiting to be revealed (they are sent with the next message)."""


def aes_keys(secbytes: bytes) -> tuple[bytes, bytes]:
    """Spec "Computing AES keys, MAC keys": from ``secbytes`` = MPI(g^xy), the AES key the
    "high" end sends with (h1(0x01), first 16 bytes) and the one the "low" end sends with
    (h1(0x02)).  Each direction's MAC key is SHA-1 of its AES key."""
    return sha1(b"\x01" + secbytes)[:16], sha1(b"\x02" + secbytes)[:16]


def extra_symmetric_key(secbytes: bytes) -> bytes:
    """Spec "Extra symmetric key": h2(0xff) = SHA-256(0xff || MPI(g^xy))."""
    return sha256(b"\xff" + secbytes)


class SessionKeys:
    """Keys for one (our key, their key) pair (spec "Computing AES keys, MAC keys")."""

    __slots__ = (
        "extra_key",
        "rcv",
        "rcv_ctr",
        "rcv_key",
        "rcv_mac",
        "rcv_mac_used",
        "send",
        "send_ctr",
        "send_key",
        "send_mac",
    )

    def __init__(self, our: DHKeyPair, their_pub: Any) -> None:
        secbytes = encode_mpi(int(modp.powmod(their_pub, our.x)))
        high_key, low_key = aes_keys(secbytes)
        # "High" end: our public key numerically greater than theirs (ERRATA A4).
        send_key, rcv_key = (high_key, low_key) if our.gx > their_pub else (low_key, high_key)
        self.send_key = send_key
        self.rcv_key = rcv_key
        self.send_mac = sha1(send_key)
        self.rcv_mac = sha1(rcv_key)
        self.send = DirectionKeys(send_key, self.send_mac)
        self.rcv = DirectionKeys(rcv_key, self.rcv_mac)
        self.extra_key = extra_symmetric_key(secbytes)
        self.send_ctr = 0
        self.rcv_ctr = 0
        self.rcv_mac_used = False


class Decrypted(NamedTuple):
    plaintext: bytes
    extra_key: bytes
    """The extra symmetric key of the key pair that protected this message."""


class DataSession:
    """Key state for one encrypted session (spec "Key Management")."""

    def __init__(
        self,
        result: AkeResult,
        version: int,
        our_instance: int,
        their_instance: int,
        rng: Rng = secrets.token_bytes,
    ) -> None:
        self.version = version
        self.our_instance = our_instance
        self.their_instance = their_instance if version == 3 else 0
        self.rng = rng
        # "Upon completing the AKE": our AKE key is our_dh[our_keyid-1]; a fresh
        # pair is our_dh[our_keyid].
        self.our_keyid = result.our_keyid + 1
        self.our_dh: dict[int, DHKeyPair] = {
            result.our_keyid: result.our_dh,
            self.our_keyid: generate_dh_keypair(rng),
        }
        self.their_keyid = result.their_keyid
        self.their_y: dict[int, Any] = {result.their_keyid: result.their_dh}
        self._keys: dict[tuple[int, int], SessionKeys] = {}
        self._reveal = bytearray()
        self._prefixes: dict[tuple[int, int, int], bytes] = {}

    def _session(self, our_id: int, their_id: int) -> SessionKeys:
        sk = self._keys.get((our_id, their_id))
        if sk is None:
            sk = SessionKeys(self.our_dh[our_id], self.their_y[their_id])
            self._keys[(our_id, their_id)] = sk
        return sk

    def sending_extra_key(self) -> bytes:
        """Spec "Extra symmetric key": the key of the pair the next message uses."""
        return self._session(self.our_keyid - 1, self.their_keyid).extra_key

    def encrypt(self, plaintext: bytes, flags: int = 0) -> str:
        """Spec "When you send a Data Message"; returns the encoded message
        (``?OTR:...``), unfragmented."""
        our_id = self.our_keyid - 1
        their_id = self.their_keyid
        sk = self._keys.get((our_id, their_id)) or self._session(our_id, their_id)
        sk.send_ctr += 1  # the top half must increase and never be all zero
        ctr = sk.send_ctr.to_bytes(8, "big")
        # Everything before the counter depends only on the key ids and flags.
        cache_key = (flags, our_id, their_id)
        head = self._prefixes.get(cache_key)
        if head is None:
            msg = DataMessage(flags, our_id, their_id, int(self.our_dh[our_id + 1].gx), ctr, b"")
            auth = encode_data_authenticated(
                self.version, self.our_instance, self.their_instance, msg
            )
            head = auth[: -len(ctr) - 4]
            if len(self._prefixes) > 4:
                self._prefixes.clear()
            self._prefixes[cache_key] = head
        if self._reveal:
            reveal = bytes(self._reveal)
            self._reveal.clear()
        else:
            reveal = b""
        return sk.send.seal(head, ctr, plaintext, reveal)

    def decrypt(self, binary: bytes) -> Decrypted:
        """Spec "When you receive a Data Message", for the binary message; the
        instance tags are not checked here.  Raises with the state unchanged."""
        version, _, _, _, sid, rid, dh_start, ctr, enc_start, auth_end = split_data(binary)
        if version != self.version:
            raise DecodeError("protocol version differs from the session's")
        sk = self._keys.get((rid, sid))
        if sk is None:  # cached keys always belong to known key ids
            if rid not in self.our_dh or sid not in self.their_y:
                raise AuthenticationFailed("unknown key ids")
            sk = self._session(rid, sid)
        if ctr <= sk.rcv_ctr:
            raise AuthenticationFailed("counter did not increase")
        plaintext = sk.rcv.open(binary, enc_start, auth_end)
        if plaintext is None:
            raise AuthenticationFailed("MAC does not verify")
        rotate_theirs = sid == self.their_keyid
        if rotate_theirs:
            next_dh = data_next_dh(binary, dh_start, enc_start)
            modp.check_group_element(next_dh)
        # "Finally, check if keys need rotation": our next key is made before any
        # state changes.  If the rng fails, our rotation is deferred to the next
        # message that uses our newest key (the peer keeps using it meanwhile), so
        # an entropy failure never loses a message nor breaks the session.
        new_pair = None
        if rid == self.our_keyid:
            try:
                new_pair = generate_dh_keypair(self.rng)
            except Exception:  # the injected rng failed: rotate later
                new_pair = None
        sk.rcv_ctr = ctr
        sk.rcv_mac_used = True
        if new_pair is not None:
            self._rotate_ours(new_pair)
        if rotate_theirs:
            self._rotate_theirs(next_dh)
        return Decrypted(plaintext, sk.extra_key)

    def _rotate_ours(self, new_pair: DHKeyPair) -> None:
        old = self.our_keyid - 1
        self._forget(lambda k: k[0] == old)
        del self.our_dh[old]
        self.our_keyid += 1
        self.our_dh[self.our_keyid] = new_pair

    def _rotate_theirs(self, next_dh: int) -> None:
        old = self.their_keyid - 1
        if old in self.their_y:
            self._forget(lambda k: k[1] == old)
            del self.their_y[old]
        self.their_keyid += 1
        self.their_y[self.their_keyid] = next_dh

    def _forget(self, match: Callable[[tuple[int, int]], bool]) -> None:
        """Drop session keys of a forgotten D-H key, saving used receiving MAC keys
        for revelation (spec "Revealing MAC keys")."""
        for k in [k for k in self._keys if match(k)]:
            sk = self._keys.pop(k)
            if sk.rcv_mac_used and len(self._reveal) < MAX_REVEAL_BYTES:
                self._reveal += sk.rcv_mac
