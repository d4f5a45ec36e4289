"""Fetch (v4+): read whole batches from segment files, long-poll, and send them zero-copy.

Limits as Kafka's (KIP-74): ``partition_max_bytes`` per partition and ``max_bytes`` for the
response, except that the first batch of the first partition with data is sent whole even when
it is larger, so a consumer always makes progress. The answer waits (a DelayedFetch in the
purgatory) until ``min_bytes`` are readable or ``max_wait_ms`` passes, unless a partition has an
error. Consumers read below the high watermark (read_uncommitted) or the last stable offset
(read_committed); KIP-320 fences a request whose ``current_leader_epoch`` is not ours.

The records of each partition leave as ``FileSlice``s: the response is encoded by kio with a
placeholder in each ``records`` field, and the placeholders are then replaced by the slices.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import PENDING, Encoded
from refka.core.effects import Chunk
from refka.log.file_slice import FileSlice
from refka.log.partition_log import OffsetOutOfRange
from refka.protocol import codec
from refka.protocol.varint import encode_uvarint

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.partitions import Partitions

KEY = 1
READ_COMMITTED = 1
_MARKER = b"\xfe\xffrefka-records:"  # + 4-byte index: 20 bytes that no other field can hold


@dataclass(frozen=True, slots=True)
class _PartitionRead:
    topic: str
    partition: int
    error_code: ErrorCode
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    slices: tuple[FileSlice, ...] = ()

    @property
    def size(self) -> int:
        return sum(s.size for s in self.slices)


def handle_fetch(partitions: Partitions, ctx: RequestContext, request: Any) -> Any:
    if getattr(request, "session_id", 0) != 0:  # sessions (KIP-227) exist from v7
        return _session_error(ctx, ErrorCode.fetch_session_id_not_found)
    reads = _read_all(partitions, request)
    max_wait_ms = int(request.max_wait.total_seconds() * 1000)
    ready = (
        max_wait_ms <= 0
        or not reads
        or sum(r.size for r in reads) >= request.min_bytes
        or any(r.error_code != ErrorCode.none for r in reads)
    )
    if ready:
        return _encode(ctx, reads, request.isolation_level == READ_COMMITTED)
    partitions.watch(DelayedFetch(partitions, ctx, request, ctx.now_ms + max_wait_ms))
    return PENDING


class DelayedFetch:
    """A Fetch waiting in the purgatory for ``min_bytes`` or its deadline."""

    def __init__(
        self, partitions: Partitions, ctx: RequestContext, request: Any, deadline_ms: int
    ) -> None:
        self.partitions, self.ctx, self.request, self.deadline_ms = (
            partitions,
            ctx,
            request,
            deadline_ms,
        )
        self.watched = frozenset(
            (t.topic, p.partition) for t in request.topics for p in t.partitions
        )

    def try_complete(self, now_ms: int, force: bool) -> Encoded | None:
        reads = _read_all(self.partitions, self.request)
        enough = sum(r.size for r in reads) >= self.request.min_bytes
        if force or enough or any(r.error_code != ErrorCode.none for r in reads):
            return _encode(self.ctx, reads, self.request.isolation_level == READ_COMMITTED)
        return None


def _read_all(partitions: Partitions, request: Any) -> list[_PartitionRead]:
    committed_only = request.isolation_level == READ_COMMITTED
    budget = request.max_bytes
    reads: list[_PartitionRead] = []
    first_data = True
    for topic in request.topics:
        for wanted in topic.partitions:
            limit = min(wanted.partition_max_bytes, budget)
            read = _read_partition(
                partitions, topic.topic, wanted, limit, first_data, committed_only
            )
            if read.slices:
                first_data = False
                budget = max(0, budget - read.size)
            reads.append(read)
    return reads


def _read_partition(
    partitions: Partitions,
    topic: str,
    wanted: Any,
    max_bytes: int,
    min_one: bool,
    committed_only: bool,
) -> _PartitionRead:
    replica = partitions.replica(topic, wanted.partition)
    if replica is None:
        return _PartitionRead(topic, wanted.partition, ErrorCode.unknown_topic_or_partition)
    epoch = getattr(wanted, "current_leader_epoch", -1)
    if epoch != -1 and epoch != replica.leader_epoch:
        error = (
            ErrorCode.fenced_leader_epoch
            if epoch < replica.leader_epoch
            else ErrorCode.unknown_leader_epoch
        )
        return _PartitionRead(topic, wanted.partition, error)
    try:
        result = replica.read(wanted.fetch_offset, max_bytes, min_one, committed_only)
    except OffsetOutOfRange:
        return _PartitionRead(topic, wanted.partition, ErrorCode.offset_out_of_range)
    return _PartitionRead(
        topic,
        wanted.partition,
        ErrorCode.none,
        result.high_watermark,
        result.last_stable_offset,
        result.log_start_offset,
        tuple(result.slices),
    )


def _session_error(ctx: RequestContext, error: ErrorCode) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    return codec.build(
        m.FetchResponse, throttle_time=codec.millis(0), error_code=error, session_id=0, responses=()
    )


def _encode(ctx: RequestContext, reads: list[_PartitionRead], committed: bool) -> Encoded:
    """The response, in the request's order of topics and partitions: consecutive partitions of
    one topic share a topic entry, and a topic the request interleaves appears once per run, as
    Kafka builds it. ``aborted_transactions`` is null unless the fetch is read_committed."""
    m = codec.response_module(KEY, ctx.api_version)
    slices_by_marker: list[tuple[FileSlice, ...]] = []
    runs: list[tuple[str, list[Any]]] = []
    for read in reads:
        records = b""
        if read.slices:
            records = _MARKER + struct.pack(">i", len(slices_by_marker))
            slices_by_marker.append(read.slices)
        if not runs or runs[-1][0] != read.topic:
            runs.append((read.topic, []))
        runs[-1][1].append(
            codec.build(
                m.PartitionData,
                partition_index=read.partition,
                error_code=read.error_code,
                high_watermark=read.high_watermark,
                last_stable_offset=read.last_stable_offset,
                log_start_offset=read.log_start_offset,
                aborted_transactions=() if committed else None,
                preferred_read_replica=-1,
                records=records,
            )
        )
    response = codec.build(
        m.FetchResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        session_id=0,
        responses=tuple(
            codec.build(m.FetchableTopicResponse, topic=name, partitions=tuple(parts))
            for name, parts in runs
        ),
    )
    body = codec.encode(response)
    flexible = m.FetchResponse.__flexible__
    return Encoded(_splice(body, slices_by_marker, flexible))


def _splice(
    body: bytes, slices_by_marker: list[tuple[FileSlice, ...]], flexible: bool
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
