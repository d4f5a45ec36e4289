"""ListOffsets (v1-v11): earliest, latest, max timestamp (KIP-734) and by timestamp.

LATEST is the high watermark (read_uncommitted) or the last stable offset (read_committed);
EARLIEST the log start offset; a timestamp gives the first record at or after it, or -1 when
every record is older. Without tiered storage (KIP-405) the local log is the whole log:
EARLIEST_LOCAL (v8+) is the log start offset, and LATEST_TIERED (v9+) and
EARLIEST_PENDING_UPLOAD (v11) find nothing (-1), as Kafka answers when remote storage is off.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.partitions import Partitions
from refka.protocol import codec
from refka.replica import Replica
from refka.replication.replica_manager import ReplicaManager
from refka.security.api_acls import TOPIC, allowed

KEY = 2
LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL = -4
READ_COMMITTED = 1
DEBUGGING_REPLICA_ID = -2  # a request any replica answers, leader or not


def handle_list_offsets(
    partitions: Partitions, replicas: ReplicaManager, ctx: RequestContext, request: Any
) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    topics = tuple(
        codec.build(
            m.ListOffsetsTopicResponse,
            name=topic.name,
            partitions=tuple(
                _partition(m, replicas, topic.name, p, committed, request)
                if allowed(ctx, TOPIC, topic.name)
                else _denied(m, p.partition_index)
                for p in topic.partitions
            ),
        )
        for topic in request.topics
    )
    return codec.build(m.ListOffsetsResponse, throttle_time=codec.millis(0), topics=topics)


def _denied(m: Any, index: int) -> Any:
    return codec.build(
        m.ListOffsetsPartitionResponse,
        partition_index=index,
        error_code=ErrorCode.topic_authorization_failed,
        timestamp=-1,
        offset=-1,
        leader_epoch=-1,
    )


def _partition(
    m: Any, replicas: ReplicaManager, topic: str, wanted: Any, committed: bool, request: Any
) -> Any:
    def answer(error: ErrorCode, offset: int = -1, timestamp: int = -1, epoch: int = -1) -> Any:
        return codec.build(
            m.ListOffsetsPartitionResponse,
            partition_index=wanted.partition_index,
            error_code=error,
            timestamp=timestamp,
            offset=offset,
            leader_epoch=epoch,
        )

    replica = replicas.replica(topic, wanted.partition_index)
    if replica is None:  # Kafka: NOT_LEADER_OR_FOLLOWER only for a partition that exists
        known = replicas.image is not None and wanted.partition_index in getattr(
            replicas.image.topics_by_name.get(topic), "partitions", {}
        )
        return answer(
            ErrorCode.not_leader_or_follower if known else ErrorCode.unknown_topic_or_partition
        )
    epoch = getattr(wanted, "current_leader_epoch", -1)
    if epoch != -1 and epoch != replica.leader_epoch:
        fenced = epoch < replica.leader_epoch
        return answer(ErrorCode.fenced_leader_epoch if fenced else ErrorCode.unknown_leader_epoch)
    debug = getattr(request, "replica_id", -1) == DEBUGGING_REPLICA_ID
    if not replica.is_leader and not debug:
        return answer(ErrorCode.not_leader_or_follower)
    if wanted.timestamp == LATEST and not replica.is_high_watermark_exposable:
        return answer(ErrorCode.offset_not_available)  # KIP-207: a new leader's HW is not known
    found = _lookup(replica, wanted.timestamp, committed)
    if wanted.timestamp == LATEST and not committed and not debug and replica.tracer is not None:
        from refka.core import trace  # only a traced core loads the events

        replica.tracer(trace.ReadHighWatermark(
            replica.replica_id, topic, wanted.partition_index, replica.leader_epoch,
            replica.high_watermark,
        ))  # fmt: skip
    if found is None:
        return answer(ErrorCode.none)
    offset, timestamp = found
    return answer(ErrorCode.none, offset, timestamp, _epoch_for(replica, offset))


def _lookup(replica: Replica, target: int, committed: bool) -> tuple[int, int] | None:
    fetchable = replica.last_stable_offset if committed else replica.high_watermark
    if target == LATEST:
        return fetchable, -1
    if target in (EARLIEST, EARLIEST_LOCAL):
        return replica.log_start_offset, -1
    if target == MAX_TIMESTAMP:
        offset, timestamp = replica.log.max_timestamp_and_offset()
        return None if offset < 0 or offset >= fetchable else (offset, timestamp)
    if target < 0:
        return None
    found = replica.log.offset_for_timestamp(target)
    if found is None or found[0] >= fetchable:
        return None
    return found


def _epoch_for(replica: Replica, offset: int) -> int:
    epoch = replica.epoch_cache.epoch_for_offset(offset)
    return replica.leader_epoch if epoch is None else epoch
