"""DeleteRecords (key 21, v0-v2 as Kafka 4.x): move a partition's log start offset (KIP-107).

The leader raises its log start offset to the requested offset (-1: the high watermark); records
below it are no longer readable (a fetch there is OFFSET_OUT_OF_RANGE, ListOffsets EARLIEST
answers it), the segments wholly below it go at the next retention pass, and the offset is kept
in the ``log-start-offset-checkpoint`` file. Followers raise theirs to the leader's from Fetch's
``log_start_offset``. As Kafka answers: an offset above the high watermark, or negative other
than -1, is OFFSET_OUT_OF_RANGE; a topic whose ``cleanup.policy`` lacks ``delete`` is
POLICY_VIOLATION; only the leader deletes (NOT_LEADER_OR_FOLLOWER).

The answer's ``low_watermark`` is the leader's new log start offset; Kafka's is the lowest log
start offset among the leader and its live followers, waiting (up to ``timeout``) until that
reaches the requested offset. refka answers at once with the leader's (see docs/conformance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.replication.replica_manager import ReplicaManager

KEY = 21
HIGH_WATERMARK = -1  # the requested offset meaning "up to the high watermark"


def handle_delete_records(replicas: ReplicaManager, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    topics = tuple(
        codec.build(
            m.DeleteRecordsTopicResult,
            name=topic.name,
            partitions=tuple(
                _partition(m, replicas, topic.name, p.partition_index, p.offset)
                for p in topic.partitions
            ),
        )
        for topic in request.topics
    )
    return codec.build(m.DeleteRecordsResponse, throttle_time=codec.millis(0), topics=topics)


def _partition(m: Any, replicas: ReplicaManager, topic: str, index: int, offset: int) -> Any:
    error, low_watermark = delete_records(replicas, topic, index, offset)
    return codec.build(
        m.DeleteRecordsPartitionResult,
        partition_index=index,
        low_watermark=low_watermark,
        error_code=error,
    )


def delete_records(
    replicas: ReplicaManager, topic: str, index: int, offset: int
) -> tuple[ErrorCode, int]:
    """(error, low watermark) of deleting the records of ``topic``-``index`` below ``offset``."""
    replica = replicas.replica(topic, index)
    if replica is None:
        known = replicas.image is not None and index in getattr(
            replicas.image.topics_by_name.get(topic), "partitions", {}
        )
        error = ErrorCode.not_leader_or_follower if known else ErrorCode.unknown_topic_or_partition
        return error, -1
    if not replica.is_leader:
        return ErrorCode.not_leader_or_follower, -1
    if offset < 0 and offset != HIGH_WATERMARK:
        return ErrorCode.offset_out_of_range, -1
    if not replica.log.config.deletes:
        return ErrorCode.policy_violation, -1
    target = replica.high_watermark if offset == HIGH_WATERMARK else offset
    if target > replica.high_watermark:
        return ErrorCode.offset_out_of_range, -1
    replica.log.increment_log_start_offset(target)
    return ErrorCode.none, replica.log_start_offset
