"""Wire codecs of the prekey-server messages (otr.prekey.messages)."""

from __future__ import annotations

import pytest

from otr.crypto import kdf
from otr.crypto.ring import RingSignature
from otr.errors import DecodeError, RemoteProtocolError
from otr.prekey import messages as msg
from otr.prekey import proofs
from otr.v4.keys import ECDHKeyPair
from otr.v4.prekeys import PrekeyEnsemble, generate_prekey_message
from otr.wire.v4 import types as wt
from prekey_util import SERVER_ID, make_party, make_rng

PARTY = make_party("bob@example.org", 0x1234, 1)
RNG = make_rng(2)
POINT = ECDHKeyPair.generate(RNG).public
SIGMA = RingSignature(1, 2, 3, 4, 5, 6)
MAC = bytes(range(64))
M = proofs.proof_context(b"k" * 64)


def _publication(n: int, with_cp: bool, with_pp: bool) -> msg.PrekeyPublication:
    secrets = [generate_prekey_message(0x1234, RNG) for _ in range(n)]
    pms = tuple(s.public() for s in secrets)
    ep = dp = pp_proof = None
    if n:
        ep = proofs.prove_ecdh([s.ecdh.secret for s in secrets], [p.y for p in pms], M, RNG)
        dp = proofs.prove_dh([s.dh.secret for s in secrets], [p.b for p in pms], M, RNG)
    if with_pp:
        pp_proof = proofs.prove_ecdh(
            [PARTY.shared.secret],
            [PARTY.shared.public],
            M,
            RNG,
            usage=kdf.PS_USAGE_PROOF_SHARED_ECDH,
        )
    return msg.PrekeyPublication(
        pms,
        PARTY.client_profile if with_cp else None,
        PARTY.prekey_profile if with_pp else None,
        ep,
        dp,
        pp_proof,
        MAC,
    )


def _ensemble() -> PrekeyEnsemble:
    return PrekeyEnsemble(
        PARTY.client_profile, PARTY.prekey_profile, generate_prekey_message(0x1234, RNG).public()
    )


SAMPLES: list[msg.Message] = [
    msg.Dake1(0x1234, PARTY.client_profile, POINT),
    msg.Dake2(0x1234, SERVER_ID, PARTY.keypair.public, POINT, SIGMA),
    msg.Dake3(0x1234, SIGMA, b"\x00\x04\x09" + MAC),
    _publication(3, True, True),
    _publication(0, True, False),
    _publication(2, False, False),
    _publication(0, False, True),
    msg.StorageInfoRequest(MAC),
    msg.StorageStatus(0x1234, 17, MAC),
    msg.Success(0x1234, MAC),
    msg.Failure(0x1234, MAC),
    msg.EnsembleQuery(0x99999, "bob@example.org", b"45"),
    msg.EnsembleRetrieval(0x99999, "bob@example.org", (_ensemble(), _ensemble())),
    msg.NoEnsembles(0x99999, "bób@example.org"),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_roundtrip_strict(message: msg.Message) -> None:
    data = message.encode()
    assert data[:2] == b"\x00\x04"
    back = msg.decode_message(data)
    assert back.encode() == data
    assert type(back) is type(message)
    text = msg.encode_text(data)
    assert text.endswith(".") and not text.startswith("?OTR")
    assert msg.decode_text(text) == data
    for cut in (2, 3, len(data) // 2, len(data) - 1):
        with pytest.raises(RemoteProtocolError):
            msg.decode_message(data[:cut])
    with pytest.raises(DecodeError):
        msg.decode_message(data + b"\x00")


def test_layouts() -> None:
    d1 = SAMPLES[0].encode()
    assert d1[2] == 0x35 and d1[3:7] == b"\x00\x00\x12\x34"
    d2 = SAMPLES[1]
    assert isinstance(d2, msg.Dake2)
    comp = d2.encode()[7:]
    assert comp.startswith(len(SERVER_ID).to_bytes(4, "big") + SERVER_ID.encode() + b"\x10\x00")
    assert msg.composite_identity(SERVER_ID, PARTY.keypair.public) == (
        len(SERVER_ID).to_bytes(4, "big")
        + SERVER_ID.encode()
        + wt.encode_typed_key(0x10, PARTY.keypair.public)
    )
    retrieval = SAMPLES[12].encode()
    # L is ONE byte, right after the identity
    ident_end = 7 + 4 + len("bob@example.org")
    assert retrieval[2] == 0x13 and retrieval[ident_end] == 2
    status = SAMPLES[8].encode()
    assert status == b"\x00\x04\x0b\x00\x00\x12\x34\x00\x00\x00\x11" + MAC
    assert SAMPLES[9].encode()[2] == 0x06 and SAMPLES[10].encode()[2] == 0x05
    assert msg.NoEnsembles(1, "x").text == "No Prekey Messages available for this identity"


def test_publication_flags_and_proofs_must_match() -> None:
    data = bytearray(_publication(0, True, False).encode())
    assert data[3] == 0 and data[4] == 1  # N = 0, K = 1
    data[4] = 2
    with pytest.raises(DecodeError):
        msg.decode_message(bytes(data))
    with pytest.raises(ValueError):
        msg.PrekeyPublication((), None, PARTY.prekey_profile, None, None, None, MAC)


def test_bad_inputs() -> None:
    with pytest.raises(DecodeError):
        msg.decode_message(b"\x00\x04\x42")
    with pytest.raises(DecodeError):
        msg.decode_message(b"\x00\x03\x35")
    with pytest.raises(DecodeError):
        msg.decode_text("AAQJ")  # no final '.'
    with pytest.raises(DecodeError):
        msg.decode_text("AA=Q.")
    bad_utf8 = msg.EnsembleQuery(1, "x", b"4").encode().replace(b"x", b"\xff")
    with pytest.raises(DecodeError):
        msg.decode_message(bad_utf8)
    zero_l = bytearray(SAMPLES[13].encode())
    zero_l[2] = 0x13
    with pytest.raises(RemoteProtocolError):
        msg.decode_message(bytes(zero_l))
    with pytest.raises(ValueError):
        msg.EnsembleRetrieval(1, "x", ())
