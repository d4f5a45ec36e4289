"""The log of one partition replica: a folder ``<topic>-<partition>/`` of segments.

As Kafka's ``UnifiedLog``/``LocalLog`` (local tier only): append batches whose offsets are
already assigned, roll on ``segment.bytes``/``segment.ms``, read whole batches as file slices,
delete old segments by ``retention.ms``/``retention.bytes`` (advancing ``log_start_offset``),
flush by ``flush.messages``/``flush.ms`` (advancing ``recovery_point``), and on open recover
every segment at or after the recovery point. Names as in the replication spec:
``log_start_offset``, ``log_end_offset``, and the leader-epoch cache the ``Truncate`` action
consults.

Segments removed by retention, truncation or the cleaner's swap are renamed with Kafka's
``.deleted`` suffix and leave the disk ``file.delete.delay.ms`` later (``on_tick``), as Kafka's
asynchronous segment deletion: a reader that already holds the file keeps its bytes meanwhile.
No read sees them (they are no longer segments); on open, leftover ``.deleted`` files go.

Producer state snapshots (``refka.log.producer_snapshot``): when the replica sets
``producer_snapshot`` (the state's bytes), a ``<offset>.snapshot`` is written at each roll
(the new segment's base offset) and at ``close`` (the log end offset), after the flush that
makes the batches below it durable. As Kafka: a roll keeps the snapshots at or after the
second newest segment's base offset; a segment's snapshot goes with it; truncation removes the
snapshots above the new log end offset, a full truncation all of them; opening removes stray
ones (``_remove_stray_snapshots``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from refka.log.config import LogConfig
from refka.log.file_slice import FileSlice
from refka.log.leader_epoch_cache import LeaderEpochCache
from refka.log.offset_index import floor_entry
from refka.log.producer_snapshot import snapshot_name, snapshot_offset
from refka.log.segment import BatchPosition, LogSegment, file_name
from refka.log.storage import Storage, write_atomically
from refka.protocol.batch_header import HEADER_SIZE, LOG_OVERHEAD, read_header

# baseOffset, batchLength, partitionLeaderEpoch, magic, (crc, attributes skipped),
# lastOffsetDelta, baseTimestamp, maxTimestamp
_PREFIX = struct.Struct(">qiib6xiqq")
DELETED = ".deleted"
_LEFTOVER_SUFFIXES = (DELETED, ".cleaned", ".swap", ".tmp")
SWAP = ".swap"

IterRecords = Callable[[bytes], Iterable[Any]]


class OffsetOutOfRange(Exception):
    """A fetch or offset outside [log_start_offset, log_end_offset] (OFFSET_OUT_OF_RANGE)."""

    def __init__(self, offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(f"offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class InvalidRecords(ValueError):
    """Bytes that are not complete v2 batches continuing the log (a caller bug, or corrupt)."""


def describe_batches(records: bytes | bytearray, first_offset: int) -> list[BatchPosition]:
    """Header facts of each batch in ``records``, checking they are whole and in order."""
    batches: list[BatchPosition] = []
    position, expected, end = 0, first_offset, len(records)
    unpack = _PREFIX.unpack_from
    while position < end:
        if end - position < HEADER_SIZE:
            raise InvalidRecords(f"torn batch header at byte {position}")
        base, length, epoch, magic, delta, _, max_ts = unpack(records, position)
        size = length + LOG_OVERHEAD
        if magic != 2 or size < HEADER_SIZE or position + size > end or delta < 0:
            raise InvalidRecords(f"bad batch at byte {position} (magic {magic}, size {size})")
        if base != expected:
            raise InvalidRecords(f"batch at byte {position} has base offset {base}, not {expected}")
        batches.append(BatchPosition(position, base, base + delta, size, max_ts, epoch))
        position += size
        expected = base + delta + 1
    return batches


class PartitionLog:
    """Segments in offset order; the last one is the active segment written to."""

    def __init__(
        self,
        storage: Storage,
        dir_name: str,
        topic: str,
        partition: int,
        config: LogConfig,
        now_ms: int,
    ) -> None:
        self.storage = storage
        self.dir_name = dir_name
        self.topic = topic
        self.partition = partition
        self.config = config
        self.segments: list[LogSegment] = []
        self.log_start_offset = 0
        self.log_end_offset = 0
        self.recovery_point = 0
        self.on_flush: Callable[[int], None] | None = None  # Flush trace events (Replica sets)
        self.last_flush_ms = now_ms
        self.now_ms = now_ms  # the latest time a caller passed in
        self.pending_deletes: dict[str, int] = {}  # ``.deleted`` path -> when it goes
        self._dir_dirty = False  # a segment file was created since the directory's last fsync
        self.leader_epoch_cache = LeaderEpochCache(storage, dir_name)
        self.producer_snapshot: Callable[[], bytes] | None = None  # the replica's state

    # -- opening and recovery ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        storage: Storage,
        dir_name: str,
        topic: str,
        partition: int,
        config: LogConfig,
        now_ms: int,
        recovery_point: int = 0,
        log_start_offset: int = 0,
    ) -> PartitionLog:
        """Create the partition directory, or load it and recover from ``recovery_point``."""
        storage.mkdir(dir_name)
        log = cls(storage, dir_name, topic, partition, config, now_ms)
        log._load_segments(now_ms, recovery_point)
        if not log.segments:
            log._add_segment(log_start_offset, now_ms)
        log.log_end_offset = log.active_segment.next_offset
        log.log_start_offset = max(log_start_offset, log.segments[0].base_offset)
        if log.log_start_offset > log.log_end_offset:
            log.truncate_fully_and_start_at(log.log_start_offset)
        log.recovery_point = min(max(recovery_point, log.log_start_offset), log.log_end_offset)
        log.leader_epoch_cache.truncate_from_end(log.log_end_offset)
        log.leader_epoch_cache.truncate_from_start(log.log_start_offset)
        log._remove_stray_snapshots()
        for segment in log.segments[:-1]:
            segment.close_index_handles()
        return log

    def _load_segments(self, now_ms: int, recovery_point: int) -> None:
        names = self.storage.list_dir(self.dir_name)
        for name in names:
            if name.endswith(_LEFTOVER_SUFFIXES) and not name.endswith(SWAP):
                self.storage.delete(f"{self.dir_name}/{name}")
        forced = self._complete_swaps(now_ms, names)
        names = self.storage.list_dir(self.dir_name)
        bases = sorted(int(n[:-4]) for n in names if n.endswith(".log") and n[:-4].isdigit())
        for name in names:
            stem, _, suffix = name.partition(".")
            orphan = suffix in ("index", "timeindex", "txnindex")
            if orphan and stem.isdigit() and int(stem) not in bases:
                self.storage.delete(f"{self.dir_name}/{name}")
        for i, base in enumerate(bases):
            segment = LogSegment(self.storage, self.dir_name, base, self.config, now_ms)
            next_base = bases[i + 1] if i + 1 < len(bases) else None
            if base not in forced and _loads_trusted(segment, next_base, recovery_point):
                self.segments.append(segment)
                continue
            truncated = segment.recover(self.leader_epoch_cache) > 0
            self.segments.append(segment)
            if truncated:  # a bad batch: whatever follows it cannot be trusted
                segment.flush()  # a later crash must not bring the bad tail back
                for later in bases[i + 1 :]:
                    LogSegment(self.storage, self.dir_name, later, self.config, now_ms).delete()
                break

    def _complete_swaps(self, now_ms: int, names: list[str]) -> set[int]:
        """Finish or undo a cleaner's swap cut short by a crash (see ``replace_segments``);
        returns the bases of segments whose indexes must be rebuilt."""
        forced: set[int] = set()
        for name in names:
            if not name.endswith(".log" + SWAP):
                continue
            base = int(name[:20])
            if f"{file_name(base, '.log')}" in names:  # no old segment was moved yet: undo
                for path in LogSegment(
                    self.storage, self.dir_name, base, self.config, now_ms, SWAP
                ).paths:
                    if self.storage.exists(path):
                        self.storage.delete(path)
                continue
            swapped = LogSegment(self.storage, self.dir_name, base, self.config, now_ms, SWAP)
            swapped.recover()
            end = swapped.next_offset
            swapped.close()
            for other in names:
                stem, _, suffix = other.partition(".")
                if suffix == "log" and stem.isdigit() and base < int(stem) < end:
                    LogSegment(self.storage, self.dir_name, int(stem), self.config, now_ms).delete()
            self._rename_swap(base, now_ms)
            forced.add(base)
        for name in self.storage.list_dir(self.dir_name):
            if name.endswith(SWAP):  # an index whose log was already renamed: rebuild it
                self.storage.delete(f"{self.dir_name}/{name}")
                forced.add(int(name[:20]))
        return forced

    def _rename_swap(self, base: int, now_ms: int) -> None:
        """``.swap`` -> the live names, the ``.log`` first (recovery keys on ``.log.swap``)."""
        for path in LogSegment(self.storage, self.dir_name, base, self.config, now_ms, SWAP).paths:
            if self.storage.exists(path):
                self.storage.rename(path, path.removesuffix(SWAP))

    def replace_segments(self, old: list[LogSegment], cleaned: LogSegment, now_ms: int) -> None:
        """Swap a flushed ``.cleaned`` segment in for ``old`` (consecutive, the first with the
        same base offset), crash-safely as Kafka's ``LocalLog.replaceSegments``: rename the
        cleaned files to ``.swap``; move the old segments' files to ``.deleted``, the first
        one first; rename the ``.swap`` files to their live names; delete the ``.deleted``
        after ``file.delete.delay.ms``.
        On open, a ``.log.swap`` beside the old first ``.log`` means the swap never started
        (undo); without it, the old segments are removed and the swap completed (redo)."""
        base = cleaned.base_offset
        assert old and old[0].base_offset == base, "cleaned segment must start the group"
        for path in cleaned.paths:
            if self.storage.exists(path):
                self.storage.rename(path, path.removesuffix(".cleaned") + SWAP)
        self.storage.fsync(self.dir_name)
        self._advance(now_ms)
        for segment in old:
            segment.close()
            for path in segment.paths:
                if self.storage.exists(path):
                    self.storage.rename(path, path + DELETED)
        self._rename_swap(base, now_ms)
        self.storage.fsync(self.dir_name)
        for segment in old:
            self._schedule_delete(segment.paths)
        fresh = LogSegment(self.storage, self.dir_name, base, self.config, now_ms)
        if not fresh.load():
            fresh.recover()
        fresh.created_ms = max(s.created_ms for s in old)
        first = self.segments.index(old[0])
        self.segments[first : first + len(old)] = [fresh]
        if fresh is not self.active_segment:
            fresh.close_index_handles()

    def _add_segment(self, base_offset: int, now_ms: int) -> LogSegment:
        segment = LogSegment(self.storage, self.dir_name, base_offset, self.config, now_ms)
        segment.create()
        self.segments.append(segment)
        self._dir_dirty = True
        return segment

    @property
    def active_segment(self) -> LogSegment:
        return self.segments[-1]

    @property
    def size_in_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    # -- appending, rolling, flushing ----------------------------------------------------------

    def append(self, records: bytes | bytearray, now_ms: int) -> None:
        """Append whole v2 batches whose offsets start at ``log_end_offset``: one write."""
        self._advance(now_ms)
        batches = describe_batches(records, self.log_end_offset)
        if not batches:
            return
        segment = self.active_segment
        if segment.should_roll(batches, len(records), self.config, now_ms):
            segment = self.roll(now_ms)
        segment.append(records, batches)
        self.log_end_offset = segment.next_offset
        cache = self.leader_epoch_cache
        for batch in batches:
            epoch = batch.partition_leader_epoch
            if epoch >= 0 and epoch != cache.latest_epoch:
                cache.assign(epoch, batch.base_offset)
        if self.log_end_offset - self.recovery_point >= self.config.flush_messages:
            self.flush(now_ms)

    def roll(self, now_ms: int) -> LogSegment:
        """Start a new active segment at ``log_end_offset``; flush the ones before it."""
        active = self.active_segment
        if active.base_offset == self.log_end_offset:
            return active  # already empty and at the end
        active.on_become_inactive()
        segment = self._add_segment(self.log_end_offset, now_ms)
        self.flush(now_ms)
        active.close_index_handles()
        if self.producer_snapshot is not None:
            self.write_snapshot(segment.base_offset, self.producer_snapshot())
            keep_from = min(self.recovery_point, self.segments[-2].base_offset)
            self.delete_snapshots(lambda offset: offset < keep_from)
        return segment

    # -- producer state snapshots --------------------------------------------------------------

    def snapshot_path(self, offset: int) -> str:
        return f"{self.dir_name}/{snapshot_name(offset)}"

    def snapshot_offsets(self) -> list[int]:
        """The offsets of the ``.snapshot`` files in the partition directory, ascending."""
        found = (snapshot_offset(n) for n in self.storage.list_dir(self.dir_name))
        return sorted(o for o in found if o is not None)

    def write_snapshot(self, offset: int, data: bytes) -> None:
        """``<offset>.snapshot``, written atomically (``.tmp``, fsync, rename)."""
        write_atomically(self.storage, self.snapshot_path(offset), data)
        self._dir_dirty = True

    def read_snapshot(self, offset: int) -> bytes:
        path = self.snapshot_path(offset)
        return self.storage.read(path, 0, self.storage.size(path))

    def _remove_stray_snapshots(self) -> None:
        """On open: drop the snapshots past the log end offset (a log cut short by recovery);
        then, as Kafka's ``removeStraySnapshots``, keep those at segment base offsets and the
        newest other one if it lies past the last base (a clean shutdown's)."""
        end = self.log_end_offset
        self.delete_snapshots(lambda offset: offset > end)
        bases = {s.base_offset for s in self.segments}
        strays = [o for o in self.snapshot_offsets() if o not in bases]
        keep = strays[-1] if strays and strays[-1] > max(bases) else None
        self.delete_snapshots(lambda offset: offset in strays and offset != keep)

    def delete_snapshots(self, doomed: Callable[[int], bool]) -> None:
        for offset in self.snapshot_offsets():
            if doomed(offset):
                self.storage.delete(self.snapshot_path(offset))

    def flush(self, now_ms: int | None = None) -> None:
        """fsync every segment holding offsets at or after the recovery point, up to LEO."""
        bases = [s.base_offset for s in self.segments]
        first = max(floor_entry(bases, self.recovery_point), 0)
        for segment in self.segments[first:]:
            segment.flush()
        if self._dir_dirty:
            self.storage.fsync(self.dir_name)
            self._dir_dirty = False
        flushed = self.recovery_point != self.log_end_offset
        self.recovery_point = self.log_end_offset
        if now_ms is not None:
            self.last_flush_ms = now_ms
        if self.on_flush is not None and flushed:
            self.on_flush(self.recovery_point)

    def on_tick(self, now_ms: int) -> None:
        """``flush.ms``: flush when that long has passed since the last flush; remove the
        ``.deleted`` files whose ``file.delete.delay.ms`` has passed."""
        self._advance(now_ms)
        if now_ms - self.last_flush_ms >= self.config.flush_ms:
            self.flush(now_ms)
        self.delete_due_files(now_ms)

    def _advance(self, now_ms: int) -> None:
        self.now_ms = max(self.now_ms, now_ms)

    # -- deleting segment files after file.delete.delay.ms -------------------------------------

    def _delete_segment(self, segment: LogSegment) -> None:
        """Kafka's asynchronous delete: rename the files to ``.deleted`` now, remove them
        ``file.delete.delay.ms`` later (at once with a delay of 0)."""
        segment.close()
        renamed = []
        snapshot = self.snapshot_path(segment.base_offset)
        for path in (*segment.paths, snapshot):
            if self.storage.exists(path):
                self.storage.rename(path, path + DELETED)
                renamed.append(path)
        self._schedule_delete(renamed)

    def _schedule_delete(self, live_paths: Iterable[str]) -> None:
        """A path scheduled again (a segment with the same base went twice) takes the later
        time: the file under that name is the newer one."""
        due = self.now_ms + self.config.file_delete_delay_ms
        for path in live_paths:
            self.pending_deletes[path + DELETED] = due
        if self.config.file_delete_delay_ms <= 0:
            self.delete_due_files(self.now_ms)

    def delete_due_files(self, now_ms: int) -> None:
        """Remove the ``.deleted`` files whose time has come."""
        for path, due in list(self.pending_deletes.items()):
            if due <= now_ms:
                del self.pending_deletes[path]
                if self.storage.exists(path):
                    self.storage.delete(path)

    @property
    def next_file_delete_ms(self) -> int | None:
        return min(self.pending_deletes.values(), default=None)

    # -- reading -------------------------------------------------------------------------------

    def _check_range(self, offset: int) -> None:
        if not self.log_start_offset <= offset <= self.log_end_offset:
            raise OffsetOutOfRange(offset, self.log_start_offset, self.log_end_offset)

    def _segment_index(self, offset: int) -> int:
        return max(floor_entry([s.base_offset for s in self.segments], offset), 0)

    def read(
        self, start_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> list[FileSlice]:
        """Whole batches from the one holding ``start_offset``, one slice per segment; none
        holding ``max_offset`` (the high watermark) or after it; within ``max_bytes`` unless
        ``min_one_batch`` and the first batch alone is larger. (Kafka stops at the end of the
        first segment; going on costs a client nothing and fills the fetch.)"""
        if start_offset == self.log_end_offset:  # a caught-up reader: nothing to check or read
            return []
        self._check_range(start_offset)
        if start_offset >= max_offset:
            return []
        slices: list[FileSlice] = []
        budget = max_bytes
        for segment in self.segments[self._segment_index(start_offset) :]:
            if segment.base_offset >= max_offset:
                break
            max_position = segment.size
            if max_offset < segment.next_offset:
                max_position = segment.position_of(max_offset)
            found = segment.read(start_offset, budget, max_position, min_one_batch and not slices)
            if found is None:  # nothing at or after start_offset here: try the next segment
                continue
            if found.size:
                slices.append(found)
                budget -= found.size
            if budget <= 0 or found.position + found.size < max_position:
                break
            start_offset = segment.next_offset
        return slices

    def append_aborted_txn(self, last_offset: int, entry: bytes) -> None:
        """Write an aborted transaction to the ``.txnindex`` of the segment holding its
        marker (``last_offset``)."""
        self.segments[self._segment_index(last_offset)].append_aborted_txn(entry)

    def read_bytes(self, slices: list[FileSlice]) -> bytes:
        return b"".join(self.storage.read(s.path, s.position, s.size) for s in slices)

    def _batches_from(
        self, segment: LogSegment, position: int
    ) -> Iterator[tuple[BatchPosition, bytes]]:
        for batch in segment.batches(position):
            yield batch, self.storage.read(segment.log_path, batch.position, batch.size)

    def offset_for_timestamp(
        self, timestamp_ms: int, iter_records: IterRecords | None = None
    ) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record at or after ``log_start_offset`` whose
        timestamp is >= ``timestamp_ms`` (ListOffsets by time), or None."""
        iter_records = iter_records or _default_iter_records()
        start = self.log_start_offset
        for segment in self.segments:
            if segment.max_timestamp < timestamp_ms:
                continue
            _, offset = segment.time_index.lookup(timestamp_ms)
            position = segment.offset_index.lookup(max(offset, start))[1]
            for batch, data in self._batches_from(segment, position):
                if batch.max_timestamp < timestamp_ms or batch.last_offset < start:
                    continue
                for offset, ts in _record_times(data, iter_records):
                    if ts >= timestamp_ms and offset >= start:
                        return offset, ts
        return None

    def max_timestamp_and_offset(self, iter_records: IterRecords | None = None) -> tuple[int, int]:
        """(offset, timestamp) of the first record with the largest timestamp (KIP-734), or
        (-1, -1) for a log without timestamps."""
        best = max(self.segments, key=lambda s: s.max_timestamp)  # first of equals
        timestamp = best.max_timestamp
        if timestamp < 0:
            return -1, -1
        iter_records = iter_records or _default_iter_records()
        position = best.offset_index.lookup(best.offset_of_max_timestamp)[1]
        for batch, data in self._batches_from(best, position):
            if batch.max_timestamp == timestamp:
                for offset, ts in _record_times(data, iter_records):
                    if ts == timestamp:
                        return offset, ts
        return best.offset_of_max_timestamp, timestamp

    # -- truncation and retention --------------------------------------------------------------

    def truncate_to(self, offset: int, now_ms: int | None = None) -> None:
        """Remove everything from the batch holding ``offset`` on (follower truncation);
        ``now_ms`` (default: the latest time seen) starts ``file.delete.delay.ms``."""
        if now_ms is not None:
            self._advance(now_ms)
        if offset < 0:
            raise ValueError(f"cannot truncate to negative offset {offset}")
        if offset >= self.log_end_offset:
            return
        if offset < self.segments[0].base_offset:
            self.truncate_fully_and_start_at(offset)
            return
        while len(self.segments) > 1 and self.active_segment.base_offset > offset:
            self._delete_segment(self.segments.pop())
        self.active_segment.truncate_to(offset)
        # Unlike Kafka, make the cut durable at once: a crash could otherwise bring the removed
        # batches back into a segment that recovery then trusts.
        self.active_segment.flush()
        self.log_end_offset = self.active_segment.next_offset
        self.recovery_point = min(self.recovery_point, self.log_end_offset)
        # Kafka lowers the start to the target; a target inside the batch holding the start
        # removes that batch too, so the start can be no later than the new end.
        self.log_start_offset = min(self.log_start_offset, offset, self.log_end_offset)
        self.leader_epoch_cache.truncate_from_end(offset)
        end = self.log_end_offset
        self.delete_snapshots(lambda snapshot: snapshot > end)

    def truncate_fully_and_start_at(self, offset: int, now_ms: int | None = None) -> None:
        """Delete every segment and start empty at ``offset`` (a follower far behind)."""
        if now_ms is not None:
            self._advance(now_ms)
        for segment in self.segments:
            self._delete_segment(segment)
        self.segments = []
        self._add_segment(offset, self.now_ms)
        self.log_start_offset = self.log_end_offset = self.recovery_point = offset
        self.leader_epoch_cache.clear()
        self.delete_snapshots(lambda _offset: True)

    def increment_log_start_offset(self, offset: int) -> None:
        """DeleteRecords (KIP-107): records below ``offset`` are gone; segments follow later."""
        if offset > self.log_end_offset:
            raise OffsetOutOfRange(offset, self.log_start_offset, self.log_end_offset)
        if offset > self.log_start_offset:
            self.log_start_offset = offset
            self.leader_epoch_cache.truncate_from_start(offset)

    def delete_expired_segments(self, now_ms: int, high_watermark: int | None = None) -> int:
        """Retention: delete old segments by time, then size, then the log start offset; only
        segments wholly below ``high_watermark`` (default LEO). Returns how many went. (Also
        removes due ``.deleted`` files, for a log no log manager ticks: the metadata log.)"""
        self._advance(now_ms)
        self.delete_due_files(now_ms)
        upper = self.log_end_offset if high_watermark is None else high_watermark
        deleted = 0
        if self.config.deletes and self.config.retention_ms >= 0:
            retention_ms = self.config.retention_ms
            deleted += self._delete_segments(
                lambda s, _n: now_ms - s.largest_timestamp_ms() > retention_ms, upper, now_ms
            )
        if self.config.deletes and self.config.retention_bytes >= 0:
            excess = [self.size_in_bytes - self.config.retention_bytes]

            def over_size(s: LogSegment, _n: LogSegment | None) -> bool:
                if excess[0] - s.size < 0:
                    return False
                excess[0] -= s.size
                return True

            deleted += self._delete_segments(over_size, upper, now_ms)
        start = self.log_start_offset
        deleted += self._delete_segments(
            lambda _s, n: n is not None and n.base_offset <= start, upper, now_ms
        )
        return deleted

    def _delete_segments(
        self,
        predicate: Callable[[LogSegment, LogSegment | None], bool],
        upper: int,
        now_ms: int,
    ) -> int:
        doomed = 0
        for i, segment in enumerate(self.segments):
            nxt = self.segments[i + 1] if i + 1 < len(self.segments) else None
            if not predicate(segment, nxt):
                break
            below = nxt.base_offset <= upper if nxt else upper >= self.log_end_offset
            if not below or (nxt is None and segment.size == 0):
                break
            doomed += 1
        if not doomed:
            return 0
        if doomed == len(self.segments):
            self.roll(now_ms)
        for segment in self.segments[:doomed]:
            self._delete_segment(segment)
        del self.segments[:doomed]
        self.log_start_offset = max(self.log_start_offset, self.segments[0].base_offset)
        self.leader_epoch_cache.truncate_from_start(self.log_start_offset)
        return doomed

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush everything (a clean shutdown leaves nothing to recover), write the producer
        state snapshot at the log end offset, and close files."""
        self.flush()
        if self.producer_snapshot is not None:
            self.write_snapshot(self.log_end_offset, self.producer_snapshot())
            self.storage.fsync(self.dir_name)
        for segment in self.segments:
            segment.close()

    def close_files(self) -> None:
        """Close every file handle, keeping the files (before the directory is renamed)."""
        for segment in self.segments:
            segment.close()
        self.segments = []
        self.pending_deletes = {}

    def delete(self) -> None:
        self.close_files()
        self.storage.delete(self.dir_name)


def _loads_trusted(segment: LogSegment, next_base: int | None, recovery_point: int) -> bool:
    """Whether ``segment`` lies below the recovery point and loads without a scan; the last
    segment qualifies when it ends exactly there (after a clean shutdown, or a flush)."""
    if next_base is not None:
        return next_base <= recovery_point and segment.load()
    return (
        segment.base_offset < recovery_point
        and segment.load()
        and segment.next_offset == recovery_point
    )


def _record_times(batch: bytes, iter_records: IterRecords) -> Iterator[tuple[int, int]]:
    """(offset, timestamp) of each record; LogAppendTime batches stamp every record alike."""
    header = read_header(batch)
    if header.is_log_append_time:
        for offset in range(header.base_offset, header.next_offset):
            yield offset, header.max_timestamp
        return
    for record in iter_records(batch):
        yield record.offset, record.timestamp


def _default_iter_records() -> IterRecords:
    from refka.protocol.records import iter_records  # type: ignore[import-not-found,unused-ignore]

    return iter_records  # type: ignore[no-any-return,unused-ignore]
