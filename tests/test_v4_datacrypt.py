"""OTRv4 per-message cryptography: message keys, seal and open against the otr4j
transcripts, and the C accelerator against its pure-Python twin byte for byte."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otr.accelerator import native
from otr.crypto import chacha20
from otr.v4 import datacrypt
from otr.wire.v4.data import DataMessage4
from v4_transcript_util import H, Step, data_deliveries, transcripts

KEYED = [
    (tid, s)
    for tid, t in transcripts().items()
    for s in data_deliveries(t)
    if "chain_key" in s["keys"]
]
IDS = [f"{tid}-step{s['step']}" for tid, s in KEYED]

SEALS = [datacrypt.py_seal_message]
OPENS = [datacrypt.py_open_message]
if native is not None:
    SEALS.append(native.v4_seal_message)
    OPENS.append(native.v4_open_message)


def kdf(usage: int, *parts: bytes) -> bytes:
    """The spec's KDF written out with hashlib, independent of the code under test."""
    return hashlib.shake_256(b"OTRv4" + bytes([usage]) + b"".join(parts)).digest(64)


@pytest.mark.parametrize(("tid", "step"), KEYED, ids=IDS)
def test_message_keys_match_otr4j(tid: str, step: Step) -> None:
    keys = step["keys"]
    chain_key = H(keys["chain_key"])
    mk_enc, extra, next_key = datacrypt.message_keys(chain_key)
    assert mk_enc.hex() == keys["mk_enc"]
    assert extra.hex() == keys["extra_symmetric_key"]
    assert datacrypt.mac_key(mk_enc).hex() == keys["mk_mac"]
    assert next_key == kdf(0x14, chain_key)
    msg = DataMessage4.decode(H(step["message"]["bytes"]))
    section = msg.authenticated_section()
    ct_start = len(section) - len(msg.ciphertext)
    for open_message in OPENS:
        opened = open_message(chain_key, section, ct_start, msg.authenticator)
        assert opened is not None
        assert [v.hex() for v in opened] == [
            keys["plaintext"],
            keys["mk_mac"],
            keys["extra_symmetric_key"],
            next_key.hex(),
        ]
    for seal_message in SEALS:
        head = section[: ct_start - 4]
        sealed = seal_message(chain_key, head, H(keys["plaintext"]))
        assert sealed == (section, msg.authenticator, extra, next_key)
    assert datacrypt.open_with_message_key(mk_enc, section, ct_start, msg.authenticator) == (
        H(keys["plaintext"]),
        H(keys["mk_mac"]),
    )


def test_formulas_written_out() -> None:
    ck, head, pt = bytes(range(64)), b"\x00\x04\x03head", b"hello\0"
    section, auth, extra, next_key = datacrypt.py_seal_message(ck, head, pt)
    mk_enc = kdf(0x15, ck)
    ct = chacha20.chacha20(mk_enc[:32], pt)
    assert section == head + len(pt).to_bytes(4, "big") + ct
    assert auth == kdf(0x18, kdf(0x16, mk_enc), section)
    assert extra == kdf(0x17, b"\xff", ck)
    assert next_key == kdf(0x14, ck)


@given(
    chain_key=st.binary(min_size=64, max_size=64),
    head=st.binary(min_size=4, max_size=120),
    plaintext=st.binary(max_size=600),
    flip=st.integers(0, 2**20),
)
def test_twins_agree(chain_key: bytes, head: bytes, plaintext: bytes, flip: int) -> None:
    results = {seal(chain_key, head, plaintext) for seal in SEALS}
    assert len(results) == 1
    (section, auth, extra, next_key) = results.pop()
    ct_start = len(head) + 4
    for open_message in OPENS:
        assert open_message(chain_key, section, ct_start, auth) == (
            plaintext,
            kdf(0x16, kdf(0x15, chain_key)),
            extra,
            next_key,
        )
        forged = bytearray(section + auth)
        forged[flip % len(forged)] ^= 1 << (flip % 8)
        assert (
            open_message(
                chain_key, bytes(forged[: len(section)]), ct_start, bytes(forged[len(section) :])
            )
            is None
        )
        assert open_message(chain_key, section, ct_start, auth[:63]) is None


@pytest.mark.parametrize("impl", range(len(SEALS)))
def test_bad_arguments(impl: int) -> None:
    seal, open_message = SEALS[impl], OPENS[impl]
    with pytest.raises(ValueError):
        seal(bytes(63), b"head", b"x")
    with pytest.raises(ValueError):
        open_message(bytes(65), b"head\0\0\0\0", 8, bytes(64))
    for ct_start in (3, 10):
        with pytest.raises(ValueError):
            open_message(bytes(64), b"head\0\0\0\0", ct_start, bytes(64))


@pytest.mark.skipif(native is None, reason="C accelerator not built")
def test_accelerator_is_in_use() -> None:
    assert datacrypt.seal_message is native.v4_seal_message  # type: ignore[union-attr]
    assert datacrypt.open_message is native.v4_open_message  # type: ignore[union-attr]
