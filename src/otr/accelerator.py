"""The optional C accelerator of the per-message path (``otr._speedups``).

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

__all__ = ["ACCELERATED", "native"]


def _load() -> ModuleType | None:
    if os.environ.get("OTR_PURE_PYTHON"):
        return None
    try:
        from . import _speedups
    except ImportError:  # not built: no compiler or no headers
        return None
    return _speedups


native = _load()
"""The ``otr._speedups`` module, or None when running in pure Python."""

ACCELERATED = native is not None
