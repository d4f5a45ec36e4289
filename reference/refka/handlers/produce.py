"""Produce (KIP-98 record batches, v3+): append each partition's batch as the leader.

acks=0 gets no answer (and a closed connection if anything failed, as Kafka does); acks=1 and
acks=-1 are answered once the batch is in the log. On one node the ISR is the leader alone, so
acks=-1 is satisfied at once, unless ``min.insync.replicas`` exceeds it: NOT_ENOUGH_REPLICAS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import CLOSE_CONNECTION, NO_RESPONSE
from refka.handlers.topic_names import INTERNAL_TOPICS
from refka.protocol import codec
from refka.replica import AppendResult

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.partitions import Partitions

KEY = 0
VALID_ACKS = (-1, 0, 1)


def handle_produce(partitions: Partitions, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    acks = request.acks
    appended: list[tuple[str, int]] = []
    failed = False
    topics = []
    for topic_data in request.topic_data:
        answers = []
        for data in topic_data.partition_data:
            if acks not in VALID_ACKS:
                result = AppendResult(ErrorCode.invalid_required_acks)
            else:
                result = _append(partitions, ctx, topic_data.name, data, acks)
            if result.error_code == ErrorCode.none:
                appended.append((topic_data.name, data.index))
            else:
                failed = True
            answers.append(_partition_response(m, data.index, result))
        topics.append(
            codec.build(
                m.TopicProduceResponse, name=topic_data.name, partition_responses=tuple(answers)
            )
        )
    partitions.partitions_changed(appended, ctx.now_ms)
    if acks == 0:
        return CLOSE_CONNECTION if failed else NO_RESPONSE
    return codec.build(m.ProduceResponse, responses=tuple(topics), throttle_time=codec.millis(0))


def _append(
    partitions: Partitions, ctx: RequestContext, topic: str, data: Any, acks: int
) -> AppendResult:
    if topic in INTERNAL_TOPICS:
        return AppendResult(ErrorCode.invalid_topic_exception)
    replica = partitions.replica(topic, data.index)
    if replica is None:
        return AppendResult(ErrorCode.unknown_topic_or_partition)
    if data.records is None:
        return AppendResult(
            ErrorCode.invalid_record, error_message="Produce request has no records"
        )
    min_isr = replica.log.config.min_insync_replicas
    return replica.append_as_leader(data.records, ctx.now_ms, min_isr, acks, ctx.api_version)


def _partition_response(m: Any, index: int, result: AppendResult) -> Any:
    return codec.build(
        m.PartitionProduceResponse,
        index=index,
        error_code=result.error_code,
        base_offset=result.base_offset,
        log_append_time=codec.timestamp(result.log_append_time_ms),
        log_start_offset=result.log_start_offset,
        record_errors=(),
        error_message=result.error_message,
    )
