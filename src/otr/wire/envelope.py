"""The text envelope of OTR messages (OTRv3 spec "Unencoded messages", "Encoded messages").

Every OTR message travels as text over the IM network.  This module tells the kinds apart
(:func:`classify`), and reads and writes the unencoded ones: Query Messages, whitespace tags
("Tagged plaintext messages"), Error Messages; and the ``?OTR:<base64>.`` wrapping of encoded
(binary) messages.  Fragments (spec "Fragmentation") are in :mod:`otr.wire.fragment`.

Classification follows libotr 4.1.1 (``otrl_message_receiving`` and
``otrl_proto_message_type``): a fragment header anywhere wins; otherwise only the *first*
``?OTR`` in the text decides the kind; the whitespace tag is looked for anywhere.
"""

from __future__ import annotations

import binascii
import enum
from collections.abc import Callable, Iterable

from ..accelerator import native
from ..errors import DecodeError

__all__ = [
    "ERROR_PREFIX",
    "MAX_ENCODED_LEN",
    "QUERY_TEMPLATE",
    "WHITESPACE_TAG_BASE",
    "WHITESPACE_TAG_VERSIONS",
    "MessageKind",
    "classify",
    "decode_base64_body",
    "decode_otr_message",
    "encode_otr_message",
    "find_whitespace_tag",
    "format_error",
    "format_query",
    "parse_error",
    "parse_query",
    "py_b64decode",
    "whitespace_tag",
]

OTR_MARKER = "?OTR"
ENCODED_PREFIX = "?OTR:"
"""Spec "Encoded messages": the five bytes before the base-64 encoding."""
ENCODED_SUFFIX = "."
ERROR_PREFIX = "?OTR Error:"
"""Spec "OTR Error Messages": any message containing this string is an Error Message."""
FRAGMENT_MARKERS = ("?OTR|", "?OTR,")
"""Spec "Fragmentation": v3 (and v4) fragments start ``?OTR|``, v2 fragments ``?OTR,``."""

MAX_ENCODED_LEN = 4 * 1024 * 1024
"""Longest base-64 body :func:`decode_otr_message` accepts (characters, about 3 MiB binary)."""

WHITESPACE_TAG_BASE = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
"""Spec "Tagged plaintext messages": the 16 bytes that always start a whitespace tag."""

WHITESPACE_TAG_VERSIONS: dict[int, str] = {
    1: "\x20\x09\x20\x09\x20\x20\x09\x20",
    2: "\x20\x20\x09\x09\x20\x20\x09\x20",
    3: "\x20\x20\x09\x09\x20\x20\x09\x09",
    4: "\x20\x20\x09\x09\x20\x09\x20\x20",  # otr-v4.md "Whitespace Tags"
}
"""The 8-byte version tags that follow the base (v1-v3: OTRv3 spec; v4: OTRv4 spec)."""

_TAG_GROUP = 8
_WHITESPACE = frozenset(" \t")

QUERY_TEMPLATE = (
    "?OTR{versions}\n"
    "<b>{account}</b> has requested an "
    '<a href="https://otr.cypherpunks.ca/">Off-the-Record private conversation</a>.  '
    "However, you do not have a plugin to support that.\n"
    "If you are using Pidgin in Debian or Ubuntu,install the pidgin-otr package.\n"
    'See <a href="https://otr.cypherpunks.ca/">https://otr.cypherpunks.ca/</a> '
    "for more information."
)
"""libotr's default Query Message (``otrl_proto_default_query_msg``), byte for byte as the
Debian/Ubuntu ``libotr5`` 4.1.1 package sends it (upstream 4.1.1 lacks the "If you are using
Pidgin" line, and its missing space after the comma is in the original)."""

_QUERY_VERSION_CHARS = {"2": 2, "3": 3, "4": 4}


class MessageKind(enum.Enum):
    """What an incoming text is, before any further parsing."""

    FRAGMENT = "fragment"
    """Contains a fragment header ``?OTR|`` (v3/v4) or ``?OTR,`` (v2)."""
    ENCODED = "encoded"
    """``?OTR:`` - a base-64 encoded binary message (spec "Encoded messages")."""
    ERROR = "error"
    """``?OTR Error:`` (spec "OTR Error Messages")."""
    QUERY = "query"
    """``?OTR?`` or ``?OTRv`` (spec "OTR Query Messages")."""
    TAGGED_PLAINTEXT = "tagged_plaintext"
    """Plaintext carrying the whitespace tag (spec "Tagged plaintext messages")."""
    PLAINTEXT = "plaintext"
    """Anything else."""


