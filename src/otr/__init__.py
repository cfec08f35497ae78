"""otr: Off-the-Record messaging (OTRv3, OTRv2 and OTRv4) for Python.

A sans-I/O core: :class:`Conversation` takes what arrived from the network and
what the user typed, and returns ordered :mod:`otr.events`.
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .errors import LocalProtocolError, OtrError
from .policy import Policy, PolicyFlag

__all__ = ["LocalProtocolError", "OtrError", "Policy", "PolicyFlag"]
