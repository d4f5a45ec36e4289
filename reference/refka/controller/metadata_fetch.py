"""Fetch of ``__cluster_metadata-0`` from the controller, as a KRaft leader answers it (KIP-595).

Brokers (observers) fetch the metadata log with ``fetch_offset`` and ``last_fetched_epoch``;
the answer carries the records up to the high watermark, the high watermark, and the current
leader. A fetch with nothing new waits (a ``DelayedMetadataFetch`` in the purgatory) until a
commit or ``max_wait_ms``. A fetch offset past the log end is answered with a
``diverging_epoch`` (the log end of the epoch), so the fetcher truncates, as KRaft does; a
fetch below the log start would get a ``snapshot_id`` (never: this log keeps its prefix).
Errors: INCONSISTENT_CLUSTER_ID, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH against the
controller's epoch, INVALID_REQUEST for negative offsets or epochs,
UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID for anything but the metadata partition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController

FETCH = 1
METADATA_TOPIC = "__cluster_metadata"
METADATA_TOPIC_ID = uuid.UUID(int=1)  # Kafka's Uuid.METADATA_TOPIC_ID, "AAAAAAAAAAAAAAAAAAAAAQ"
WATCHED = frozenset({(METADATA_TOPIC, 0)})


def handle_fetch(controller: QuorumController, ctx: RequestContext, request: Any) -> Any:
    cluster_id = getattr(request, "cluster_id", None)
    if cluster_id is not None and cluster_id != controller.settings.cluster_id:
        return _response(ctx, ErrorCode.inconsistent_cluster_id, ())
    wanted = _wanted(request)
    replica_id = _replica_id(request)
    if wanted is not None and replica_id != controller.node_id:  # an observer (DescribeQuorum)
        end = int(controller.log.end_offset)
        controller.quorum.on_fetch(replica_id, wanted.fetch_offset, end, ctx.now_ms)
    if wanted is None or _has_new_data(controller, wanted) or request.max_wait.total_seconds() <= 0:
        return answer(controller, ctx, request)
    max_wait_ms = int(request.max_wait.total_seconds() * 1000)
    controller.wait_for_metadata(
        DelayedMetadataFetch(controller, ctx, request, ctx.now_ms + max_wait_ms)
    )
    from refka.core.context import PENDING

    return PENDING


@dataclass(slots=True)
class DelayedMetadataFetch:
    """A long-poll on the metadata log: completes on a commit or at its deadline."""

    controller: QuorumController
    ctx: RequestContext
    request: Any
    deadline_ms: int
    watched: frozenset[tuple[str, int]] = field(default=WATCHED)

    def try_complete(self, now_ms: int, force: bool) -> object | None:
        wanted = _wanted(self.request)
        if force or wanted is None or _has_new_data(self.controller, wanted):
            return answer(self.controller, self.ctx, self.request)
        return None


def _replica_id(request: Any) -> int:
    state = getattr(request, "replica_state", None)
    return int(state.replica_id if state is not None else getattr(request, "replica_id", -1))


def _wanted(request: Any) -> Any | None:
    """The metadata partition's fetch data, when the request asks for exactly that."""
    for topic in request.topics:
        for partition in topic.partitions:
            if _is_metadata(topic) and partition.partition == 0:
                return partition
    return None


def _is_metadata(topic: Any) -> bool:
    name = getattr(topic, "topic", None)
    return name == METADATA_TOPIC or getattr(topic, "topic_id", None) == METADATA_TOPIC_ID


def _has_new_data(controller: QuorumController, partition: Any) -> bool:
    return bool(partition.fetch_offset != controller.log.end_offset)


def answer(controller: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(FETCH, ctx.api_version)
    topics = []
    for topic in request.topics:
        parts = tuple(_partition(controller, m, topic, p) for p in topic.partitions)
        topics.append(
            codec.build(
                m.FetchableTopicResponse,
                topic=getattr(topic, "topic", None),
                topic_id=getattr(topic, "topic_id", None),
                partitions=parts,
            )
        )
    return _response(ctx, ErrorCode.none, tuple(topics))


def _response(ctx: RequestContext, error: ErrorCode, topics: tuple[Any, ...]) -> Any:
    m = codec.response_module(FETCH, ctx.api_version)
    return codec.build(
        m.FetchResponse,
        throttle_time=codec.millis(0),
        error_code=error,
        session_id=0,
        responses=topics,
        node_endpoints=(),
    )


def _partition(controller: QuorumController, m: Any, topic: Any, p: Any) -> Any:
    log = controller.log
    hw = int(log.end_offset)
    epoch = controller.epoch
    fields: dict[str, Any] = {
        "partition_index": p.partition,
        "high_watermark": hw,
        "last_stable_offset": hw,
        "log_start_offset": int(log.start_offset),
        "aborted_transactions": None,
        "preferred_read_replica": -1,
        "records": None,
        "current_leader": _nested(
            m, "LeaderIdAndEpoch", leader_id=controller.node_id, leader_epoch=epoch
        ),
    }
    error = _check(controller, topic, p)
    if error is not ErrorCode.none:
        fields["high_watermark"] = fields["last_stable_offset"] = -1
        return codec.build(m.PartitionData, error_code=error, **fields)
    if p.fetch_offset > hw:  # past our end: tell the fetcher where the epoch ends
        fields["diverging_epoch"] = _nested(m, "EpochEndOffset", epoch=epoch, end_offset=hw)
        return codec.build(m.PartitionData, error_code=ErrorCode.none, **fields)
    if p.fetch_offset < log.start_offset:  # not yet: the log keeps its prefix
        snapshot = log.snapshots()[-1]
        fields["snapshot_id"] = _nested(m, "SnapshotId", end_offset=snapshot[0], epoch=snapshot[1])
        return codec.build(m.PartitionData, error_code=ErrorCode.none, **fields)
    slices, _ = log.read(p.fetch_offset, p.partition_max_bytes)
    fields["records"] = log.read_bytes(slices) if slices else None
    return codec.build(m.PartitionData, error_code=ErrorCode.none, **fields)


def _nested(m: Any, name: str, **values: Any) -> Any:
    """The response's nested entity ``name``, or None in a version without it (before v12 a
    Fetch response has no current leader, diverging epoch or snapshot id)."""
    cls = getattr(m, name, None)
    return None if cls is None else codec.build(cls, **values)


def _check(controller: QuorumController, topic: Any, p: Any) -> ErrorCode:
    if not _is_metadata(topic):
        if getattr(topic, "topic_id", None) is not None:
            return ErrorCode.unknown_topic_id
        return ErrorCode.unknown_topic_or_partition
    if p.partition != 0:
        return ErrorCode.unknown_topic_or_partition
    last_fetched_epoch = getattr(p, "last_fetched_epoch", -1)  # v12+
    if p.fetch_offset < 0 or (last_fetched_epoch < 0 and p.fetch_offset > 0):
        return ErrorCode.invalid_request
    leader_epoch = getattr(p, "current_leader_epoch", -1)  # v9+
    if leader_epoch > controller.epoch:
        return ErrorCode.unknown_leader_epoch
    if 0 <= leader_epoch < controller.epoch:
        return ErrorCode.fenced_leader_epoch
    return ErrorCode.none
