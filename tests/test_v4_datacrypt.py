"""OTRv4 per-message cryptography: message keys, seal and open against the otr4j
transcripts, and the C accelerator against its pure-Python twin byte for byte."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otr.accelerator import native
from otr.crypto import chacha20
from otr.v4 import datacrypt
from otr.wire import envelope
from otr.wire.v4 import data
from otr.wire.v4.data import DataMessage4, chain_head, encode_plaintext, with_counters
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


PURE_SCRIPT = """
import hashlib, sys
sys.path.insert(0, "bench")
from bench_v4_ratchet import pair
from otr.v4 import datacrypt
from otr.wire import envelope
from otr.wire.v4 import data
from otr.wire.v4.data import DataMessage4, chain_head, encode_plaintext, with_counters
alice, bob = pair(b"pure")
out = hashlib.sha256()
for n in range(12):
    sender, receiver = (alice, bob) if n % 3 else (bob, alice)
    data = sender.seal(b"m%d" % n + b"\\0", 0, 0.0).message.encode()
    out.update(data + receiver.open(DataMessage4.decode(data), 0.0).plaintext)
    wire = sender.seal_wire(b"w%d" % n, 0)  # the fused path, where no rotation is due
    if wire is not None:
        out.update(wire.encode() + receiver.open_wire(wire, 0.0).encode())
print(datacrypt.seal_message.__name__, datacrypt.seal_wire.__name__, out.hexdigest())
"""


@pytest.mark.skipif(native is None, reason="C accelerator not built")
def test_pure_python_ratchet_writes_the_same_bytes() -> None:
    """Two ratchets talking (ping-pong and one-way) produce the same messages with
    and without the accelerator."""
    repo = Path(__file__).resolve().parent.parent
    runs = {}
    for pure in ("", "1"):
        env = dict(os.environ, OTR_PURE_PYTHON=pure)
        out = subprocess.run(
            [sys.executable, "-c", PURE_SCRIPT],
            env=env,
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        runs[out[0] + " " + out[1]] = out[2]
    assert set(runs) == {"v4_seal_message v4_seal_wire", "py_seal_message py_seal_wire"}
    assert len(set(runs.values())) == 1


# --- the fused per-message path (seal_wire / open_wire) ---------------------------------

SEAL_WIRES = [datacrypt.py_seal_wire]
OPEN_WIRES = [datacrypt.py_open_wire]
if native is not None:
    SEAL_WIRES.append(native.v4_seal_wire)
    OPEN_WIRES.append(native.v4_open_wire)

THEIR, OUR = 0x1234_5678, 0x9ABC_DEF0


def chain(rid: int, dh: int | None, seed: bytes = b"") -> bytes:
    """A receiving chain's expected head (a random 57-byte ECDH value: open_wire
    compares bytes, it does not decode points)."""
    ecdh = hashlib.shake_256(b"ecdh" + seed).digest(57)
    return chain_head(THEIR, OUR, rid, ecdh, dh)


def sender_head(expected: bytes, pn: int = 0) -> bytes:
    """The sender's chain head for ``expected`` (flags and message id are patched in)."""
    return expected[: data.PN_AT] + pn.to_bytes(4, "big") + expected[data.PN_AT + 4 :]


@settings(max_examples=60)
@given(
    chain_key=st.binary(min_size=64, max_size=64),
    dh=st.none() | st.integers(1, 2**3072),
    flags=st.integers(0, 255),
    mid=st.integers(0, 2**32 - 1),
    text=st.text(max_size=150),
    reveals=st.integers(0, 3),
)
def test_seal_wire_is_the_general_encoding(
    chain_key: bytes, dh: int | None, flags: int, mid: int, text: str, reveals: int
) -> None:
    """seal_wire gives what the general path's pieces give: encode_plaintext (NUL ->
    '?', then NUL), the head with flags and message id, seal_message, the revealed
    MACs, base 64."""
    head = sender_head(chain(3, dh), pn=7)
    reveal = bytes(range(64)) * reveals
    section, auth, _, next_key = datacrypt.py_seal_message(
        chain_key, with_counters(head, flags, mid), encode_plaintext(text)
    )
    binary = section + auth + len(reveal).to_bytes(4, "big") + reveal
    expected = (envelope.encode_otr_message(binary), next_key)
    for seal_wire in SEAL_WIRES:
        assert seal_wire(chain_key, head, flags, mid, text.encode(), reveal) == expected


def opened(chain_key: bytes, text: str) -> tuple[str, bytes, bytes]:
    mk_enc = kdf(0x15, chain_key)
    return text, kdf(0x16, mk_enc), kdf(0x14, chain_key)


