"""Batch proofs of knowledge (otr.prekey.proofs)."""

from __future__ import annotations

from dataclasses import replace

from otr.crypto import dh3072, ed448, kdf
from otr.crypto.dh3072 import DHKeyPair
from otr.prekey import proofs
from otr.v4.keys import ECDHKeyPair
from otr.wire.buffer import Reader
from prekey_util import make_rng

M = proofs.proof_context(b"\x07" * 64)


def _ecdh(n: int, seed: int) -> list[ECDHKeyPair]:
    rng = make_rng(seed)
    return [ECDHKeyPair.generate(rng) for _ in range(n)]


def _dh(n: int, seed: int) -> list[DHKeyPair]:
    rng = make_rng(seed)
    return [DHKeyPair.generate(rng) for _ in range(n)]


def test_context_and_coefficient_sizes() -> None:
    assert proofs.LAMBDA_BYTES == 44
    assert kdf.kdf(0x12, b"\x07" * 64, 64, domain=b"OTR-Prekey-Server") == M


def test_ecdh_batch_proof_accepts_and_rejects_whole_batch() -> None:
    keys = _ecdh(5, 1)
    publics = [k.public for k in keys]
    proof = proofs.prove_ecdh([k.secret for k in keys], publics, M, make_rng(2))
    assert proofs.verify_ecdh(proof, publics, M)
    # one wrong value anywhere in the batch fails the whole proof
    stranger = _ecdh(1, 3)[0].public
    for i in range(5):
        swapped = [*publics[:i], stranger, *publics[i + 1 :]]
        assert not proofs.verify_ecdh(proof, swapped, M)
    assert not proofs.verify_ecdh(proof, publics[:4], M)
    assert not proofs.verify_ecdh(proof, publics, proofs.proof_context(b"\x08" * 64))
    assert not proofs.verify_ecdh(replace(proof, v=(proof.v + 1) % ed448.Q), publics, M)
    assert not proofs.verify_ecdh(replace(proof, c=bytes(64)), publics, M)
    # a proof made without one secret does not verify
    wrong = proofs.prove_ecdh([k.secret for k in keys[:4]] + [1], publics, M, make_rng(4))
    assert not proofs.verify_ecdh(wrong, publics, M)


def test_shared_prekey_proof_uses_its_own_usage() -> None:
    (key,) = _ecdh(1, 5)
    proof = proofs.prove_ecdh(
        [key.secret], [key.public], M, make_rng(6), usage=kdf.PS_USAGE_PROOF_SHARED_ECDH
    )
    assert proofs.verify_ecdh(proof, [key.public], M, usage=kdf.PS_USAGE_PROOF_SHARED_ECDH)
    assert not proofs.verify_ecdh(proof, [key.public], M)


def test_dh_batch_proof() -> None:
    keys = _dh(4, 7)
    publics = [k.public for k in keys]
    proof = proofs.prove_dh([k.secret for k in keys], publics, M, make_rng(8))
    assert proofs.verify_dh(proof, publics, M)
    other = _dh(1, 9)[0].public
    assert not proofs.verify_dh(proof, [*publics[:3], other], M)
    assert not proofs.verify_dh(replace(proof, v=proof.v + 1), publics, M)
    assert not proofs.verify_dh(replace(proof, v=int(dh3072.DH_Q)), publics, M)
    assert not proofs.verify_dh(proof, publics, proofs.proof_context(b"\x01" * 64))


def test_proof_codecs() -> None:
    (key,) = _ecdh(1, 10)
    ep = proofs.prove_ecdh([key.secret], [key.public], M, make_rng(11))
    assert len(ep.encode()) == 64 + 57
    assert proofs.ECDHProof.read(Reader(ep.encode())) == ep
    (dkey,) = _dh(1, 12)
    dp = proofs.prove_dh([dkey.secret], [dkey.public], M, make_rng(13))
    assert proofs.DHProof.read(Reader(dp.encode())) == dp
