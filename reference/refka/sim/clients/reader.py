"""A reader for the simulator: every partition of one topic from offset 0, no group, at an
isolation level (KIP-98).

``poll`` sends one Fetch v12 round (``isolation_level`` 0 read_uncommitted or 1
read_committed, ``current_leader_epoch`` as KIP-320 asks) to the leaders of the partitions.
At read_committed the broker answers up to the last stable offset with the partition's
``aborted_transactions``; the reader drops the records of those transactions as the Java
consumer's ``CompletedFetch`` does: a producer's transaction is aborted from its listed first
offset until that producer's ABORT marker. Control batches are never returned.

History: ``read invoke``, then ``read ok`` with the ``reads`` ``(topic, partition, offset,
value)`` of the round, in log order per partition.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import partial
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i32, i32Timedelta, i64

from refka.core.effects import Effect
from refka.core.network_client import ClientResponse
from refka.protocol.records import InvalidRecordError, iter_batches, iter_records
from refka.protocol.txn_markers import ABORT, read_marker
from refka.sim.clients.consumer import MAX_PARTITION_BYTES, STALE_LEADER
from refka.sim.clients.node import ClientNode
from refka.sim.clients.wire import decode_value
from refka.sim.history import History, Read

READ_UNCOMMITTED, READ_COMMITTED = 0, 1


class SimReader(ClientNode):
    """Reads every partition of its topic, in order, at ``isolation_level``."""

    kind = "reader"

    def __init__(
        self,
        client_id: int,
        brokers: Sequence[int],
        topic: str,
        isolation_level: int,
        history: History,
        **options: int,
    ) -> None:
        super().__init__(client_id, brokers, topic, history, **options)
        self.isolation_level = isolation_level
        self.positions: dict[int, int] = {}
        self.bounds: dict[int, int] = {}  # the last stable offset (or HW) each fetch named
        self.rounds = 0
        self._pending = 0  # fetches of the round in flight
        self._wanted = False  # a round asked for and not started yet (no metadata yet)
        self._reads: list[Read] = []

    def poll(self, now_ms: int) -> list[Effect]:
        """One fetch round (none if one is still in flight), once the leaders are known."""
        self._wanted = self._pending == 0
        return self._step(now_ms)

    def _pump(self, now_ms: int) -> None:
        self._refresh_metadata(now_ms)
        if self._wanted and self.partition_count:
            self._wanted = False
            self._start_round(now_ms)

    def caught_up(self) -> bool:
        """No round in flight, and every partition read up to the bound its last fetch named
        (the last stable offset at read_committed, the high watermark else)."""
        return (
            self._pending == 0
            and self.partition_count > 0
            and all(
                p in self.bounds and self.positions.get(p, 0) >= self.bounds[p]
                for p in range(self.partition_count)
            )
        )

    def _start_round(self, now_ms: int) -> None:
        by_leader: dict[int, list[FetchPartition]] = {}
        for partition in range(self.partition_count):
            leader = self.leaders.get(partition)
            if leader is None:
                self.metadata_needed = True
            elif self.network.ready(leader.node, now_ms):
                self.bounds.pop(partition, None)  # named again by this round's answer
                by_leader.setdefault(leader.node, []).append(
                    FetchPartition(
                        partition=i32(partition),
                        current_leader_epoch=i32(leader.epoch),
                        fetch_offset=i64(self.positions.setdefault(partition, 0)),
                        last_fetched_epoch=i32(-1),
                        log_start_offset=i64(-1),
                        partition_max_bytes=i32(MAX_PARTITION_BYTES),
                    )
                )
        if not by_leader:
            return
        self.history.add(now_ms, self.client_id, "invoke", "read", topic=self.topic)
        self.rounds += 1
        for node, partitions in sorted(by_leader.items()):
            request = FetchRequest(
                replica_id=BrokerId(-1),
                max_wait=i32Timedelta.parse(datetime.timedelta(milliseconds=0)),
                min_bytes=i32(0),
                max_bytes=i32(50 * MAX_PARTITION_BYTES),
                isolation_level=i8(self.isolation_level),
                session_id=i32(0),
                session_epoch=i32(-1),
                topics=(FetchTopic(topic=TopicName(self.topic), partitions=tuple(partitions)),),
                forgotten_topics_data=(),
                rack_id="",
            )
            asked = {int(p.partition): int(p.fetch_offset) for p in partitions}
            if self._send(node, request, now_ms, partial(self._on_fetch, asked)):
                self._pending += 1
        if self._pending == 0:
            self._end_round(now_ms)

    def _on_fetch(self, asked: dict[int, int], done: ClientResponse) -> None:
        self._pending -= 1
        if done.response is None:
            for partition in asked:
                self._leader_lost(partition)
        else:
            for topic in done.response.responses:
                for data in topic.partitions:
                    self._fetched(asked, data)
        if self._pending == 0:
            self._end_round(done.now_ms)

    def _fetched(self, asked: dict[int, int], data: Any) -> None:
        partition = int(data.partition_index)
        if partition not in asked or self.positions.get(partition) != asked[partition]:
            return
        error = data.error_code
        if error != ErrorCode.none:
            self.errors[error.name.upper()] += 1
            if error in STALE_LEADER:
                self._leader_lost(partition)
            return
        aborted = sorted(
            (int(a.first_offset), int(a.producer_id)) for a in data.aborted_transactions or ()
        )
        if self.isolation_level == READ_UNCOMMITTED:
            aborted = []
        try:
            reads, position = _read(data.records, asked[partition], aborted)
        except InvalidRecordError:
            self.errors["CORRUPT_RECORDS"] += 1
            return
        self._reads += [(self.topic, partition, offset, value) for offset, value in reads]
        self.positions[partition] = position
        committed = self.isolation_level == READ_COMMITTED
        self.bounds[partition] = int(data.last_stable_offset if committed else data.high_watermark)

    def _end_round(self, now_ms: int) -> None:
        reads, self._reads = tuple(self._reads), []
        self.history.add(now_ms, self.client_id, "ok", "read", topic=self.topic, reads=reads)


def _read(
    records: bytes | None, position: int, aborted: list[tuple[int, int]]
) -> tuple[list[tuple[int, int]], int]:
    """``([(offset, value)], next position)`` of a fetched record set at ``position``,
    without the records of ``aborted`` transactions ``(first offset, producer id)`` and
    without control batches."""
    reads: list[tuple[int, int]] = []
    open_aborted: set[int] = set()  # producers inside an aborted transaction here
    if not records:
        return reads, position
    for header, view in iter_batches(records):
        last = header.base_offset + header.last_offset_delta
        while aborted and aborted[0][0] <= last:
            open_aborted.add(aborted.pop(0)[1])
        if last >= position:
            marker = read_marker(header, view)
            if marker is not None:
                if marker[0] == ABORT:
                    open_aborted.discard(header.producer_id)
            elif not (header.is_transactional and header.producer_id in open_aborted):
                for record in iter_records(view):
                    value = decode_value(record.value)
                    if record.offset >= position and value is not None:
                        reads.append((record.offset, value))
            position = last + 1
    return reads, position
