"""Write the seed corpora of every target from real runs of our own code.

    python fuzz/seeds.py [OUT_DIR]      # default fuzz/.corpus/seeds

Each ``OUT_DIR/<seed name>/`` gets one file per input (named by its SHA-1, as libFuzzer
names them).  The inputs are what our Conversations actually sent in
:func:`scenarios.full_run` (unfragmented and fragmented, v3 and v2), the SMP messages
of :func:`scenarios.smp_run`, the v4 profiles of tests/vectors and of the otr4j
transcripts, the wire texts of the otr4j transcripts, and key/fingerprint/instance-tag
files written by :mod:`otr.storage`.  The otr4j seed folders in shared/ are used as
they are (see each target's ``SEEDS``).  Deterministic: the same files every run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import fuzz_datacrypt_v4
import harness
import scenarios

from otr.events import Tlv
from otr.storage import FingerprintStore, InstanceTagStore, PrivateKeyStore
from otr.wire import envelope, tlv
from otr.wire.fragment import fragment_message

TRANSCRIPTS = harness.shared_dir() / "spec" / "vectors" / "otr4j-v4-transcripts.json"
VECTORS = harness.REPO / "tests" / "vectors"


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) for every leaf of a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)
    else:
        yield key, node


def _transcript_values(*keys: str) -> list[str]:
    if not TRANSCRIPTS.is_file():
        return []
    doc = json.loads(TRANSCRIPTS.read_text())
    return [v for k, v in _walk(doc["transcripts"]) if k in keys and isinstance(v, str)]


def _texts(pairs: Iterable[scenarios.Pair]) -> list[str]:
    return [text for pair in pairs for _, text in pair.wire]


def _binary(text: str) -> bytes | None:
    try:
        return envelope.decode_otr_message(text)
    except Exception:
        return None


def build() -> dict[str, list[bytes]]:
    """Seed name -> inputs."""
    runs = [scenarios.full_run(), scenarios.full_run(300)]
    v2 = scenarios.Pair(scenarios.manual_policy().with_versions({2}), seed=b"v2seed")
    v2.pump(v2.a, v2.a.start(v2.now))
    v2.pump(v2.a, v2.a.send("hello over v2", v2.now))
    runs.append(v2)
    ours = _texts(runs)
    v4_wire = _transcript_values("wire")
    texts = ours + v4_wire
    encoded = [t for t in ours if envelope.classify(t) is envelope.MessageKind.ENCODED]
    binaries = [b for b in (_binary(t) for t in encoded) if b is not None]
    fragments = [t for t in texts if envelope.classify(t) is envelope.MessageKind.FRAGMENT]
    # Whole fragment sequences (NUL-separated), as the fragment target reads them.
    sequences = [
        "\0".join(fragment_message(t, 200, 3, 0x1000A, 0x1000B)).encode() for t in encoded[:8]
    ] + ["\0".join(fragment_message(encoded[0], 120, 2, 0, 0)).encode()]

    smp = scenarios.smp_run()
    smp_seeds = [
        bytes((s, t.type)) + t.value for s in range(len(scenarios.SMP_STATES)) for t in smp.tlvs
    ]
    plaintexts = [tlv.join_plaintext(b"", [t]) for t in smp.tlvs] + [
        tlv.join_plaintext(b"hi", [Tlv(tlv.DISCONNECTED)]),
        tlv.join_plaintext(b"", [Tlv(tlv.EXTRA_SYMMETRIC_KEY, b"\0\0\0\7file.txt")]),
        tlv.join_plaintext(b"pad", [Tlv(tlv.PADDING, bytes(16)), Tlv(0x1234, b"x")]),
        b"plain text, no TLVs",
    ]
    tlv_seeds = [p.partition(b"\0")[2] for p in plaintexts]

    states = len(scenarios.CONVERSATION_STATES)
    conv: list[bytes] = []
    for s in range(states):
        conv += [bytes((s,)) + t.encode() for t in texts[:40]]
        conv += [bytes((s + states,)) + b for b in binaries[:20]]
        conv += [bytes((s + 2 * states,)) + b for b in binaries[:20] if b[1] == 3]
        conv += [bytes((s + 3 * states,)) + p for p in plaintexts]
        conv += [bytes((s + 4 * states,)) + q for q in sequences[:3]]

    client_profiles = [
        bytes.fromhex(v["profile_hex"])
        for v in json.loads((VECTORS / "otrv4_client_profiles.json").read_text())["vectors"]
    ] + [bytes.fromhex(h) for h in _transcript_values("client_profile")]
    prekey_profiles = [
        bytes.fromhex(v["profile_hex"])
        for v in json.loads((VECTORS / "otrv4_prekey_profiles.json").read_text())["vectors"]
    ]

    v4_binaries = [
        bytes.fromhex(h)
        for h in _transcript_values("bytes")
        if h.startswith("0004") and len(h) % 2 == 0
    ]
    v4_dake = [b for b in v4_binaries if b[2] in (0x35, 0x36, 0x37)]
    v4_data = [b for b in v4_binaries if b[2] == 0x03]
    v4_wire = [t for t in _transcript_values("wire") if t.startswith("?OTR|")]
    v4_sequences = ["\0".join(v4_wire[i : i + 6]).encode() for i in range(0, len(v4_wire), 6)]
    smp4 = scenarios.smp_run(4)
    smp4_seeds = [
        bytes((s, t.type)) + t.value for s in range(len(scenarios.SMP_STATES)) for t in smp4.tlvs
    ]
    v4_states = len(scenarios.V4_STATES)
    v4_session = [bytes((s + v4_states,)) + b for s in range(v4_states) for b in v4_binaries[:12]]
    v4_session += [bytes((s,)) + b for s in range(v4_states) for b in v4_binaries[:12]]
    v4_session += [bytes((s + 2 * v4_states,)) + p for s in range(v4_states) for p in plaintexts]

    keys = PrivateKeyStore()
    keys.set("alice@example.org", "prpl-jabber", scenarios.dsa_key("a"))
    keys.set("bob", "irc", scenarios.dsa_key("b"))
    fps = FingerprintStore()
    fps.add("alice@example.org", "prpl-jabber", "bob@example.org", bytes(range(20)))
    fps.set_trust("alice@example.org", "prpl-jabber", "carol", bytes(range(1, 21)), "smp")
    tags = InstanceTagStore()
    tags.set("alice@example.org", "prpl-jabber", 0x1000A)
    tags.set("bob", "irc", 0xDEADBEEF)
    privkey = keys.to_bytes()

    return {
        "envelope": [t.encode() for t in texts]
        + [envelope.whitespace_tag({2, 3}).encode(), b"?OTRv3?", b"?OTR?v24x?", b"?OTR Error: x"],
        "base64": [t[5 : t.index(".")].encode() for t in encoded],
        "fragment": [f.encode() for f in fragments] + sequences,
        "tlv": tlv_seeds,
        "wire_v3": binaries,
        "datacrypt": [b"\0" + b for b in binaries if b[2] == 3]
        + [b"\1" + bytes((11, 3)) + bytes(range(40))],
        "datacrypt_v4": fuzz_datacrypt_v4.seed_inputs(),
        "smp_v3": smp_seeds,
        "conversation": conv,
        "client_profile": client_profiles,
        "wire_v4_dake": v4_dake,
        "wire_v4_data": v4_data,
        "fragment_v4": [t.encode() for t in v4_wire] + v4_sequences,
        "smp_v4": smp4_seeds,
        "v4_session": v4_session,
        "prekey_profile": prekey_profiles,
        "storage_sexp": [privkey, b'(a (b #00FF#) |AAEC| "q\\x01" 3:abc)'],
        "storage_privkey": [privkey],
        "storage_fingerprints": [fps.to_bytes()],
        "storage_instags": [tags.to_bytes()],
    }


def write(out: Path) -> dict[str, int]:
    """Write every seed corpus under ``out``; seed name -> number of files."""
    counts: dict[str, int] = {}
    for name, inputs in build().items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        counts[name] = len(set(inputs))
    return counts


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else harness.CORPUS_DIR / "seeds"
    for name, n in write(out).items():
        print(f"{name}: {n} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
