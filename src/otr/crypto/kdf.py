"""The OTRv4 key derivation, hash and MAC functions (otr-v4.md "Key Derivation
Function, Hash Function and MAC Function"; prekey server: otr-v4-prekey-server.md
"Key Derivation Functions").

All three of the spec's functions are the same construction::

    KDF(usage_ID || values, size) = SHAKE-256("OTRv4" || usage_ID || values, size)
    HWC(usage_ID || values, size)   (hash with context)         - identical
    HCMAC(usage_ID || values, size) (hash with context MAC)     - identical

``size`` is in **bytes**.  The spec's ``HWMAC`` (Data Message authenticator,
ERRATA B12) is this construction too.  The prekey-server protocol uses the same
construction with the domain ``"OTR-Prekey-Server"``; pass
``domain=PREKEY_SERVER_DOMAIN`` with one of the ``PS_USAGE_*`` constants.

Usage IDs (``USAGE_*``) are those of the **final** spec (otrv4.md @ 0f844b03).
Trap (ERRATA C): libotr-ng still uses an older table from 0x12 on (root key
0x14, chain key 0x15, …, ring-signature auth 0x1C) and its values for those
usages do not match ours; IDs 0x00-0x11 agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = [
    "OTRV4_DOMAIN",
    "PREKEY_SERVER_DOMAIN",
    "PS_USAGE_AUTH",
    "PS_USAGE_CLIENT_PROFILE",
    "PS_USAGE_FAILURE_MAC",
    "PS_USAGE_FINGERPRINT",
    "PS_USAGE_IDS",
    "PS_USAGE_INITIATOR_CLIENT_PROFILE",
    "PS_USAGE_INITIATOR_PREKEY_COMPOSITE_IDENTITY",
    "PS_USAGE_INITIATOR_PREKEY_COMPOSITE_PHI",
    "PS_USAGE_MAC_PROOFS",
    "PS_USAGE_PREKEY_MESSAGE",
    "PS_USAGE_PREKEY_PROFILE",
    "PS_USAGE_PREMAC",
    "PS_USAGE_PREMAC_KEY",
    "PS_USAGE_PROOF_CONTEXT",
    "PS_USAGE_PROOF_C_LAMBDA",
    "PS_USAGE_PROOF_MESSAGE_DH",
    "PS_USAGE_PROOF_MESSAGE_ECDH",
    "PS_USAGE_PROOF_SHARED_ECDH",
    "PS_USAGE_RECEIVER_CLIENT_PROFILE",
    "PS_USAGE_RECEIVER_PREKEY_COMPOSITE_IDENTITY",
    "PS_USAGE_RECEIVER_PREKEY_COMPOSITE_PHI",
    "PS_USAGE_SK",
    "PS_USAGE_STATUS_MAC",
    "PS_USAGE_STORAGE_INFO_MAC",
    "PS_USAGE_SUCCESS_MAC",
    "USAGE_AUTH",
    "USAGE_AUTHENTICATOR",
    "USAGE_AUTH_I_ALICE_CLIENT_PROFILE",
    "USAGE_AUTH_I_BOB_CLIENT_PROFILE",
    "USAGE_AUTH_I_PHI",
    "USAGE_AUTH_MAC",
    "USAGE_AUTH_MAC_KEY",
    "USAGE_AUTH_R_ALICE_CLIENT_PROFILE",
    "USAGE_AUTH_R_BOB_CLIENT_PROFILE",
    "USAGE_AUTH_R_PHI",
    "USAGE_BRACE_KEY",
    "USAGE_CHAIN_KEY",
    "USAGE_EXTRA_SYMM_KEY",
    "USAGE_FINGERPRINT",
    "USAGE_FIRST_ROOT_KEY",
    "USAGE_IDS",
    "USAGE_MAC_KEY",
    "USAGE_MESSAGE_KEY",
    "USAGE_NEXT_CHAIN_KEY",
    "USAGE_NON_INT_AUTH_ALICE_CLIENT_PROFILE",
    "USAGE_NON_INT_AUTH_BOB_CLIENT_PROFILE",
    "USAGE_NON_INT_AUTH_PHI",
    "USAGE_ROOT_KEY",
    "USAGE_SHARED_SECRET",
    "USAGE_SMP_SECRET",
    "USAGE_SSID",
    "USAGE_THIRD_BRACE_KEY",
    "USAGE_TMP_KEY",
    "hcmac",
    "hwc",
    "kdf",
    "shake256",
]

OTRV4_DOMAIN = b"OTRv4"
"""Prefix of every OTRv4 KDF/HWC/HCMAC input."""
PREKEY_SERVER_DOMAIN = b"OTR-Prekey-Server"
"""Prefix of the prekey-server protocol's KDF (otr-v4-prekey-server.md)."""

