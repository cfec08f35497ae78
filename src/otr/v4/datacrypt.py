"""The per-message cryptography of OTRv4 data messages (otr-v4.md "When you send a
Data Message", "When you receive a Data Message", "Calculating Encryption and MAC
Keys", "Extra Symmetric Key"; ERRATA B.12, B.13, B.14).

From one chain key ``ck`` (KDF = SHAKE-256("OTRv4" || usage || x, size))::

    MKenc = KDF(0x15, ck, 64)          MKmac = KDF(0x16, MKenc, 64)
    extra = KDF(0x17, 0xFF || ck, 64)  next  = KDF(0x14, ck, 64)
    ciphertext    = ChaCha20(MKenc[0:32], nonce 0, counter 0) XOR plaintext
    authenticator = KDF(0x18, MKmac || section, 64)

where ``section`` is the message encoding from the version bytes through the
encrypted message's DATA.

``seal_message(chain_key, head, plaintext) -> (section, authenticator, extra, next)``
    ``head`` is the encoding up to the DATA of the encrypted message;
    ``section = head || DATA(ciphertext)``.

``open_message(chain_key, section, ct_start, authenticator)``
    ``-> (plaintext, MKmac, extra, next) | None``:
    None when the authenticator (compared in constant time) does not verify;
    ``section[ct_start:]`` is the ciphertext.

Two implementations with one interface: :func:`py_seal_message` /
:func:`py_open_message` here and the C accelerator in ``otr._speedups`` (OpenSSL's
libcrypto, :mod:`otr.accelerator`), tested to agree byte for byte;
:data:`seal_message` and :data:`open_message` are the ones in use.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Final

from ..accelerator import native
from ..crypto import chacha20, kdf

__all__ = [
    "KEY_BYTES",
    "MAX_SECTION",
    "mac_key",
    "message_keys",
    "open_message",
    "open_with_message_key",
    "py_open_message",
    "py_seal_message",
    "seal_message",
]

KEY_BYTES: Final = 64
"""Chain keys, MKenc, MKmac, extra keys and the authenticator are 64 bytes."""
MAX_SECTION: Final = 1 << 29
"""Largest head + plaintext either implementation seals, or section it opens (bytes)."""


if TYPE_CHECKING:
    from _hashlib import HASHXOF as _Shake


def _prepared(usage_id: int) -> _Shake:
    return hashlib.shake_256(kdf.OTRV4_DOMAIN + bytes((usage_id,)))


_MESSAGE_KEY = _prepared(kdf.USAGE_MESSAGE_KEY)
_MAC_KEY = _prepared(kdf.USAGE_MAC_KEY)
_EXTRA_KEY = _prepared(kdf.USAGE_EXTRA_SYMM_KEY)
_EXTRA_KEY.update(b"\xff")
_NEXT_CHAIN_KEY = _prepared(kdf.USAGE_NEXT_CHAIN_KEY)
_AUTHENTICATOR = _prepared(kdf.USAGE_AUTHENTICATOR)


def _kdf64(prepared: _Shake, *values: bytes) -> bytes:
    """``kdf.kdf`` from a prepared "OTRv4" || usage state (the same bytes, fewer calls)."""
    h = prepared.copy()
    for v in values:
        h.update(v)
    return h.digest(KEY_BYTES)


def message_keys(chain_key: bytes) -> tuple[bytes, bytes, bytes]:
    """(MKenc, extra symmetric key, next chain key) of one chain key."""
    return (
        _kdf64(_MESSAGE_KEY, chain_key),
        _kdf64(_EXTRA_KEY, chain_key),
        _kdf64(_NEXT_CHAIN_KEY, chain_key),
    )


def mac_key(mk_enc: bytes) -> bytes:
    """``MKmac = KDF(usage_MAC_key || MKenc, 64)``."""
    return _kdf64(_MAC_KEY, mk_enc)


def _check_key(chain_key: bytes) -> None:
    if len(chain_key) != KEY_BYTES:
        raise ValueError("keys are 64 bytes")


def py_seal_message(
    chain_key: bytes, head: bytes, plaintext: bytes
) -> tuple[bytes, bytes, bytes, bytes]:
    _check_key(chain_key)
    if len(head) + len(plaintext) + 4 > MAX_SECTION:
        raise ValueError("message too long")
    mk_enc, extra, next_key = message_keys(chain_key)
    ciphertext = chacha20.encrypt(mk_enc, plaintext)
    section = b"".join((head, len(ciphertext).to_bytes(4, "big"), ciphertext))
    return section, _kdf64(_AUTHENTICATOR, mac_key(mk_enc), section), extra, next_key


def open_with_message_key(
    mk_enc: bytes, section: bytes, ct_start: int, authenticator: bytes
) -> tuple[bytes, bytes] | None:
    """(plaintext, MKmac) with a stored MKenc, or None if the authenticator does not verify."""
    _check_key(mk_enc)
    if not 4 <= ct_start <= len(section) or len(section) > MAX_SECTION:
        raise ValueError("ciphertext offset outside the section")
    mk_mac = mac_key(mk_enc)
    if not hmac.compare_digest(_kdf64(_AUTHENTICATOR, mk_mac, section), authenticator):
        return None
    return chacha20.decrypt(mk_enc, section[ct_start:]), mk_mac


def py_open_message(
    chain_key: bytes, section: bytes, ct_start: int, authenticator: bytes
) -> tuple[bytes, bytes, bytes, bytes] | None:
    _check_key(chain_key)
    mk_enc, extra, next_key = message_keys(chain_key)
    opened = open_with_message_key(mk_enc, section, ct_start, authenticator)
    if opened is None:
        return None
    return opened[0], opened[1], extra, next_key


if TYPE_CHECKING:
    seal_message = py_seal_message
    open_message = py_open_message
elif native is not None and hasattr(native, "v4_seal_message"):
    seal_message = native.v4_seal_message
    open_message = native.v4_open_message
else:
    seal_message = py_seal_message
    open_message = py_open_message
