"""Offsets committed inside a transaction (KIP-98 TxnOffsetCommit, KIP-447): a mixin of
``GroupCoordinator``, as Kafka's ``pendingTransactionalOffsetCommits``.

TxnOffsetCommit validates the group as OffsetCommit does, then writes the offset records to the
group's ``__consumer_offsets`` partition in a *transactional* batch of the producer (its id and
epoch; the transaction coordinator added that partition with AddOffsetsToTxn). The offsets stay
pending for that producer, invisible to OffsetFetch, until the transaction's marker reaches the
partition (``complete_txn``): COMMIT makes them the group's committed offsets, ABORT drops them.
Loading replays the same rule (``refka.core.coordinator_loader`` keeps a transaction's records
until its marker); a transaction still open when loading ends comes back pending
(``load_open_txn``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from refka.group import records as rec
from refka.group.messages import (
    Append,
    Effect,
    OffsetCommitEntry,
    OffsetCommitResult,
    PartitionResult,
    Reply,
)
from refka.protocol.records import NewRecord, build_batch

if TYPE_CHECKING:
    from refka.group.config import GroupConfig
    from refka.group.offsets import StoredOffset

TopicPartition = tuple[str, int]
TxnOffsets = dict[str, dict[TopicPartition, "StoredOffset"]]  # group -> partition -> offset
E = ErrorCode


class TxnOffsetActions:
    """The transactional-offset half of the coordinator's offsets."""

    __slots__ = ()

    if TYPE_CHECKING:
        config: GroupConfig
        groups: Mapping[str, object]  # the classic groups, by id
        consumer_groups: Mapping[str, object]  # the KIP-848 groups, by id
        offsets: dict[str, dict[TopicPartition, StoredOffset]]
        pending_txn_offsets: dict[int, TxnOffsets]  # by producer id
        _txn_writes: dict[int, tuple[int, str, list[TopicPartition]]]

        def _new_write_id(self) -> int: ...

        def partition_for(self, group_id: str) -> int: ...
        def _commit_error(
            self,
            group_id: str,
            member_id: str,
            generation_id: int,
            group_instance_id: str | None,
            now_ms: int,
        ) -> ErrorCode | None: ...

    def commit_txn_offsets(
        self,
        request: object,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        member_id: str,
        generation_id: int,
        group_instance_id: str | None,
        entries: Iterable[OffsetCommitEntry],
        now_ms: int,
        *,
        group_id_not_found: bool = False,
    ) -> list[Effect]:
        """TxnOffsetCommit: the member is checked as for OffsetCommit (v3+ sends it, KIP-447;
        without it the group is not checked); the offsets are written in the producer's
        transaction and stay pending until its marker. ``group_id_not_found`` (v6+, KIP-1319):
        a group that does not exist is GROUP_ID_NOT_FOUND where v5 says ILLEGAL_GENERATION."""
        from refka.group.offsets import StoredOffset, offset_record

        entries = list(entries)
        existed = group_id in self.groups or group_id in self.consumer_groups
        error = self._commit_error(group_id, member_id, generation_id, group_instance_id, now_ms)
        if error == E.illegal_generation and group_id_not_found and not existed:
            error = E.group_id_not_found
        if error is not None:
            refused = tuple(PartitionResult(e.topic, e.partition, error) for e in entries)
            return [Reply(request, OffsetCommitResult(refused))]
        pending = self.pending_txn_offsets.setdefault(producer_id, {}).setdefault(group_id, {})
        records: list[NewRecord] = []
        results: list[PartitionResult] = []
        written: list[TopicPartition] = []
        for e in entries:
            metadata = e.metadata or ""
            if len(metadata.encode()) > self.config.offset_metadata_max_bytes:
                results.append(PartitionResult(e.topic, e.partition, E.offset_metadata_too_large))
                continue
            offset = StoredOffset(e.offset, e.leader_epoch, metadata, now_ms)
            pending[(e.topic, e.partition)] = offset
            key, value = offset_record(group_id, e.topic, e.partition, offset)
            records.append(NewRecord(key, value, (), now_ms))
            written.append((e.topic, e.partition))
            results.append(PartitionResult(e.topic, e.partition, E.none))
        reply = Reply(request, OffsetCommitResult(tuple(results)))
        if not records:
            return [reply]
        write_id = self._new_write_id()
        self._txn_writes[write_id] = (producer_id, group_id, written)
        batch = build_batch(
            records,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            is_transactional=True,
        )
        return [Append(self.partition_for(group_id), batch, write_id), reply]

    def complete_txn_write(self, write_id: int, error: ErrorCode) -> None:
        """A failed write of transactional offsets drops them."""
        producer_id, group_id, written = self._txn_writes.pop(write_id, (-1, "", []))
        if error == E.none or producer_id < 0:
            return
        pending = self.pending_txn_offsets.get(producer_id, {}).get(group_id, {})
        for tp in written:
            pending.pop(tp, None)

    def complete_txn(self, partition: int, producer_id: int, commit: bool) -> None:
        """The producer's marker reached ``partition``: its pending offsets of the groups there
        become committed (COMMIT) or are dropped (ABORT)."""
        by_group = self.pending_txn_offsets.get(producer_id, {})
        for group_id in [g for g in by_group if self.partition_for(g) == partition]:
            offsets = by_group.pop(group_id)
            if commit:
                self.offsets.setdefault(group_id, {}).update(offsets)
        if not by_group:
            self.pending_txn_offsets.pop(producer_id, None)

    def has_pending_txn_offset(self, group_id: str, tp: TopicPartition) -> bool:
        """An offset of ``tp`` waits for its transaction's marker (KIP-447 ``require_stable``)."""
        pending = self.pending_txn_offsets.values()
        return any(tp in by_group.get(group_id, {}) for by_group in pending)

    def load_open_txn(
        self, partition: int, producer_id: int, records: Sequence[tuple[bytes | None, bytes | None]]
    ) -> None:
        """Offset records of a transaction still open when loading ended: pending again."""
        from refka.group.offsets import StoredOffset

        for key_bytes, value in records:
            key = None if key_bytes is None else rec.decode_key(bytes(key_bytes))
            if not isinstance(key, rec.OffsetCommitKey) or value is None:
                continue
            v = rec.decode_offset_commit_value(bytes(value))
            by_group = self.pending_txn_offsets.setdefault(producer_id, {})
            by_group.setdefault(key.group, {})[(key.topic, key.partition)] = StoredOffset(
                v.offset, v.leader_epoch, v.metadata, v.commit_timestamp_ms
            )

    def unload_txn_offsets(self, partition: int) -> None:
        """Leadership of ``partition`` moved: forget its groups' transactional offsets."""
        for producer_id, by_group in list(self.pending_txn_offsets.items()):
            for group_id in [g for g in by_group if self.partition_for(g) == partition]:
                del by_group[group_id]
            if not by_group:
                del self.pending_txn_offsets[producer_id]
