"""otr: Off-the-Record messaging (OTRv3, OTRv2 and OTRv4) for Python.

A sans-I/O core: :class:`Conversation` takes what arrived from the network and
what the user typed, and returns ordered :mod:`otr.events`.  The names below are
the public API; submodules are importable for the codecs and primitives.
"""

from __future__ import annotations

from . import events
from ._version import __version__
from .conversation import Conversation, TrustStore
from .crypto.dsa import DSAPrivateKey, DSAPublicKey, generate_dsa_key
from .errors import (
    AuthenticationFailed,
    DecodeError,
    EntropyError,
    InvalidGroupElement,
    LocalProtocolError,
    OtrError,
    RemoteProtocolError,
)
from .events import (
    ErrorReceived,
    Event,
    ExtraSymmetricKey,
    FingerprintChanged,
    MessageForOtherInstance,
    MessageNotSent,
    MessageReceived,
    MessagesPossiblyLost,
    MessagesResent,
    MessageUnreadable,
    NewFingerprint,
    OtherInstanceSecured,
    ReassemblyDropped,
    SendMessage,
    SessionEnded,
    SessionFinished,
    SessionSecured,
    SmpAborted,
    SmpCheated,
    SmpFailed,
    SmpInProgress,
    SmpRequested,
    SmpSucceeded,
    Tlv,
    Trust,
    UnencryptedReceived,
    Warning,
)
from .instance import InstanceSession, MsgState, VersionProtocol
from .limits import Limits
from .policy import Policy, PolicyFlag
from .v4.identity import Identity
from .v4.session import V4Credentials, V4Mode, V4Settings

__all__ = [
    "AuthenticationFailed",
    "Conversation",
    "DSAPrivateKey",
    "DSAPublicKey",
    "DecodeError",
    "EntropyError",
    "ErrorReceived",
    "Event",
    "ExtraSymmetricKey",
    "FingerprintChanged",
    "Identity",
    "InstanceSession",
    "InvalidGroupElement",
    "Limits",
    "LocalProtocolError",
    "MessageForOtherInstance",
    "MessageNotSent",
    "MessageReceived",
    "MessageUnreadable",
    "MessagesPossiblyLost",
    "MessagesResent",
    "MsgState",
    "NewFingerprint",
    "OtherInstanceSecured",
    "OtrError",
    "Policy",
    "PolicyFlag",
    "ReassemblyDropped",
    "RemoteProtocolError",
    "SendMessage",
    "SessionEnded",
    "SessionFinished",
    "SessionSecured",
    "SmpAborted",
    "SmpCheated",
    "SmpFailed",
    "SmpInProgress",
    "SmpRequested",
    "SmpSucceeded",
    "Tlv",
    "Trust",
    "TrustStore",
    "UnencryptedReceived",
    "V4Credentials",
    "V4Mode",
    "V4Settings",
    "VersionProtocol",
    "Warning",
    "__version__",
    "events",
    "generate_dsa_key",
]
