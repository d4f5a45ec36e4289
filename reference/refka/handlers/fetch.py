"""Fetch (v4+): read whole batches from segment files, long-poll, and send them zero-copy.

Limits as Kafka's (KIP-74): ``partition_max_bytes`` per partition and ``max_bytes`` for the
response, except that the first batch of the first partition with data is sent whole even when
it is larger, so a consumer always makes progress. The answer waits (a DelayedFetch in the
purgatory) until ``min_bytes`` are readable or ``max_wait_ms`` passes, unless a partition has an
error. Consumers read below the high watermark (read_uncommitted) or the last stable offset
(read_committed); KIP-320 fences a request whose ``current_leader_epoch`` is not ours.
From v13 topics are named by id (KIP-516; an unknown id: UNKNOWN_TOPIC_ID); from v16 an answer
that names the leader (KIP-951) carries the leader's endpoint. From v18 a follower tells its
high watermark (KIP-1166): one behind the leader's is answered at once, not parked, so that the
follower learns the new high watermark without waiting for new records.

The records of each partition leave as ``FileSlice``s: the response is encoded by kio with a
placeholder in each ``records`` field, and the placeholders are then replaced by the slices.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from kio.schema.errors import ErrorCode

from refka.core.context import PENDING, Encoded, RequestContext
from refka.core.effects import Chunk
from refka.core.partitions import Partitions
from refka.handlers.produce import node_endpoints
from refka.log.file_slice import FileSlice
from refka.protocol import codec
from refka.protocol.varint import encode_uvarint
from refka.replication.replica_manager import PartitionRead, ReplicaManager
from refka.security.api_acls import CLUSTER, TOPIC, allowed

KEY = 1
READ_COMMITTED = 1
_HW_NOT_SENT = (1 << 63) - 1  # a follower's high watermark before v18 (KIP-1166's default)
_MARKER = b"\xfe\xffrefka-records:"  # + 4-byte index: 20 bytes that no other field can hold
_STAND_IN = b"\xfe\xffrefka-partitions:"  # + 4-byte index: a topic's partitions go there


class _Shape(NamedTuple):
    """One partition of a response, its records aside: what its encoding depends on (a
    tuple, so that hashing it for ``_body`` is cheap)."""

    topic: str
    topic_id: Any
    partition: int
    error_code: ErrorCode
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    has_records: bool = False
    leader: tuple[int, int] | None = None  # KIP-951: (leader id, epoch) with an error
    diverging_epoch: tuple[int, int] | None = None  # (epoch, end offset) to a follower
    aborted: tuple[tuple[int, int], ...] = ()  # read_committed: (producer id, first offset)


class _PartitionRead(NamedTuple):
    shape: _Shape
    slices: Sequence[FileSlice] = ()
    follower_behind: bool = False  # KIP-1166: the follower's high watermark is behind ours

    @property
    def size(self) -> int:
        return sum(s.size for s in self.slices) if self.slices else 0

    @property
    def error_code(self) -> ErrorCode:
        return self.shape.error_code

    @property
    def leader(self) -> tuple[int, int] | None:
        return self.shape.leader


def handle_fetch(
    partitions: Partitions, replicas: ReplicaManager, ctx: RequestContext, request: Any
) -> Any:
    if getattr(request, "session_id", 0) != 0:  # sessions (KIP-227) exist from v7
        return _session_error(ctx, ErrorCode.fetch_session_id_not_found)
    reads = _read_all(replicas, ctx, request, ctx.now_ms)
    max_wait_ms = int(request.max_wait.total_seconds() * 1000)
    ready = (
        max_wait_ms <= 0
        or not reads
        or sum(r.size for r in reads) >= request.min_bytes
        or any(r.error_code != ErrorCode.none or r.follower_behind for r in reads)
    )
    if ready:
        return _encode(ctx, replicas, reads, request.isolation_level == READ_COMMITTED)
    partitions.watch(DelayedFetch(replicas, ctx, request, ctx.now_ms + max_wait_ms))
    return PENDING


class DelayedFetch:
    """A Fetch waiting in the purgatory for ``min_bytes`` or its deadline."""

    def __init__(
        self, replicas: ReplicaManager, ctx: RequestContext, request: Any, deadline_ms: int
    ) -> None:
        self.replicas, self.ctx, self.request, self.deadline_ms = (
            replicas,
            ctx,
            request,
            deadline_ms,
        )
        self.watched = frozenset(
            (name, p.partition)
            for t, name in zip(request.topics, _topic_names(replicas, request), strict=True)
            for p in t.partitions
        )

    def try_complete(self, now_ms: int, force: bool) -> Encoded | None:
        reads = _read_all(self.replicas, self.ctx, self.request, now_ms)
        enough = sum(r.size for r in reads) >= self.request.min_bytes
        if (
            force
            or enough
            or any(r.error_code != ErrorCode.none or r.follower_behind for r in reads)
        ):
            return _encode(
                self.ctx, self.replicas, reads, self.request.isolation_level == READ_COMMITTED
            )
        return None


def _read_all(
    replicas: ReplicaManager, ctx: RequestContext, request: Any, now_ms: int
) -> list[_PartitionRead]:
    committed_only = request.isolation_level == READ_COMMITTED
    follower = _follower_id(request)
    follower_epoch = _follower_epoch(request)
    budget = request.max_bytes
    reads: list[_PartitionRead] = []
    first_data = True
    follower_allowed = follower < 0 or allowed(ctx, CLUSTER)
    for topic, name in zip(request.topics, _topic_names(replicas, request), strict=True):
        topic_id = getattr(topic, "topic_id", None)
        may_read = follower_allowed if follower >= 0 else (not name or allowed(ctx, TOPIC, name))
        for wanted in topic.partitions:
            if not name or not may_read:
                error = ErrorCode.topic_authorization_failed if name else ErrorCode.unknown_topic_id
                reads.append(_PartitionRead(_Shape(name, topic_id, wanted.partition, error)))
                continue
            limit = min(wanted.partition_max_bytes, budget)
            if follower >= 0:
                found = replicas.fetch_for_follower(
                    name,
                    wanted.partition,
                    follower,
                    getattr(wanted, "current_leader_epoch", -1),
                    wanted.fetch_offset,
                    getattr(wanted, "last_fetched_epoch", -1),
                    limit,
                    first_data,
                    now_ms,
                    follower_epoch,
                    getattr(wanted, "log_start_offset", -1),
                )
            else:
                found = replicas.read_for_consumer(
                    name,
                    wanted.partition,
                    getattr(wanted, "current_leader_epoch", -1),
                    wanted.fetch_offset,
                    limit,
                    first_data,
                    committed_only,
                    fetch_only_from_leader=ctx.api_version < 11,
                )
            read = _partition_read(name, topic_id, wanted.partition, found)
            if follower >= 0 and found.read is not None:
                known = getattr(wanted, "high_watermark", _HW_NOT_SENT)
                read = read._replace(follower_behind=known < found.read.high_watermark)
            if read.slices:
                first_data = False
                budget = max(0, budget - read.size)
            reads.append(read)
    return reads


def _topic_names(replicas: ReplicaManager, request: Any) -> list[str]:
    """Each requested topic's name ("" for a topic id this broker does not know)."""
    names = []
    for topic in request.topics:
        name = getattr(topic, "topic", None)
        if name is None:
            known = (
                None if replicas.image is None else replicas.image.topics_by_id.get(topic.topic_id)
            )
            name = "" if known is None else known.name
        names.append(name)
    return names