# --- otr-v4.md, final usage table -------------------------------------------------
USAGE_FINGERPRINT = 0x00
USAGE_THIRD_BRACE_KEY = 0x01
USAGE_BRACE_KEY = 0x02
USAGE_SHARED_SECRET = 0x03
USAGE_SSID = 0x04
USAGE_AUTH_R_BOB_CLIENT_PROFILE = 0x05
USAGE_AUTH_R_ALICE_CLIENT_PROFILE = 0x06
USAGE_AUTH_R_PHI = 0x07
USAGE_AUTH_I_BOB_CLIENT_PROFILE = 0x08
USAGE_AUTH_I_ALICE_CLIENT_PROFILE = 0x09
USAGE_AUTH_I_PHI = 0x0A
USAGE_FIRST_ROOT_KEY = 0x0B
USAGE_TMP_KEY = 0x0C
USAGE_AUTH_MAC_KEY = 0x0D
USAGE_NON_INT_AUTH_BOB_CLIENT_PROFILE = 0x0E
USAGE_NON_INT_AUTH_ALICE_CLIENT_PROFILE = 0x0F
USAGE_NON_INT_AUTH_PHI = 0x10
USAGE_AUTH_MAC = 0x11
USAGE_ROOT_KEY = 0x12
USAGE_CHAIN_KEY = 0x13
USAGE_NEXT_CHAIN_KEY = 0x14
USAGE_MESSAGE_KEY = 0x15
USAGE_MAC_KEY = 0x16
USAGE_EXTRA_SYMM_KEY = 0x17
USAGE_AUTHENTICATOR = 0x18
USAGE_SMP_SECRET = 0x19
USAGE_AUTH = 0x1A

USAGE_IDS: dict[str, int] = {
    "usage_fingerprint": USAGE_FINGERPRINT,
    "usage_third_brace_key": USAGE_THIRD_BRACE_KEY,
    "usage_brace_key": USAGE_BRACE_KEY,
    "usage_shared_secret": USAGE_SHARED_SECRET,
    "usage_SSID": USAGE_SSID,
    "usage_auth_r_bob_client_profile": USAGE_AUTH_R_BOB_CLIENT_PROFILE,
    "usage_auth_r_alice_client_profile": USAGE_AUTH_R_ALICE_CLIENT_PROFILE,
    "usage_auth_r_phi": USAGE_AUTH_R_PHI,
    "usage_auth_i_bob_client_profile": USAGE_AUTH_I_BOB_CLIENT_PROFILE,
    "usage_auth_i_alice_client_profile": USAGE_AUTH_I_ALICE_CLIENT_PROFILE,
    "usage_auth_i_phi": USAGE_AUTH_I_PHI,
    "usage_first_root_key": USAGE_FIRST_ROOT_KEY,
    "usage_tmp_key": USAGE_TMP_KEY,
    "usage_auth_MAC_key": USAGE_AUTH_MAC_KEY,
    "usage_non_int_auth_bob_client_profile": USAGE_NON_INT_AUTH_BOB_CLIENT_PROFILE,
    "usage_non_int_auth_alice_client_profile": USAGE_NON_INT_AUTH_ALICE_CLIENT_PROFILE,
    "usage_non_int_auth_phi": USAGE_NON_INT_AUTH_PHI,
    "usage_auth_MAC": USAGE_AUTH_MAC,
    "usage_root_key": USAGE_ROOT_KEY,
    "usage_chain_key": USAGE_CHAIN_KEY,
    "usage_next_chain_key": USAGE_NEXT_CHAIN_KEY,
    "usage_message_key": USAGE_MESSAGE_KEY,
    "usage_MAC_key": USAGE_MAC_KEY,
    "usage_extra_symm_key": USAGE_EXTRA_SYMM_KEY,
    "usage_authenticator": USAGE_AUTHENTICATOR,
    "usage_SMP_secret": USAGE_SMP_SECRET,
    "usage_auth": USAGE_AUTH,
}
"""The final spec's table, keyed by the spec's own names (for tests and tooling)."""

# --- otr-v4-prekey-server.md ("OTR-Prekey-Server" domain) -------------------------
PS_USAGE_FINGERPRINT = 0x00
PS_USAGE_SK = 0x01
PS_USAGE_INITIATOR_CLIENT_PROFILE = 0x02
PS_USAGE_INITIATOR_PREKEY_COMPOSITE_IDENTITY = 0x03
PS_USAGE_INITIATOR_PREKEY_COMPOSITE_PHI = 0x04
PS_USAGE_RECEIVER_CLIENT_PROFILE = 0x05
PS_USAGE_RECEIVER_PREKEY_COMPOSITE_IDENTITY = 0x06
PS_USAGE_RECEIVER_PREKEY_COMPOSITE_PHI = 0x07
PS_USAGE_PREMAC_KEY = 0x08
PS_USAGE_PREMAC = 0x09
PS_USAGE_STORAGE_INFO_MAC = 0x0A
PS_USAGE_STATUS_MAC = 0x0B
PS_USAGE_SUCCESS_MAC = 0x0C
PS_USAGE_FAILURE_MAC = 0x0D
PS_USAGE_PREKEY_MESSAGE = 0x0E
PS_USAGE_CLIENT_PROFILE = 0x0F
PS_USAGE_PREKEY_PROFILE = 0x10
PS_USAGE_AUTH = 0x11
PS_USAGE_PROOF_CONTEXT = 0x12
PS_USAGE_PROOF_MESSAGE_ECDH = 0x13
PS_USAGE_PROOF_MESSAGE_DH = 0x14
PS_USAGE_PROOF_SHARED_ECDH = 0x15
PS_USAGE_MAC_PROOFS = 0x16
PS_USAGE_PROOF_C_LAMBDA = 0x17

