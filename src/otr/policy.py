"""Policies (spec "Policies"), with libotr's bit values and named combinations."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, replace

__all__ = ["Policy", "PolicyFlag"]


class PolicyFlag(enum.IntFlag):
    """libotr's policy bits (``proto.h``)."""

    ALLOW_V1 = 0x01
    ALLOW_V2 = 0x02
    ALLOW_V3 = 0x04
    REQUIRE_ENCRYPTION = 0x08
    SEND_WHITESPACE_TAG = 0x10
    WHITESPACE_START_AKE = 0x20
    ERROR_START_AKE = 0x40
    ALLOW_V4 = 0x80


_VERSIONS = PolicyFlag.ALLOW_V2 | PolicyFlag.ALLOW_V3
_NAMED = {
    "NEVER": PolicyFlag(0),
    "MANUAL": _VERSIONS,
    "OPPORTUNISTIC": _VERSIONS
    | PolicyFlag.SEND_WHITESPACE_TAG
    | PolicyFlag.WHITESPACE_START_AKE
    | PolicyFlag.ERROR_START_AKE,
    "ALWAYS": _VERSIONS
    | PolicyFlag.REQUIRE_ENCRYPTION
    | PolicyFlag.WHITESPACE_START_AKE
    | PolicyFlag.ERROR_START_AKE,
}
_NAMED["DEFAULT"] = _NAMED["OPPORTUNISTIC"]


MIN_MESSAGE_SIZE = 40
"""Smallest transport limit we fragment for: a v3 fragment header takes 37
characters (libotr's count, ERRATA A5), leaving room for a few of payload."""


@dataclass(frozen=True)
class Policy:
    """What a conversation may do.  ``Policy()`` is libotr's DEFAULT (OPPORTUNISTIC).

    ``max_message_size`` is the transport's limit in characters (0: no fragmentation).
    """

    allow_v2: bool = True
    allow_v3: bool = True
    allow_v4: bool = False
    require_encryption: bool = False
    send_whitespace_tag: bool = True
    whitespace_start_ake: bool = True
    error_start_ake: bool = True
    max_message_size: int = 0

    def __post_init__(self) -> None:
        if self.max_message_size != 0 and self.max_message_size < MIN_MESSAGE_SIZE:
            raise ValueError(f"max_message_size must be 0 or at least {MIN_MESSAGE_SIZE}")

    @classmethod
    def from_flags(cls, flags: int, max_message_size: int = 0) -> Policy:
        f = PolicyFlag(flags)
        return cls(
            allow_v2=bool(f & PolicyFlag.ALLOW_V2),
            allow_v3=bool(f & PolicyFlag.ALLOW_V3),
            allow_v4=bool(f & PolicyFlag.ALLOW_V4),
            require_encryption=bool(f & PolicyFlag.REQUIRE_ENCRYPTION),
            send_whitespace_tag=bool(f & PolicyFlag.SEND_WHITESPACE_TAG),
            whitespace_start_ake=bool(f & PolicyFlag.WHITESPACE_START_AKE),
            error_start_ake=bool(f & PolicyFlag.ERROR_START_AKE),
            max_message_size=max_message_size,
        )

    @classmethod
    def named(cls, name: str, max_message_size: int = 0) -> Policy:
        """libotr's NEVER, MANUAL, OPPORTUNISTIC, ALWAYS or DEFAULT."""
        try:
            flags = _NAMED[name.upper()]
        except KeyError:
            raise ValueError(f"unknown policy name {name!r}") from None
        return cls.from_flags(flags, max_message_size)

    @property
    def flags(self) -> PolicyFlag:
        f = PolicyFlag(0)
        for on, bit in (
            (self.allow_v2, PolicyFlag.ALLOW_V2),
            (self.allow_v3, PolicyFlag.ALLOW_V3),
            (self.allow_v4, PolicyFlag.ALLOW_V4),
            (self.require_encryption, PolicyFlag.REQUIRE_ENCRYPTION),
            (self.send_whitespace_tag, PolicyFlag.SEND_WHITESPACE_TAG),
            (self.whitespace_start_ake, PolicyFlag.WHITESPACE_START_AKE),
            (self.error_start_ake, PolicyFlag.ERROR_START_AKE),
        ):
            if on:
                f |= bit
        return f

    @functools.cached_property
    def versions(self) -> frozenset[int]:
        """The protocol versions this policy allows."""
        return frozenset(
            v for v, on in ((2, self.allow_v2), (3, self.allow_v3), (4, self.allow_v4)) if on
        )

    @functools.cached_property
    def enabled(self) -> bool:
        """Whether any protocol version is allowed (otherwise OTR is off)."""
        return bool(self.versions)

    def with_versions(self, versions: set[int] | frozenset[int] | list[int]) -> Policy:
        return replace(self, allow_v2=2 in versions, allow_v3=3 in versions, allow_v4=4 in versions)
