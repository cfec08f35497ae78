"""OTRv4 crypto core timings beside a pure-Python Ed448 baseline.

    python bench/bench_v4.py [--scale 1.0]

Ours: :mod:`otr.crypto.ed448` (pycryptodome's C point arithmetic), ring
signatures from :mod:`otr.crypto.ring`, Client Profile validation from
:mod:`otr.v4.profiles` (OpenSSL Ed448 verification + point validation).

Baseline: the same operations written here in pure Python on extended twisted
Edwards coordinates (Hisil-Wong-Carter-Dawson add-2008-hwcd / dbl-2008-hwcd
with a = 1, complete for Ed448 since d is not a square), double-and-add scalar
multiplication.  pycryptodome is markedly faster for the base point G than
for other points, so both "G * k" and "other point * k" are shown.  A ring
signature is 5 scalar multiplications (ours adds one G * a check that the
secret matches the signer's key), a verification 6, a profile validation 4
(RFC 8032 verification and the two q*P subgroup checks of
H and F) plus point decodings.  The baseline results are checked against ours
before timing.  Ratio = baseline / ours (how many times faster we are).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from collections.abc import Callable

from otr.crypto import ed448, kdf, ring
from otr.crypto.ed448 import G, Q
from otr.v4.keys import ECDHKeyPair, Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile, build_client_profile

# --- pure-Python baseline ---------------------------------------------------------------

P = ed448.P
D = ed448.D
Ext = tuple[int, int, int, int]  # (X, Y, Z, T) with x = X/Z, y = Y/Z, T = XY/Z
B_IDENTITY: Ext = (0, 1, 1, 0)


def b_add(p1: Ext, p2: Ext) -> Ext:
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = x1 * x2 % P
    b = y1 * y2 % P
    c = t1 * D % P * t2 % P
    d = z1 * z2 % P
    e = ((x1 + y1) * (x2 + y2) - a - b) % P
    f = (d - c) % P
    g = (d + c) % P
    h = (b - a) % P
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def b_double(p1: Ext) -> Ext:
    x1, y1, z1, _ = p1
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    e = ((x1 + y1) * (x1 + y1) - a - b) % P
    g = (a + b) % P
    f = (g - c) % P
    h = (a - b) % P
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def b_mul(point: Ext, k: int) -> Ext:
    acc = B_IDENTITY
    for bit in bin(k)[2:]:
        acc = b_double(acc)
        if bit == "1":
            acc = b_add(acc, point)
    return acc


def b_encode(point: Ext) -> bytes:
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 455)).to_bytes(57, "little")


def b_decode(data: bytes) -> Ext:
    v = int.from_bytes(data, "little")
    x0, y = v >> 455, v & ((1 << 455) - 1)
    if y >= P:
        raise ValueError("non-canonical")
    num, den = (y * y - 1) % P, (D * y * y - 1) % P
    x = pow(num, 3, P) * den * pow(pow(num, 5, P) * pow(den, 3, P), (P - 3) // 4, P) % P
    if den * x * x % P != num or (x == 0 and x0):
        raise ValueError("not on the curve")
    if x & 1 != x0:
        x = P - x
    return (x, y, 1, x * y % P)


def b_is_identity(point: Ext) -> bool:
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def b_validate(point: Ext) -> None:
    if b_is_identity(point) or not b_is_identity(b_mul(point, Q)):
        raise ValueError("invalid point")


B_G: Ext = b_decode(G.encode())


def b_challenge(ring_enc: list[bytes], ts: list[Ext], m: bytes) -> int:
    data = (
        B_G_ENC
        + Q.to_bytes(57, "little")
        + b"".join(ring_enc)
        + b"".join(b_encode(t) for t in ts)
        + len(m).to_bytes(4, "big")
        + m
    )
    return int.from_bytes(kdf.hwc(kdf.USAGE_AUTH, data, 57), "little") % Q


B_G_ENC = b_encode(B_G)


def b_rsig(
    secret: int, index: int, ring_pts: list[Ext], m: bytes, rng: Callable[[int], bytes]
) -> list[int]:
    ring_enc = [b_encode(a) for a in ring_pts]
    j, k = (n for n in range(3) if n != index)
    t = ed448.random_scalar(rng)
    c = [0, 0, 0]
    r = [0, 0, 0]
    c[j], c[k] = ed448.random_scalar(rng), ed448.random_scalar(rng)
    r[j], r[k] = ed448.random_scalar(rng), ed448.random_scalar(rng)
    ts = [B_IDENTITY] * 3
    ts[index] = b_mul(B_G, t)
    for n in (j, k):
        ts[n] = b_add(b_mul(B_G, r[n]), b_mul(ring_pts[n], c[n]))
    ch = b_challenge(ring_enc, ts, m)
    c[index] = (ch - c[j] - c[k]) % Q
    r[index] = (t - c[index] * secret) % Q
    return [c[0], r[0], c[1], r[1], c[2], r[2]]


def b_rvrf(ring_pts: list[Ext], sigma: list[int], m: bytes) -> bool:
    cs, rs = sigma[0::2], sigma[1::2]
    ts = [b_add(b_mul(B_G, rs[n]), b_mul(ring_pts[n], cs[n])) for n in range(3)]
    return b_challenge([b_encode(a) for a in ring_pts], ts, m) == sum(cs) % Q


def b_validate_profile(data: bytes, now: int) -> None:
    """The same checks as ClientProfile.validate for a v4-only profile (the signature
    covers the fields without the 4-byte count, as otr4j signs: ERRATA D)."""
    body, sig = data[:-114], data[-114:]
    h_enc = body[4 + 6 + 4 : 4 + 6 + 4 + 57]
    f_enc = body[4 + 6 + 61 + 4 : 4 + 6 + 61 + 4 + 57]
    h, f = b_decode(h_enc), b_decode(f_enc)
    big_r = b_decode(sig[:57])
    s = int.from_bytes(sig[57:], "little")
    if s >= Q:
        raise ValueError("bad S")
    signed = b"SigEd448\x00\x00" + sig[:57] + h_enc + body[4:]
    k = int.from_bytes(hashlib.shake_256(signed).digest(114), "little") % Q
    if b_encode(b_mul(B_G, s)) != b_encode(b_add(big_r, b_mul(h, k))):
        raise ValueError("bad signature")
    if int.from_bytes(body[-8:], "big", signed=True) <= now:
        raise ValueError("expired")
    b_validate(h)
    b_validate(f)


# --- timing -------------------------------------------------------------------------------


def timeit(fn: Callable[[], object], n: int) -> float:
    """Median of 5 batches, in milliseconds per call."""
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e3)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description="OTRv4 crypto core benchmark")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iteration counts")
    args = parser.parse_args()

    def n(x: int) -> int:
        return max(1, int(x * args.scale))

    now = 1_700_000_000
    a = Ed448KeyPair.generate(os.urandom)
    b = Ed448KeyPair.generate(os.urandom)
    y = ECDHKeyPair.generate(os.urandom)
    keys = [b.public, a.public, y.public]
    b_keys = [b_decode(k.encode()) for k in keys]
    msg = os.urandom(1083)  # the size of a DAKE's t
    k = ed448.random_scalar(os.urandom)
    profile = build_client_profile(
        a, ForgingKey.generate(os.urandom).public, 0x100, "4", now + 86400
    )
    data = profile.encode()

    # Cross-checks: the baseline computes the same things.
    assert b_encode(b_mul(B_G, k)) == (G * k).encode()
    assert b_encode(b_mul(b_keys[1], k)) == (a.public * k).encode()
    sigma = ring.rsig(a.secret, a.public, keys, msg, os.urandom)
    assert b_rvrf(b_keys, list(sigma.scalars()), msg)
    b_sigma = b_rsig(a.secret, 1, b_keys, msg, os.urandom)
    assert ring.rvrf(keys, ring.RingSignature(*b_sigma), msg)
    b_validate_profile(data, now)

    def ours_validate() -> None:
        ClientProfile.decode(data).validate(now)

    rows = [
        ("scalar mult, base point G", lambda: G * k, lambda: b_mul(B_G, k), 400, 20),
        ("scalar mult, other point", lambda: a.public * k, lambda: b_mul(b_keys[1], k), 200, 20),
        (
            "ring sign (RSig)",
            lambda: ring.rsig(a.secret, a.public, keys, msg, os.urandom),
            lambda: b_rsig(a.secret, 1, b_keys, msg, os.urandom),
            60,
            3,
        ),
        (
            "ring verify (RVrf)",
            lambda: ring.rvrf(keys, sigma, msg),
            lambda: b_rvrf(b_keys, b_sigma, msg),
            60,
            3,
        ),
        (
            "client profile validation",
            ours_validate,
            lambda: b_validate_profile(data, now),
            60,
            3,
        ),
    ]
    print(f"{'operation':<28}{'ours (ms)':>12}{'pure Python (ms)':>19}{'ratio':>9}")
    for name, ours, base, n_ours, n_base in rows:
        t_ours = timeit(ours, n(n_ours))
        t_base = timeit(base, n(n_base))
        print(f"{name:<28}{t_ours:>12.3f}{t_base:>19.3f}{t_base / t_ours:>8.1f}x")


if __name__ == "__main__":
    main()
