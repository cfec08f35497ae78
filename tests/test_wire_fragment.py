"""otr.wire.fragment: parsing, libotr-identical fragmentation, bounded reassembly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SPEC_VECTORS
from otr.errors import DecodeError
from otr.wire import envelope, fragment
from otr.wire.fragment import Fragment, Reassembler, fragment_message, parse_fragment

SEEDS = SPEC_VECTORS / "otr4j-fuzz-seeds"

# OTRv3 spec "Fragmentation": the example Data Message and its three fragments.
SPEC_MESSAGE = (
    "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb"
    "rL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo"
    "9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQ"
    "rx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjSc"
    "ajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAA"
    "AAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==."
)
SPEC_FRAGMENTS = [
    "?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAA"
    "AQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSx"
    "h8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+"
    "hQ26h9nzMgEditLB8v,",
    "?OTR|5a73a599|27e31597,00002,00003,jPEWAJ6gBXvZrY6ZQrx3gb4v0"
    "UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dq"
    "lDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAA"
    "HwNiIi5Ms+4PsY/L2i,",
    "?OTR|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,",
]


def _reassemble(texts: list[str]) -> str | None:
    r = Reassembler()
    out = None
    for i, text in enumerate(texts):
        out = r.feed(parse_fragment(text))
        assert (out is None) == (i < len(texts) - 1)
    return out


# -- parsing


def test_spec_example_reassembles() -> None:
    frags = [parse_fragment(t) for t in SPEC_FRAGMENTS]
    assert [(f.version, f.sender_instance, f.receiver_instance, f.k, f.n) for f in frags] == [
        (3, 0x5A73A599, 0x27E31597, k, 3) for k in (1, 2, 3)
    ]
    assert _reassemble(SPEC_FRAGMENTS) == SPEC_MESSAGE
    assert envelope.classify(SPEC_FRAGMENTS[0]) is envelope.MessageKind.FRAGMENT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "?OTR|5a73a599|27e31597,00001,00003,abc,",
            Fragment(3, 0x5A73A599, 0x27E31597, 1, 3, "abc"),
        ),
        ("?OTR|5A73A599|100,1,3,abc,", Fragment(3, 0x5A73A599, 0x100, 1, 3, "abc")),
        ("?OTR|0|0,2,2,x,", Fragment(3, 0, 0, 2, 2, "x")),
        ("?OTR|000000000005a|1,0000002,65535,p,", Fragment(3, 0x5A, 1, 2, 65535, "p")),
        ("?OTR,00001,00002,?OTR:AAID,", Fragment(2, 0, 0, 1, 2, "?OTR:AAID")),
        ("?OTR,1,1,?OTR:AAID.,", Fragment(2, 0, 0, 1, 1, "?OTR:AAID.")),
        ("junk before ?OTR,1,1,x, junk after", Fragment(2, 0, 0, 1, 1, "x")),
        ("?OTR|1|2,1,1,x,\n", Fragment(3, 1, 2, 1, 1, "x")),
        ("?OTR|1|2,1,1,x,y,", Fragment(3, 1, 2, 1, 1, "x")),
        ("?OTR|1|2,1,1,a|b?c:d.,", Fragment(3, 1, 2, 1, 1, "a|b?c:d.")),
        (
            "?OTR|3c5b5f03|5a73a599|27e31597,00001,00002,?OTR:AAQD,",
            Fragment(4, 0x5A73A599, 0x27E31597, 1, 2, "?OTR:AAQD", identifier=0x3C5B5F03),
        ),
    ],
)
def test_parse(text: str, expected: Fragment) -> None:
    assert parse_fragment(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "?OTR:AAMD.",
        "?OTR|1|2,0,1,x,",  # k == 0
        "?OTR|1|2,1,0,x,",  # n == 0
        "?OTR|1|2,3,2,x,",  # k > n
        "?OTR|1|2,65536,65536,x,",  # beyond SHORT
        "?OTR|1|2,1,65536,x,",
        "?OTR,0,1,x,",
        "?OTR,2,1,x,",
        "?OTR|1|2,1,1,x",  # no trailing comma
        "?OTR,1,1,x",
        "?OTR|1|2,1,1,,",  # empty piece
        "?OTR,1,1,,",
        "?OTR|1|2,+1,1,x,",  # sign
        "?OTR|1|2, 1,1,x,",  # space
        "?OTR|0x1|2,1,1,x,",  # 0x prefix
        "?OTR|g|2,1,1,x,",
        "?OTR||2,1,1,x,",
        "?OTR|1|2,1_0,10,x,",  # int() would accept underscores
        "?OTR|1|2,١,١,x,",  # non-ASCII digits
        "?OTR|1|2,a,1,x,",
        "?OTR|100000000|2,1,1,x,",  # instance tag beyond 32 bits
        "?OTR|1|2|3|4,1,1,x,",
        "?OTR|1,1,1,x,",
        "?OTR|1|2,0,1,x, then ?OTR,1,1,y,",  # the first ?OTR| is illegal: no fallback
        "?OTR|broken and ?OTR,1,1,y,",  # libotr parses the ?OTR| one only
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(DecodeError):
        parse_fragment(text)


_fragmentish = st.text(alphabet=st.sampled_from(list("?OTR|,0123456789abcdefX:. \n")), max_size=60)


@given(st.one_of(st.text(max_size=120), _fragmentish, _fragmentish.map(lambda s: "?OTR|" + s)))
def test_parse_never_raises_anything_but_decode_error(text: str) -> None:
    try:
        frag = parse_fragment(text)
    except DecodeError:
        return
    assert 1 <= frag.k <= frag.n <= 0xFFFF
    assert frag.piece and "," not in frag.piece
    assert envelope.classify(text) is envelope.MessageKind.FRAGMENT


# -- fragmenting (libotr's fragment_and_send / otrl_proto_fragment_create)


def test_fragment_message_format_v3() -> None:
    text = "?OTR:" + "A" * 100 + "."
    frags = fragment_message(text, 60, 3, 0x5A73A599, 0x27E31597)
    # headerlen 37 -> pieces of 60 - 37 = 23 characters; fragments of at most 59.
    assert frags[0] == "?OTR|5a73a599|27e31597,00001,00005,?OTR:AAAAAAAAAAAAAAAAAA,"
    assert frags[-1] == "?OTR|5a73a599|27e31597,00005,00005," + "A" * 13 + ".,"
    assert [len(f) for f in frags] == [59, 59, 59, 59, 50]
    assert _reassemble(frags) == text


def test_fragment_message_format_v2_and_zero_receiver() -> None:
    text = "?OTR:" + "B" * 40 + "."
    frags = fragment_message(text, 40, 2, 0, 0)
    # headerlen 19 -> pieces of 21 characters.
    assert frags == [
        "?OTR,00001,00003,?OTR:BBBBBBBBBBBBBBBB,",
        "?OTR,00002,00003,BBBBBBBBBBBBBBBBBBBBB,",
        "?OTR,00003,00003,BBB.,",
    ]
    assert fragment_message(text, 80, 3, 0x100, 0) == [
        "?OTR|00000100|00000000,00001,00002,?OTR:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB,",
        "?OTR|00000100|00000000,00002,00002,BB.,",
    ]


def test_fragment_message_errors() -> None:
    with pytest.raises(ValueError):
        fragment_message("?OTR:AAAA.", 37, 3, 0x100, 0x100)  # no room for a piece
    with pytest.raises(ValueError):
        fragment_message("?OTR:AAAA.", 19, 2, 0, 0)
    assert fragment_message("?OTR:AAAA.", 38, 3, 0x100, 0x100)[0].endswith(",?,")
    assert len(fragment_message("?OTR:AAAA.", 20, 2, 0, 0)) == 10
    with pytest.raises(ValueError):
        fragment_message("x" * 65536, 20, 2, 0, 0)  # more than 65535 pieces
    assert len(fragment_message("x" * 65535, 20, 2, 0, 0)) == 65535
    with pytest.raises(ValueError):
        fragment_message("", 100, 3, 0x100, 0x100)
    with pytest.raises(ValueError):
        fragment_message("a,b", 100, 3, 0x100, 0x100)
    with pytest.raises(ValueError):
        fragment_message("?OTR:AAAA.", 100, 4, 0x100, 0x100)
    with pytest.raises(ValueError):
        fragment_message("?OTR:AAAA.", 100, 3, 1 << 32, 0x100)


@given(
    text=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters=","),
        min_size=1,
        max_size=1500,
    ),
    max_size=st.integers(38, 400),
    version=st.sampled_from([2, 3]),
    ours=st.integers(0, 0xFFFFFFFF),
    theirs=st.integers(0, 0xFFFFFFFF),
)
def test_fragment_then_reassemble(
    text: str, max_size: int, version: int, ours: int, theirs: int
) -> None:
    frags = fragment_message(text, max_size, version, ours, theirs)
    piece_len = max_size - (37 if version == 3 else 19)
    assert len(frags) == -(-len(text) // piece_len)
    assert all(len(f) <= max_size - 1 for f in frags)
    r = Reassembler()
    for i, f in enumerate(frags, 1):
        parsed = parse_fragment(f)
        assert (parsed.version, parsed.k, parsed.n) == (version, i, len(frags))
        if version == 3:
            assert (parsed.sender_instance, parsed.receiver_instance) == (ours, theirs)
        whole = r.feed(parsed)
        assert (whole is None) == (i < len(frags))
    assert whole == text
    assert not r.pending


# -- reassembly rules (spec "Receiving Fragments")


def _f(k: int, n: int, piece: str = "p", version: int = 3) -> Fragment:
    return Fragment(version, 0x100, 0x101, k, n, piece)


def test_reassembly_rules() -> None:
    r = Reassembler()
    assert r.feed(_f(1, 1, "whole")) == "whole"
    # In order.
    assert r.feed(_f(1, 3, "a")) is None
    assert r.feed(_f(2, 3, "b")) is None
    assert r.feed(_f(3, 3, "c")) == "abc"
    # k == 1 restarts.
    r.feed(_f(1, 3, "a"))
    r.feed(_f(1, 2, "x"))
    assert r.feed(_f(2, 2, "y")) == "xy"
    # A gap forgets the buffer, later pieces do not resurrect it.
    r.feed(_f(1, 3, "a"))
    assert r.feed(_f(3, 3, "c")) is None
    assert not r.pending
    assert r.feed(_f(2, 3, "b")) is None
    # A duplicate forgets the buffer.
    r.feed(_f(1, 3, "a"))
    r.feed(_f(2, 3, "b"))
    assert r.feed(_f(2, 3, "b")) is None
    assert r.feed(_f(3, 3, "c")) is None
    # n must stay the same.
    r.feed(_f(1, 3, "a"))
    assert r.feed(_f(2, 4, "b")) is None
    assert not r.pending
    # Without a stored fragment, only k == 1 starts one.
    assert r.feed(_f(2, 2, "b")) is None
    # The protocol version must stay the same.
    r.feed(_f(1, 2, "a", version=2))
    assert r.feed(_f(2, 2, "b", version=3)) is None
    # reset() forgets.
    r.feed(_f(1, 2, "a"))
    assert r.pending
    r.reset()
    assert r.feed(_f(2, 2, "b")) is None


def test_illegal_fragments_are_ignored() -> None:
    r = Reassembler()
    r.feed(_f(1, 3, "a"))
    for bad in (_f(0, 3), _f(1, 0), _f(4, 3)):
        assert r.feed(bad) is None
        assert r.pending  # discarded fragment, buffer kept (spec: "discard this fragment")
    r.feed(_f(2, 3, "b"))
    assert r.feed(_f(3, 3, "c")) == "abc"


def test_reassembly_memory_bound() -> None:
    r = Reassembler()
    half = "A" * (fragment.MAX_REASSEMBLY_BYTES // 2)
    assert r.feed(_f(1, 3, half)) is None
    assert r.feed(_f(2, 3, half)) is None
    assert r.pending
    assert r.feed(_f(3, 3, "A")) is None  # one character too many
    assert not r.pending
    assert r.feed(_f(1, 1, "A" * (fragment.MAX_REASSEMBLY_BYTES + 1))) is None
    assert r.feed(_f(1, 1, "A" * fragment.MAX_REASSEMBLY_BYTES)) is not None


def test_reassembly_fragment_count_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fragment.MAX_FRAGMENTS <= 0xFFFF
    monkeypatch.setattr(fragment, "MAX_FRAGMENTS", 4)
    r = Reassembler()
    r.feed(_f(1, 4, "a"))
    assert r.feed(_f(1, 5, "a")) is None
    assert not r.pending
    r.feed(_f(1, 4, "a"))
    r.feed(_f(2, 4, "b"))
    r.feed(_f(3, 4, "c"))
    assert r.feed(_f(4, 4, "d")) == "abcd"


# -- otr4j fuzz seeds


def _seed(folder: str, name: str) -> str:
    path = SEEDS / folder / name
    if not path.is_file():
        pytest.skip(f"fuzz seed not found: {path}")
    return path.read_bytes().decode("utf-8", errors="replace")


def test_otr4j_fragment_seeds() -> None:
    for name in ("otrv4-fragment-illegal-index", "otrv4-fragment-illegal-total"):
        with pytest.raises(DecodeError):
            parse_fragment(_seed("Fragment", name))
    for name in ("otrv3-full-message-00", "otrv4-full-message-00"):  # empty pieces
        text = _seed("Fragment", name)
        assert envelope.classify(text) is envelope.MessageKind.FRAGMENT
        with pytest.raises(DecodeError):
            parse_fragment(text)
    v4 = parse_fragment(_seed("Fragment", "full-message-00"))
    assert (v4.version, v4.identifier, v4.sender_instance, v4.receiver_instance) == (
        4,
        0xC5B5F03,
        0x5A73A599,
        0x27E31597,
    )
    assert (v4.k, v4.n, v4.piece) == (1, 1, "?OTR:SGVsbG8gV29ybGQh.")
    v2 = parse_fragment(_seed("Fragment", "otrv2-full-message-00"))
    assert (v2.version, v2.k, v2.n) == (2, 1, 3)
    assert v2.piece.startswith("?OTR:AAED")
    zero = parse_fragment(_seed("MessageProcessor", "fragment-00"))
    assert (zero.version, zero.identifier, zero.sender_instance, zero.k, zero.n) == (4, 0, 0, 1, 2)
    assert parse_fragment(_seed("MessageProcessor", "fragment-01")) == parse_fragment(
        SPEC_FRAGMENTS[0]
    )


# -- the real libotr (shared/interop/libotr)


def _pair(peer: Any, mms: int, versions: tuple[int, ...]) -> tuple[Any, Any, list[str]]:
    """Two libotr parties with max message size ``mms``, through the AKE; returns them and
    every wire text they sent."""
    a = peer.OtrPeer(account="alice@x", peer="bob@x", max_msg_size=mms, versions=versions)
    b = peer.OtrPeer(account="bob@x", peer="alice@x", max_msg_size=mms, versions=versions)
    log = peer.relay({a: a.query()}, {a: b, b: a})
    assert a.status()["msgstate"] == "encrypted" == b.status()["msgstate"]
    wire = peer.injects(log[a]) + peer.injects(log[b])
    return a, b, wire


def _check_libotr_fragments(texts: list[str], mms: int, version: int) -> int:
    """Reassemble libotr's fragmented encoded messages with our code and re-fragment each:
    the result must be libotr's fragments, byte for byte.  Returns how many there were.

    libotr also fragments its Query Message (in the v2 layout: no protocol version is known
    yet); that text contains a comma, which ends a piece early, so those are only checked
    to be the v2 fragments libotr makes."""
    r = Reassembler()
    run: list[str] = []
    split = 0
    for text in texts:
        if envelope.classify(text) is not envelope.MessageKind.FRAGMENT:
            assert not run
            continue
        assert len(text) <= mms - 1
        frag = parse_fragment(text)
        run.append(text)
        whole = r.feed(frag)
        if whole is None:
            continue
        if envelope.classify(whole) is envelope.MessageKind.QUERY:
            assert frag.version == 2
            assert all(t.startswith(f"?OTR,{k:05d},{len(run):05d},") for k, t in enumerate(run, 1))
            run = []
            continue
        assert frag.version == version
        assert envelope.classify(whole) is envelope.MessageKind.ENCODED
        assert len(whole) > mms
        assert envelope.decode_otr_message(whole)
        ours = fragment_message(whole, mms, version, frag.sender_instance, frag.receiver_instance)
        assert ours == run
        run = []
        split += 1
    assert not run
    return split


@pytest.mark.interop
@pytest.mark.parametrize("version", [3, 2])
def test_libotr_fragments_reassemble_and_match(peer_module: Any, version: int) -> None:
    mms = 200
    a, b, ake_wire = _pair(peer_module, mms, (version,))
    try:
        # AKE messages (D-H Commit with receiver tag 0, Reveal Signature, ...) are fragmented too.
        assert _check_libotr_fragments(ake_wire, mms, version) >= 2
        text = "The quick brown fox jumps over the lazy dog. " * 40
        log = peer_module.relay({a: a.send(text)}, {a: b, b: a})
        sent = peer_module.injects(log[a])
        assert len(sent) > 5
        if version == 3:
            assert sent[0].startswith(f"?OTR|{a.instag:08x}|{b.instag:08x},00001,")
        else:
            assert sent[0].startswith(f"?OTR,00001,{len(sent):05d},")
        assert _check_libotr_fragments(sent, mms, version) == 1
        assert [m["text"] for m in peer_module.of(log[b], "message")] == [text]
    finally:
        a.close()
        b.close()


@pytest.mark.interop
def test_libotr_reassembles_our_fragments(peer_module: Any) -> None:
    a, b, _ = _pair(peer_module, 0, (2, 3))
    try:
        text = "ünïcode and a long message " * 30
        whole = peer_module.injects(a.send(text))
        assert len(whole) == 1
        for mms in (60, 157, 400):
            # A fresh message each time: libotr refuses replays.
            whole = peer_module.injects(a.send(f"{mms}: {text}"))[0]
            frags = fragment_message(whole, mms, 3, a.instag, b.instag)
            assert len(frags) > 1
            events: list[dict[str, Any]] = []
            for f in frags:
                events += b.recv(f)
            assert [m["text"] for m in peer_module.of(events, "message")] == [f"{mms}: {text}"]
    finally:
        a.close()
        b.close()


def test_dropped_reassembly_says_why() -> None:
    r = Reassembler(max_fragments=3, max_chars=5)
    assert r.feed(_f(1, 2, "ab")) is None and r.dropped == ""
    assert r.feed(_f(1, 2, "cd")) is None and "before fragment 2" in r.dropped
    assert r.feed(_f(2, 2, "e")) == "cde" and r.dropped == ""
    r.feed(_f(1, 3, "a"))
    assert r.feed(_f(3, 3, "c")) is None and "out of sequence" in r.dropped
    assert r.feed(_f(2, 3, "b")) is None and r.dropped == ""  # nothing was pending
    assert r.feed(_f(1, 4, "a")) is None and "4 fragments" in r.dropped
    assert r.feed(_f(1, 2, "abcdef")) is None and "5 characters" in r.dropped
    assert r.held_chars == 0


def test_fragment_count_matches_fragment_message() -> None:
    for length in (1, 40, 41, 500, 1234):
        for size, version in ((40, 3), (40, 2), (100, 3)):
            text = "A" * length
            expected = 1 if length <= size else len(fragment_message(text, size, version, 1, 2))
            assert fragment.fragment_count(length, size, version) == expected
    with pytest.raises(ValueError):
        fragment.fragment_count(100, 37, 3)