@settings(max_examples=60)
@given(
    chain_key=st.binary(min_size=64, max_size=64),
    rid=st.integers(0, 7),
    mid=st.integers(0, 5),
    flags=st.integers(0, 255),
    pn=st.integers(0, 2**32 - 1),
    message=st.text(max_size=120).map(lambda t: t.replace("\0", "")),
    reveals=st.integers(0, 2),
    mutation=st.integers(0, 2**24),
)
def test_open_wire_twins_agree(
    chain_key: bytes,
    rid: int,
    mid: int,
    flags: int,
    pn: int,
    message: str,
    reveals: int,
    mutation: int,
) -> None:
    """The twins take exactly the same texts; an untouched message (any flags, any
    pn) opens to its text, MKmac and the next chain key; a changed byte anywhere
    (base 64 digit, head, lengths, ciphertext, authenticator, reveals) or a wrong
    expectation gives None."""
    expected = chain(rid, 5 if rid % 3 == 0 else None)
    reveal = bytes(64) * reveals
    wire, _ = datacrypt.py_seal_wire(
        chain_key, sender_head(expected, pn), flags, mid, message.encode(), reveal
    )
    takes = not (mid == 0 and rid > 0 and not reveals)  # otr4j's rule
    for open_wire in OPEN_WIRES:
        assert open_wire(wire, chain_key, expected, mid) == (
            opened(chain_key, message) if takes else None
        )
        assert open_wire(wire, chain_key, expected, mid + 1) is None
        assert open_wire(wire, chain_key, chain(rid + 1, None), mid) is None
        assert open_wire(wire, chain_key, chain(rid, 5, b"other"), mid) is None
        assert open_wire(wire, kdf(0x14, chain_key), expected, mid) is None
    binary = bytearray(envelope.decode_otr_message(wire))
    at = mutation % len(binary)
    binary[at] ^= 1 << (mutation % 8)
    changed = envelope.encode_otr_message(bytes(binary))
    digit = 5 + mutation % (len(wire) - 6)
    texts = [
        changed,
        wire[:digit] + ("A" if wire[digit] != "A" else "B") + wire[digit + 1 :],
        wire[:-1],
        wire + ".",
        " " + wire,
        wire[:-5] + "." if len(wire) > 12 else wire[:-1],
        wire[:digit] + "é" + wire[digit + 1 :],
    ]
    for text in texts:
        results = {repr(open_wire(text, chain_key, expected, mid)) for open_wire in OPEN_WIRES}
        assert len(results) == 1, text
    # Only the revealed MACs are covered neither by the comparison nor by the
    # authenticator: a change there still opens; anywhere else it does not.
    in_reveals = at >= len(binary) - 64 * reveals
    for open_wire in OPEN_WIRES:
        assert open_wire(changed, chain_key, expected, mid) == (
            opened(chain_key, message) if in_reveals and takes else None
        )


@pytest.mark.parametrize("impl", range(len(OPEN_WIRES)))
def test_open_wire_leaves_tlvs_and_odd_plaintexts(impl: int) -> None:
    open_wire, ck = OPEN_WIRES[impl], bytes(range(64))
    expected = chain(1, None)
    head = sender_head(expected)

    def sealed(plaintext: bytes) -> str:
        section, auth, _, _ = datacrypt.py_seal_message(ck, with_counters(head, 0, 4), plaintext)
        return envelope.encode_otr_message(section + auth + bytes(4))

    assert open_wire(sealed(b"hi\0\0\0\0\0"), ck, expected, 4) is None  # a padding TLV
    assert open_wire(sealed(b"hi\0\0"), ck, expected, 4) is None  # a truncated TLV
    assert open_wire(sealed(b"hi\0"), ck, expected, 4) == opened(ck, "hi")
    assert open_wire(sealed(b"no nul"), ck, expected, 4) == opened(ck, "no nul")
    assert open_wire(sealed(b""), ck, expected, 4) == opened(ck, "")
    assert open_wire(sealed(b"\xff\xfeok\0"), ck, expected, 4) == opened(ck, "\ufffd\ufffdok")
    too_long = "?OTR:" + "A" * (envelope.MAX_ENCODED_LEN + 4) + "."
    assert open_wire(too_long, ck, expected, 4) is None


@pytest.mark.parametrize("impl", range(len(SEAL_WIRES)))
def test_fused_bad_arguments(impl: int) -> None:
    seal_wire, open_wire = SEAL_WIRES[impl], OPEN_WIRES[impl]
    head = sender_head(chain(0, 5))
    with pytest.raises(ValueError):
        seal_wire(bytes(63), head, 0, 0, b"x", b"")
    with pytest.raises(ValueError):
        seal_wire(bytes(64), head[:23], 0, 0, b"x", b"")
    with pytest.raises(ValueError):
        seal_wire(bytes(64), head, 256, 0, b"x", b"")
    for bad in (-1, 2**32):
        with pytest.raises(OverflowError):
            seal_wire(bytes(64), head, 0, bad, b"x", b"")
        with pytest.raises(OverflowError):
            open_wire("?OTR:AAAA.", bytes(64), head, bad)
    with pytest.raises(ValueError):
        open_wire("?OTR:AAAA.", bytes(65), head, 0)
    with pytest.raises(ValueError):
        open_wire("?OTR:AAAA.", bytes(64), head[:84], 0)
    with pytest.raises(TypeError):
        open_wire(b"?OTR:AAAA.", bytes(64), head, 0)  # type: ignore[arg-type]


@pytest.mark.skipif(native is None, reason="C accelerator not built")
def test_fused_accelerator_is_in_use() -> None:
    assert datacrypt.seal_wire is native.v4_seal_wire  # type: ignore[union-attr]
    assert datacrypt.open_wire is native.v4_open_wire  # type: ignore[union-attr]
