"""What the simulator's clients put on the wire and read off it, beyond kio's entities.

Record values are the history's unique ints, as 8-byte big-endian signed values; the consumer
protocol's subscription and assignment are kio's ``ConsumerProtocol*`` data entities behind
the int16 version Kafka's ``ConsumerProtocol`` prefixes them with. Fetched record sets are
read with ``refka.protocol.records`` (split into batches, decompressed, control batches
skipped), as a client's ``CompletedFetch`` does.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from typing import Any

from kio.schema.consumer_protocol_assignment.v0.data import (
    ConsumerProtocolAssignment,
    TopicPartition,
)
from kio.schema.consumer_protocol_subscription.v0.data import ConsumerProtocolSubscription
from kio.schema.types import TopicName
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32

from refka.protocol.records import iter_batches, iter_records

_VALUE = struct.Struct(">q")
_VERSION = struct.Struct(">h")
CONSUMER_PROTOCOL_VERSION = 0


def encode_value(value: int) -> bytes:
    """A history value as a record value."""
    return _VALUE.pack(value)


def decode_value(data: bytes | None) -> int | None:
    """A record value back to the history's int (None if it is not one of ours)."""
    if data is None or len(data) != _VALUE.size:
        return None
    return int(_VALUE.unpack(data)[0])


def _encode_data(entity: Any) -> bytes:
    buffer = io.BytesIO()
    buffer.write(_VERSION.pack(CONSUMER_PROTOCOL_VERSION))
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def encode_subscription(topics: Iterable[str]) -> bytes:
    """JoinGroup's protocol metadata: the topics a member subscribes to."""
    return _encode_data(ConsumerProtocolSubscription(topics=tuple(TopicName(t) for t in topics)))


def encode_assignment(topic: str, partitions: Iterable[int]) -> bytes:
    """SyncGroup's assignment for one member."""
    assigned = TopicPartition(topic=TopicName(topic), partitions=tuple(i32(p) for p in partitions))
    return _encode_data(ConsumerProtocolAssignment(assigned_partitions=(assigned,)))


def decode_assignment(data: bytes, topic: str) -> tuple[int, ...]:
    """The partitions of ``topic`` in a SyncGroup assignment (empty bytes: none)."""
    if len(data) < _VERSION.size:
        return ()
    entity, _ = entity_reader(ConsumerProtocolAssignment)(data, _VERSION.size)
    return tuple(
        sorted(int(p) for tp in entity.assigned_partitions if tp.topic == topic
               for p in tp.partitions)
    )  # fmt: skip


def fetched_records(records: bytes | None, from_offset: int) -> tuple[list[tuple[int, int]], int]:
    """``([(offset, value)], next position)`` of a fetched record set: records at or past
    ``from_offset`` in log order; control batches are skipped but move the position."""
    reads: list[tuple[int, int]] = []
    position = from_offset
    if not records:
        return reads, position
    for header, view in iter_batches(records):
        last = header.base_offset + header.last_offset_delta
        if last < position:
            continue
        if not header.is_control:
            for record in iter_records(view):
                value = decode_value(record.value)
                if record.offset >= position and value is not None:
                    reads.append((record.offset, value))
        position = last + 1
    return reads, position
