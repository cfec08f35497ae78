"""OTRv4 data types on top of :mod:`otr.wire.buffer` (otr-v4.md "Data Types",
"Public keys, Shared Prekeys, Forging keys and Fingerprints", "Client Profile
Data Type", "Prekey Profile Data Type").

* POINT, SCALAR: 57 bytes little-endian (:mod:`otr.crypto.ed448`); points read
  here are fully validated.
* ED448-PUBKEY (type 0x0010), ED448-FORGING-KEY (0x0012), ED448-SHARED-PREKEY
  (0x0011): a 2-byte key type then a POINT.  The type is the only
  **little-endian** SHORT of the protocol (spec text, otr4j: ``10 00``);
  libotr-ng writes it big-endian (``00 10``) - ERRATA B16.  We write and accept
  only the spec's little-endian form.
* CLIENT-PROF-EXP / PREKEY-PROF-EXP: 8-byte *signed* big-endian Unix seconds.
* EDDSA-SIG: 114 bytes (R || S).
"""

from __future__ import annotations

from typing import Final

from ...crypto import ed448
from ...errors import DecodeError
from ..buffer import Reader, Writer

__all__ = [
    "EDDSA_SIG_BYTES",
    "PUBKEY_TYPE_ED448",
    "PUBKEY_TYPE_ED448_FORGING",
    "PUBKEY_TYPE_ED448_SHARED_PREKEY",
    "TYPED_KEY_BYTES",
    "encode_typed_key",
    "get_eddsa_sig",
    "get_point",
    "get_point_raw",
    "get_scalar",
    "get_timestamp",
    "get_typed_key",
    "get_typed_key_raw",
    "put_eddsa_sig",
    "put_point",
    "put_scalar",
    "put_timestamp",
    "put_typed_key",
]

PUBKEY_TYPE_ED448: Final = 0x0010
"""ED448-PUBKEY key type."""
PUBKEY_TYPE_ED448_SHARED_PREKEY: Final = 0x0011
"""ED448-SHARED-PREKEY key type."""
PUBKEY_TYPE_ED448_FORGING: Final = 0x0012
"""ED448-FORGING-KEY key type."""
EDDSA_SIG_BYTES: Final = 114
TYPED_KEY_BYTES: Final = 2 + ed448.POINT_BYTES

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def put_point(w: Writer, point: ed448.Point) -> Writer:
    return w.put_raw(point.encode())


def get_point_raw(r: Reader) -> bytes:
    """The 57 bytes of a POINT, not decoded."""
    return r.get_raw(ed448.POINT_BYTES)


def get_point(r: Reader) -> ed448.Point:
    """A POINT, decoded and fully validated (raises InvalidGroupElement)."""
    return ed448.decode_point(get_point_raw(r))


def put_scalar(w: Writer, s: int) -> Writer:
    return w.put_raw(ed448.encode_scalar(s))


def get_scalar(r: Reader) -> int:
    """A SCALAR; must be < q."""
    return ed448.decode_scalar(r.get_raw(ed448.SCALAR_BYTES))


def encode_typed_key(key_type: int, point: ed448.Point) -> bytes:
    """ED448-PUBKEY / -FORGING-KEY / -SHARED-PREKEY: LE type || POINT."""
    return key_type.to_bytes(2, "little") + point.encode()


def put_typed_key(w: Writer, key_type: int, point: ed448.Point) -> Writer:
    return w.put_raw(encode_typed_key(key_type, point))


def get_typed_key_raw(r: Reader, key_type: int) -> bytes:
    """Check the little-endian key type and return the 57 POINT bytes (not decoded)."""
    got = int.from_bytes(r.get_raw(2), "little")
    if got != key_type:
        raise DecodeError(f"unexpected public key type 0x{got:04x} (want 0x{key_type:04x})")
    return get_point_raw(r)


def get_typed_key(r: Reader, key_type: int) -> ed448.Point:
    """A typed Ed448 key, decoded and fully validated."""
    return ed448.decode_point(get_typed_key_raw(r, key_type))


def put_timestamp(w: Writer, seconds: int) -> Writer:
    """8-byte signed big-endian Unix time (CLIENT-PROF-EXP, PREKEY-PROF-EXP)."""
    if not _INT64_MIN <= seconds <= _INT64_MAX:
        raise ValueError("timestamp out of the signed 64-bit range")
    return w.put_raw(seconds.to_bytes(8, "big", signed=True))


def get_timestamp(r: Reader) -> int:
    return int.from_bytes(r.get_raw(8), "big", signed=True)


def put_eddsa_sig(w: Writer, sig: bytes) -> Writer:
    if len(sig) != EDDSA_SIG_BYTES:
        raise ValueError("an EdDSA signature is 114 bytes")
    return w.put_raw(sig)


def get_eddsa_sig(r: Reader) -> bytes:
    return r.get_raw(EDDSA_SIG_BYTES)
