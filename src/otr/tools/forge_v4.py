"""Deniability for OTRv4 Data Messages: what :mod:`otr.tools.forge` does for OTRv3.

OTRv4 authenticates a Data Message with ``authenticator = KDF(usage_authenticator || MKmac
|| section, 64)`` (otr-v4.md "When you send a Data Message"; ERRATA B.12: the section raw),
not a signature, and reveals each MKmac after use (otr-v4.md "Revealing MAC Keys").
ChaCha20 is a stream cipher, so known plaintext can be changed in place with the MKmac
alone, and MKenc gives a whole new plaintext under the same key:

* :func:`read_data_message_v4`: decrypt with MKenc and check the authenticator;
* :func:`replace_plaintext_v4`: the same message (ids, keys, revealed MACs) with a new
  plaintext, re-encrypted with MKenc and re-authenticated;
* :func:`modify_data_message_v4`: XOR a known plaintext change into the ciphertext at an
  offset and re-authenticate with MKmac (a revealed one will do).

Messages are read and written with :class:`otr.wire.v4.data.DataMessage4` (strict); the
per-message derivations are :mod:`otr.v4.datacrypt`'s.
"""

from __future__ import annotations

import dataclasses
import hmac

from ..crypto import chacha20, kdf
from ..errors import AuthenticationFailed
from ..v4.datacrypt import KEY_BYTES, mac_key
from ..wire import envelope
from ..wire.v4.data import MAC_BYTES, DataMessage4
from .stream import xor_at

__all__ = [
    "authenticator",
    "modify_data_message_v4",
    "read_data_message_v4",
    "replace_plaintext_v4",
]


def authenticator(mk_mac: bytes, section: bytes) -> bytes:
    """``KDF(usage_authenticator || MKmac || section, 64)`` (ERRATA B.12)."""
    return kdf.kdf(kdf.USAGE_AUTHENTICATOR, (mk_mac, section), MAC_BYTES)


def _decode(text: str) -> DataMessage4:
    return DataMessage4.decode(envelope.decode_otr_message(text))


def _with_ciphertext(msg: DataMessage4, ciphertext: bytes, mk_mac: bytes) -> str:
    unsigned = dataclasses.replace(msg, ciphertext=ciphertext, authenticator=bytes(MAC_BYTES))
    auth = authenticator(mk_mac, unsigned.authenticated_section())
    return envelope.encode_otr_message(dataclasses.replace(unsigned, authenticator=auth).encode())


def _check(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} is {KEY_BYTES} bytes")


def read_data_message_v4(text: str, mk_enc: bytes) -> tuple[bytes, bool]:
    """(plaintext, whether the authenticator verifies with MKmac = KDF(MKenc)) of the v4
    Data Message in ``text``."""
    _check(mk_enc, "MKenc")
    msg = _decode(text)
    ok = hmac.compare_digest(
        authenticator(mac_key(mk_enc), msg.authenticated_section()), msg.authenticator
    )
    return chacha20.decrypt(mk_enc, msg.ciphertext), ok


def replace_plaintext_v4(text: str, mk_enc: bytes, new_plaintext: bytes) -> str:
    """The v4 Data Message in ``text`` carrying ``new_plaintext`` (``message || 0x00 ||
    TLVs``, see :func:`otr.wire.v4.data.encode_plaintext`) under the same MKenc.  Raises
    :class:`~otr.errors.AuthenticationFailed` if MKenc is not the message's key."""
    _check(mk_enc, "MKenc")
    msg = _decode(text)
    mk_mac = mac_key(mk_enc)
    if not hmac.compare_digest(
        authenticator(mk_mac, msg.authenticated_section()), msg.authenticator
    ):
        raise AuthenticationFailed("MKenc is not this message's key")
    return _with_ciphertext(msg, chacha20.encrypt(mk_enc, new_plaintext), mk_mac)


def modify_data_message_v4(text: str, mk_mac: bytes, old: bytes, new: bytes, offset: int) -> str:
    """Replace the known plaintext ``old`` at byte ``offset`` by ``new`` (same length)
    without MKenc: ciphertext[offset + i] ^= old[i] ^ new[i], then a fresh authenticator
    with ``mk_mac``.  The input's authenticator is not checked (the point is to forge)."""
    _check(mk_mac, "MKmac")
    msg = _decode(text)
    return _with_ciphertext(msg, xor_at(msg.ciphertext, old, new, offset), mk_mac)
