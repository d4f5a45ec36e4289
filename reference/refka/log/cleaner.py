"""Log compaction, as Kafka's ``LogCleaner``/``LogCleanerManager``: keep the last record of
each key in the logs of ``cleanup.policy=compact`` topics.

Sans-I/O: the log manager calls ``on_tick(now_ms, logs)``; files change only through the
``Storage`` of each log. One pass cleans the filthiest log:

1. **Choose.** A log's *dirty* section runs from its first dirty offset (the
   ``cleaner-offset-checkpoint`` file at the log dir root, else the log start) to the first
   uncleanable offset: the active segment's base, the first segment holding a record newer
   than ``min.compaction.lag.ms``, or the first segment reaching the last stable offset (an
   open transaction's records are not cleaned, nor what they may supersede). It is cleanable
   when dirty bytes / all bytes before that offset exceeds ``min.cleanable.dirty.ratio``, when
   its oldest dirty record is older than ``max.compaction.lag.ms``, or when tombstones it kept
   have reached their delete horizon.
2. **Map.** Each key's last offset in the dirty section (the "offset map", at most
   ``log.cleaner.dedupe.buffer.size`` / 24 x ``log.cleaner.io.buffer.load.factor`` keys; a
   fuller map ends the pass at a segment boundary, the rest waits for the next pass).
3. **Copy.** Segments from the log start to the map's end, in groups of at most
   ``segment.bytes``, are rewritten into ``.cleaned`` segments keeping a record when it has a
   key whose map offset is not later than its own, and, if it is a tombstone (null value),
   while the batch's delete horizon (``now + delete.retention.ms``, written into the batch
   when the cleaner first keeps it, KIP-534) has not passed. Offsets never change: a batch
   keeps its base and last offset, codec, producer fields and leader epoch. A batch left
   without records disappears, except a producer's last batch in the log (an empty batch
   keeps its sequence for idempotence) and the last batch of a group (an empty batch marks
   where the group ends, for crash recovery). Records of aborted transactions are dropped and
   never supersede another record (Kafka's cleaner does the same); control batches are kept.
4. **Swap.** ``PartitionLog.replace_segments`` swaps each group in crash-safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refka.log.checkpoint import read_offsets, write_offsets
from refka.log.partition_log import PartitionLog
from refka.log.segment import BatchPosition, LogSegment
from refka.log.storage import Storage
from refka.protocol import records as codec
from refka.protocol.batch_header import BatchHeader, read_header

if TYPE_CHECKING:
    from refka.log.transaction_index import AbortedTxn

CLEANER_CHECKPOINT = "cleaner-offset-checkpoint"
_OFFSET_MAP_ENTRY_BYTES = 24  # Kafka's SkimpyOffsetMap: a 16-byte MD5 and an 8-byte offset
TopicPartition = tuple[str, int]
Transactions = Callable[[TopicPartition], "tuple[int, Sequence[AbortedTxn]] | None"]
"""A partition's last stable offset and aborted transactions (None: no replica knows them)."""
Aborted = dict[int, list[tuple[int, int]]]  # producer id -> (first offset, marker offset)


@dataclass(frozen=True, slots=True)
class CleanerConfig:
    """The ``log.cleaner.*`` broker keys the cleaner uses."""

    enable: bool = True
    backoff_ms: int = 15_000
    dedupe_buffer_size: int = 134_217_728
    io_buffer_load_factor: float = 0.9

    @property
    def max_keys(self) -> int:
        return max(
            1, int(self.dedupe_buffer_size / _OFFSET_MAP_ENTRY_BYTES * self.io_buffer_load_factor)
        )


@dataclass(frozen=True, slots=True)
class Cleanable:
    """One log's case for cleaning (``LogToClean``)."""

    tp: TopicPartition
    first_dirty: int
    first_uncleanable: int
    ratio: float
    urgent: bool  # max.compaction.lag.ms passed, or tombstones reached their horizon


