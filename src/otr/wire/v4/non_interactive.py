"""The Non-Interactive-Auth message (otr-v4.md "Non-Interactive-Auth Message";
CHECKLIST B12)::

    SHORT 0x0004 || BYTE 0x0D || INT sender tag || INT receiver tag
    || CLIENT-PROF || POINT X || MPI A || RING-SIG sigma
    || INT prekey message identifier || MAC Auth MAC (64)
    || POINT our_ecdh_first.public || MPI our_dh_first.public

The spec gives the last two fields no type; they are written as the Identity
and Auth-R messages write theirs (POINT, MPI; ERRATA B10).  Decoding is strict
and validates every point (InvalidGroupElement) and DH value (range and
Jacobi symbol); the profile is parsed, not validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Self

from ...crypto import dh3072
from ...crypto.ed448 import Point
from ...crypto.ring import RING_SIG_BYTES, RingSignature
from ...errors import DecodeError
from ...v4.profiles import ClientProfile
from ..buffer import Reader, Writer
from . import types as wt

__all__ = ["AUTH_MAC_BYTES", "NON_INTERACTIVE_AUTH_TYPE", "NonInteractiveAuth"]

NON_INTERACTIVE_AUTH_TYPE: Final = 0x0D
AUTH_MAC_BYTES: Final = 64
_VERSION: Final = 0x0004


def _get_dh(r: Reader) -> int:
    value = r.get_mpi()
    dh3072.check_group_element(value)
    return value


@dataclass(frozen=True)
class NonInteractiveAuth:
    sender_tag: int
    receiver_tag: int
    client_profile: ClientProfile
    x: Point
    a: int
    sigma: RingSignature
    prekey_identifier: int
    auth_mac: bytes
    first_ecdh: Point
    first_dh: int

    def encode(self) -> bytes:
        if len(self.auth_mac) != AUTH_MAC_BYTES:
            raise ValueError("the Auth MAC is 64 bytes")
        w = Writer().put_short(_VERSION).put_byte(NON_INTERACTIVE_AUTH_TYPE)
        w.put_int(self.sender_tag).put_int(self.receiver_tag)
        w.put_raw(self.client_profile.encode())
        wt.put_point(w, self.x).put_mpi(self.a).put_raw(self.sigma.encode())
        w.put_int(self.prekey_identifier).put_raw(self.auth_mac)
        return wt.put_point(w, self.first_ecdh).put_mpi(self.first_dh).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        r = Reader(data)
        if r.get_short() != _VERSION:
            raise DecodeError("Non-Interactive-Auth: unsupported protocol version")
        if r.get_byte() != NON_INTERACTIVE_AUTH_TYPE:
            raise DecodeError("not a Non-Interactive-Auth message (type 0x0D)")
        sender, receiver = r.get_int(), r.get_int()
        profile = ClientProfile.read(r)
        x = wt.get_point(r)
        a = _get_dh(r)
        sigma = RingSignature.decode(r.get_raw(RING_SIG_BYTES))
        identifier = r.get_int()
        mac = r.get_raw(AUTH_MAC_BYTES)
        first_ecdh = wt.get_point(r)
        first_dh = _get_dh(r)
        r.finish()
        return cls(sender, receiver, profile, x, a, sigma, identifier, mac, first_ecdh, first_dh)
