"""The simulator clients' own encodings: record values, the consumer protocol's subscription
and assignment, and reading a fetched record set."""

from __future__ import annotations

import struct

from kio.schema.consumer_protocol_subscription.v0.data import ConsumerProtocolSubscription
from kio.serial import entity_reader
from refka.protocol.records import NewRecord, build_batch
from refka.sim.clients.wire import (
    decode_assignment,
    decode_value,
    encode_assignment,
    encode_subscription,
    encode_value,
    fetched_records,
)


def test_values_round_trip_and_foreign_values_are_not_ours() -> None:
    for value in (0, 1, -5, 2**62):
        assert decode_value(encode_value(value)) == value
    assert decode_value(b"hello") is None
    assert decode_value(None) is None


def test_subscription_and_assignment_carry_the_consumer_protocol_version() -> None:
    data = encode_subscription(["t"])
    assert struct.unpack_from(">h", data)[0] == 0
    subscription, _ = entity_reader(ConsumerProtocolSubscription)(data, 2)
    assert subscription.topics == ("t",)
    assert decode_assignment(encode_assignment("t", [3, 1]), "t") == (1, 3)
    assert decode_assignment(encode_assignment("other", [0]), "t") == ()
    assert decode_assignment(b"", "t") == ()


def batch(base_offset: int, values: list[int], control: bool = False) -> bytes:
    records = [NewRecord(None, encode_value(v), (), 1) for v in values]
    return build_batch(records, base_offset=base_offset, is_control=control)


def test_fetched_records_skip_what_precedes_the_position_and_control_batches() -> None:
    data = batch(0, [10, 11, 12]) + batch(3, [0], control=True) + batch(4, [14])
    assert fetched_records(data, 1) == ([(1, 11), (2, 12), (4, 14)], 5)
    assert fetched_records(data, 5) == ([], 5)
    assert fetched_records(None, 7) == ([], 7)
    truncated = data + batch(5, [15])[:-3]  # a partial batch at the end of a fetch
    assert fetched_records(truncated, 4) == ([(4, 14)], 5)