def _follower_id(request: Any) -> int:
    """The fetching replica's id (``replica_id`` to v14, ``replica_state`` from v15); -1 for
    a consumer."""
    state = getattr(request, "replica_state", None)
    if state is not None:
        return int(state.replica_id)
    return int(getattr(request, "replica_id", -1))


def _follower_epoch(request: Any) -> int:
    state = getattr(request, "replica_state", None)
    return -1 if state is None else int(state.replica_epoch)


def _partition_read(
    topic: str, topic_id: Any, partition: int, found: PartitionRead
) -> _PartitionRead:
    if found.error_code != ErrorCode.none or found.read is None:
        leader = (found.leader_id, found.leader_epoch) if found.leader_id >= 0 else None
        return _PartitionRead(_Shape(topic, topic_id, partition, found.error_code, leader=leader))
    result = found.read
    shape = _Shape(
        topic,
        topic_id,
        partition,
        ErrorCode.none,
        result.high_watermark,
        result.last_stable_offset,
        result.log_start_offset,
        bool(result.slices),
        None,
        found.diverging_epoch,
        result.aborted,
    )
    return _PartitionRead(shape, result.slices)


def _session_error(ctx: RequestContext, error: ErrorCode) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    return codec.build(
        m.FetchResponse, throttle_time=codec.millis(0), error_code=error, session_id=0, responses=()
    )


