"""OffsetForLeaderEpoch (key 23, v2-v4 as Kafka 4.x): the end offset of a leader epoch.

A follower asks it while truncating (KIP-101, KIP-279: Replication.tla ``LeaderEndOffsetFor``);
a consumer asks it after a leader change to detect a truncated log (KIP-320). The answer is the
largest epoch <= the requested one in the leader's leader-epoch cache and the first offset after
it (the log end offset for the leader's latest epoch), or (-1, -1) when the log knows no such
epoch. ``current_leader_epoch`` is fenced as Fetch does (FENCED_LEADER_EPOCH /
UNKNOWN_LEADER_EPOCH); only the leader answers (NOT_LEADER_OR_FOLLOWER), except a request with
replica id -2 (Kafka's debugging replica id), which any replica answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec
from refka.security.api_acls import CLUSTER, TOPIC, allowed

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.replication.replica_manager import ReplicaManager

KEY = 23
MIN_VERSION = 2
MAX_VERSION = 4
DEBUGGING_REPLICA_ID = -2


def handle(replica_manager: ReplicaManager, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    only_leader = getattr(request, "replica_id", -1) != DEBUGGING_REPLICA_ID
    follower = getattr(request, "replica_id", -1) >= 0  # CLUSTER_ACTION, as for Fetch
    topics = []
    for topic in request.topics:
        partitions = []
        may = allowed(ctx, CLUSTER) if follower else allowed(ctx, TOPIC, topic.topic)
        for wanted in topic.partitions:
            error, epoch, end_offset = (
                replica_manager.offset_for_leader_epoch(
                    topic.topic,
                    wanted.partition,
                    wanted.current_leader_epoch,
                    wanted.leader_epoch,
                    only_leader,
                )
                if may
                else (ErrorCode.topic_authorization_failed, -1, -1)
            )
            partitions.append(
                codec.build(
                    m.EpochEndOffset,
                    error_code=error,
                    partition=wanted.partition,
                    leader_epoch=epoch,
                    end_offset=end_offset,
                )
            )
        topics.append(
            codec.build(
                m.OffsetForLeaderTopicResult, topic=topic.topic, partitions=tuple(partitions)
            )
        )
    return codec.build(
        m.OffsetForLeaderEpochResponse, throttle_time=codec.millis(0), topics=tuple(topics)
    )
