"""The non-interactive DAKE's cryptography (XZDH; otr-v4.md "Non-Interactive
DAKE Overview", "Non-Interactive-Auth Message"; CHECKLIST B12; ERRATA B7).

Alice (sender, from Bob's Prekey Ensemble with Y, B, D_b, H_b, F_b)::

    K_ecdh = ECDH(x, Y)          brace_key = KDF(0x01, DH(a, B), 32)
    tmp_k  = KDF(0x0C, K_ecdh || ECDH(x, D_b) || ECDH(x, H_b) || brace_key, 64)
    auth_mac_k = KDF(0x0D, tmp_k, 64)
    t = KDF(0x0E, Bob's CLIENT-PROF, 64) || KDF(0x0F, Alice's CLIENT-PROF, 64)
        || Y || X || MPI(B) || MPI(A) || D_b || KDF(0x10, phi, 64)
    sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t)
    Auth MAC = KDF(0x11, auth_mac_k || t, 64)
    K = KDF(0x03, tmp_k, 64)     SSID = KDF(0x04, K, 8)

Bob computes the same from ``y``, ``b``, ``sk_d`` and ``sk_hb`` (ECDH(y, X),
ECDH(sk_d, X), ECDH(sk_hb, X), DH(b, A)), verifies sigma and then the Auth MAC
(constant time), and only then derives K.

Decisions (ERRATA B7): ``t`` has no leading flag byte; the phi hash uses
``usage_non_int_auth_phi`` (0x10, the spec's "usageNonIntAuthPh"); ``D_b`` is
its bare 57-byte POINT, like Y and X; B and A are MPIs as in the interactive
``t`` (ERRATA B6).  ``phi`` itself is the caller's (the project's one layout,
ERRATA B8); :func:`default_phi` gives a layout with otr4j's fixed positions -
sender (Alice) tag, receiver (Bob) tag, Alice's first ECDH (POINT) and DH
(MPI), DATA(Alice's id), DATA(Bob's id) - since Bob has no "first" keys of
his own in this DAKE.

The caller looks the prekey up by identifier and deletes its secrets only
after :func:`bob_receive` succeeded (so a forged message cannot burn it).
Key generation draws x (57), a (80), the first ECDH (57) and DH (80) key
pairs, then the ring signature's scalars, in that order.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from ..crypto import kdf, ring
from ..crypto.dh3072 import DHKeyPair, encode_k_dh
from ..crypto.ed448 import Point, Rng
from ..errors import AuthenticationFailed, RemoteProtocolError
from ..wire.buffer import encode_data, encode_int, encode_mpi
from ..wire.v4.non_interactive import NonInteractiveAuth
from .keys import ECDHKeyPair, Ed448KeyPair, ecdh
from .prekeys import PrekeyEnsemble, PrekeyMessageSecrets
from .profiles import ClientProfile, PrekeyProfile

__all__ = ["AliceResult", "XZDHKeys", "alice_start", "bob_receive", "default_phi", "xzdh_t"]


@dataclass(frozen=True)
class XZDHKeys:
    """What both sides derive: K, the SSID, the brace key and the first root
    and chain keys (``KDF(0x12, K, 64)`` and ``KDF(0x13, K, 64)``)."""

    k: bytes = field(repr=False)
    ssid: bytes
    brace_key: bytes = field(repr=False)
    root_key: bytes = field(repr=False)
    chain_key: bytes = field(repr=False)

    @classmethod
    def from_tmp_k(cls, tmp_k: bytes, brace_key: bytes) -> XZDHKeys:
        k = kdf.kdf(kdf.USAGE_SHARED_SECRET, tmp_k, 64)
        return cls(
            k,
            kdf.kdf(kdf.USAGE_SSID, k, 8),
            brace_key,
            kdf.kdf(kdf.USAGE_ROOT_KEY, k, 64),
            kdf.kdf(kdf.USAGE_CHAIN_KEY, k, 64),
        )


@dataclass(frozen=True)
class AliceResult:
    message: NonInteractiveAuth
    keys: XZDHKeys
    our_ecdh_first: ECDHKeyPair = field(repr=False)
    our_dh_first: DHKeyPair = field(repr=False)


def default_phi(
    alice_tag: int,
    bob_tag: int,
    alice_first_ecdh: Point,
    alice_first_dh: int,
    alice_id: str,
    bob_id: str,
) -> bytes:
    """phi with fixed positions (see the module docstring)."""
    return b"".join(
        (
            encode_int(alice_tag),
            encode_int(bob_tag),
            alice_first_ecdh.encode(),
            encode_mpi(alice_first_dh),
            encode_data(alice_id.encode("utf-8")),
            encode_data(bob_id.encode("utf-8")),
        )
    )


def xzdh_t(
    bob_profile: ClientProfile,
    alice_profile: ClientProfile,
    y: Point,
    x: Point,
    b: int,
    a: int,
    shared_prekey: Point,
    phi: bytes,
) -> bytes:
    return b"".join(
        (
            kdf.hwc(kdf.USAGE_NON_INT_AUTH_BOB_CLIENT_PROFILE, bob_profile.encode(), 64),
            kdf.hwc(kdf.USAGE_NON_INT_AUTH_ALICE_CLIENT_PROFILE, alice_profile.encode(), 64),
            y.encode(),
            x.encode(),
            encode_mpi(b),
            encode_mpi(a),
            shared_prekey.encode(),
            kdf.hwc(kdf.USAGE_NON_INT_AUTH_PHI, phi, 64),
        )
    )


def _tmp_k(k_ecdh: bytes, with_shared: bytes, with_long_term: bytes, brace_key: bytes) -> bytes:
    return kdf.kdf(kdf.USAGE_TMP_KEY, (k_ecdh, with_shared, with_long_term, brace_key), 64)


def _auth_mac(tmp_k: bytes, t: bytes) -> bytes:
    auth_mac_k = kdf.kdf(kdf.USAGE_AUTH_MAC_KEY, tmp_k, 64)
    return kdf.hcmac(kdf.USAGE_AUTH_MAC, (auth_mac_k, t), 64)


def _brace_key(dh: DHKeyPair, their_public: int) -> bytes:
    return kdf.kdf(kdf.USAGE_THIRD_BRACE_KEY, encode_k_dh(dh.shared_secret(their_public)), 32)


def alice_start(
    ensemble: PrekeyEnsemble,
    *,
    our_profile: ClientProfile,
    our_keypair: Ed448KeyPair,
    phi: bytes | None = None,
    our_id: str = "",
    their_id: str = "",
    rng: Rng,
) -> AliceResult:
    """Alice's side from a validated ensemble: the Non-Interactive-Auth message
    and the keys.  ``phi`` defaults to :func:`default_phi` with the ids."""
    bob_cp, bob_pp, pm = ensemble.client_profile, ensemble.prekey_profile, ensemble.prekey_message
    x = ECDHKeyPair.generate(rng)
    a = DHKeyPair.generate(rng)
    first_ecdh = ECDHKeyPair.generate(rng)
    first_dh = DHKeyPair.generate(rng)
    k_ecdh = x.shared_secret(pm.y)
    brace_key = _brace_key(a, pm.b)
    tmp_k = _tmp_k(
        k_ecdh,
        x.shared_secret(bob_pp.shared_prekey),
        x.shared_secret(bob_cp.public_key),
        brace_key,
    )
    our_tag, their_tag = our_profile.instance_tag, pm.instance_tag
    if phi is None:
        phi = default_phi(our_tag, their_tag, first_ecdh.public, first_dh.public, our_id, their_id)
    t = xzdh_t(bob_cp, our_profile, pm.y, x.public, pm.b, a.public, bob_pp.shared_prekey, phi)
    sigma = ring.rsig(
        our_keypair.secret,
        our_keypair.public,
        (bob_cp.forging_key, our_keypair.public, pm.y),
        t,
        rng,
    )
    message = NonInteractiveAuth(
        our_tag,
        their_tag,
        our_profile,
        x.public,
        a.public,
        sigma,
        pm.identifier,
        _auth_mac(tmp_k, t),
        first_ecdh.public,
        first_dh.public,
    )
    return AliceResult(message, XZDHKeys.from_tmp_k(tmp_k, brace_key), first_ecdh, first_dh)


def bob_receive(
    message: NonInteractiveAuth,
    *,
    prekey: PrekeyMessageSecrets,
    our_profile: ClientProfile,
    our_prekey_profile: PrekeyProfile,
    our_keypair: Ed448KeyPair,
    shared_prekey: Ed448KeyPair,
    now: float,
    phi: bytes | None = None,
    our_id: str = "",
    their_id: str = "",
) -> XZDHKeys:
    """Bob's side: validate and verify ``message`` against the prekey it names
    (``prekey``, found by ``message.prekey_identifier``) and derive the keys.
    Raises RemoteProtocolError (ProfileError, AuthenticationFailed ...)."""
    if message.receiver_tag != prekey.instance_tag:
        raise RemoteProtocolError("Non-Interactive-Auth is not for this prekey's instance")
    if message.prekey_identifier != prekey.identifier:
        raise RemoteProtocolError("Non-Interactive-Auth names another prekey")
    if shared_prekey.public != our_prekey_profile.shared_prekey:
        raise ValueError("the shared prekey does not match our prekey profile")
    alice = message.client_profile
    alice.validate(now, sender_instance_tag=message.sender_tag)
    if phi is None:
        phi = default_phi(
            message.sender_tag,
            message.receiver_tag,
            message.first_ecdh,
            message.first_dh,
            their_id,
            our_id,
        )
    y, b = prekey.ecdh, prekey.dh
    t = xzdh_t(
        our_profile, alice, y.public, message.x, b.public, message.a, shared_prekey.public, phi
    )
    if not ring.rvrf((our_profile.forging_key, alice.public_key, y.public), message.sigma, t):
        raise AuthenticationFailed("Non-Interactive-Auth ring signature does not verify")
    brace_key = _brace_key(b, message.a)
    tmp_k = _tmp_k(
        y.shared_secret(message.x),
        ecdh(shared_prekey.secret, message.x),
        ecdh(our_keypair.secret, message.x),
        brace_key,
    )
    if not hmac.compare_digest(_auth_mac(tmp_k, t), message.auth_mac):
        raise AuthenticationFailed("Non-Interactive-Auth MAC does not verify")
    return XZDHKeys.from_tmp_k(tmp_k, brace_key)
