"""Exceptions.

Two families, after h11: :class:`LocalProtocolError` is raised to the caller who
misused the API; the remote family (:class:`DecodeError`,
:class:`AuthenticationFailed`, :class:`InvalidGroupElement`) is internal and is
converted to events at the :class:`otr.Conversation` boundary, so input from the
network never raises out of the public API.  Messages never carry key material.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "DecodeError",
    "EntropyError",
    "InvalidGroupElement",
    "LocalProtocolError",
    "OtrError",
    "RemoteProtocolError",
]


class OtrError(Exception):
    """Base class of every exception this package raises."""


class LocalProtocolError(OtrError):
    """The caller asked for something the current state does not allow."""


class EntropyError(OtrError):
    """The injected ``rng`` raised: the operation was abandoned before any state
    changed (user-side calls raise it; ``receive`` reports it as an event)."""


class RemoteProtocolError(OtrError):
    """The peer sent something we cannot accept (internal; becomes an event)."""


class DecodeError(RemoteProtocolError):
    """Malformed, truncated, oversized or trailing input."""


class AuthenticationFailed(RemoteProtocolError):
    """A MAC, hash commitment or signature did not verify."""


class InvalidGroupElement(RemoteProtocolError):
    """A received group element or point failed the spec's validity checks."""
