"""The OTRv2/v3 Authenticated Key Exchange (spec "Authenticated Key Exchange (AKE)",
"Authentication state", "Receiving a D-H Commit / D-H Key / Reveal Signature /
Signature Message").

:class:`Ake` is the authstate machine of one (local instance, remote instance)
pair.  It speaks in message objects (:mod:`otr.wire.v3`); the conversation
adds headers and armouring.  A message that is not acceptable in the current
state is ignored (an empty :class:`AkeStep`), as the spec says; a message that
fails a cryptographic check (group element, hash, MAC, signature) raises a
:class:`~otr.errors.RemoteProtocolError` and leaves the state unchanged, as
libotr 4.1.1 does (ERRATA A10).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..crypto import modp
from ..crypto.dsa import DSAPrivateKey, DSAPublicKey, decode_pubkey
from ..crypto.primitives import aes128_ctr, consttime_equal, hmac_sha256, hmac_sha256_160, sha256
from ..errors import AuthenticationFailed, DecodeError
from ..wire.buffer import Reader, encode_data, encode_mpi
from ..wire.v3 import AkeMessage, DHCommit, DHKey, RevealSignature, Signature

__all__ = [
    "AKE_KEYID",
    "TRANSITIONS",
    "Ake",
    "AkeKeys",
    "AkeResult",
    "AkeStep",
    "AuthState",
    "DHKeyPair",
    "generate_dh_keypair",
    "open_signed_part",
]

Rng = Callable[[int], bytes]

AKE_KEYID = 1
"""The keyid we give our AKE D-H key (spec "Key Management": our_keyid-1 with
our_keyid = 2; libotr uses 1)."""
R_LEN = 16
"""Spec "D-H Commit Message": r is 128 bits."""


class AuthState(enum.Enum):
    """Spec "Authentication state" (v1 setup is not supported)."""

    AUTHSTATE_NONE = "none"
    AUTHSTATE_AWAITING_DHKEY = "awaiting_dhkey"
    AUTHSTATE_AWAITING_REVEALSIG = "awaiting_revealsig"
    AUTHSTATE_AWAITING_SIG = "awaiting_sig"


@dataclass(frozen=True)
class DHKeyPair:
    """A 1536-bit D-H key pair (private x of DH_PRIVATE_BITS bits, public g^x)."""

    x: Any
    gx: Any


def generate_dh_keypair(rng: Rng) -> DHKeyPair:
    """Spec: "Choose a random value x (at least 320 bits)"."""
    nbytes = modp.DH_PRIVATE_BITS // 8
    x = int.from_bytes(rng(nbytes), "big")
    if x < 2:  # astronomically unlikely; keep g^x a valid group element
        x = 2
    return DHKeyPair(x, modp.powmod_g(x))


@dataclass(frozen=True)
class AkeKeys:
    """Spec "Computing AES keys, MAC keys, and the secure session id"."""

    ssid: bytes
    c: bytes
    c_prime: bytes
    m1: bytes
    m2: bytes
    m1_prime: bytes
    m2_prime: bytes

    @classmethod
    def from_secret(cls, s: Any) -> AkeKeys:
        secbytes = encode_mpi(int(s))

        def h2(b: int) -> bytes:
            return sha256(bytes((b,)) + secbytes)

        h2_1 = h2(0x01)
        return cls(
            ssid=h2(0x00)[:8],
            c=h2_1[:16],
            c_prime=h2_1[16:],
            m1=h2(0x02),
            m2=h2(0x03),
            m1_prime=h2(0x04),
            m2_prime=h2(0x05),
        )


@dataclass(frozen=True)
class AkeResult:
    """What a successful AKE hands to the data-message layer."""

    version: int
    ssid: bytes
    ssid_first_half_bold: bool
    """True when we sent the Reveal Signature message (spec: show the first half bold)."""
    their_pubkey: DSAPublicKey
    our_dh: DHKeyPair
    our_keyid: int
    their_dh: Any
    their_keyid: int


@dataclass(frozen=True)
class AkeStep:
    """Outcome of one received message: a reply to send and/or a result."""

    reply: AkeMessage | None = None
    result: AkeResult | None = None


_NOTHING = AkeStep()


class Ake:
    """The authstate machine (spec "Authentication state").  Copyable with
    :func:`copy.copy` (all fields are immutable values)."""

    def __init__(self, key: DSAPrivateKey, rng: Rng = secrets.token_bytes) -> None:
        self.key = key
        self.rng = rng
        self.state = AuthState.AUTHSTATE_NONE
        self.version = 0
        self._our_dh: DHKeyPair | None = None
        self._r = b""
        self._our_gxmpi = b""
        self._our_hashed_gx = b""
        self._their_encrypted_gx = b""
        self._their_hashed_gx = b""
        self._their_gy: Any = None
        self._sent: AkeMessage | None = None
        self._keys: AkeKeys | None = None

    # -- starting

    def start(self, version: int) -> DHCommit:
        """Send a D-H Commit Message; authstate AUTHSTATE_AWAITING_DHKEY.  The
        randomness is drawn first: if the rng raises, nothing has changed."""
        our_dh = generate_dh_keypair(self.rng)
        r = self.rng(R_LEN)
        gxmpi = encode_mpi(int(our_dh.gx))
        hashed_gx = sha256(gxmpi)
        commit = DHCommit(aes128_ctr(r, gxmpi), hashed_gx)
        self.version = version
        self._our_dh = our_dh
        self._r = r
        self._our_gxmpi = gxmpi
        self._our_hashed_gx = hashed_gx
        self._sent = commit
        self.state = AuthState.AUTHSTATE_AWAITING_DHKEY
        return commit

    # -- receiving

    def receive(self, version: int, msg: object) -> AkeStep:
        """Handle one AKE message of protocol ``version``: the handler of
        :data:`TRANSITIONS` for (message type, authstate); none means "ignore the
        message" (spec)."""
        handler = TRANSITIONS.get((type(msg), self.state))
        if handler is None:
            return _NOTHING
        return handler(self, version, msg)

    def _reply_dhkey(self, version: int, msg: DHCommit) -> AkeStep:
        """Reply with a (new) D-H Key message; AUTHSTATE_AWAITING_REVEALSIG (the key
        is generated before anything changes)."""
        our_dh = generate_dh_keypair(self.rng)
        self.version = version
        self._our_dh = our_dh
        self._their_encrypted_gx = msg.encrypted_gx
        self._their_hashed_gx = msg.hashed_gx
        reply = DHKey(int(self._our_dh.gx))
        self._sent = reply
        self.state = AuthState.AUTHSTATE_AWAITING_REVEALSIG
        return AkeStep(reply)

    def _commit_crossed(self, version: int, msg: DHCommit) -> AkeStep:
        """D-H Commit in AUTHSTATE_AWAITING_DHKEY: both sides started; compare hashed
        g^x as 32-byte big-endian values."""
        if self._our_hashed_gx > msg.hashed_gx:
            return AkeStep(self._sent)  # ours is higher: resend our commit
        return self._reply_dhkey(version, msg)

    def _commit_again(self, version: int, msg: DHCommit) -> AkeStep:
        """D-H Commit in AUTHSTATE_AWAITING_REVEALSIG: retransmit the same D-H Key
        message; use the new commit."""
        self.version = version
        self._their_encrypted_gx = msg.encrypted_gx
        self._their_hashed_gx = msg.hashed_gx
        return AkeStep(self._sent)

    def _dhkey_again(self, version: int, msg: DHKey) -> AkeStep:
        """D-H Key in AUTHSTATE_AWAITING_SIG: the same one is answered with our Reveal
        Signature again; another is ignored."""
        if msg.gy == self._their_gy and version == self.version:
            return AkeStep(self._sent)
        return _NOTHING

    def _on_dhkey(self, version: int, msg: DHKey) -> AkeStep:
        """D-H Key in AUTHSTATE_AWAITING_DHKEY: reply with a Reveal Signature."""
        if version != self.version:
            return _NOTHING
        modp.check_group_element(msg.gy)
        assert self._our_dh is not None
        keys = AkeKeys.from_secret(modp.powmod(msg.gy, self._our_dh.x))
        gx, gy = int(self._our_dh.gx), msg.gy
        enc_sig, mac = self._signed_part(gx, gy, keys.m1, keys.c, keys.m2)
        reply = RevealSignature(self._r, enc_sig, mac)
        self._their_gy = gy
        self._keys = keys
        self._sent = reply
        self.state = AuthState.AUTHSTATE_AWAITING_SIG
        return AkeStep(reply)

    def _on_revealsig(self, version: int, msg: RevealSignature) -> AkeStep:
        """Reveal Signature in AUTHSTATE_AWAITING_REVEALSIG: verify, reply with a
        Signature; the AKE succeeded."""
        if version != self.version:
            return _NOTHING
        gxmpi = aes128_ctr(msg.revealed_key, self._their_encrypted_gx)
        if not consttime_equal(sha256(gxmpi), self._their_hashed_gx):
            raise AuthenticationFailed("hashed g^x does not match")
        r = Reader(gxmpi)
        gx = r.get_mpi()
        r.finish()
        modp.check_group_element(gx)
        assert self._our_dh is not None
        gy = int(self._our_dh.gx)
        keys = AkeKeys.from_secret(modp.powmod(gx, self._our_dh.x))
        their_pub, their_keyid = open_signed_part(
            msg.encrypted_signature, msg.mac, gx, gy, keys.m1, keys.c, keys.m2
        )
        enc_sig, mac = self._signed_part(gy, gx, keys.m1_prime, keys.c_prime, keys.m2_prime)
        result = AkeResult(
            version=version,
            ssid=keys.ssid,
            ssid_first_half_bold=False,
            their_pubkey=their_pub,
            our_dh=self._our_dh,
            our_keyid=AKE_KEYID,
            their_dh=gx,
            their_keyid=their_keyid,
        )
        self._reset()
        return AkeStep(Signature(enc_sig, mac), result)

    def _on_signature(self, version: int, msg: Signature) -> AkeStep:
        """Signature in AUTHSTATE_AWAITING_SIG: verify; the AKE succeeded."""
        if version != self.version:
            return _NOTHING
        keys = self._keys
        assert keys is not None and self._our_dh is not None
        gx = int(self._our_dh.gx)
        gy = self._their_gy
        their_pub, their_keyid = open_signed_part(
            msg.encrypted_signature, msg.mac, gy, gx, keys.m1_prime, keys.c_prime, keys.m2_prime
        )
        result = AkeResult(
            version=version,
            ssid=keys.ssid,
            ssid_first_half_bold=True,
            their_pubkey=their_pub,
            our_dh=self._our_dh,
            our_keyid=AKE_KEYID,
            their_dh=gy,
            their_keyid=their_keyid,
        )
        self._reset()
        return AkeStep(None, result)

    # -- the signed part of Reveal Signature and Signature

    def _signed_part(
        self, ours: int, theirs: int, m1: bytes, c: bytes, m2: bytes
    ) -> tuple[bytes, bytes]:
        """Build the encrypted X and its MAC: M = HMAC-SHA256(m1, ours || theirs ||
        pub || keyid); X = pub || keyid || sig(M); enc = AES-CTR(c, X);
        MAC = HMAC-SHA256-160(m2, DATA(enc))."""
        pub = self.key.public.encode()
        keyid = AKE_KEYID.to_bytes(4, "big")
        m = hmac_sha256(m1, encode_mpi(ours) + encode_mpi(theirs) + pub + keyid)
        enc = aes128_ctr(c, pub + keyid + self.key.sign(m, self.rng))
        return enc, hmac_sha256_160(m2, encode_data(enc))

    def _reset(self) -> None:
        """Back to AUTHSTATE_NONE, forgetting the exchange's secrets."""
        self.state = AuthState.AUTHSTATE_NONE
        self._our_dh = None
        self._r = b""
        self._our_gxmpi = b""
        self._our_hashed_gx = b""
        self._their_encrypted_gx = b""
        self._their_hashed_gx = b""
        self._their_gy = None
        self._sent = None
        self._keys = None


