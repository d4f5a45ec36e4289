"""DescribeProducers (KIP-664): the producers a partition leader tracks, with their epoch, last
sequence and timestamp, and the first offset of their open transaction (-1 if none)."""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.partitions import Partitions
from refka.protocol import codec
from refka.replica import Replica
from refka.security.api_acls import TOPIC, allowed

KEY = 61
E = ErrorCode


def handle(partitions: Partitions, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    topics = tuple(
        codec.build(
            m.TopicResponse,
            name=topic.name,
            partitions=tuple(
                _partition(m, partitions.replica(topic.name, int(p)), int(p))
                if allowed(ctx, TOPIC, topic.name)
                else _error(m, int(p), E.topic_authorization_failed)
                for p in topic.partition_indexes
            ),
        )
        for topic in request.topics
    )
    return codec.build(m.DescribeProducersResponse, throttle_time=codec.millis(0), topics=topics)


def _partition(m: Any, replica: Replica | None, index: int) -> Any:
    if replica is None:
        return _error(m, index, E.unknown_topic_or_partition)
    if not replica.is_leader:
        return _error(m, index, E.not_leader_or_follower)
    state = replica.producer_state
    producers = tuple(
        codec.build(
            m.ProducerState,
            producer_id=producer_id,
            producer_epoch=entry.producer_epoch,
            last_sequence=entry.last_seq,
            last_timestamp=entry.last_timestamp_ms,
            coordinator_epoch=entry.coordinator_epoch,
            current_txn_start_offset=state.ongoing.get(producer_id, -1),
        )
        for producer_id, entry in sorted(state.producers.items())
    )
    return codec.build(
        m.PartitionResponse,
        partition_index=index,
        error_code=E.none,
        error_message=None,
        active_producers=producers,
    )


def _error(m: Any, index: int, error: ErrorCode) -> Any:
    return codec.build(
        m.PartitionResponse,
        partition_index=index,
        error_code=error,
        error_message=None,
        active_producers=(),
    )
