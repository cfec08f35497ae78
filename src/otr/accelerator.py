"""The optional C accelerators: the per-message path (``otr._speedups``), the
Diffie-Hellman exponentiations (``otr._bignum``, see :mod:`otr.crypto.modexp`) and
Ed448 scalar multiplication (``otr._decaf``, against libdecaf, see
:mod:`otr.crypto.ed448`).

Built with the package when a C compiler, the Python headers and OpenSSL's
libcrypto headers are present; otherwise, or when the environment variable
``OTR_PURE_PYTHON`` is set to a non-empty value, everything runs on the
pure-Python twins (:class:`otr.v3.datacrypt.PyDirectionKeys`,
:func:`otr.wire.envelope.py_b64decode`), which behave identically and are
tested to.  :data:`ACCELERATED` says which is in use.
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["ACCELERATED", "bignum", "decaf", "native"]


def _load() -> ModuleType | None:
    if os.environ.get("OTR_PURE_PYTHON"):
        return None
    try:
        from . import _speedups
    except ImportError:  # not built: no compiler or no headers
        return None
    return _speedups


def _load_bignum() -> ModuleType | None:
    if os.environ.get("OTR_PURE_PYTHON"):
        return None
    try:
        from . import _bignum
    except ImportError:  # not built: no compiler or no headers
        return None
    return _bignum


def _load_decaf() -> ModuleType | None:
    if os.environ.get("OTR_PURE_PYTHON"):
        return None
    try:
        from . import _decaf
    except ImportError:  # not built: no compiler or no libdecaf headers
        return None
    return _decaf


native = _load()
"""The ``otr._speedups`` module, or None when running in pure Python."""

bignum = _load_bignum()
"""``otr._bignum`` (constant-time modular exponentiation, :mod:`otr.crypto.modexp`),
or None when running in pure Python."""

decaf = _load_decaf()
"""``otr._decaf`` (Ed448 scalar multiplication through libdecaf, :mod:`otr.crypto.ed448`),
or None: then pycryptodome multiplies."""

ACCELERATED = native is not None and bignum is not None and decaf is not None
