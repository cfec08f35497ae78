"""Fuzz target: the text envelope (otr.wire.envelope): classification of any received
text (fragment / encoded / error / query / tagged plaintext / plaintext, libotr's
precedence) and the parser of each kind.

Invariants: ``classify`` never raises; each kind's parser accepts what ``classify``
says is of its kind or raises DecodeError (encoded messages only); a decoded message
re-encodes to the same canonical base 64; the whitespace-tag scan removes only spaces
and tabs.
"""

from __future__ import annotations

from otr.errors import DecodeError
from otr.wire import envelope

ALLOWED = (DecodeError,)
SEEDS = ("envelope", "otr4j:MessageProcessor", "otr4j:Fragment")

K = envelope.MessageKind


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    kind = envelope.classify(text)
    assert isinstance(kind, K)
    query = envelope.parse_query(text)
    assert query is None or query <= {1, 2, 3, 4}
    if kind is K.QUERY:
        assert query is not None
    error = envelope.parse_error(text)
    if kind is K.ERROR:
        assert error is not None
    found = envelope.find_whitespace_tag(text)
    if kind is K.TAGGED_PLAINTEXT:
        assert found is not None
    if found is not None:
        stripped, versions = found
        assert versions <= {1, 2, 3, 4}
        at = text.find(envelope.WHITESPACE_TAG_BASE)
        cut = len(text) - len(stripped)
        assert cut >= len(envelope.WHITESPACE_TAG_BASE)
        assert stripped == text[:at] + text[at + cut :]
        assert set(text[at : at + cut]) <= {" ", "\t"}
    if kind is K.ENCODED:
        binary = envelope.decode_otr_message(text)
        at = text.find(envelope.ENCODED_PREFIX)
        wire = envelope.encode_otr_message(binary)
        assert text.startswith(wire, at), "decoded message does not re-encode canonically"
