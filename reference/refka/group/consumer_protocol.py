"""The classic "consumer" embedded protocol (ConsumerProtocolSubscription/Assignment), as a
classic member of a KIP-848 group sends and receives it: its subscription in JoinGroup's
protocol metadata, its assignment in SyncGroup's answer. Each starts with an int16 version."""

from __future__ import annotations

import importlib
import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from kio.serial import entity_reader, entity_writer


@dataclass(frozen=True, slots=True)
class Subscription:
    topics: tuple[str, ...]
    owned: tuple[tuple[str, int], ...]  # (topic name, partition); v1+
    rack_id: str | None = None  # v3


def decode_subscription(data: bytes) -> Subscription:
    """The subscription in a member's protocol metadata; ValueError if it cannot be read."""
    try:
        (version,) = struct.unpack_from(">h", data)
        module = importlib.import_module(
            f"kio.schema.consumer_protocol_subscription.v{min(max(version, 0), 3)}.data"
        )
        entity, _ = entity_reader(module.ConsumerProtocolSubscription)(data, 2)
    except Exception as e:  # malformed metadata: the reader raises several kinds
        raise ValueError(f"unreadable subscription: {e}") from e
    owned = tuple(
        (tp.topic, int(p)) for tp in getattr(entity, "owned_partitions", ()) for p in tp.partitions
    )
    return Subscription(tuple(entity.topics), owned, getattr(entity, "rack_id", None))


def decode_assignment(data: bytes) -> list[tuple[str, int]]:
    """The (topic name, partition) pairs of a ConsumerProtocolAssignment."""
    try:
        (version,) = struct.unpack_from(">h", data)
        module = importlib.import_module(
            f"kio.schema.consumer_protocol_assignment.v{min(max(version, 0), 3)}.data"
        )
        entity, _ = entity_reader(module.ConsumerProtocolAssignment)(data, 2)
    except Exception as e:  # malformed bytes: the reader raises several kinds
        raise ValueError(f"unreadable assignment: {e}") from e
    return [(tp.topic, int(p)) for tp in entity.assigned_partitions for p in tp.partitions]


def encode_assignment(partitions: Mapping[str, frozenset[int]]) -> bytes:
    """A ConsumerProtocolAssignment v0 of ``{topic name: partitions}``."""
    from kio.schema.consumer_protocol_assignment.v0 import data as v0

    entity = v0.ConsumerProtocolAssignment(
        assigned_partitions=tuple(
            v0.TopicPartition(topic=name, partitions=tuple(sorted(ps)))  # type: ignore[arg-type]
            for name, ps in sorted(partitions.items())
        ),
        user_data=None,
    )
    buffer = io.BytesIO()
    buffer.write(struct.pack(">h", 0))
    entity_writer(v0.ConsumerProtocolAssignment)(buffer, entity)
    return buffer.getvalue()
