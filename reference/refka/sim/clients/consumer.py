"""A consumer-group member for the simulator: the classic group protocol over the wire.

Its life, one request at a time to the group coordinator (states in ``STATES``):

- ``find``: FindCoordinator v4 to any broker;
- ``join``: JoinGroup v7 (MEMBER_ID_REQUIRED answers with the id to join with, KIP-394);
- ``sync``: SyncGroup v5; the leader assigns the topic's partitions round-robin over the
  members sorted by id;
- ``offsets``: OffsetFetch v7 for the assigned partitions;
- ``reset``: ListOffsets v7 (earliest) for partitions without a committed offset or whose
  fetch said OFFSET_OUT_OF_RANGE (``auto.offset.reset=earliest``);
- ``stable``: ``poll`` fetches; Heartbeat v4 every ``heartbeat.interval.ms`` (also in
  ``offsets`` and ``reset``).

Errors: REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION rejoin; UNKNOWN_MEMBER_ID rejoins with no
member id; NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / a lost coordinator find it again (and
resume the generation if it was stable); COORDINATOR_LOAD_IN_PROGRESS retries. Partitions are
revoked when a rebalance starts (the eager protocol), positions are read again afterwards.

Fetch v12 carries ``current_leader_epoch`` (KIP-320): FENCED_LEADER_EPOCH and
UNKNOWN_LEADER_EPOCH, like NOT_LEADER_OR_FOLLOWER, make it ask for metadata again.

History: ``assign ok`` with the starting positions after every (re)assignment and reset;
``poll invoke`` and a completion with the reads in the order received. ``commit="after"``
records the reads as processed, then commits the new positions (at-least-once);
``commit="before"`` commits first and records the reads only once the commit is ``ok``
(at-most-once: a poll whose commit failed is ``fail``, one whose commit is unknown is
``info``, both without reads). Commits are ``commit invoke`` then ``ok``/``fail``/``info``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
from kio.schema.heartbeat.v4.request import HeartbeatRequest
from kio.schema.join_group.v7.request import JoinGroupRequest, JoinGroupRequestProtocol
from kio.schema.leave_group.v5.request import LeaveGroupRequest, MemberIdentity
from kio.schema.list_offsets.v7.request import (
    ListOffsetsPartition,
    ListOffsetsRequest,
    ListOffsetsTopic,
)
from kio.schema.offset_commit.v8.request import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kio.schema.offset_fetch.v7.request import OffsetFetchRequest, OffsetFetchRequestTopic
from kio.schema.sync_group.v5.request import SyncGroupRequest, SyncGroupRequestAssignment
from kio.schema.types import BrokerId, GroupId, TopicName
from kio.static.primitive import i8, i32, i32Timedelta, i64

from refka.core.effects import Effect
from refka.core.network_client import ClientResponse
from refka.protocol.records import InvalidRecordError
from refka.sim.clients.node import ClientNode
from refka.sim.clients.wire import (
    decode_assignment,
    encode_assignment,
    encode_subscription,
    fetched_records,
)
from refka.sim.history import History, Read

STATES = ("find", "join", "sync", "offsets", "reset", "stable", "closed")
HEARTBEATS = frozenset({"offsets", "reset", "stable"})  # states a member heartbeats in
PROTOCOL_TYPE = "consumer"
ASSIGNOR = "roundrobin"
EARLIEST = -2  # ListOffsets timestamp: the log start offset
MAX_PARTITION_BYTES = 1 << 20

REJOIN = frozenset(
    {ErrorCode.rebalance_in_progress, ErrorCode.illegal_generation, ErrorCode.unknown_member_id}
)
COORDINATOR_LOST = frozenset({ErrorCode.not_coordinator, ErrorCode.coordinator_not_available})
STALE_LEADER = frozenset(
    {
        ErrorCode.not_leader_or_follower,
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.leader_not_available,
        ErrorCode.fenced_leader_epoch,
        ErrorCode.unknown_leader_epoch,
        ErrorCode.kafka_storage_error,
    }
)
COMMIT_NOT_WRITTEN = frozenset(
    {
        *REJOIN,
        ErrorCode.coordinator_load_in_progress,
        ErrorCode.offset_metadata_too_large,
        ErrorCode.invalid_commit_offset_size,
        ErrorCode.group_authorization_failed,
        ErrorCode.unknown_topic_or_partition,
    }
)
"""OffsetCommit errors returned before the commit is written (others leave it unknown)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """What SyncGroup gave this member: for ``SingleOwnerPerGeneration``."""

    at_ms: int
    generation: int
    member_id: str
    partitions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HighWatermark:
    """The high watermark one successful fetch returned: for ``HighWatermarkMonotonic``."""

    at_ms: int
    broker: int
    partition: int
    leader_epoch: int
    high_watermark: int


