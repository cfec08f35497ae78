"""Stream-cipher malleability, the reason a MAC key alone lets one rewrite a message.

AES-CTR (OTRv3 Data Messages) and ChaCha20 (OTRv4) encrypt by XOR with a keystream, so
XORing ``old ^ new`` into the ciphertext turns the plaintext ``old`` at that place into
``new`` without the key; the MAC (OTRv3) or authenticator (OTRv4) is then recomputed by
whoever holds the MAC key (spec "Revealing MAC keys": eventually, anyone).
"""

from __future__ import annotations

__all__ = ["xor_at"]


def xor_at(ciphertext: bytes, old: bytes, new: bytes, offset: int) -> bytes:
    """``ciphertext`` with ``old ^ new`` XORed in at ``offset``: with a stream cipher
    (AES-CTR, ChaCha20) the plaintext there then reads ``new`` where it read ``old``."""
    if len(old) != len(new):
        raise ValueError("old and new text must have the same length")
    if offset < 0 or offset + len(old) > len(ciphertext):
        raise ValueError("the change runs outside the encrypted message")
    out = bytearray(ciphertext)
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        out[offset + i] ^= a ^ b
    return bytes(out)
