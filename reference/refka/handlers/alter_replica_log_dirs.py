"""AlterReplicaLogDirs (key 34, v1-v2 as Kafka 4.x): move a partition's replica to another
directory of ``log.dirs`` on this broker (KIP-113).

Each (directory, partition) pair is answered on its own, in Kafka's order of checks: a path
that is not exactly the absolute path of one of ``log.dirs`` gets LOG_DIR_NOT_FOUND; an offline
log dir KAFKA_STORAGE_ERROR; a partition this broker has no replica of REPLICA_NOT_AVAILABLE if
the cluster has it, else UNKNOWN_TOPIC_OR_PARTITION, and the directory is remembered: the
replica is created there if it comes to this broker later (Kafka's preferred log dir). A
replica already in that directory is left there (NONE); otherwise ``LogManager.move`` copies it
to a ``-future`` folder there and swaps. Without ALTER on the CLUSTER every partition gets
CLUSTER_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec
from refka.security.api_acls import CLUSTER, allowed

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.replication.replica_manager import ReplicaManager

KEY = 34


def handle_alter_replica_log_dirs(
    replicas: ReplicaManager, ctx: RequestContext, request: Any
) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    permitted = allowed(ctx, CLUSTER)
    by_topic: dict[str, list[Any]] = {}
    for wanted in request.dirs:
        for topic in wanted.topics:
            for partition in topic.partitions:
                error = (
                    _alter(replicas, wanted.path, topic.name, int(partition))
                    if permitted
                    else ErrorCode.cluster_authorization_failed
                )
                by_topic.setdefault(topic.name, []).append(
                    codec.build(
                        m.AlterReplicaLogDirPartitionResult,
                        partition_index=partition,
                        error_code=error,
                    )
                )
    return codec.build(
        m.AlterReplicaLogDirsResponse,
        throttle_time=codec.millis(0),
        results=tuple(
            codec.build(m.AlterReplicaLogDirTopicResult, topic_name=name, partitions=tuple(found))
            for name, found in by_topic.items()
        ),
    )


def _alter(replicas: ReplicaManager, path: str, topic: str, partition: int) -> ErrorCode:
    paths = replicas.logs.dir_paths()
    if path not in paths:
        return ErrorCode.log_dir_not_found
    if replicas.offline_log_dir is not None:
        return ErrorCode.kafka_storage_error
    if replicas.logs.get(topic, partition) is None:
        replicas.logs.prefer_dir(topic, partition, paths.index(path))
        return replicas.not_hosted_for_log_dirs(topic, partition)
    try:
        replicas.logs.move(topic, partition, paths.index(path))
    except OSError as error:
        replicas.handle_log_dir_failure(error)
        return ErrorCode.kafka_storage_error
    return ErrorCode.none
