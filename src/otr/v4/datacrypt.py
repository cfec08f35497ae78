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

The fused per-message path of :class:`otr.v4.ratchet.DoubleRatchet` (the common
case; anything else is left to the two functions above):

``seal_wire(chain_key, head, flags, message_id, message, reveal) -> (wire, next)``
    ``head`` (a chain's :func:`~otr.wire.v4.data.encode_head`) with ``flags`` and
    ``message_id`` patched in, the plaintext ``message`` (NUL -> ``?``) || 0x00
    (ERRATA D.2, what :func:`~otr.wire.v4.data.encode_plaintext` writes without
    TLVs), sealed, ``reveal`` appended, as the whole ``"?OTR:" + base64 + "."``
    text; and the next chain key.  No extra symmetric key is derived.

``open_wire(text, chain_key, expected_head, message_id) -> (text, MKmac, next) | None``
    ``text`` is ``"?OTR:" + canonical base 64 (at most MAX_ENCODED_LEN digits) +
    "."`` of a data message whose head matches ``expected_head``
    (:func:`~otr.wire.v4.data.chain_head`: version, type, both instance tags, the
    ratchet id, the ECDH key and the DH key MPI byte for byte; flags and pn may be
    anything), whose message id is ``message_id``, whose lengths add up exactly
    (ciphertext DATA at most 2^24 bytes, whole 64-byte revealed MACs), that obeys
    otr4j's rule (message id 0 of a ratchet id > 0 reveals a MAC key), whose
    authenticator verifies (constant time) and whose plaintext carries no TLV
    (nothing after its first NUL).  Returns the message text (UTF-8, errors
    replaced), MKmac and the next chain key; None for anything else (bad
    arguments raise ValueError).  Such a message is exactly one that
    :meth:`~otr.wire.v4.data.DataMessage4.decode` and the ratchet's current-chain
    open accept, with no TLV to act on.

Two implementations with one interface: :func:`py_seal_message`,
:func:`py_open_message`, :func:`py_seal_wire` and :func:`py_open_wire` here and
the C accelerator in ``otr._speedups`` (OpenSSL's libcrypto,
:mod:`otr.accelerator`), tested to agree byte for byte; :data:`seal_message`,
:data:`open_message`, :data:`seal_wire` and :data:`open_wire` are the ones in use.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Final

from ..accelerator import native
from ..crypto import chacha20, kdf
from ..crypto.ed448 import POINT_BYTES
from ..wire import envelope
from ..wire.buffer import MAX_DATA_LEN
from ..wire.v4.data import KEYS_AT, MESSAGE_ID_AT, RATCHET_ID_AT, with_counters

__all__ = [
    "KEY_BYTES",
    "MAX_SECTION",
    "mac_key",
    "message_keys",
    "open_message",
    "open_wire",
    "open_with_message_key",
    "py_open_message",
    "py_open_wire",
    "py_seal_message",
    "py_seal_wire",
    "seal_message",
    "seal_wire",
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


_MIN_HEAD: Final = KEYS_AT + POINT_BYTES + 4
"""The shortest head: the fixed fields, a POINT and an empty MPI."""
_INT_MAX: Final = 0xFFFFFFFF


def _check_int(name: str, value: int) -> None:
    if not 0 <= value <= _INT_MAX:
        raise OverflowError(f"{name} does not fit an INT")


def py_seal_wire(
    chain_key: bytes, head: bytes, flags: int, message_id: int, message: bytes, reveal: bytes
) -> tuple[str, bytes]:
    _check_int("flags", flags)
    if flags > 0xFF:
        raise ValueError("flags do not fit a BYTE")
    _check_int("message id", message_id)
    _check_key(chain_key)
    if len(head) < MESSAGE_ID_AT + 4:
        raise ValueError("head too short")
    if len(head) + len(message) + len(reveal) + 73 > MAX_SECTION:
        raise ValueError("message too long")
    head = with_counters(head, flags, message_id)
    plaintext = message.replace(b"\0", b"?") + b"\0"
    mk_enc = _kdf64(_MESSAGE_KEY, chain_key)
    section = b"".join(
        (head, len(plaintext).to_bytes(4, "big"), chacha20.encrypt(mk_enc, plaintext))
    )
    authenticator = _kdf64(_AUTHENTICATOR, mac_key(mk_enc), section)
    binary = b"".join((section, authenticator, len(reveal).to_bytes(4, "big"), reveal))
    return envelope.encode_otr_message(binary), _kdf64(_NEXT_CHAIN_KEY, chain_key)


def _int_at(binary: bytes, at: int) -> int:
    return int.from_bytes(binary[at : at + 4], "big")


def py_open_wire(
    text: str, chain_key: bytes, expected_head: bytes, message_id: int
) -> tuple[str, bytes, bytes] | None:
    _check_int("message id", message_id)
    _check_key(chain_key)
    hlen = len(expected_head)
    if not _MIN_HEAD <= hlen <= MAX_SECTION:
        raise ValueError("expected head too short")
    body = text[5:-1]
    if not (text.startswith("?OTR:") and text.endswith(".")) or len(text) < 6:
        return None
    if len(body) > envelope.MAX_ENCODED_LEN:
        return None
    try:
        binary = envelope.py_b64decode(body)
    except ValueError:
        return None
    end = len(binary)
    keys_at, rid_at, mid_at = KEYS_AT, RATCHET_ID_AT, MESSAGE_ID_AT
    if (
        end < hlen + 4 + KEY_BYTES + 4
        or binary[:11] != expected_head[:11]
        or binary[rid_at : rid_at + 4] != expected_head[rid_at : rid_at + 4]
        or _int_at(binary, mid_at) != message_id
        or binary[keys_at:hlen] != expected_head[keys_at:hlen]
    ):
        return None
    ct_len = _int_at(binary, hlen)
    section_end = hlen + 4 + ct_len
    if ct_len > MAX_DATA_LEN or section_end + KEY_BYTES + 4 > end:
        return None
    reveal_len = _int_at(binary, section_end + KEY_BYTES)
    if section_end + KEY_BYTES + 4 + reveal_len != end or reveal_len % KEY_BYTES:
        return None
    if message_id == 0 and _int_at(binary, rid_at) != 0 and not reveal_len:
        return None  # otr4j: the first message of a later ratchet reveals a MAC key
    mk_enc = _kdf64(_MESSAGE_KEY, chain_key)
    mk_mac = mac_key(mk_enc)
    authenticator = _kdf64(_AUTHENTICATOR, mk_mac, binary[:section_end])
    if not hmac.compare_digest(authenticator, binary[section_end : section_end + KEY_BYTES]):
        return None
    plaintext = chacha20.decrypt(mk_enc, binary[hlen + 4 : section_end])
    message, _, tlvs = plaintext.partition(b"\0")
    if tlvs:
        return None
    return message.decode("utf-8", "replace"), mk_mac, _kdf64(_NEXT_CHAIN_KEY, chain_key)


if TYPE_CHECKING:
    seal_message = py_seal_message
    open_message = py_open_message
    seal_wire = py_seal_wire
    open_wire = py_open_wire
elif native is not None and hasattr(native, "v4_seal_wire"):
    seal_message = native.v4_seal_message
    open_message = native.v4_open_message
    seal_wire = native.v4_seal_wire
    open_wire = native.v4_open_wire
else:
    seal_message = py_seal_message
    open_message = py_open_message
    seal_wire = py_seal_wire
    open_wire = py_open_wire
