"""The Non-Interactive-Auth message codec (otr.wire.v4.non_interactive)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from otr.crypto import dh3072, ed448
from otr.crypto.dh3072 import DHKeyPair
from otr.crypto.ring import RingSignature
from otr.errors import DecodeError, InvalidGroupElement, RemoteProtocolError
from otr.v4.keys import ECDHKeyPair
from otr.wire.v4.non_interactive import NonInteractiveAuth
from prekey_util import make_party, make_rng

ALICE = make_party("alice@example.org", 0x5678, 2)
RNG = make_rng(3)
MSG = NonInteractiveAuth(
    0x5678,
    0x1234,
    ALICE.client_profile,
    ECDHKeyPair.generate(RNG).public,
    DHKeyPair.generate(RNG).public,
    RingSignature(1, 2, 3, 4, 5, 6),
    0xCAFE,
    bytes(range(64)),
    ECDHKeyPair.generate(RNG).public,
    DHKeyPair.generate(RNG).public,
)


def test_layout_and_roundtrip() -> None:
    data = MSG.encode()
    assert data[:11] == b"\x00\x04\x0d\x00\x00\x56\x78\x00\x00\x12\x34"
    cp = ALICE.client_profile.encode()
    assert data[11 : 11 + len(cp)] == cp
    assert NonInteractiveAuth.decode(data) == MSG
    for cut in (1, 5, 11, len(data) // 2, len(data) - 1):
        with pytest.raises(RemoteProtocolError):  # DecodeError, or ProfileError inside the profile
            NonInteractiveAuth.decode(data[:cut])
    with pytest.raises(DecodeError):
        NonInteractiveAuth.decode(data + b"\x00")
    with pytest.raises(DecodeError):
        NonInteractiveAuth.decode(data[:2] + b"\x0e" + data[3:])
    with pytest.raises(ValueError):
        replace(MSG, auth_mac=b"short").encode()


def test_invalid_values_rejected() -> None:
    with pytest.raises(InvalidGroupElement):
        NonInteractiveAuth.decode(replace(MSG, first_dh=int(dh3072.DH_P - 2)).encode())
    with pytest.raises(InvalidGroupElement):
        NonInteractiveAuth.decode(replace(MSG, a=1).encode())
    bad = bytearray(MSG.encode())
    at = 11 + len(ALICE.client_profile.encode())
    bad[at : at + 57] = ed448.IDENTITY.encode()
    with pytest.raises(InvalidGroupElement):
        NonInteractiveAuth.decode(bytes(bad))
