"""DeleteRecords (key 21, v0-v2 as Kafka 4.x): move a partition's log start offset (KIP-107).

The leader raises its log start offset to the requested offset (-1: the high watermark); records
below it are no longer readable (a fetch there is OFFSET_OUT_OF_RANGE, ListOffsets EARLIEST
answers it), the segments wholly below it go at the next retention pass, and the offset is kept
in the ``log-start-offset-checkpoint`` file. Followers raise theirs to the leader's from Fetch's
``log_start_offset``. As Kafka answers: an offset above the high watermark, or negative other
than -1, is OFFSET_OUT_OF_RANGE; a topic whose ``cleanup.policy`` lacks ``delete`` is
POLICY_VIOLATION; only the leader deletes (NOT_LEADER_OR_FOLLOWER).

The answer's ``low_watermark`` is the lowest log start offset among the leader and its
followers on live brokers (those it has heard theirs from, in their fetches); the request waits
(up to its ``timeout``: REQUEST_TIMED_OUT) until it reaches the requested offset, as Kafka's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import PENDING
from refka.protocol import codec
from refka.security.api_acls import TOPIC, allowed

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.replication.replica_manager import ReplicaManager

KEY = 21
TopicPartition = tuple[str, int]
HIGH_WATERMARK = -1  # the requested offset meaning "up to the high watermark"


def handle_delete_records(replicas: ReplicaManager, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    results: dict[TopicPartition, tuple[ErrorCode, int]] = {}
    waiting: dict[TopicPartition, int] = {}
    for topic in request.topics:
        for p in topic.partitions:
            tp = (topic.name, p.partition_index)
            if not allowed(ctx, TOPIC, topic.name):
                results[tp] = (ErrorCode.topic_authorization_failed, -1)
                continue
            results[tp] = delete_records(replicas, topic.name, p.partition_index, p.offset)
            if results[tp][0] == ErrorCode.none:
                waiting[tp] = results[tp][1]

    def respond(answered: dict[TopicPartition, tuple[ErrorCode, int]]) -> Any:
        return _response(m, request, answered)

    timeout_ms = int(request.timeout.total_seconds() * 1000)
    operation = DelayedDeleteRecords(
        ctx, ctx.now_ms + timeout_ms, results, waiting, replicas, respond
    )
    answer = operation.try_complete(ctx.now_ms, force=False)
    if answer is not None:
        return answer
    replicas.purgatory.watch(operation)
    return PENDING


def _response(m: Any, request: Any, answered: dict[TopicPartition, tuple[ErrorCode, int]]) -> Any:
    topics = tuple(
        codec.build(
            m.DeleteRecordsTopicResult,
            name=topic.name,
            partitions=tuple(
                codec.build(
                    m.DeleteRecordsPartitionResult,
                    partition_index=p.partition_index,
                    low_watermark=answered[(topic.name, p.partition_index)][1],
                    error_code=answered[(topic.name, p.partition_index)][0],
                )
                for p in topic.partitions
            ),
        )
        for topic in request.topics
    )
    return codec.build(m.DeleteRecordsResponse, throttle_time=codec.millis(0), topics=topics)


class DelayedDeleteRecords:
    """A DeleteRecords waiting until each partition's low watermark reaches its requested
    offset (a purgatory DelayedOperation, Kafka's ``DelayedDeleteRecords``): the followers
    learn the new log start offset on their next fetch and report it on the one after."""

    def __init__(
        self,
        ctx: RequestContext,
        deadline_ms: int,
        results: dict[TopicPartition, tuple[ErrorCode, int]],
        waiting: dict[TopicPartition, int],
        replicas: ReplicaManager,
        respond: Callable[[dict[TopicPartition, tuple[ErrorCode, int]]], Any],
    ) -> None:
        self.ctx = ctx
        self.deadline_ms = deadline_ms
        self.results = results
        self.waiting = waiting
        self.replicas = replicas
        self.respond = respond
        self.watched = frozenset(waiting)

    def try_complete(self, now_ms: int, force: bool) -> Any:
        for tp, required in list(self.waiting.items()):
            replica = self.replicas.replica(*tp)
            if replica is None or not replica.is_leader:
                self.results[tp] = (ErrorCode.not_leader_or_follower, -1)
                del self.waiting[tp]
                continue
            low_watermark = self.replicas.low_watermark(replica)
            self.results[tp] = (ErrorCode.none, low_watermark)
            if low_watermark >= required:
                del self.waiting[tp]
        if self.waiting and not force:
            return None
        for tp in self.waiting:
            self.results[tp] = (ErrorCode.request_timed_out, self.results[tp][1])
        self.waiting = {}
        return self.respond(self.results)


def delete_records(
    replicas: ReplicaManager, topic: str, index: int, offset: int
) -> tuple[ErrorCode, int]:
    """(error, the offset to wait for) of deleting the records of ``topic``-``index`` below
    ``offset``: the leader's log start offset moves there at once."""
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
    return ErrorCode.none, target
