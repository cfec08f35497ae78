"""The deniability toolkit for OTRv2/v3 Data Messages (after libotr's ``otr_sesskeys``,
``otr_mackey``, ``otr_readforge``, ``otr_modify``, ``otr_remac``; our own code).

OTR authenticates Data Messages with a MAC, not a signature: whoever knows a key pair's MAC
key can make a message that the receiver accepts, and the sender publishes the MAC keys it no
longer uses (spec "Revealing MAC keys").  AES-CTR is malleable: flipping ciphertext bits flips
the same plaintext bits, so a known plaintext can be changed at a known position with the
MAC key alone.  These functions do exactly that, so that a transcript proves nothing about
who wrote it (spec "Deniability" in the protocol overview):

* :func:`session_keys`: every key of a D-H key pair from one side's private key and the other
  side's public key (``otr_sesskeys``);
* :func:`mac_key`: a direction's MAC key from its AES key (``otr_mackey``);
* :func:`read_data_message`: decrypt a Data Message and check its MAC (``otr_readforge``);
* :func:`replace_plaintext`: the same message with a new plaintext, re-encrypted under the
  same counter and re-MACed (``otr_readforge`` with a new message);
* :func:`modify_data_message`: change known plaintext at an offset by XOR into the ciphertext
  and re-MAC, without the AES key (``otr_modify``);
* :func:`remac_data_message`: a Data Message with any fields replaced and a fresh MAC
  (``otr_remac``);
* :func:`forge_transcript`: a whole recorded transcript with chosen messages rewritten,
  every MAC consistent, using whatever keys an :class:`~otr.tools.inspect.Inspector` can
  find from a :class:`~otr.tools.inspect.KeyRing`.

Messages are read with :mod:`otr.wire` (strict) and written with its encoders; a malformed
input raises :class:`~otr.errors.DecodeError`, a key that does not authenticate the message
:class:`~otr.errors.AuthenticationFailed` (where the operation needs it to).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..crypto import modp
from ..crypto.primitives import AesCtr, sha1
from ..errors import AuthenticationFailed, DecodeError
from ..v3.ake import AkeKeys
from ..v3.session import aes_keys, extra_symmetric_key
from ..wire import envelope, tlv
from ..wire import v3 as wire3
from ..wire.buffer import encode_mpi
from .inspect import Inspector, KeyRing
from .plaintext import describe_plaintext
from .stream import xor_at

__all__ = [
    "ReadResult",
    "SessionKeyReport",
    "forge_transcript",
    "mac_key",
    "modify_data_message",
    "read_data_message",
    "remac_data_message",
    "replace_plaintext",
    "session_keys",
]


@dataclass(frozen=True)
class SessionKeyReport:
    """The keys of one D-H key pair, seen from the side whose private key was given
    (spec "Computing AES keys, MAC keys, and the secure session id", "Extra symmetric key").

    ``ake`` holds the AKE keys (ssid, c, c', m1, m2, m1', m2'), meaningful when the pair is
    the one the AKE used (s = g^xy is then the AKE's shared secret)."""

    high: bool
    """Whether our public key is the larger one ("high" end, ERRATA A4)."""
    sending_aes: bytes = field(repr=False)
    sending_mac: bytes = field(repr=False)
    receiving_aes: bytes = field(repr=False)
    receiving_mac: bytes = field(repr=False)
    extra_symmetric_key: bytes = field(repr=False)
    ake: AkeKeys = field(repr=False)


def session_keys(our_private: int, their_public: int) -> SessionKeyReport:
    """Every key shared by our D-H private key ``our_private`` and ``their_public``.

    Raises :class:`~otr.errors.InvalidGroupElement` if ``their_public`` is not a valid
    element of the 1536-bit group."""
    modp.check_group_element(their_public)
    ours = int(modp.powmod_g(our_private))
    s = int(modp.powmod(their_public, our_private))
    secbytes = encode_mpi(s)
    high_key, low_key = aes_keys(secbytes)
    high = ours > their_public
    send, rcv = (high_key, low_key) if high else (low_key, high_key)
    return SessionKeyReport(
        high=high,
        sending_aes=send,
        sending_mac=sha1(send),
        receiving_aes=rcv,
        receiving_mac=sha1(rcv),
        extra_symmetric_key=extra_symmetric_key(secbytes),
        ake=AkeKeys.from_secret(s),
    )


def mac_key(aes_key: bytes) -> bytes:
    """A direction's MAC key: SHA-1 of its AES key (spec "Computing AES keys, MAC keys")."""
    if len(aes_key) != 16:
        raise ValueError("an OTRv3 AES key is 16 bytes")
    return sha1(aes_key)


def _decode_data(text: str) -> wire3.Decoded:
    decoded = wire3.decode_message(envelope.decode_otr_message(text))
    if not isinstance(decoded.message, wire3.DataMessage):
        raise DecodeError("not a Data Message")
    return decoded


def _mac(key: bytes, decoded: wire3.Decoded, msg: wire3.DataMessage) -> bytes:
    h = decoded.header
    auth = wire3.encode_data_authenticated(h.version, h.sender_instance, h.receiver_instance, msg)
    return hmac.digest(key, auth, "sha1")


def _encode(decoded: wire3.Decoded, msg: wire3.DataMessage) -> str:
    h = decoded.header
    binary = wire3.encode_message(h.version, h.sender_instance, h.receiver_instance, msg)
    return envelope.encode_otr_message(binary)


@dataclass(frozen=True)
class ReadResult:
    """A decrypted Data Message: its fields, the plaintext and whether the MAC (with the MAC
    key derived from the AES key) verifies."""

    message: wire3.DataMessage
    header: wire3.Header
    plaintext: bytes
    mac_ok: bool

    def describe(self) -> dict[str, Any]:
        """The plaintext's message and TLVs (see :func:`otr.tools.inspect.describe_plaintext`)."""
        return describe_plaintext(self.plaintext)


def read_data_message(text: str, aes_key: bytes) -> ReadResult:
    """Decrypt the Data Message in ``text`` with ``aes_key`` (AES-128-CTR, initial counter
    ``ctr || 0^64``) and check its MAC with SHA-1(``aes_key``)."""
    decoded = _decode_data(text)
    msg = decoded.message
    assert isinstance(msg, wire3.DataMessage)
    plaintext = AesCtr(aes_key).crypt(msg.ctr, msg.encrypted)
    ok = hmac.compare_digest(_mac(mac_key(aes_key), decoded, msg), msg.mac)
    return ReadResult(msg, decoded.header, plaintext, ok)


def replace_plaintext(text: str, aes_key: bytes, new_plaintext: bytes) -> str:
    """The Data Message in ``text`` carrying ``new_plaintext`` instead: encrypted under the same
    key and counter, MAC recomputed.  Every other field (key ids, next D-H key, counter,
    revealed MAC keys) is kept, so the receiver cannot tell it from the sender's.  Raises
    :class:`~otr.errors.AuthenticationFailed` if ``aes_key`` is not the message's key."""
    decoded = _decode_data(text)
    msg = decoded.message
    assert isinstance(msg, wire3.DataMessage)
    mac = mac_key(aes_key)
    if not hmac.compare_digest(_mac(mac, decoded, msg), msg.mac):
        raise AuthenticationFailed("the AES key is not this message's key")
    forged = msg._replace(encrypted=AesCtr(aes_key).crypt(msg.ctr, new_plaintext))
    return _encode(decoded, forged._replace(mac=_mac(mac, decoded, forged)))


def modify_data_message(text: str, mac: bytes, old: bytes, new: bytes, offset: int) -> str:
    """Replace the known plaintext ``old`` at byte ``offset`` of the message by ``new`` (same
    length) without the AES key: ciphertext[offset + i] ^= old[i] ^ new[i] (AES-CTR is a
    stream cipher), then MAC the result with ``mac`` (for instance a revealed MAC key).

    The MAC of the input is not checked (the point is to forge); ``old`` must be what the
    plaintext holds there for the result to read ``new``."""
    decoded = _decode_data(text)
    msg = decoded.message
    assert isinstance(msg, wire3.DataMessage)
    forged = msg._replace(encrypted=xor_at(msg.encrypted, old, new, offset))
    return _encode(decoded, forged._replace(mac=_mac(mac, decoded, forged)))


def remac_data_message(text: str, key: bytes, /, **changes: Any) -> str:
    """The Data Message in ``text`` with fields replaced (any of ``flags``, ``sender_keyid``,
    ``recipient_keyid``, ``next_dh``, ``ctr``, ``encrypted``, ``old_mac_keys``; and
    ``sender_instance``, ``receiver_instance`` for v3) and a MAC made with the MAC key
    ``key``."""
    decoded = _decode_data(text)
    msg = decoded.message
    assert isinstance(msg, wire3.DataMessage)
    header = decoded.header
    tags = {k: changes.pop(k) for k in ("sender_instance", "receiver_instance") if k in changes}
    if tags:
        if header.version != 3:
            raise ValueError("only OTRv3 messages carry instance tags")
        decoded = decoded._replace(header=header._replace(**tags))
    unknown = set(changes) - {"mac", *wire3.DataMessage._fields}
    if unknown or "mac" in changes:
        raise ValueError(f"cannot set {sorted(unknown | ({'mac'} & set(changes)))}")
    forged = msg._replace(**changes)
    return _encode(decoded, forged._replace(mac=_mac(key, decoded, forged)))


def forge_transcript(
    lines: Iterable[str], keys: KeyRing, replacements: Mapping[int, str]
) -> list[str]:
    """The transcript ``lines`` with the Data Messages numbered in ``replacements`` (1-based
    indices of the non-empty lines, as :func:`otr.tools.inspect.inspect_transcript` numbers
    them) carrying new text, each re-encrypted and re-MACed with the key an
    :class:`~otr.tools.inspect.Inspector` finds for it from ``keys``.  Other lines are copied.

    Raises ValueError if a numbered line is not an unfragmented Data Message whose AES key can
    be found, or if a new text contains NUL."""
    if any("\0" in text for text in replacements.values()):
        raise ValueError("a message text cannot contain NUL (it starts the TLVs)")
    inspector = Inspector(keys)
    out: list[str] = []
    index = 0
    pending = dict(replacements)
    for line in lines:
        if not line:
            out.append(line)
            continue
        index += 1
        report = inspector.inspect(line)
        new_text = pending.pop(index, None)
        if new_text is None:
            out.append(line)
            continue
        if (
            report.version not in wire3.SUPPORTED_VERSIONS
            or report.message_type != wire3.DATA
            or report.kind != envelope.MessageKind.ENCODED.value
        ):
            raise ValueError(f"line {index} is not an unfragmented Data Message")
        found = report.sections.get("decrypted", {}).get("aes_key")
        if found is None:
            raise ValueError(f"no AES key known for line {index}")
        old = read_data_message(line, bytes(found))
        _, tlv_bytes = tlv.split_plaintext(old.plaintext)
        has_nul = b"\0" in old.plaintext
        plaintext = new_text.encode("utf-8") + (b"\0" + tlv_bytes if has_nul else b"")
        at = line.find("?OTR:")
        end = line.find(".", at)
        out.append(line[:at] + replace_plaintext(line, bytes(found), plaintext) + line[end + 1 :])
    if pending:
        raise ValueError(f"no line {min(pending)} in the transcript")
    return out