_S = AuthState
TRANSITIONS: dict[tuple[type, AuthState], Callable[[Ake, int, Any], AkeStep]] = {
    # Spec "Receiving a D-H Commit Message".
    (DHCommit, _S.AUTHSTATE_NONE): Ake._reply_dhkey,
    (DHCommit, _S.AUTHSTATE_AWAITING_DHKEY): Ake._commit_crossed,
    (DHCommit, _S.AUTHSTATE_AWAITING_REVEALSIG): Ake._commit_again,
    (DHCommit, _S.AUTHSTATE_AWAITING_SIG): Ake._reply_dhkey,
    # Spec "Receiving a D-H Key Message" (ignored in NONE and AWAITING_REVEALSIG).
    (DHKey, _S.AUTHSTATE_AWAITING_DHKEY): Ake._on_dhkey,
    (DHKey, _S.AUTHSTATE_AWAITING_SIG): Ake._dhkey_again,
    # Spec "Receiving a Reveal Signature Message" / "a Signature Message" (ignored
    # in every other state).
    (RevealSignature, _S.AUTHSTATE_AWAITING_REVEALSIG): Ake._on_revealsig,
    (Signature, _S.AUTHSTATE_AWAITING_SIG): Ake._on_signature,
}
"""The authstate machine as data: (received message type, authstate) -> handler.
A pair that is not here is a message the spec says to ignore in that state."""