def classify(text: str) -> MessageKind:
    """Tell the kind of ``text`` with libotr 4.1.1's precedence.

    1. A fragment marker anywhere (spec "Fragmentation": check for ``?OTR|`` *before* any other
       marker; libotr also looks for the v2 ``?OTR,``).
    2. The first ``?OTR`` in the text: ``?OTR:`` is encoded, ``?OTR?`` / ``?OTRv`` a query,
       ``?OTR Error:`` an error.  libotr ignores any other ``?OTR...`` as "unrecognized"; the
       spec does not define such texts, so they are plaintext here (the caller shows them).
    3. Otherwise the whitespace tag base anywhere makes tagged plaintext.
    """
    for marker in FRAGMENT_MARKERS:
        if marker in text:
            return MessageKind.FRAGMENT
    at = text.find(OTR_MARKER)
    if at >= 0:
        if text.startswith(ENCODED_PREFIX, at):
            return MessageKind.ENCODED
        if text.startswith("?OTR?", at) or text.startswith("?OTRv", at):
            return MessageKind.QUERY
        if text.startswith(ERROR_PREFIX, at):
            return MessageKind.ERROR
    if WHITESPACE_TAG_BASE in text:
        return MessageKind.TAGGED_PLAINTEXT
    return MessageKind.PLAINTEXT


# -- Query Messages (spec "OTR Query Messages")


def parse_query(text: str) -> frozenset[int] | None:
    """The versions offered by the Query Message in ``text``, or None if there is none.

    As libotr (``otrl_proto_query_bestversion``) the first ``?OTR`` is read: a ``?`` right
    after it offers version 1; then a ``v`` starts the list of version identifiers, which runs
    to the next ``?`` (or the end of the text).  Identifiers other than 2, 3 and 4 are ignored,
    so ``?OTR?v24x?`` gives ``{1, 2, 4}`` and ``?OTRv?`` the empty set.
    """
    at = text.find(OTR_MARKER)
    if at < 0:
        return None
    pos = at + len(OTR_MARKER)
    versions: set[int] = set()
    found = False
    if text.startswith("?", pos):
        versions.add(1)
        pos += 1
        found = True
    if text.startswith("v", pos):
        found = True
        end = text.find("?", pos + 1)
        if end < 0:
            end = len(text)
        versions.update(_QUERY_VERSION_CHARS[c] for c in text[pos + 1 : end] if c in "234")
    return frozenset(versions) if found else None


def format_query(versions: Iterable[int], account: str) -> str:
    """libotr's default Query Message offering ``versions``, naming our ``account``.

    The version string is built as ``otrl_proto_default_query_msg`` does: ``?`` for version 1,
    then ``v`` and the identifiers in ascending order and ``?`` (``?OTRv23?``).
    """
    offered = frozenset(versions)
    unknown = offered - {1, 2, 3, 4}
    if unknown:
        raise ValueError(f"cannot offer OTR versions {sorted(unknown)}")
    if not offered:
        raise ValueError("a Query Message must offer at least one version")
    tag = "?" if 1 in offered else ""
    digits = "".join(str(v) for v in sorted(offered - {1}))
    if digits:
        tag += "v" + digits + "?"
    return QUERY_TEMPLATE.format(versions=tag, account=account)


# -- Tagged plaintext (spec "Tagged plaintext messages")


def whitespace_tag(versions: Iterable[int]) -> str:
    """The whitespace tag offering ``versions``: the base, then one 8-byte tag per version in
    ascending order (the v1 tag, if any, therefore first, as the spec requires)."""
    offered = sorted(frozenset(versions))
    if not offered:
        raise ValueError("a whitespace tag must offer at least one version")
    try:
        return WHITESPACE_TAG_BASE + "".join(WHITESPACE_TAG_VERSIONS[v] for v in offered)
    except KeyError as exc:
        raise ValueError(f"no whitespace tag for OTR version {exc.args[0]}") from None


