"""Resource limits (``otr.limits``): defaults, derived values and consistency."""

from __future__ import annotations

import pytest

from otr.limits import DATA_MESSAGE_OVERHEAD, Limits, encoded_length_bound
from otr.v3.session import MAX_REVEAL_BYTES
from otr.wire import envelope


def test_defaults_are_consistent() -> None:
    lim = Limits()
    assert lim.max_message_bytes == 256 * 1024 and lim.max_instances == 16
    # The receiver holds the largest message the sender may send, and more.
    assert lim.max_reassembly_chars == encoded_length_bound(lim.max_message_bytes)
    assert lim.max_received_chars >= envelope.MAX_ENCODED_LEN
    assert lim.max_received_chars >= lim.max_reassembly_chars


def test_overhead_covers_a_v3_data_message() -> None:
    fixed = 11 + 1 + 4 + 4 + (4 + 192) + 8 + 4 + 20 + 4
    assert fixed + MAX_REVEAL_BYTES <= DATA_MESSAGE_OVERHEAD


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_message_bytes": 0},
        {"max_message_bytes": 4 * 1024 * 1024},  # would not fit the receiver's 4 MiB
        {"max_instances": 0},
        {"max_fragments": 0},
        {"max_fragments": 70000},
        {"max_reassembly_chars": 1000},  # smaller than what we send
        {"max_received_chars": 1000},
        {"resend_record": -1},
    ],
)
def test_inconsistent_limits_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Limits(**kwargs)


def test_encoded_length_bound_is_an_upper_bound() -> None:
    for n in (0, 1, 2, 3, 1000):
        binary = bytes(n + DATA_MESSAGE_OVERHEAD)
        assert len(envelope.encode_otr_message(binary)) <= encoded_length_bound(n)