class LogCleaner:
    """Chooses and cleans one compacted log per pass; see the module docstring."""

    def __init__(
        self,
        storage: Storage,
        config: CleanerConfig,
        now_ms: int,
        transactions: Transactions | None = None,
    ) -> None:
        self.storage = storage
        self.config = config
        self.transactions = transactions or (lambda _tp: None)
        self.first_dirty: dict[TopicPartition, int] = read_offsets(storage, CLEANER_CHECKPOINT)
        self.tombstone_horizons: dict[TopicPartition, int] = {}
        self.next_run_ms = now_ms
        self.passes = 0

    def forget(self, tp: TopicPartition) -> None:
        self.first_dirty.pop(tp, None)
        self.tombstone_horizons.pop(tp, None)

    def on_tick(self, now_ms: int, logs: dict[TopicPartition, PartitionLog]) -> int | None:
        """Clean the filthiest log if one is due; return when to look again (None: disabled)."""
        if not self.config.enable:
            return None
        if now_ms < self.next_run_ms:
            return self.next_run_ms
        cases = [c for tp, log in logs.items() if (c := self.assess(tp, log, now_ms))]
        if not cases:
            self.next_run_ms = now_ms + self.config.backoff_ms
            return self.next_run_ms
        case = max(cases, key=lambda c: (c.urgent, c.ratio))
        self.clean(logs[case.tp], case, now_ms)
        write_offsets(self.storage, CLEANER_CHECKPOINT, self.first_dirty)
        self.next_run_ms = now_ms  # there may be more to do: look again at once
        return now_ms

    # -- choosing ------------------------------------------------------------------------------

    def assess(self, tp: TopicPartition, log: PartitionLog, now_ms: int) -> Cleanable | None:
        config = log.config
        if not config.compacts:
            return None
        first_dirty = self.first_dirty.get(tp, log.log_start_offset)
        if not log.log_start_offset <= first_dirty <= log.log_end_offset:
            first_dirty = log.log_start_offset
        first_uncleanable = log.active_segment.base_offset
        for segment in log.segments[:-1]:
            if segment.next_offset <= first_dirty:
                continue
            if config.min_compaction_lag_ms > 0 and (
                segment.largest_timestamp_ms() > now_ms - config.min_compaction_lag_ms
            ):
                first_uncleanable = segment.base_offset
                break
        known = self.transactions(tp)
        if known is not None:
            stable = known[0]
            for segment in log.segments:
                if segment.next_offset > stable:
                    first_uncleanable = min(first_uncleanable, segment.base_offset)
                    break
        clean_bytes = sum(s.size for s in log.segments if s.next_offset <= first_dirty)
        dirty = [
            s
            for s in log.segments
            if s.next_offset > first_dirty and s.base_offset < first_uncleanable
        ]
        dirty_bytes = sum(s.size for s in dirty)
        ratio = dirty_bytes / (clean_bytes + dirty_bytes) if dirty_bytes else 0.0
        oldest = dirty[0].rolling_based_timestamp if dirty else None
        overdue = oldest is not None and 0 <= oldest < now_ms - config.max_compaction_lag_ms
        horizon = self.tombstone_horizons.get(tp)
        tombstones_due = horizon is not None and horizon <= now_ms
        filthy = dirty_bytes > 0 and (ratio > config.min_cleanable_dirty_ratio or overdue)
        if not (filthy or tombstones_due):
            return None
        return Cleanable(tp, first_dirty, first_uncleanable, ratio, overdue or tombstones_due)

    # -- cleaning ------------------------------------------------------------------------------

    def clean(self, log: PartitionLog, case: Cleanable, now_ms: int) -> None:
        """One pass over ``log`` (Kafka's ``Cleaner.doClean``)."""
        known = self.transactions(case.tp)
        aborted = _aborted_ranges(known[1] if known is not None else ())
        offsets, end = self.build_offset_map(log, case.first_dirty, case.first_uncleanable, aborted)
        end = max(end, case.first_dirty)
        last_of_producer = _last_batch_of_producers(log)
        horizon_for_new = now_ms + log.config.delete_retention_ms
        kept_horizons: list[int] = []
        for group in _groups(log, end):
            cleaned = LogSegment(
                log.storage, log.dir_name, group[0].base_offset, log.config, now_ms, ".cleaned"
            )
            for path in cleaned.paths:
                if log.storage.exists(path):
                    log.storage.delete(path)
            cleaned.create()
            batches = [b for s in group for b in _batches(log, s)]
            for i, (header, data) in enumerate(batches):
                out, horizon = _filter_batch(
                    header, data, offsets, now_ms, horizon_for_new, last_of_producer,
                    last_in_group=i == len(batches) - 1, aborted=_is_aborted(header, aborted),
                )  # fmt: skip
                if out is not None:
                    cleaned.append(out, [_position(out)])
                if horizon is not None:
                    kept_horizons.append(horizon)
            cleaned.on_become_inactive()
            cleaned.flush()
            cleaned.close()
            log.replace_segments(group, cleaned, now_ms)
        self.first_dirty[case.tp] = end
        if kept_horizons:
            self.tombstone_horizons[case.tp] = min(kept_horizons)
        else:
            self.tombstone_horizons.pop(case.tp, None)
        self.passes += 1

    def build_offset_map(
        self, log: PartitionLog, start: int, stop: int, aborted: Aborted | None = None
    ) -> tuple[dict[bytes, int], int]:
        """Each key's last offset in whole segments of [start, stop); and where the map ends."""
        offsets: dict[bytes, int] = {}
        end = start
        for segment in log.segments:
            if segment.next_offset <= start or segment.base_offset >= stop:
                continue
            if end > start and len(offsets) >= self.config.max_keys:
                break  # full: the rest waits for the next pass
            for header, data in _batches(log, segment):
                if header.is_control or header.records_count == 0:
                    continue
                if aborted and _is_aborted(header, aborted):
                    continue
                for record in codec.iter_records(data):
                    if record.key is not None and record.offset >= start:
                        offsets[record.key] = record.offset
            end = segment.next_offset
        return offsets, end


