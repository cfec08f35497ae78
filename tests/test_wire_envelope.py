"""otr.wire.envelope: classification, query / whitespace-tag / error / encoded messages."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS
from otr.accelerator import native
from otr.errors import DecodeError
from otr.wire import envelope
from otr.wire.envelope import MessageKind, classify

K = MessageKind
SEEDS = SPEC_VECTORS / "otr4j-fuzz-seeds"

BASE = " \t  \t\t\t\t \t \t \t  "
TAG_V1 = " \t \t  \t "
TAG_V2 = "  \t\t  \t "
TAG_V3 = "  \t\t  \t\t"
TAG_V4 = "  \t\t \t  "

LIBOTR_QUERY_V23 = (
    "?OTRv23?\n<b>alice@x</b> has requested an "
    '<a href="https://otr.cypherpunks.ca/">Off-the-Record private conversation</a>.  '
    "However, you do not have a plugin to support that.\n"
    "If you are using Pidgin in Debian or Ubuntu,install the pidgin-otr package.\n"
    'See <a href="https://otr.cypherpunks.ca/">https://otr.cypherpunks.ca/</a> '
    "for more information."
)
"""What libotr 4.1.1 (Debian libotr5, driven through otrpeer) injects for ``query``."""


# -- the spec's byte strings


def test_whitespace_tag_bytes_match_spec() -> None:
    # OTRv3 spec "Tagged plaintext messages"; v4 from otr-v4.md "Whitespace Tags".
    assert envelope.WHITESPACE_TAG_BASE.encode() == bytes.fromhex(
        "20092020090909092009200920092020"
    )
    assert envelope.WHITESPACE_TAG_VERSIONS[1].encode() == bytes.fromhex("2009200920200920")
    assert envelope.WHITESPACE_TAG_VERSIONS[2].encode() == bytes.fromhex("2020090920200920")
    assert envelope.WHITESPACE_TAG_VERSIONS[3].encode() == bytes.fromhex("2020090920200909")
    assert envelope.WHITESPACE_TAG_VERSIONS[4].encode() == bytes.fromhex("2020090920092020")
    assert envelope.WHITESPACE_TAG_BASE == BASE
    assert [envelope.WHITESPACE_TAG_VERSIONS[v] for v in (1, 2, 3, 4)] == [
        TAG_V1,
        TAG_V2,
        TAG_V3,
        TAG_V4,
    ]


def test_whitespace_tag_order_and_errors() -> None:
    assert envelope.whitespace_tag({3, 2}) == BASE + TAG_V2 + TAG_V3
    assert envelope.whitespace_tag(frozenset({3})) == BASE + TAG_V3
    assert envelope.whitespace_tag({4, 3, 1}) == BASE + TAG_V1 + TAG_V3 + TAG_V4
    with pytest.raises(ValueError):
        envelope.whitespace_tag(())
    with pytest.raises(ValueError):
        envelope.whitespace_tag({5})


def test_find_whitespace_tag() -> None:
    text = "Hello" + BASE + TAG_V2 + TAG_V3 + " world"
    assert envelope.find_whitespace_tag(text) == ("Hello world", frozenset({2, 3}))
    assert envelope.find_whitespace_tag(BASE + TAG_V1) == ("", frozenset({1}))
    assert envelope.find_whitespace_tag("plain") is None
    # Unknown all-whitespace groups are part of the tag (libotr); a short tail is not.
    assert envelope.find_whitespace_tag("a" + BASE + "\t" * 8 + TAG_V3 + "   b") == (
        "a   b",
        frozenset({3}),
    )
    # Only the first tag counts.
    assert envelope.find_whitespace_tag(BASE + TAG_V2 + "x" + BASE + TAG_V3) == (
        "x" + BASE + TAG_V3,
        frozenset({2}),
    )
    # Base tag alone: stripped, no versions.
    assert envelope.find_whitespace_tag("x" + BASE) == ("x", frozenset())


@given(
    st.text(alphabet=st.characters(blacklist_characters=" \t"), max_size=40),
    st.text(alphabet=st.characters(blacklist_characters=" \t"), max_size=40),
    st.sets(st.sampled_from([1, 2, 3, 4]), min_size=1),
)
def test_whitespace_tag_round_trip(before: str, after: str, versions: set[int]) -> None:
    text = before + envelope.whitespace_tag(versions) + after
    assert envelope.find_whitespace_tag(text) == (before + after, frozenset(versions))
    if "?OTR" not in text:
        assert classify(text) is K.TAGGED_PLAINTEXT


# -- query messages


def test_format_query_is_libotrs_text() -> None:
    assert envelope.format_query(frozenset({2, 3}), "alice@x") == LIBOTR_QUERY_V23
    assert envelope.format_query([3], "bob").startswith("?OTRv3?\n<b>bob</b> has requested")
    assert envelope.format_query({4, 3}, "b").startswith("?OTRv34?\n")
    assert envelope.format_query({1, 2}, "b").startswith("?OTR?v2?\n")
    with pytest.raises(ValueError):
        envelope.format_query(frozenset(), "b")
    with pytest.raises(ValueError):
        envelope.format_query({7}, "b")


@pytest.mark.parametrize(
    ("text", "versions"),
    [
        # OTRv3 spec "OTR Query Messages" examples.
        ("?OTR?", {1}),
        ("?OTRv2?", {2}),
        ("?OTRv23?", {2, 3}),
        ("?OTR?v2?", {1, 2}),
        ("?OTRv24x?", {2, 4}),
        ("?OTR?v24x?", {1, 2, 4}),
        ("?OTR?v?", {1}),
        ("?OTRv?", set()),
        ("?OTRv32?", {2, 3}),
        ("?OTRv?4?", set()),  # otr-v4.md: syntactically invalid, offers nothing
        ("hi there ?OTRv3? and more", {3}),
        ("?OTRv23", {2, 3}),  # libotr reads to the end without a closing '?'
        (LIBOTR_QUERY_V23, {2, 3}),
    ],
)
def test_parse_query(text: str, versions: set[int]) -> None:
    assert envelope.parse_query(text) == frozenset(versions)
    assert classify(text) is K.QUERY


def test_parse_query_absent() -> None:
    assert envelope.parse_query("hello") is None
    assert envelope.parse_query("?OTR:AAMC.") is None
    assert envelope.parse_query("?OTR Error: x ?OTRv3?") is None  # libotr reads the first ?OTR


def test_query_round_trip() -> None:
    for versions in ({2}, {3}, {2, 3}, {3, 4}, {1, 2, 3}):
        text = envelope.format_query(versions, "me")
        assert classify(text) is K.QUERY
        assert envelope.parse_query(text) == frozenset(versions)


# -- error messages


def test_error_messages() -> None:
    assert envelope.format_error("You sent junk") == "?OTR Error: You sent junk"
    assert envelope.parse_error("?OTR Error: You sent junk") == "You sent junk"
    assert envelope.parse_error("?OTR Error:no space") == "no space"
    assert envelope.parse_error("?OTR Error:  two") == " two"
    assert envelope.parse_error("prefix ?OTR Error: x") == "x"
    assert envelope.parse_error("hello") is None
    assert classify("?OTR Error: x") is K.ERROR


# -- classification precedence (libotr otrl_message_receiving / otrl_proto_message_type)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMD,", K.FRAGMENT),
        ("?OTR,1,3,?OTR:AAID,", K.FRAGMENT),
        ("?OTR|3c5b5f03|5a73a599|27e31597,00001,00001,?OTR:AAQD.,", K.FRAGMENT),
        ("?OTR:AAMD ... ?OTR|x", K.FRAGMENT),  # a fragment marker anywhere wins
        ("hello ?OTR, world", K.FRAGMENT),  # libotr too treats this as a (broken) fragment
        ("?OTR:AAMDJ+MV.", K.ENCODED),
        ("xx ?OTR:AAID.", K.ENCODED),
        ("?OTR:AAQ1.", K.ENCODED),
        ("?OTR:.", K.ENCODED),
        ("?OTR?", K.QUERY),
        ("?OTRv3?", K.QUERY),
        ("?OTR Error: bad", K.ERROR),
        ("?OTR:AAMC. ?OTRv3?", K.ENCODED),  # only the first ?OTR decides
        ("?OTRv3? ?OTR Error: x", K.QUERY),
        ("?OTR Error: x ?OTRv3?", K.ERROR),
        ("?OTR Error:" + BASE, K.ERROR),
        ("hi" + BASE + TAG_V3, K.TAGGED_PLAINTEXT),
        ("?OTRv3?" + BASE + TAG_V3, K.QUERY),
        ("?OTR is neat" + BASE + TAG_V3, K.TAGGED_PLAINTEXT),  # unknown ?OTR: libotr ignores
        ("?OTR is neat", K.PLAINTEXT),
        ("?OTR", K.PLAINTEXT),
        ("?otrv3?", K.PLAINTEXT),
        ("", K.PLAINTEXT),
        ("hello", K.PLAINTEXT),
    ],
)
def test_classify(text: str, kind: MessageKind) -> None:
    assert classify(text) is kind


# -- encoded messages


def test_encode_decode_known() -> None:
    assert envelope.encode_otr_message(b"Hello World!") == "?OTR:SGVsbG8gV29ybGQh."
    assert envelope.decode_otr_message("?OTR:SGVsbG8gV29ybGQh.") == b"Hello World!"
    assert envelope.decode_otr_message("junk ?OTR:AAMD. trailing") == b"\x00\x03\x03"
    assert envelope.encode_otr_message(b"\x00\x03\x03") == "?OTR:AAMD."


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "?OTR:AAMD",  # no terminating '.'
        "?OTR:.",  # empty
        "?OTR:AAM.",  # bad length
        "?OTR:AAMD=.",  # excess padding
        "?OTR:AAMD====.",
        "?OTR:AB==.",  # non-zero unused bits
        "?OTR:AA==AA==.",  # data after padding
        "?OTR:AA MD.",  # whitespace
        "?OTR:AA\nMD.",
        "?OTR:AAM*.",
        "?OTR:AAMé.",
        "?OTR:AA=.",
    ],
)
def test_decode_rejects(text: str) -> None:
    with pytest.raises(DecodeError):
        envelope.decode_otr_message(text)


def test_decode_length_bound() -> None:
    big = "A" * (envelope.MAX_ENCODED_LEN + 4)
    with pytest.raises(DecodeError):
        envelope.decode_otr_message("?OTR:" + big + ".")
    with pytest.raises(DecodeError):
        envelope.decode_otr_message("?OTR:" + big)
    ok = "A" * envelope.MAX_ENCODED_LEN
    assert len(envelope.decode_otr_message("?OTR:" + ok + ".")) == envelope.MAX_ENCODED_LEN // 4 * 3


_B64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


B64_TWINS: list[Callable[[str], bytes]] = [envelope.py_b64decode]
if native is not None:
    B64_TWINS.append(native.b64decode)


def accepts(decode: Callable[[str], bytes], body: str) -> bytes | None:
    try:
        return decode(body)
    except ValueError:
        return None


@pytest.mark.parametrize("decode", B64_TWINS)
@given(st.text(alphabet=_B64_DIGITS + "=", max_size=16))
def test_base64_accepts_exactly_the_canonical_encodings(
    decode: Callable[[str], bytes], body: str
) -> None:
    # Canonical means: standard base 64 decodes it and re-encoding gives it back.
    try:
        expected: bytes | None = base64.b64decode(body, validate=True)
        if base64.b64encode(expected).decode() != body:
            expected = None
    except ValueError:
        expected = None
    assert accepts(decode, body) == expected


@pytest.mark.parametrize("decode", B64_TWINS)
def test_base64_unused_bits_every_final_digit(decode: Callable[[str], bytes]) -> None:
    for digit in _B64_DIGITS:
        for body in ("A" + digit + "==", "AA" + digit + "=", "AAAA" + "AA" + digit + "="):
            ok = base64.b64encode(base64.b64decode(body)).decode() == body
            assert accepts(decode, body) == (base64.b64decode(body) if ok else None)


@given(st.binary(max_size=200), st.data())
def test_base64_twins_agree_on_damaged_encodings(data: bytes, draw: st.DataObject) -> None:
    # A valid encoding with one character replaced, inserted or removed (any code
    # point), or arbitrary text: both twins accept the same strings, with the same
    # bytes, and raise nothing but ValueError otherwise.
    body = base64.b64encode(data).decode()
    at = draw.draw(st.integers(0, len(body)))
    ch = draw.draw(st.characters())
    variants = [
        body,
        body[:at] + ch + body[at + 1 :],
        body[:at] + ch + body[at:],
        body[:at] + body[at + 1 :],
        draw.draw(st.text(max_size=12)),
    ]
    for text in variants:
        results = {repr(accepts(decode, text)) for decode in B64_TWINS}
        assert len(results) == 1, text
    assert accepts(B64_TWINS[-1], body) == data


def test_base64_body_errors_are_decode_errors() -> None:
    for body in ("", "A", "AB=C", "é===", "A" * (envelope.MAX_ENCODED_LEN + 4)):
        with pytest.raises(DecodeError):
            envelope.decode_base64_body(body)
    if native is not None:
        with pytest.raises(TypeError):
            native.b64decode(b"AAAA")


@given(st.binary(min_size=1, max_size=600))
def test_encoded_round_trip(data: bytes) -> None:
    text = envelope.encode_otr_message(data)
    assert text == "?OTR:" + base64.b64encode(data).decode() + "."
    assert classify(text) is K.ENCODED
    assert envelope.decode_otr_message(text) == data


# -- robustness: network text never raises anything but DecodeError


_otrish = st.text(
    alphabet=st.sampled_from(list("?OTRv234:|,. \tError:AZaz09+/=\né")),
    max_size=80,
)


@given(st.one_of(st.text(max_size=200), _otrish, _otrish.map(lambda s: "?OTR" + s)))
def test_parsers_never_raise(text: str) -> None:
    kind = classify(text)
    assert isinstance(kind, MessageKind)
    versions = envelope.parse_query(text)
    assert versions is None or versions <= {1, 2, 3, 4}
    if kind is K.QUERY:
        assert versions is not None
    found = envelope.find_whitespace_tag(text)
    assert (found is not None) == (envelope.WHITESPACE_TAG_BASE in text)
    error = envelope.parse_error(text)
    assert (error is not None) == ("?OTR Error:" in text)
    with contextlib.suppress(DecodeError):
        envelope.decode_otr_message(text)


# -- otr4j fuzz seeds


def _seed_texts(folder: str) -> list[tuple[str, str]]:
    path = SEEDS / folder
    if not path.is_dir():
        pytest.skip(f"fuzz seeds not found at {path}")
    return [
        (p.name, p.read_bytes().decode("utf-8", errors="replace"))
        for p in sorted(path.iterdir())
        if p.is_file()
    ]


def test_otr4j_message_processor_seeds() -> None:
    seeds = dict(_seed_texts("MessageProcessor"))
    assert seeds, "no seeds"
    for name, text in seeds.items():
        kind = classify(text)
        envelope.parse_query(text)
        envelope.find_whitespace_tag(text)
        envelope.parse_error(text)
        if name.startswith("query-message"):
            assert kind is K.QUERY, name
        elif name.startswith("error-message"):
            assert kind is K.ERROR, name
            assert envelope.parse_error(text), name
        elif name.startswith("fragment"):
            assert kind is K.FRAGMENT, name
        elif name.startswith("otr-encoded"):
            assert kind is K.ENCODED, name
            assert envelope.decode_otr_message(text)
        elif name.startswith("plaintext"):
            assert kind is K.PLAINTEXT, name
    assert envelope.parse_query(seeds["query-message-04"]) == frozenset({2, 3, 4})
    assert envelope.parse_query(seeds["query-message-05"]) == frozenset({4})
    assert envelope.parse_query(seeds["query-message-00"]) == frozenset()
    assert envelope.parse_error(seeds["error-message-00"]) == "Hello world!"
    assert envelope.parse_error(seeds["error-message-01"]) == "ERROR_1: Unreadable message"
    tagged = seeds["whitespace-tag-00"]
    assert classify(tagged) is K.TAGGED_PLAINTEXT
    assert envelope.find_whitespace_tag(tagged) == ("", frozenset({1}))


def test_otr4j_encoded_seeds_decode_cleanly() -> None:
    # These files hold already-decoded binary bodies: wrap and unwrap them.
    for name, _ in _seed_texts("EncodedMessageParser"):
        data = (SEEDS / "EncodedMessageParser" / name).read_bytes()
        text = envelope.encode_otr_message(data)
        assert classify(text) is K.ENCODED
        # The protocol version (SHORT) shows in the first base-64 characters, as libotr's
        # otrl_proto_message_version reads it: "?OTR:AAM" is v3, "?OTR:AAQ" v4.
        assert text[:8] == {3: "?OTR:AAM", 4: "?OTR:AAQ"}[data[1]], name
        assert envelope.decode_otr_message(text) == data, name


# -- the real libotr


@pytest.mark.interop
@pytest.mark.parametrize(("versions", "tag"), [((2, 3), "v23"), ((3,), "v3"), ((2,), "v2")])
def test_libotr_query_text(peer_module: Any, versions: tuple[int, ...], tag: str) -> None:
    with peer_module.OtrPeer(account="alice@x", policy="MANUAL", versions=versions) as lib:
        sent = peer_module.injects(lib.query())
    assert sent == [envelope.format_query(frozenset(versions), "alice@x")]
    assert sent[0].startswith(f"?OTR{tag}?\n")
    assert envelope.parse_query(sent[0]) == frozenset(versions)