def _encode(
    ctx: RequestContext, replicas: ReplicaManager, reads: list[_PartitionRead], committed: bool
) -> Encoded:
    """The response: its body (with a placeholder for each partition's records) is a function
    of the partitions' fields alone, so it is encoded once and reused while they do not change:
    a follower's fetch of idle partitions gets the same answer every ``replica.fetch.wait.max.ms``
    (Kafka keeps the unchanged partitions out of a session's incremental answer, KIP-227)."""
    m = codec.response_module(KEY, ctx.api_version)
    leaders = {r.leader[0] for r in reads if r.leader}
    endpoints = node_endpoints(m, replicas, leaders, ctx.listener) if leaders else ()
    shapes = tuple(r.shape for r in reads)
    body = _body(ctx.api_version, committed, shapes, endpoints)
    slices_by_marker = [r.slices for r in reads if r.slices]
    return Encoded(_splice(body, slices_by_marker, m.FetchResponse.__flexible__))


@lru_cache(maxsize=1024)
def _body(
    api_version: int,
    committed: bool,
    shapes: tuple[_Shape, ...],
    endpoints: tuple[Any, ...],
) -> bytes:
    """The encoded body, in the request's order of topics and partitions: consecutive
    partitions of one topic share a topic entry, and a topic the request interleaves appears
    once per run, as Kafka builds it. The n-th partition with records holds placeholder n.

    Assembled from pieces kio encodes: the response with one stand-in partition per topic
    (``_skeleton``) and each partition (``_partition``), both remembered, so that a change to
    one partition re-encodes that partition only (``codec.fill_arrays``)."""
    runs: list[tuple[tuple[str, Any], list[_Shape]]] = []
    for read in shapes:
        if not runs or runs[-1][0] != (read.topic, read.topic_id):
            runs.append(((read.topic, read.topic_id), []))
        runs[-1][1].append(read)
    arrays: list[list[bytes]] = []
    markers = 0
    for _, reads in runs:
        arrays.append([])
        for read in reads:
            arrays[-1].append(_partition(api_version, committed, read, markers))
            markers += read.has_records
    return codec.fill_arrays(
        _skeleton(api_version, tuple(topic for topic, _ in runs), endpoints),
        [_stand_in(api_version, i) for i in range(len(runs))],
        arrays,
        codec.response_module(KEY, api_version).FetchResponse.__flexible__,
    )


@lru_cache(maxsize=256)
def _skeleton(
    api_version: int, topics: tuple[tuple[str, Any], ...], endpoints: tuple[Any, ...]
) -> bytes:
    """The response with topic ``i``'s partitions replaced by stand-in ``i``."""
    m = codec.response_module(KEY, api_version)
    return codec.encode(
        codec.build(
            m.FetchResponse,
            throttle_time=codec.millis(0),
            error_code=ErrorCode.none,
            session_id=0,
            responses=tuple(
                codec.build(
                    m.FetchableTopicResponse,
                    topic=name,
                    topic_id=topic_id,
                    partitions=(_stand_in_entity(m, i),),
                )
                for i, (name, topic_id) in enumerate(topics)
            ),
            node_endpoints=endpoints,
        )
    )