PS_USAGE_IDS: dict[str, int] = {
    "usage_Fingerprint": PS_USAGE_FINGERPRINT,
    "usage_SK": PS_USAGE_SK,
    "usage_initiator_client_profile": PS_USAGE_INITIATOR_CLIENT_PROFILE,
    "usage_initiator_prekey_composite_identity": PS_USAGE_INITIATOR_PREKEY_COMPOSITE_IDENTITY,
    "usage_initiator_prekey_composite_PHI": PS_USAGE_INITIATOR_PREKEY_COMPOSITE_PHI,
    "usage_receiver_client_profile": PS_USAGE_RECEIVER_CLIENT_PROFILE,
    "usage_receiver_prekey_composite_identity": PS_USAGE_RECEIVER_PREKEY_COMPOSITE_IDENTITY,
    "usage_receiver_prekey_composite_PHI": PS_USAGE_RECEIVER_PREKEY_COMPOSITE_PHI,
    "usage_preMAC_key": PS_USAGE_PREMAC_KEY,
    "usage_preMAC": PS_USAGE_PREMAC,
    "usage_storage_info_MAC": PS_USAGE_STORAGE_INFO_MAC,
    "usage_status_MAC": PS_USAGE_STATUS_MAC,
    "usage_success_MAC": PS_USAGE_SUCCESS_MAC,
    "usage_failure_MAC": PS_USAGE_FAILURE_MAC,
    "usage_prekey_message": PS_USAGE_PREKEY_MESSAGE,
    "usage_client_profile": PS_USAGE_CLIENT_PROFILE,
    "usage_prekey_profile": PS_USAGE_PREKEY_PROFILE,
    "usage_auth": PS_USAGE_AUTH,
    "usage_proof_context": PS_USAGE_PROOF_CONTEXT,
    "usage_proof_message_ecdh": PS_USAGE_PROOF_MESSAGE_ECDH,
    "usage_proof_message_dh": PS_USAGE_PROOF_MESSAGE_DH,
    "usage_proof_shared_ecdh": PS_USAGE_PROOF_SHARED_ECDH,
    "usage_mac_proofs": PS_USAGE_MAC_PROOFS,
    "usage_proof_c_lambda": PS_USAGE_PROOF_C_LAMBDA,
}
"""The prekey-server spec's table, keyed by that spec's names."""

Values = bytes | bytearray | memoryview | Iterable[bytes]


def shake256(data: bytes, size: int) -> bytes:
    """RFC 8032's ``SHAKE-256(x, y)``: the first ``size`` bytes, no prefix."""
    if size < 0:
        raise ValueError("negative output size")
    return hashlib.shake_256(data).digest(size)


def kdf(usage_id: int, values: Values, size: int, *, domain: bytes = OTRV4_DOMAIN) -> bytes:
    """``SHAKE-256(domain || usage_ID || values, size)``, ``size`` in bytes.

    ``values`` is one byte string or an iterable of byte strings that are
    concatenated (``a || b || c``).  ``usage_id`` is a single byte.
    """
    if not 0 <= usage_id <= 0xFF:
        raise ValueError("usage ID must be one byte")
    if size < 0:
        raise ValueError("negative output size")
    h = hashlib.shake_256(domain)
    h.update(bytes((usage_id,)))
    if isinstance(values, bytes | bytearray | memoryview):
        h.update(values)
    else:
        for v in values:
            h.update(v)
    return h.digest(size)


def hwc(usage_id: int, values: Values, size: int, *, domain: bytes = OTRV4_DOMAIN) -> bytes:
    """HWC, the spec's hash with context: the same construction as :func:`kdf`."""
    return kdf(usage_id, values, size, domain=domain)


def hcmac(usage_id: int, values: Values, size: int, *, domain: bytes = OTRV4_DOMAIN) -> bytes:
    """HCMAC, the spec's MAC with context (and ``HWMAC``, ERRATA B12): same as :func:`kdf`."""
    return kdf(usage_id, values, size, domain=domain)