def open_signed_part(
    enc: bytes, mac: bytes, theirs: int, ours: int, m1: bytes, c: bytes, m2: bytes
) -> tuple[DSAPublicKey, int]:
    """Check and open the signed part of a Reveal Signature or Signature Message (spec
    "Receiving a Reveal Signature Message" steps 2-4): MAC_{m2}(DATA(enc)), then X = AES_c(enc)
    = pub || keyid || sig(M) with M = MAC_{m1}(theirs || ours || pub || keyid), ``theirs``
    being the sender's D-H public key.  Returns (pub, keyid); raises
    :class:`~otr.errors.AuthenticationFailed` or :class:`~otr.errors.DecodeError`."""
    if not consttime_equal(hmac_sha256_160(m2, encode_data(enc)), mac):
        raise AuthenticationFailed("AKE MAC does not verify")
    x = aes128_ctr(c, enc)
    r = Reader(x)
    start = r.position
    pub = decode_pubkey(r)
    keyid = r.get_int()
    signed_upto = r.position
    qlen = (pub.q.bit_length() + 7) // 8
    sig = r.get_raw(2 * qlen)
    r.finish()
    if keyid == 0:
        raise DecodeError("keyid must be greater than 0")
    m = hmac_sha256(m1, encode_mpi(theirs) + encode_mpi(ours) + x[start:signed_upto])
    if not pub.verify(m, sig):
        raise AuthenticationFailed("AKE signature does not verify")
    return pub, keyid
