"""DAKEZ between a publisher and the prekey server, and the MACs keyed by its
shared secret (otr-v4-prekey-server.md "Key Exchange", "DAKE-1/2/3 Message",
"Shared Session State", "Prekey Server Composite Identity", "Shared Secrets",
"Prekey Publication Message", "Storage ... Message", "Success/Failure Message").

::

    phi  = DATA(publisher identity) || DATA(server identity)
    t2   = 0x00 || KDF(0x02, Alice's CLIENT-PROF, 64) || KDF(0x03, COMP-ID, 64)
           || I || S || KDF(0x04, phi, 64)
    t3   = 0x01 || KDF(0x05, ...) || KDF(0x06, ...) || I || S || KDF(0x07, phi, 64)
    sigma2 = RSig(H_s, sk_s, {H_a, H_s, I}, t2)   sigma3 = RSig(H_a, sk_a, {H_a, H_s, S}, t3)
    SK = KDF(0x01, ECDH(x, 4*P), 64)       prekey_mac_k = KDF(0x08, SK, 64)

All KDFs here are SHAKE-256("OTR-Prekey-Server" || usage || values); the ring
signatures use the prekey-server scheme (:data:`otr.crypto.ring.PREKEY_SERVER`:
that domain, usage_auth 0x11, otr4j's encodings otherwise).  The server's
fingerprint is the OTRv4 one, ``KDF_1(0x00, H_s, 56)`` over the bare POINT.

Decisions:

* ``phi`` has fixed positions - publisher first, then the server - as in the
  spec's XMPP example; the "sort lexicographically" sentence would reorder the
  two for a publisher such as ``zoe@x.org`` and is not followed (cf. ERRATA B8).
* DAKE-3 carries no receiver tag, so the spec's "receiver instance tag of the
  message matches their sender instance tag" cannot be applied as written; the
  server instead checks that DAKE-3's **sender** tag equals the sender tag it
  stored from DAKE-1 (the Key Exchange section's own wording).
* The Prekey MAC always hashes every part that is present, proofs included::

      KDF(0x09, prekey_mac_k || 0x08 || N || KDF(0x0E, prekey messages, 64)
          || K || [KDF(0x0F, client profile, 64)] || J || [KDF(0x10, prekey profile, 64)]
          || KDF(0x16, proofs, 64), 64)

  (the spec's "only Prekey Messages" variant has a misplaced parenthesis that
  would leave the proofs out of the MAC; ERRATA B26).  Profile digests are
  present exactly when their flag is 1; the Prekey Message and proof digests
  are always present (over empty input when N = 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..crypto import kdf, ring
from ..crypto.ed448 import Point, Rng
from ..crypto.ring import RingSignature
from ..errors import AuthenticationFailed, RemoteProtocolError
from ..v4.keys import ECDHKeyPair, Ed448KeyPair
from ..v4.profiles import ClientProfile
from ..wire.buffer import encode_data, encode_int
from . import messages as msg

__all__ = [
    "ClientDakeState",
    "ServerDakeState",
    "SessionKeys",
    "client_accept_dake2",
    "client_start",
    "dake_t",
    "phi",
    "server_fingerprint",
    "server_respond",
    "server_verify_dake3",
]


def _kdf(usage: int, values: bytes | Sequence[bytes], size: int = 64) -> bytes:
    return kdf.kdf(usage, values, size, domain=kdf.PREKEY_SERVER_DOMAIN)


def server_fingerprint(server_key: Point) -> bytes:
    """``KDF_1(usage_fingerprint, byte(H), 56)`` with the OTRv4 KDF (56 bytes)."""
    return kdf.hwc(kdf.USAGE_FINGERPRINT, server_key.encode(), 56)


def phi(publisher: str, server: str) -> bytes:
    """The shared session state: DATA(publisher) || DATA(server), UTF-8."""
    return encode_data(publisher.encode("utf-8")) + encode_data(server.encode("utf-8"))


def dake_t(
    flag: int, client_profile: bytes, comp_id: bytes, i: Point, s: Point, phi_value: bytes
) -> bytes:
    """``t`` of DAKE-2 (flag 0) or DAKE-3 (flag 1)."""
    if flag == 0:
        u_cp, u_id, u_phi = (
            kdf.PS_USAGE_INITIATOR_CLIENT_PROFILE,
            kdf.PS_USAGE_INITIATOR_PREKEY_COMPOSITE_IDENTITY,
            kdf.PS_USAGE_INITIATOR_PREKEY_COMPOSITE_PHI,
        )
    elif flag == 1:
        u_cp, u_id, u_phi = (
            kdf.PS_USAGE_RECEIVER_CLIENT_PROFILE,
            kdf.PS_USAGE_RECEIVER_PREKEY_COMPOSITE_IDENTITY,
            kdf.PS_USAGE_RECEIVER_PREKEY_COMPOSITE_PHI,
        )
    else:
        raise ValueError("flag is 0 (DAKE-2) or 1 (DAKE-3)")
    return b"".join(
        (
            bytes((flag,)),
            _kdf(u_cp, client_profile),
            _kdf(u_id, comp_id),
            i.encode(),
            s.encode(),
            _kdf(u_phi, phi_value),
        )
    )


@dataclass(frozen=True)
class SessionKeys:
    """``SK`` and what is derived from it; ``prekey_mac_k`` keys every MAC."""

    sk: bytes = field(repr=False)
    prekey_mac_k: bytes = field(repr=False)

    @classmethod
    def from_ecdh(cls, ours: ECDHKeyPair, theirs: Point) -> SessionKeys:
        """``SK = KDF(usage_SK, ECDH(ours, theirs), 64)`` with the prekey-server
        ECDH (cofactor multiplication first; degenerate results rejected)."""
        sk = _kdf(kdf.PS_USAGE_SK, ours.shared_secret(theirs, multiply_by_cofactor=True))
        return cls(sk, _kdf(kdf.PS_USAGE_PREMAC_KEY, sk))

    def storage_info_mac(self) -> bytes:
        return _kdf(
            kdf.PS_USAGE_STORAGE_INFO_MAC,
            (self.prekey_mac_k, bytes((msg.TYPE_STORAGE_INFO_REQUEST,))),
        )

    def status_mac(self, receiver_tag: int, count: int) -> bytes:
        return _kdf(
            kdf.PS_USAGE_STATUS_MAC,
            (
                self.prekey_mac_k,
                bytes((msg.TYPE_STORAGE_STATUS,)),
                encode_int(receiver_tag),
                encode_int(count),
            ),
        )

    def success_mac(self, receiver_tag: int) -> bytes:
        return _kdf(
            kdf.PS_USAGE_SUCCESS_MAC,
            (self.prekey_mac_k, bytes((msg.TYPE_SUCCESS,)), encode_int(receiver_tag)),
        )

    def failure_mac(self, receiver_tag: int) -> bytes:
        return _kdf(
            kdf.PS_USAGE_FAILURE_MAC,
            (self.prekey_mac_k, bytes((msg.TYPE_FAILURE,)), encode_int(receiver_tag)),
        )

    def publication_mac(
        self,
        count: int,
        prekey_messages: bytes,
        client_profile: bytes | None,
        prekey_profile: bytes | None,
        proofs: bytes,
    ) -> bytes:
        """The Prekey MAC over every part present (see the module docstring)."""
        parts = [
            self.prekey_mac_k,
            bytes((msg.TYPE_PUBLICATION, count)),
            _kdf(kdf.PS_USAGE_PREKEY_MESSAGE, prekey_messages),
        ]
        if client_profile is None:
            parts.append(b"\x00")
        else:
            parts += (b"\x01", _kdf(kdf.PS_USAGE_CLIENT_PROFILE, client_profile))
        if prekey_profile is None:
            parts.append(b"\x00")
        else:
            parts += (b"\x01", _kdf(kdf.PS_USAGE_PREKEY_PROFILE, prekey_profile))
        parts.append(_kdf(kdf.PS_USAGE_MAC_PROOFS, proofs))
        return _kdf(kdf.PS_USAGE_PREMAC, parts)

    def mac_of(self, publication: msg.PrekeyPublication) -> bytes:
        """The Prekey MAC a publication should carry."""
        return self.publication_mac(
            len(publication.prekey_messages),
            publication.encoded_prekey_messages(),
            None if publication.client_profile is None else publication.client_profile.encode(),
            None if publication.prekey_profile is None else publication.prekey_profile.encode(),
            publication.encoded_proofs(),
        )


# --------------------------------------------------------------------------------
# Server side
# --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerDakeState:
    """What the server keeps between DAKE-2 and DAKE-3 (``s`` is already gone)."""

    publisher: str
    sender_tag: int
    client_profile: ClientProfile
    t3: bytes = field(repr=False)
    s_public: Point
    keys: SessionKeys = field(repr=False)
    created: float


def server_respond(
    dake1: msg.Dake1,
    *,
    server_key: Ed448KeyPair,
    server_identity: str,
    publisher: str,
    now: float,
    rng: Rng,
) -> tuple[msg.Dake2, ServerDakeState]:
    """Verify DAKE-1 (profile valid and owned by the sender tag, ``I`` valid - the
    decoder validated it) and answer with DAKE-2.  Raises ProfileError (a
    RemoteProtocolError) when the profile is not acceptable."""
    profile = dake1.client_profile
    profile.validate(now, sender_instance_tag=dake1.sender_tag)
    s = ECDHKeyPair.generate(rng)
    comp_id = msg.composite_identity(server_identity, server_key.public)
    cp = profile.encode()
    phi_value = phi(publisher, server_identity)
    t2 = dake_t(0, cp, comp_id, dake1.i, s.public, phi_value)
    sigma = ring.rsig(
        server_key.secret,
        server_key.public,
        (profile.public_key, server_key.public, dake1.i),
        t2,
        rng,
        scheme=ring.PREKEY_SERVER,
    )
    keys = SessionKeys.from_ecdh(s, dake1.i)
    t3 = dake_t(1, cp, comp_id, dake1.i, s.public, phi_value)
    state = ServerDakeState(publisher, dake1.sender_tag, profile, t3, s.public, keys, now)
    return msg.Dake2(dake1.sender_tag, server_identity, server_key.public, s.public, sigma), state


def server_verify_dake3(state: ServerDakeState, dake3: msg.Dake3, server_public: Point) -> None:
    """Check DAKE-3's sender tag against DAKE-1's and its ring signature
    ``RVrf({H_a, H_s, S}, sigma, t3)``; raises AuthenticationFailed."""
    if dake3.sender_tag != state.sender_tag:
        raise RemoteProtocolError("DAKE-3 sender tag differs from DAKE-1's")
    ring_keys = (state.client_profile.public_key, server_public, state.s_public)
    if not ring.rvrf(ring_keys, dake3.sigma, state.t3, scheme=ring.PREKEY_SERVER):
        raise AuthenticationFailed("DAKE-3 ring signature does not verify")


# --------------------------------------------------------------------------------
# Client side
# --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientDakeState:
    """What the publisher keeps between DAKE-1 and DAKE-2."""

    publisher: str
    server_identity: str
    sender_tag: int
    client_profile: ClientProfile
    i: ECDHKeyPair = field(repr=False)
    expected_fingerprint: bytes | None


def client_start(
    *,
    publisher: str,
    server_identity: str,
    instance_tag: int,
    client_profile: ClientProfile,
    rng: Rng,
    expected_fingerprint: bytes | None = None,
) -> tuple[msg.Dake1, ClientDakeState]:
    """DAKE-1 with a fresh ephemeral ``i``."""
    i = ECDHKeyPair.generate(rng)
    state = ClientDakeState(
        publisher, server_identity, instance_tag, client_profile, i, expected_fingerprint
    )
    return msg.Dake1(instance_tag, client_profile, i.public), state


def client_accept_dake2(
    state: ClientDakeState, dake2: msg.Dake2, keypair: Ed448KeyPair, rng: Rng
) -> tuple[SessionKeys, RingSignature]:
    """Verify DAKE-2 (receiver tag, the server's identity and fingerprint, sigma)
    and return the session keys and DAKE-3's sigma.  Raises
    RemoteProtocolError / AuthenticationFailed."""
    if dake2.receiver_tag != state.sender_tag:
        raise RemoteProtocolError("DAKE-2 is not for our instance tag")
    if dake2.server_identity != state.server_identity:
        raise AuthenticationFailed("DAKE-2 names another prekey server")
    fp = server_fingerprint(dake2.server_key)
    if state.expected_fingerprint is not None and fp != state.expected_fingerprint:
        raise AuthenticationFailed("the prekey server's fingerprint is not the expected one")
    comp_id = dake2.composite_identity()
    cp = state.client_profile.encode()
    phi_value = phi(state.publisher, state.server_identity)
    t2 = dake_t(0, cp, comp_id, state.i.public, dake2.s, phi_value)
    ring2 = (keypair.public, dake2.server_key, state.i.public)
    if not ring.rvrf(ring2, dake2.sigma, t2, scheme=ring.PREKEY_SERVER):
        raise AuthenticationFailed("DAKE-2 ring signature does not verify")
    keys = SessionKeys.from_ecdh(state.i, dake2.s)
    t3 = dake_t(1, cp, comp_id, state.i.public, dake2.s, phi_value)
    sigma = ring.rsig(
        keypair.secret,
        keypair.public,
        (keypair.public, dake2.server_key, dake2.s),
        t3,
        rng,
        scheme=ring.PREKEY_SERVER,
    )
    return keys, sigma