def find_whitespace_tag(text: str) -> tuple[str, frozenset[int]] | None:
    """Locate the first whitespace tag: return ``text`` without it and the versions it offers.

    As libotr (``otrl_proto_whitespace_bestversion``), every following group of 8 characters
    made only of spaces and tabs belongs to the tag (and is removed), whether or not it is a
    known version tag.  None if the base tag is absent.
    """
    start = text.find(WHITESPACE_TAG_BASE)
    if start < 0:
        return None
    end = start + len(WHITESPACE_TAG_BASE)
    known = {tag: v for v, tag in WHITESPACE_TAG_VERSIONS.items()}
    versions: set[int] = set()
    while True:
        group = text[end : end + _TAG_GROUP]
        if len(group) < _TAG_GROUP or not _WHITESPACE.issuperset(group):
            break
        version = known.get(group)
        if version is not None:
            versions.add(version)
        end += _TAG_GROUP
    return text[:start] + text[end:], frozenset(versions)


# -- Error Messages (spec "OTR Error Messages")


def parse_error(text: str) -> str | None:
    """The human-readable part of an Error Message (after ``?OTR Error:`` and one optional
    space, as libotr strips it), or None if ``text`` has no ``?OTR Error:``."""
    at = text.find(ERROR_PREFIX)
    if at < 0:
        return None
    rest = text[at + len(ERROR_PREFIX) :]
    return rest[1:] if rest.startswith(" ") else rest


def format_error(text: str) -> str:
    """An Error Message carrying ``text`` (libotr writes ``"?OTR Error: " + text``)."""
    return ERROR_PREFIX + " " + text


# -- Encoded messages (spec "Encoded messages")


def encode_otr_message(binary: bytes) -> str:
    """``"?OTR:"`` + base-64 of ``binary`` + ``"."``."""
    return ENCODED_PREFIX + binascii.b2a_base64(binary, newline=False).decode("ascii") + "."


def decode_otr_message(text: str) -> bytes:
    """The binary form of the encoded message in ``text``.

    Finds ``?OTR:``, requires the terminating ``.`` and canonical, padded base 64 between
    them (no whitespace, no stray characters, no surplus padding), at most
    :data:`MAX_ENCODED_LEN` characters.  Anything before ``?OTR:`` or after the ``.`` is
    ignored, as libotr does.  Raises :class:`~otr.errors.DecodeError` otherwise.
    """
    at = text.find(ENCODED_PREFIX)
    if at < 0:
        raise DecodeError("not an encoded OTR message")
    start = at + len(ENCODED_PREFIX)
    end = text.find(ENCODED_SUFFIX, start, start + MAX_ENCODED_LEN + 1)
    if end < 0:
        if len(text) - start > MAX_ENCODED_LEN:
            raise DecodeError("encoded OTR message too long")
        raise DecodeError("encoded OTR message without the terminating '.'")
    return decode_base64_body(text[start:end])


_ZERO_LOW4 = frozenset("AQgw")
"""Base-64 digits whose low four bits are zero (the last digit before "==")."""
_ZERO_LOW2 = frozenset("AEIMQUYcgkosw048")
"""Base-64 digits whose low two bits are zero (the last digit before "=")."""


def py_b64decode(body: str) -> bytes:
    """Canonical, padded base 64 (RFC 4648 section 4) only: no whitespace, no stray
    characters, no surplus padding, zero unused bits; else ValueError.  (The
    pure-Python twin of ``otr._speedups.b64decode``; see :mod:`otr.accelerator`.)"""
    try:
        binary = binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error:  # a ValueError, as is a non-ASCII character
        raise ValueError("invalid base 64") from None
    # strict_mode still lets through surplus '=' after a full quantum ("AAAA=") and
    # non-zero unused bits in the final quantum ("AB=="); only the canonical encoding
    # is accepted: its exact length, and zero unused bits in the last digit.
    if len(body) != (len(binary) + 2) // 3 * 4 or (
        body[-1:] == "="
        and (body[-3] not in _ZERO_LOW4 if body[-2] == "=" else body[-2] not in _ZERO_LOW2)
    ):
        raise ValueError("non-canonical base 64")
    return binary


_b64decode: Callable[[str], bytes] = native.b64decode if native is not None else py_b64decode


def decode_base64_body(body: str) -> bytes:
    """The bytes of the base-64 text between ``?OTR:`` and ``.``: canonical, padded
    base 64 only (see :func:`py_b64decode`), else :class:`~otr.errors.DecodeError`."""
    if not body:
        raise DecodeError("empty encoded OTR message")
    if len(body) > MAX_ENCODED_LEN:
        raise DecodeError("encoded OTR message too long")
    try:
        return _b64decode(body)
    except ValueError:
        raise DecodeError("invalid or non-canonical base64 in encoded OTR message") from None
