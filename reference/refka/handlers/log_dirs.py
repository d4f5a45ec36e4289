"""DescribeLogDirs (key 35, v1-v5 as Kafka 4.x): the broker's log directory and its partitions
(KIP-113; volume sizes KIP-827, v4+).

One result per directory of ``log.dirs``. Each local partition log a request names (``topics``
null: every one) is listed under its directory with its size in bytes (the sum of its
segments) and ``offset_lag``, the high watermark minus the log end offset (never below 0, -1
for a log with no online replica); ``is_future_key`` is always false: AlterReplicaLogDirs copies
and swaps in one step, so no future replica is ever seen. Topics with
none of the named partitions here are left out, as Kafka does. A log dir taken offline by an
I/O error answers KAFKA_STORAGE_ERROR with no topics. ``is_cordoned`` (v5) is false.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec
from refka.security.api_acls import CLUSTER, allowed

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.log.partition_log import PartitionLog
    from refka.replication.replica_manager import ReplicaManager

KEY = 35
INVALID_OFFSET_LAG = -1

TopicPartition = tuple[str, int]


def handle_describe_log_dirs(replicas: ReplicaManager, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    if not allowed(ctx, CLUSTER):  # DESCRIBE on the CLUSTER: no log dirs, the error (v3+)
        return codec.build(
            m.DescribeLogDirsResponse,
            throttle_time=codec.millis(0),
            error_code=ErrorCode.cluster_authorization_failed,
            results=(),
        )
    offline = replicas.offline_log_dir is not None
    wanted = _wanted(request.topics, replicas.logs.logs)
    results = []
    for index, volume in enumerate(replicas.logs.volumes()):
        here = [(tp, log) for tp, log in wanted if replicas.logs.dir_index(*tp) == index]
        results.append(
            codec.build(
                m.DescribeLogDirsResult,
                error_code=ErrorCode.kafka_storage_error if offline else ErrorCode.none,
                log_dir=volume.path,
                topics=() if offline else _topics(m, replicas, here),
                total_bytes=volume.total_bytes,
                usable_bytes=volume.usable_bytes,
                is_cordoned=False,
            )
        )
    return codec.build(
        m.DescribeLogDirsResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        results=tuple(results),
    )


def _wanted(
    topics: Iterable[Any] | None, logs: dict[TopicPartition, PartitionLog]
) -> list[tuple[TopicPartition, PartitionLog]]:
    if topics is None:
        return sorted(logs.items())
    named = {(t.topic, int(p)) for t in topics for p in t.partitions}
    return sorted((tp, log) for tp, log in logs.items() if tp in named)


def _topics(
    m: Any, replicas: ReplicaManager, wanted: list[tuple[TopicPartition, PartitionLog]]
) -> tuple[Any, ...]:
    by_topic: dict[str, list[Any]] = {}
    for (topic, index), log in wanted:
        replica = replicas.replicas.get((topic, index))
        lag = (
            INVALID_OFFSET_LAG
            if replica is None
            else max(replica.high_watermark - log.log_end_offset, 0)
        )
        by_topic.setdefault(topic, []).append(
            codec.build(
                m.DescribeLogDirsPartition,
                partition_index=index,
                partition_size=log.size_in_bytes,
                offset_lag=lag,
                is_future_key=False,
            )
        )
    return tuple(
        codec.build(m.DescribeLogDirsTopic, name=name, partitions=tuple(found))
        for name, found in by_topic.items()
    )
