"""Generate our own OTRv4 known-answer vectors with pinned randomness.

    python tests/vectors/generate_v4.py           # (re)write the JSON files
    python tests/vectors/generate_v4.py --check   # exit 1 if the output changed

Every random byte comes from :class:`PinnedRng`: call number ``i`` of an rng
labelled ``L`` returns ``SHAKE-256(b"otr-kat:" + L + b":" + i as 4-byte
big-endian, n)``.  The values therefore pin *our* behaviour (encodings, usage
IDs, hash inputs, signature layouts) against regressions; they were not
checked against another OTRv4 implementation (there is none to check against
for the final spec, see ../../../shared/spec/vectors/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from otr.crypto import ed448, kdf, ring
from otr.crypto.dsa import DSAPrivateKey
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair, ForgingKey, fingerprint
from otr.v4.profiles import build_client_profile, build_prekey_profile

HERE = Path(__file__).resolve().parent
FILES = {
    "kdf": "otrv4_kdf.json",
    "ring": "otrv4_ring_signatures.json",
    "client_profile": "otrv4_client_profiles.json",
    "prekey_profile": "otrv4_prekey_profiles.json",
}

# A fixed 1024/160-bit DSA domain (generated once with OpenSSL); x comes from a PinnedRng.
DSA_P = int(
    "dac44e415f7047a3504ee45f030660d2a6018f7db84ac349a638cb16b3c79c24a35a1ccedc2c59e9e49df58e"
    "771b8bc3e029e32b66401e25053c23f3ca69d5d3facb7e774834301b2a0978eb2af644f8c9f42c09a4fad7c3"
    "319f478a446f2dfe65e61589674d4442680e5c3cbd4db5543de6c4d50631e495848ed96e9aa45707",
    16,
)
DSA_Q = int("84f15abec5cdb719924261746afc1f6ca9494939", 16)
DSA_G = int(
    "a86d677afc346cee0f739ab191a84977ec8301f2befe268e70ad3c2fe594a040205112ff2f6f88887c4378d6"
    "c49c4df3afc692f5ec6a004682b7d38fcb8e6996e70b515da0ba093c3056b33cb125b26de37a1333025a0b75"
    "11279494e502eb21658321af180911adc186a32ebe434d43f00c158f1bdb7722e4f93644c7efe2b1",
    16,
)

EXPIRATION = 1_900_000_000  # 2030-03-17, Unix seconds
VALID_AT = 1_800_000_000  # a "now" at which the profiles are valid


class PinnedRng:
    """Deterministic byte source: call i returns SHAKE-256("otr-kat:" label ":" i, n)."""

    def __init__(self, label: str) -> None:
        self.label = label.encode()
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        data = b"otr-kat:" + self.label + b":" + self.calls.to_bytes(4, "big")
        self.calls += 1
        return hashlib.shake_256(data).digest(n)


def dsa_key(label: str) -> DSAPrivateKey:
    x = int.from_bytes(PinnedRng(label)(20), "big") % (DSA_Q - 1) + 1
    return DSAPrivateKey.from_numbers(DSA_P, DSA_Q, DSA_G, pow(DSA_G, x, DSA_P), x)


def keypair(label: str) -> Ed448KeyPair:
    return Ed448KeyPair.generate(PinnedRng(label))


# --------------------------------------------------------------------------------


def kdf_vectors() -> dict[str, Any]:
    vectors: list[dict[str, Any]] = []
    for name, usage in kdf.USAGE_IDS.items():
        values = b"OTRv4 KAT input for " + name.encode()
        for size in (8, 32, 57, 64):
            vectors.append(
                {
                    "domain": "OTRv4",
                    "usage_name": name,
                    "usage_id": usage,
                    "values_hex": values.hex(),
                    "size": size,
                    "output_hex": kdf.kdf(usage, values, size).hex(),
                }
            )
    for name, usage in kdf.PS_USAGE_IDS.items():
        values = b"prekey server KAT input for " + name.encode()
        vectors.append(
            {
                "domain": "OTR-Prekey-Server",
                "usage_name": name,
                "usage_id": usage,
                "values_hex": values.hex(),
                "size": 64,
                "output_hex": kdf.kdf(usage, values, 64, domain=kdf.PREKEY_SERVER_DOMAIN).hex(),
            }
        )
    h2s: list[dict[str, Any]] = []
    for i in range(8):
        data = f"HashToScalar input {i}".encode()
        usage = kdf.USAGE_AUTH if i % 2 else i + 1  # SMP uses 0x01..0x08 as "usage"
        h2s.append(
            {
                "usage_id": usage,
                "data_hex": data.hex(),
                "scalar_hex": ed448.encode_scalar(ed448.hash_to_scalar(usage, data)).hex(),
            }
        )
    rng = PinnedRng("random_scalar")
    randoms = [ed448.encode_scalar(ed448.random_scalar(rng)).hex() for _ in range(4)]
    return {
        "description": "KDF/HWC/HCMAC = SHAKE-256(domain || usage_ID || values, size) for every "
        "usage ID of the final OTRv4 table and of the prekey-server table; HashToScalar "
        "(57-byte HWC, little-endian, mod q); random_scalar from PinnedRng('random_scalar').",
        "kdf": vectors,
        "hash_to_scalar": h2s,
        "random_scalar_rng_label": "random_scalar",
        "random_scalars_hex": randoms,
    }


def ring_vectors() -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for scheme_name, scheme in (("OTRv4", ring.OTRV4), ("OTR-Prekey-Server", ring.PREKEY_SERVER)):
        keys = [keypair(f"ring-{scheme_name}-key{n}") for n in range(3)]
        ring_pub = [k.public for k in keys]
        for signer in range(3):
            label = f"ring-{scheme_name}-sign{signer}"
            message = f"ring signature KAT, {scheme_name}, signer {signer + 1}".encode()
            sigma = ring.rsig(
                keys[signer].secret,
                keys[signer].public,
                ring_pub,
                message,
                PinnedRng(label),
                scheme=scheme,
            )
            out.append(
                {
                    "scheme": scheme_name,
                    "ring_hex": [p.encode().hex() for p in ring_pub],
                    "signer_index": signer,
                    "signer_sym_key_hex": keys[signer].sym_key.hex(),
                    "message_hex": message.hex(),
                    "rng_label": label,
                    "sigma_hex": sigma.encode().hex(),
                }
            )
    return {
        "description": "RSig/RVrf over three Ed448 keys (Ed448KeyPair.generate(PinnedRng("
        "'ring-<scheme>-key<n>'))), signer i signs with PinnedRng(rng_label). Challenge: "
        "HashToScalar(usage_auth || G || q (57 bytes LE) || A1..A3 || T1..T3 || DATA(m)); "
        "usage_auth 0x1A (OTRv4) or 0x11 with the 'OTR-Prekey-Server' domain.",
        "vectors": out,
    }


def client_profile_vectors() -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    cases: list[tuple[str, str, bool, bool]] = [
        # name, versions, with DSA key, publish DSA public key
        ("v4-only", "4", False, False),
        ("v3-compatible", "34", True, True),
        ("transitional-signature-without-dsa-key", "43", True, False),
    ]
    for name, versions, with_dsa, publish in cases:
        h = keypair(f"client-profile-{name}-H")
        forging = ForgingKey.random_point(PinnedRng(f"client-profile-{name}-F"))
        dsa = dsa_key(f"client-profile-{name}-dsa") if with_dsa else None
        profile = build_client_profile(
            h,
            forging.public,
            0x100 + len(out) * 0x1111,
            versions,
            EXPIRATION,
            dsa_key=dsa,
            include_dsa_public_key=publish,
            rng=PinnedRng(f"client-profile-{name}-dsa-sign"),
        )
        entry: dict[str, Any] = {
            "name": name,
            "sym_key_hex": h.sym_key.hex(),
            "forging_key_hex": forging.public.encode().hex(),
            "forging_key_rng_label": f"client-profile-{name}-F",
            "instance_tag": profile.instance_tag,
            "versions": versions,
            "expiration": EXPIRATION,
            "valid_at": VALID_AT,
            "profile_hex": profile.encode().hex(),
            "fingerprint_hex": fingerprint(h.public, forging.public).hex(),
        }
        if dsa is not None:
            entry["dsa_label"] = f"client-profile-{name}-dsa"
            entry["dsa_sign_rng_label"] = f"client-profile-{name}-dsa-sign"
            entry["dsa_y_hex"] = f"{dsa.public.y:x}"
            entry["dsa_public_key_in_profile"] = publish
        out.append(entry)
    return {
        "description": "Client Profiles built by build_client_profile with pinned keys "
        "(Ed448KeyPair.generate(PinnedRng('client-profile-<name>-H')), forging key "
        "ForgingKey.random_point(PinnedRng(forging_key_rng_label)), DSA x from "
        "PinnedRng(dsa_label) over the fixed domain in generate_v4.py). Ed448 signature over "
        "INT n || fields; transitional DSA signature over fields 0x0001-0x0006.",
        "dsa_domain": {"p_hex": f"{DSA_P:x}", "q_hex": f"{DSA_Q:x}", "g_hex": f"{DSA_G:x}"},
        "vectors": out,
    }


def prekey_profile_vectors() -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for n in range(2):
        h = keypair(f"prekey-profile-{n}-H")
        d = keypair(f"prekey-profile-{n}-D")
        x = ECDHKeyPair.generate(PinnedRng(f"prekey-profile-{n}-X"))
        tag = 0xABCDEF00 + n
        profile = build_prekey_profile(h, tag, EXPIRATION, d.public)
        out.append(
            {
                "long_term_sym_key_hex": h.sym_key.hex(),
                "shared_prekey_sym_key_hex": d.sym_key.hex(),
                "instance_tag": tag,
                "expiration": EXPIRATION,
                "valid_at": VALID_AT,
                "profile_hex": profile.encode().hex(),
                "ecdh_rng_label": f"prekey-profile-{n}-X",
                "ecdh_public_hex": x.public.encode().hex(),
                "ecdh_with_shared_prekey_hex": x.shared_secret(d.public).hex(),
            }
        )
    return {
        "description": "Prekey Profiles built by build_prekey_profile: long-term key "
        "Ed448KeyPair.generate(PinnedRng('prekey-profile-<n>-H')), shared prekey from "
        "PinnedRng('prekey-profile-<n>-D'); plus ECDH(x, D) as a POINT with "
        "ECDHKeyPair.generate(PinnedRng(ecdh_rng_label)).",
        "vectors": out,
    }


def build_all() -> dict[str, dict[str, Any]]:
    return {
        "kdf": kdf_vectors(),
        "ring": ring_vectors(),
        "client_profile": client_profile_vectors(),
        "prekey_profile": prekey_profile_vectors(),
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    changed = []
    for key, data in build_all().items():
        path = HERE / FILES[key]
        text = render(data)
        if args.check:
            if not path.exists() or path.read_text() != text:
                changed.append(path.name)
        else:
            path.write_text(text)
    if changed:
        print("changed:", ", ".join(changed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