@lru_cache(maxsize=64)
def _stand_in(api_version: int, index: int) -> bytes:
    return codec.encode(_stand_in_entity(codec.response_module(KEY, api_version), index))


def _stand_in_entity(m: Any, index: int) -> Any:
    return codec.build(
        m.PartitionData,
        partition_index=-1,
        error_code=ErrorCode.none,
        high_watermark=-1,
        last_stable_offset=-1,
        log_start_offset=-1,
        aborted_transactions=None,
        preferred_read_replica=-1,
        records=_STAND_IN + struct.pack(">i", index),
    )


@lru_cache(maxsize=4096)
def _partition(api_version: int, committed: bool, read: _Shape, marker: int) -> bytes:
    """One partition's entry; its records are placeholder ``marker`` if it has any.
    ``aborted_transactions`` is null unless the fetch is read_committed."""
    m = codec.response_module(KEY, api_version)
    records = _MARKER + struct.pack(">i", marker) if read.has_records else b""
    return codec.encode(
        codec.build(
            m.PartitionData,
            partition_index=read.partition,
            error_code=read.error_code,
            high_watermark=read.high_watermark,
            last_stable_offset=read.last_stable_offset,
            log_start_offset=read.log_start_offset,
            aborted_transactions=_aborted(m, read.aborted) if committed else None,
            preferred_read_replica=-1,
            records=records,
            **_tagged(m, read),
        )
    )


def _aborted(m: Any, aborted: tuple[tuple[int, int], ...]) -> tuple[Any, ...]:
    """The aborted transactions a read_committed consumer must skip (KIP-98)."""
    return tuple(
        codec.build(m.AbortedTransaction, producer_id=producer_id, first_offset=first_offset)
        for producer_id, first_offset in aborted
    )


def _tagged(m: Any, read: _Shape) -> dict[str, Any]:
    """The optional fields: the diverging epoch (v12+) and the current leader (KIP-951)."""
    extra: dict[str, Any] = {}
    if read.diverging_epoch is not None and hasattr(m, "EpochEndOffset"):
        epoch, end_offset = read.diverging_epoch
        extra["diverging_epoch"] = codec.build(m.EpochEndOffset, epoch=epoch, end_offset=end_offset)
    if read.leader is not None and hasattr(m, "LeaderIdAndEpoch"):
        leader_id, leader_epoch = read.leader
        extra["current_leader"] = codec.build(
            m.LeaderIdAndEpoch, leader_id=leader_id, leader_epoch=leader_epoch
        )
    return extra


def _splice(
    body: bytes, slices_by_marker: list[Sequence[FileSlice]], flexible: bool
) -> tuple[Chunk, ...]:
    """Replace each placeholder and its length prefix with the real length and the slices.

    Placeholders are found in the order they stand in ``body``, whatever order they were
    numbered in; each carries the index of its slices."""
    if not slices_by_marker:
        return (body,)
    placeholder = len(_MARKER) + 4
    prefix = 1 if flexible else 4  # uvarint(21) is one byte; int32 is four
    chunks: list[Chunk] = []
    position = 0
    for _ in slices_by_marker:
        at = body.index(_MARKER, position)
        (index,) = struct.unpack_from(">i", body, at + len(_MARKER))
        slices = slices_by_marker[index]
        size = sum(s.size for s in slices)
        length = encode_uvarint(size + 1) if flexible else struct.pack(">i", size)
        chunks.append(body[position : at - prefix] + length)
        chunks.extend(slices)
        position = at + placeholder
    chunks.append(body[position:])
    return tuple(chunks)