def _filter_batch(
    header: BatchHeader,
    data: bytes,
    offsets: dict[bytes, int],
    now_ms: int,
    horizon_for_new: int,
    last_of_producer: dict[int, int],
    last_in_group: bool,
    aborted: bool = False,
) -> tuple[bytes | None, int | None]:
    """What is left of one batch, and the delete horizon of the tombstones it keeps (nothing
    of a batch of an aborted transaction)."""
    if header.is_control:
        return data, None
    records = list(codec.iter_records(data)) if header.records_count else []
    horizon = codec.delete_horizon_ms(header)

    def keep(record: codec.Record) -> bool:
        if aborted or record.key is None:
            return False  # Kafka's cleaner drops keyless records
        if offsets.get(record.key, record.offset) > record.offset:
            return False  # a later record has the same key
        return record.value is not None or horizon is None or now_ms < horizon

    retained = [r for r in records if keep(r)]
    has_tombstones = any(r.value is None for r in retained)
    new_horizon = horizon if horizon is not None else (horizon_for_new if has_tombstones else None)
    if retained and len(retained) == len(records) and new_horizon == horizon:
        return data, horizon if has_tombstones else None
    if retained:
        return codec.build_retained_batch(header, retained, new_horizon), (
            new_horizon if has_tombstones else None
        )
    producer_last = header.has_producer_id and last_of_producer.get(header.producer_id) == (
        header.base_offset + header.last_offset_delta
    )
    if producer_last or last_in_group:
        return codec.build_empty_batch(header), None
    return None, None


def _aborted_ranges(entries: Sequence[AbortedTxn]) -> Aborted:
    ranges: Aborted = {}
    for entry in entries:
        ranges.setdefault(entry.producer_id, []).append((entry.first_offset, entry.last_offset))
    return ranges


def _is_aborted(header: BatchHeader, aborted: Aborted) -> bool:
    """Whether a transactional batch belongs to a transaction that aborted."""
    if not header.is_transactional or header.is_control:
        return False
    ranges = aborted.get(header.producer_id, ())
    return any(first <= header.base_offset <= last for first, last in ranges)


def _batches(log: PartitionLog, segment: LogSegment) -> Iterator[tuple[BatchHeader, bytes]]:
    for batch in segment.batches(0):
        data = log.storage.read(segment.log_path, batch.position, batch.size)
        yield read_header(data), data


def _position(data: bytes) -> BatchPosition:
    header = read_header(data)
    last = header.base_offset + header.last_offset_delta
    return BatchPosition(
        0, header.base_offset, last, len(data), header.max_timestamp, header.partition_leader_epoch
    )


def _groups(log: PartitionLog, end: int) -> list[list[LogSegment]]:
    """Consecutive inactive segments below ``end`` in groups of at most ``segment.bytes``
    (Kafka's ``groupSegmentsBySize``; offsets within a group fit a 32-bit delta)."""
    groups: list[list[LogSegment]] = []
    for segment in log.segments[:-1]:
        if segment.next_offset > end:
            break
        group = groups[-1] if groups else None
        if (
            group is not None
            and sum(s.size for s in group) + segment.size <= log.config.segment_bytes
            and segment.next_offset - group[0].base_offset <= 0x7FFFFFFF
        ):
            group.append(segment)
        else:
            groups.append([segment])
    return groups


def _last_batch_of_producers(log: PartitionLog) -> dict[int, int]:
    """Each producer id's last offset in the log: its last batch must keep its sequence."""
    last: dict[int, int] = {}
    for segment in log.segments:
        for batch in segment.batches(0):
            head = log.storage.read(segment.log_path, batch.position, 61)
            header = read_header(head)
            if header.has_producer_id and not header.is_control:
                last[header.producer_id] = batch.last_offset
    return last