@dataclass(slots=True)
class _Round:
    """One ``poll``: its fetches in flight and what they read."""

    generation: int
    pending: int = 0
    reads: list[Read] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)


class SimConsumer(ClientNode):
    """One member of ``group_id`` consuming ``topic``."""

    kind = "consumer"

    def __init__(
        self,
        client_id: int,
        brokers: Sequence[int],
        group_id: str,
        topic: str,
        commit: str,
        history: History,
        *,
        session_timeout_ms: int = 10_000,
        rebalance_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        fetch_max_wait_ms: int = 100,
        **options: int,
    ) -> None:
        if commit not in ("before", "after"):
            raise ValueError(f'commit must be "before" or "after", not {commit!r}')
        super().__init__(client_id, brokers, topic, history, **options)
        self.group_id = group_id
        self.commit_mode = commit
        self.session_timeout_ms = session_timeout_ms
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.state = "find"
        self.coordinator: int | None = None
        self.member_id = ""
        self.generation = -1
        self.assignment: tuple[int, ...] = ()
        self.positions: dict[int, int] = {}
        self.assignments: list[Assignment] = []
        self.high_watermarks: list[HighWatermark] = []
        self.fetch_errors: list[tuple[int, int, int, str]] = []  # at, partition, position, why
        self._resume_stable = False  # back to "stable" once the coordinator is found again
        self._join: Any = None  # the JoinGroup response the sync step answers
        self._resets: set[int] = set()
        self._busy: int | None = None  # token of the group request in flight
        self._token = 0
        self._retry_ms = 0
        self._heartbeat_ms = 0
        self._heartbeat_in_flight = False
        self._round: _Round | None = None
        self._pending_lists = 0

    # ------------------------------------------------------------------ the user's calls

    def poll(self, now_ms: int) -> list[Effect]:
        """One fetch round from the assigned partitions' leaders (nothing unless stable)."""
        if self.state == "stable" and self._round is None:
            self._start_round(now_ms)
        return self._step(now_ms)

    def commit(self, now_ms: int) -> list[Effect]:
        """Commit the current positions (recorded as a ``commit`` op)."""
        if self.state == "stable" and self.positions:
            self._commit(dict(self.positions), now_ms, None)
        return self._step(now_ms)

    def close(self, now_ms: int) -> list[Effect]:
        """Leave the group (LeaveGroup v5) and stop."""
        if self.coordinator is not None and self.member_id:
            member = MemberIdentity(member_id=self.member_id, group_instance_id=None, reason=None)
            request = LeaveGroupRequest(group_id=GroupId(self.group_id), members=(member,))
            self._send(self.coordinator, request, now_ms, lambda done: None)
        self._transition("closed")
        return self._step(now_ms)

    # ------------------------------------------------------------------ the state machine

    def _pump(self, now_ms: int) -> None:
        if self.state == "closed":
            return
        self._refresh_metadata(now_ms)
        if self.state in HEARTBEATS:
            self._heartbeat(now_ms)
        if self._busy is not None or now_ms < self._retry_ms:
            return
        self._retry_ms = now_ms + self.retry_backoff_ms  # unless the step sends (or moves on)
        step: dict[str, Callable[[int], None]] = {
            "find": self._find_coordinator,
            "join": self._join_group,
            "sync": self._sync_group,
            "offsets": self._fetch_offsets,
            "reset": self._list_offsets,
        }
        if self.state in step:
            step[self.state](now_ms)

    def _timers(self) -> list[int]:
        if self.state == "closed":
            return []
        timers = []
        if self._busy is None and self.state != "stable":
            timers.append(self._retry_ms)
        if self.state in HEARTBEATS and not self._heartbeat_in_flight:
            timers.append(self._heartbeat_ms)
        return timers

    def _transition(self, state: str) -> None:
        """Enter ``state``; a group request still in flight is ignored when it returns."""
        self.state = state
        self._busy = None
        self._token += 1

    def _group_request(self, request: Any, now_ms: int, handle: Callable[[Any, int], None],
                       node: int | None = None, timeout_ms: int | None = None) -> None:  # fmt: skip
        """Send one step's request (to the coordinator unless ``node``); ``handle`` gets the
        response if the state did not change meanwhile."""
        target = self.coordinator if node is None else node
        if target is None:
            return
        token = self._token

        def done(result: ClientResponse) -> None:
            if token != self._token:
                return
            self._busy = None
            self._retry_ms = result.now_ms + self.retry_backoff_ms
            if result.response is None:
                self._lost(target, result.now_ms)
            else:
                handle(result.response, result.now_ms)

        if self._send(target, request, now_ms, done, timeout_ms):
            self._busy = token

    def _lost(self, node: int, now_ms: int) -> None:
        """A request failed with no answer: a lost coordinator is looked for again."""
        if node == self.coordinator or self.state == "find":
            self._find_again()

    def _find_again(self) -> None:
        self._resume_stable = self.state == "stable"
        self.coordinator = None
        self._transition("find")

    def _rejoin(self, error: ErrorCode) -> None:
        """Revoke the assignment and join again (UNKNOWN_MEMBER_ID: as a new member)."""
        if error == ErrorCode.unknown_member_id:
            self.member_id = ""
        self.assignment = ()
        self.positions = {}
        self._resets.clear()
        self._transition("join")

    def _group_error(self, error: ErrorCode) -> None:
        self.errors[error.name.upper()] += 1
        if error in REJOIN:
            self._rejoin(error)
        elif error in COORDINATOR_LOST:
            self._find_again()
        # COORDINATOR_LOAD_IN_PROGRESS and the rest: the same step after the backoff

    # ------------------------------------------------------------------ find, join, sync

    def _find_coordinator(self, now_ms: int) -> None:
        broker = self._ready_broker(now_ms)
        if broker is None:
            return
        request = FindCoordinatorRequest(key_type=i8(0), coordinator_keys=(self.group_id,))
        self._group_request(request, now_ms, self._on_coordinator, node=broker)

    def _on_coordinator(self, response: Any, now_ms: int) -> None:
        found = next((c for c in response.coordinators if c.key == self.group_id), None)
        if found is None or found.error_code != ErrorCode.none or found.node_id < 0:
            return
        self.coordinator = int(found.node_id)
        if self._resume_stable and self.generation >= 0:
            self._transition("stable")
        else:
            self._transition("join")
        self._retry_ms = now_ms

    def _join_group(self, now_ms: int) -> None:
        protocol = JoinGroupRequestProtocol(
            name=ASSIGNOR, metadata=encode_subscription([self.topic])
        )
        request = JoinGroupRequest(
            group_id=GroupId(self.group_id),
            session_timeout=_ms(self.session_timeout_ms),
            rebalance_timeout=_ms(self.rebalance_timeout_ms),
            member_id=self.member_id,
            group_instance_id=None,
            protocol_type=PROTOCOL_TYPE,
            protocols=(protocol,),
        )
        timeout_ms = max(self.request_timeout_ms, self.rebalance_timeout_ms + 5_000)
        self._group_request(request, now_ms, self._on_join, timeout_ms=timeout_ms)

    def _on_join(self, response: Any, now_ms: int) -> None:
        error = response.error_code
        if error == ErrorCode.member_id_required:
            self.member_id = response.member_id
            self._retry_ms = now_ms
        elif error == ErrorCode.none:
            self.member_id = response.member_id
            self.generation = int(response.generation_id)
            self._join = response
            self._transition("sync")
            self._retry_ms = now_ms
        else:
            self._group_error(error)

    def _sync_group(self, now_ms: int) -> None:
        join = self._join
        assignments: tuple[SyncGroupRequestAssignment, ...] = ()
        if join.leader == self.member_id:
            if self.partition_count == 0:
                self.metadata_needed = True
                return
            members = sorted(m.member_id for m in join.members)
            assignments = tuple(
                SyncGroupRequestAssignment(
                    member_id=member,
                    assignment=encode_assignment(
                        self.topic, range(i, self.partition_count, len(members))
                    ),
                )
                for i, member in enumerate(members)
            )
        request = SyncGroupRequest(
            group_id=GroupId(self.group_id),
            generation_id=i32(self.generation),
            member_id=self.member_id,
            group_instance_id=None,
            protocol_type=PROTOCOL_TYPE,
            protocol_name=ASSIGNOR,
            assignments=assignments,
        )
        self._group_request(request, now_ms, self._on_sync)

    def _on_sync(self, response: Any, now_ms: int) -> None:
        if response.error_code != ErrorCode.none:
            self._group_error(response.error_code)
            return
        self.assignment = decode_assignment(response.assignment, self.topic)
        self.assignments.append(
            Assignment(now_ms, self.generation, self.member_id, self.assignment)
        )
        self._heartbeat_ms = now_ms + self.heartbeat_interval_ms
        self._transition("offsets")
        self._retry_ms = now_ms

    # ------------------------------------------------------------------ positions

    def _fetch_offsets(self, now_ms: int) -> None:
        if not self.assignment:
            self._assigned(now_ms)
            return
        topic = OffsetFetchRequestTopic(
            name=TopicName(self.topic), partition_indexes=tuple(i32(p) for p in self.assignment)
        )
        request = OffsetFetchRequest(
            group_id=GroupId(self.group_id), topics=(topic,), require_stable=True
        )
        self._group_request(request, now_ms, self._on_offsets)

    def _on_offsets(self, response: Any, now_ms: int) -> None:
        if response.error_code != ErrorCode.none:
            self._group_error(response.error_code)
            return
        positions: dict[int, int] = {}
        for topic in response.topics:
            for partition in topic.partitions:
                if partition.error_code != ErrorCode.none:
                    self._group_error(partition.error_code)
                    return  # UNSTABLE_OFFSET_COMMIT and the like: ask again
                positions[int(partition.partition_index)] = int(partition.committed_offset)
        self.positions = {p: o for p, o in positions.items() if o >= 0}
        self._resets = {p for p in self.assignment if p not in self.positions}
        if self._resets:
            self._transition("reset")
            self._retry_ms = now_ms
        else:
            self._assigned(now_ms)

    def _list_offsets(self, now_ms: int) -> None:
        """ListOffsets (earliest) to each leader of a partition to reset."""
        by_leader: dict[int, list[ListOffsetsPartition]] = {}
        for partition in sorted(self._resets):
            leader = self.leaders.get(partition)
            if leader is None:
                self.metadata_needed = True
                continue
            by_leader.setdefault(leader.node, []).append(
                ListOffsetsPartition(
                    partition_index=i32(partition),
                    current_leader_epoch=i32(leader.epoch),
                    timestamp=i64(EARLIEST),
                )
            )
        token = self._token
        for node, partitions in by_leader.items():
            if not self.network.ready(node, now_ms):
                continue
            topic = ListOffsetsTopic(name=TopicName(self.topic), partitions=tuple(partitions))
            request = ListOffsetsRequest(
                replica_id=BrokerId(-1), isolation_level=i8(0), topics=(topic,)
            )
            if self._send(node, request, now_ms, partial(self._on_list_offsets, token)):
                self._pending_lists += 1
                self._busy = token

    def _on_list_offsets(self, token: int, done: ClientResponse) -> None:
        if token != self._token:
            return
        self._pending_lists -= 1
        if self._pending_lists == 0:
            self._busy = None
        self._retry_ms = done.now_ms + self.retry_backoff_ms
        if done.response is None:
            self.metadata_needed = True
            return
        for topic in done.response.topics:
            for partition in topic.partitions:
                index, error = int(partition.partition_index), partition.error_code
                if error == ErrorCode.none:
                    if index in self._resets:
                        self.positions[index] = int(partition.offset)
                        self._resets.discard(index)
                    continue
                self.errors[error.name.upper()] += 1
                if error in STALE_LEADER:
                    self._leader_lost(index)
        if not self._resets and self._pending_lists == 0:
            self._assigned(done.now_ms)

    def _assigned(self, now_ms: int) -> None:
        """The positions are known: record them and start fetching."""
        offsets = tuple((self.topic, p, self.positions[p]) for p in sorted(self.positions))
        self.history.add(now_ms, self.client_id, "ok", "assign", offsets=offsets)
        self._transition("stable")

    # ------------------------------------------------------------------ heartbeats

    def _heartbeat(self, now_ms: int) -> None:
        if self._heartbeat_in_flight or now_ms < self._heartbeat_ms or self.coordinator is None:
            return
        request = HeartbeatRequest(
            group_id=GroupId(self.group_id),
            generation_id=i32(self.generation),
            member_id=self.member_id,
            group_instance_id=None,
        )
        on_done = partial(self._on_heartbeat, self.generation)
        self._heartbeat_in_flight = self._send(self.coordinator, request, now_ms, on_done)

    def _on_heartbeat(self, generation: int, done: ClientResponse) -> None:
        self._heartbeat_in_flight = False
        self._heartbeat_ms = done.now_ms + self.heartbeat_interval_ms
        if generation != self.generation or self.state not in HEARTBEATS:
            return
        if done.response is None:
            self._find_again()
        elif done.response.error_code != ErrorCode.none:
            self._group_error(done.response.error_code)

    # ------------------------------------------------------------------ fetching

    def _start_round(self, now_ms: int) -> None:
        by_leader: dict[int, list[tuple[int, int, int]]] = {}
        for partition in self.assignment:
            leader = self.leaders.get(partition)
            if partition in self._resets or partition not in self.positions:
                continue
            if leader is None:
                self.metadata_needed = True
            elif self.network.ready(leader.node, now_ms):
                entry = (partition, self.positions[partition], leader.epoch)
                by_leader.setdefault(leader.node, []).append(entry)
        if not by_leader:
            return
        self.history.add(now_ms, self.client_id, "invoke", "poll", topic=self.topic)
        round_ = self._round = _Round(self.generation)
        for node, entries in sorted(by_leader.items()):
            partitions = tuple(
                FetchPartition(
                    partition=i32(p),
                    current_leader_epoch=i32(epoch),
                    fetch_offset=i64(position),
                    last_fetched_epoch=i32(-1),
                    log_start_offset=i64(-1),
                    partition_max_bytes=i32(MAX_PARTITION_BYTES),
                )
                for p, position, epoch in entries
            )
            request = FetchRequest(
                replica_id=BrokerId(-1),
                max_wait=_ms(self.fetch_max_wait_ms),
                min_bytes=i32(1),
                max_bytes=i32(50 * MAX_PARTITION_BYTES),
                isolation_level=i8(0),
                session_id=i32(0),
                session_epoch=i32(-1),
                topics=(FetchTopic(topic=TopicName(self.topic), partitions=partitions),),
                forgotten_topics_data=(),
                rack_id="",
            )
            requested = {p: (position, epoch) for p, position, epoch in entries}
            if self._send(node, request, now_ms, partial(self._on_fetch, round_, requested)):
                round_.pending += 1
        if round_.pending == 0:
            self._end_round(round_, now_ms)

    def _on_fetch(
        self, round_: _Round, requested: dict[int, tuple[int, int]], done: ClientResponse
    ) -> None:
        round_.pending -= 1
        if done.response is None:
            for partition in requested:
                self._leader_lost(partition)
        else:
            for topic in done.response.responses:
                for data in topic.partitions:
                    self._fetched(round_, requested, done, data)
        if round_.pending == 0:
            self._end_round(round_, done.now_ms)

    def _fetched(
        self, round_: _Round, requested: dict[int, tuple[int, int]], done: ClientResponse, data: Any
    ) -> None:
        partition = int(data.partition_index)
        if partition not in requested:
            return  # not asked for: ignored
        position, epoch = requested[partition]
        error = data.error_code
        if error != ErrorCode.none:
            self.errors[error.name.upper()] += 1
        if error == ErrorCode.offset_out_of_range:
            self._resets.add(partition)
        elif error in STALE_LEADER:
            self._leader_lost(partition)
        if error != ErrorCode.none:
            return
        watermark = HighWatermark(
            done.now_ms, done.node_id, partition, epoch, int(data.high_watermark)
        )
        self.high_watermarks.append(watermark)
        current = round_.generation == self.generation and partition in self.assignment
        if not current or self.positions.get(partition) != position:
            return  # revoked meanwhile: drop what was fetched, as a consumer does
        try:
            reads, next_position = fetched_records(data.records, position)
        except InvalidRecordError as corrupt:  # the Java consumer raises CorruptRecordException
            self.fetch_errors.append((done.now_ms, partition, position, str(corrupt)))
            return
        round_.reads += [(self.topic, partition, offset, value) for offset, value in reads]
        round_.positions[partition] = next_position

    def _end_round(self, round_: _Round, now_ms: int) -> None:
        """Every fetch of the round is back: move the positions of the partitions still owned,
        record the poll, commit (``after``: behind the record, ``before``: ahead of it)."""
        self._round = None
        owned = {p for p in self.assignment if round_.generation == self.generation}
        moved = {
            p: o for p, o in round_.positions.items() if p in owned and self.positions.get(p) != o
        }
        self.positions.update(moved)
        positions = {p: o for p, o in self.positions.items() if p in owned}
        reads = tuple(round_.reads)
        if self.commit_mode == "after" or not reads:
            self.history.add(now_ms, self.client_id, "ok", "poll", topic=self.topic, reads=reads)
            if moved and reads:
                self._commit(positions, now_ms, None)
        elif all(read[1] in owned for read in reads):
            self._commit(positions, now_ms, reads)
        else:  # revoked before the commit: not processed
            self.history.add(
                now_ms, self.client_id, "fail", "poll", topic=self.topic, error="revoked"
            )
        if self._resets and self.state == "stable":
            self._transition("reset")
            self._retry_ms = now_ms

    # ------------------------------------------------------------------ commits

    def _commit(
        self, positions: dict[int, int], now_ms: int, reads: tuple[Read, ...] | None
    ) -> None:
        """OffsetCommit v8 of ``positions``; ``reads`` is the poll waiting for it (before)."""
        offsets = tuple((self.topic, p, o) for p, o in sorted(positions.items()))
        self.history.add(now_ms, self.client_id, "invoke", "commit", offsets=offsets)
        partitions = tuple(
            OffsetCommitRequestPartition(
                partition_index=i32(p),
                committed_offset=i64(o),
                committed_leader_epoch=i32(-1),
                committed_metadata="",
            )
            for p, o in sorted(positions.items())
        )
        request = OffsetCommitRequest(
            group_id=GroupId(self.group_id),
            generation_id_or_member_epoch=i32(self.generation),
            member_id=self.member_id,
            group_instance_id=None,
            topics=(OffsetCommitRequestTopic(name=TopicName(self.topic), partitions=partitions),),
        )
        on_done = partial(self._on_commit, offsets, reads, self._token)
        if self.coordinator is None or not self._send(self.coordinator, request, now_ms, on_done):
            self._committed(now_ms, offsets, reads, "fail", "no coordinator")

    def _on_commit(
        self,
        offsets: tuple[tuple[str, int, int], ...],
        reads: tuple[Read, ...] | None,
        token: int,
        done: ClientResponse,
    ) -> None:
        if done.response is None:
            self._committed(done.now_ms, offsets, reads, "info", "no answer")
            if self.coordinator == done.node_id and token == self._token:
                self._find_again()
            return
        codes = {p.error_code for t in done.response.topics for p in t.partitions}
        errors = codes - {ErrorCode.none}
        self.errors.update(e.name.upper() for e in errors)
        if not errors:
            self._committed(done.now_ms, offsets, reads, "ok", "")
            return
        error = min(errors, key=lambda e: int(e.value))
        outcome = "fail" if errors <= COMMIT_NOT_WRITTEN else "info"
        self._committed(done.now_ms, offsets, reads, outcome, error.name.upper())
        if token == self._token:
            self._group_error(error)

    def _committed(
        self,
        now_ms: int,
        offsets: tuple[tuple[str, int, int], ...],
        reads: tuple[Read, ...] | None,
        outcome: str,
        error: str,
    ) -> None:
        self.history.add(now_ms, self.client_id, outcome, "commit", offsets=offsets, error=error)
        if reads is not None:  # commit="before": the poll is done only now
            kept = reads if outcome == "ok" else ()
            self.history.add(
                now_ms, self.client_id, outcome, "poll", topic=self.topic, reads=kept, error=error
            )


def _ms(value: int) -> i32Timedelta:
    return i32Timedelta.parse(datetime.timedelta(milliseconds=value))
