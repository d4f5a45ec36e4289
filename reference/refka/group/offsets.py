"""Committed offsets of the classic groups: CommitOffset, OffsetFetch, OffsetDelete and
offsets.retention.minutes, as Kafka's OffsetMetadataManager beside its GroupMetadataManager.

A mixin of ``GroupCoordinator``: the offsets live beside the groups, because a commit is
validated against the committing member's generation (a zombie of an older generation gets
ILLEGAL_GENERATION and nothing is stored).

Pending and committed offsets (Kafka's ``pendingOffsetCommits`` beside ``offsets`` in the
GroupMetadataManager): CommitOffset stages its offsets as *pending* with the ``Append`` that
writes them; the driver reports the append's outcome with ``complete_write``. Only then do they
become *committed*, the only offsets OffsetFetch and retention see; a failed write drops them,
leaving the previous committed offset. Writes to one partition complete in log order (the high
watermark passes them in order), so the last completed commit of a partition is its newest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from refka.group import records as rec
from refka.group.classic_group import ClassicGroup
from refka.group.messages import (
    CommittedOffset,
    Effect,
    GroupOffsets,
    OffsetCommitEntry,
    OffsetCommitResult,
    OffsetDeleteResult,
    PartitionResult,
    Reply,
)
from refka.group.state import GroupState

if TYPE_CHECKING:
    from refka.core.trace import Tracer
    from refka.group.config import GroupConfig
    from refka.group.consumer_group import ConsumerGroup

TopicPartition = tuple[str, int]
PendingCommit = tuple[str, TopicPartition, "StoredOffset"]  # group id, partition, offset
E = ErrorCode


@dataclass(slots=True)
class StoredOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp_ms: int
    expire_timestamp_ms: int = -1


class OffsetActions:
    """The offset half of the coordinator (see ``GroupCoordinator`` for the rest)."""

    __slots__ = ()

    if TYPE_CHECKING:
        config: GroupConfig
        groups: dict[str, ClassicGroup]
        consumer_groups: dict[str, ConsumerGroup]
        offsets: dict[str, dict[TopicPartition, StoredOffset]]
        pending_offsets: dict[str, dict[TopicPartition, StoredOffset]]
        _staged: dict[int, list[PendingCommit]]
        _writes: dict[int, tuple[int, list[PendingCommit]]]
        tracer: Tracer | None
        node: int

        def partition_for(self, group_id: str) -> int: ...
        def _coordinator_error(self, group_id: str) -> ErrorCode | None: ...
        def _validate(
            self,
            group: ClassicGroup | None,
            group_id: str,
            member_id: str,
            group_instance_id: str | None,
            generation_id: int,
        ) -> ErrorCode | None: ...
        def _record(self, partition: int, key: bytes, value: bytes | None) -> None: ...
        def _finish(self, effects: Sequence[Effect], now_ms: int) -> list[Effect]: ...
        def _delete_group(self, group: ClassicGroup, now_ms: int) -> None: ...
        def complete_txn_write(self, write_id: int, error: ErrorCode) -> None: ...
        def has_pending_txn_offset(self, group_id: str, tp: TopicPartition) -> bool: ...

    # -- CommitOffset / OffsetFetch / OffsetDelete -------------------------------------

    def commit_offsets(
        self,
        request: object,
        group_id: str,
        member_id: str,
        generation_id: int,
        entries: Iterable[OffsetCommitEntry],
        now_ms: int,
        group_instance_id: str | None = None,
        retention_ms: int = -1,
    ) -> list[Effect]:
        """CommitOffset: write offsets for a member of the current generation (or, with
        generation -1 and no member, for a group that only stores offsets); they are pending
        until the driver reports the write (``complete_write``)."""
        entries = list(entries)
        error = self._commit_error(group_id, member_id, generation_id, group_instance_id, now_ms)
        if error is not None:
            results = tuple(PartitionResult(e.topic, e.partition, error) for e in entries)
            return [Reply(request, OffsetCommitResult(results))]
        partition = self.partition_for(group_id)
        expire_ms = now_ms + retention_ms if retention_ms >= 0 else -1
        results_list = []
        for e in entries:
            metadata = e.metadata or ""
            if len(metadata.encode()) > self.config.offset_metadata_max_bytes:
                results_list.append(
                    PartitionResult(e.topic, e.partition, E.offset_metadata_too_large)
                )
                continue
            offset = StoredOffset(e.offset, e.leader_epoch, metadata, now_ms, expire_ms)
            tp = (e.topic, e.partition)
            self.pending_offsets.setdefault(group_id, {})[tp] = offset
            self._staged.setdefault(partition, []).append((group_id, tp, offset))
            self._record(partition, *offset_record(group_id, e.topic, e.partition, offset))
            results_list.append(PartitionResult(e.topic, e.partition, E.none))
        if self.tracer is not None:
            accepted = tuple(
                (e.topic, e.partition, e.offset)
                for e, r in zip(entries, results_list, strict=True)
                if r.error == E.none
            )
            group = self.groups.get(group_id)
            generation = group.generation_id if group is not None else generation_id
            if accepted:  # ConsumerGroup.tla: <<member, the coordinator's generation, p>>
                from refka.core import trace  # only a traced core loads the events (issue 15)

                self.tracer(
                    trace.CommitOffset(self.node, group_id, member_id, generation, accepted)
                )
        reply = Reply(request, OffsetCommitResult(tuple(results_list)))
        return self._finish([reply], now_ms)

    def _start_write(self, partition: int, write_id: int) -> None:
        """The offsets staged for ``partition`` wait for the outcome of write ``write_id``."""
        staged = self._staged.pop(partition, [])
        if staged:
            self._writes[write_id] = (partition, staged)

    def complete_write(self, write_id: int, error: ErrorCode) -> None:
        """The driver's report on an ``Append``: replicated (``E.none``) or failed. Its offsets
        become committed, or are dropped; either way they are no longer pending. An offset
        deleted meanwhile (OffsetDelete, DeleteGroups, unload) stays deleted."""
        self.complete_txn_write(write_id, error)
        _, commits = self._writes.pop(write_id, (-1, []))
        for group_id, tp, offset in commits:
            pending = self.pending_offsets.get(group_id, {})
            if tp not in pending:
                continue
            if error == E.none:
                self.offsets.setdefault(group_id, {})[tp] = offset
            if pending[tp] is offset:
                del pending[tp]
                if not pending:
                    del self.pending_offsets[group_id]

    def _drop_pending(self, group_id: str, tp: TopicPartition) -> bool:
        """Forget the pending offset of ``tp``; whether there was one."""
        pending = self.pending_offsets.get(group_id, {})
        dropped = pending.pop(tp, None) is not None
        if not pending:
            self.pending_offsets.pop(group_id, None)
        return dropped

    # bug switch: Bug.ZOMBIE_COMMIT (spec/bugs/ConsumerGroup_ZombieCommit.cfg)
    def _commit_error(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        group_instance_id: str | None,
        now_ms: int,
    ) -> ErrorCode | None:
        error = self._coordinator_error(group_id)
        if error is not None:
            return error
        consumer = self.consumer_groups.get(group_id)
        if consumer is not None:
            return consumer.validate_offset_commit(member_id, generation_id)
        group = self.groups.get(group_id)
        simple = generation_id < 0 and not member_id and group_instance_id is None
        fenced = self.config.fence_offset_commits
        if group is None:
            if not simple and fenced:
                return E.illegal_generation
            self.groups[group_id] = ClassicGroup(group_id, state_timestamp_ms=now_ms)
            return None
        if simple and group.state is GroupState.EMPTY:
            return None
        if group.state is GroupState.DEAD:
            return E.coordinator_not_available
        if not fenced:
            return None  # whatever the member id and generation
        if simple:
            return E.unknown_member_id
        error = self._validate(group, group_id, member_id, group_instance_id, generation_id)
        if error is not None:
            return error
        if group.state is GroupState.COMPLETING_REBALANCE:
            return E.rebalance_in_progress
        member = group.members[member_id]
        member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
        return None

    def fetch_offsets(
        self,
        group_id: str,
        topics: Iterable[tuple[str, Iterable[int]]] | None,
        require_stable: bool = False,
        member_id: str | None = None,
        member_epoch: int = -1,
    ) -> GroupOffsets:
        """OffsetFetch for one group: committed offsets only (a pending commit is not seen);
        ``topics=None`` asks for every committed offset. ``require_stable`` (KIP-447): a
        partition with an offset pending in a transaction answers UNSTABLE_OFFSET_COMMIT."""
        error = self._coordinator_error(group_id)
        consumer = self.consumer_groups.get(group_id)
        if error is None and consumer is not None and member_id is not None:
            error = consumer.validate_offset_fetch(member_id, member_epoch)  # v9+, KIP-848
        if error is not None:
            return GroupOffsets(group_id, error)
        stored = self.offsets.get(group_id, {})
        if topics is None:
            wanted: list[TopicPartition] = sorted(stored)
        else:
            wanted = [(t, p) for t, parts in topics for p in parts]
        results = []
        for topic, p in wanted:
            o = stored.get((topic, p))
            if require_stable and self.has_pending_txn_offset(group_id, (topic, p)):
                results.append(CommittedOffset(topic, p, -1, -1, "", E.unstable_offset_commit))
            elif o is None:
                results.append(CommittedOffset(topic, p, -1, -1, ""))
            else:
                results.append(CommittedOffset(topic, p, o.offset, o.leader_epoch, o.metadata))
        return GroupOffsets(group_id, E.none, tuple(results))

    def delete_offsets(
        self,
        request: object,
        group_id: str,
        partitions: Iterable[TopicPartition],
        now_ms: int,
    ) -> list[Effect]:
        """OffsetDelete (KIP-496): drop offsets of topics the group does not consume."""
        error = self._coordinator_error(group_id)
        group = self.groups.get(group_id)
        if error is None and (group is None or group.state is GroupState.DEAD):
            error = E.group_id_not_found
        if error is not None or group is None:
            return [Reply(request, OffsetDeleteResult(error or E.group_id_not_found))]
        subscribed = group.subscribed_topics() if group.state is not GroupState.EMPTY else None
        stored = self.offsets.get(group_id, {})
        results = []
        for topic, p in partitions:
            if subscribed is not None and topic in subscribed:
                results.append(PartitionResult(topic, p, E.group_subscribed_to_topic))
                continue
            committed = stored.pop((topic, p), None) is not None
            if self._drop_pending(group_id, (topic, p)) or committed:
                self._record(self.partition_for(group_id), offset_key(group_id, topic, p), None)
            results.append(PartitionResult(topic, p, E.none))
        return self._finish([Reply(request, OffsetDeleteResult(E.none, tuple(results)))], now_ms)

    def expire_offsets(self, now_ms: int) -> None:
        """offsets.retention.minutes (KIP-211): offsets of an Empty group expire that long after
        it became Empty (or after the commit, for groups that only store offsets); an Empty
        group with no offsets left is deleted."""
        retention_ms = self.config.offsets_retention_ms
        for group_id, stored in list(self.offsets.items()):
            group = self.groups.get(group_id)
            partition = self.partition_for(group_id)
            subscribed = group.subscribed_topics() if group is not None else None
            empty = group is None or group.state is GroupState.EMPTY
            for (topic, p), o in list(stored.items()):
                if o.expire_timestamp_ms >= 0:
                    expired = now_ms >= o.expire_timestamp_ms
                elif empty:
                    base_ms = o.commit_timestamp_ms
                    if group is not None and group.protocol_type and group.state_timestamp_ms >= 0:
                        base_ms = group.state_timestamp_ms
                    expired = now_ms >= base_ms + retention_ms
                else:
                    unsubscribed = subscribed is not None and topic not in subscribed
                    expired = unsubscribed and now_ms >= o.commit_timestamp_ms + retention_ms
                if expired:
                    del stored[(topic, p)]
                    self._record(partition, offset_key(group_id, topic, p), None)
            if not stored:
                del self.offsets[group_id]
        for group in list(self.groups.values()):
            idle = group.state is GroupState.EMPTY and not group.pending_members
            has_offsets = group.group_id in self.offsets or group.group_id in self.pending_offsets
            if idle and not has_offsets:
                self._delete_group(group, now_ms)


def offset_key(group_id: str, topic: str, partition: int) -> bytes:
    return rec.encode_offset_commit_key(rec.OffsetCommitKey(group_id, topic, partition))


def offset_record(
    group_id: str, topic: str, partition: int, o: StoredOffset
) -> tuple[bytes, bytes]:
    value = rec.OffsetCommitValue(
        o.offset, o.leader_epoch, o.metadata, o.commit_timestamp_ms, o.expire_timestamp_ms
    )
    return offset_key(group_id, topic, partition), rec.encode_offset_commit_value(value)
