"""One log segment: ``<base offset, 20 digits>.log`` with its ``.index`` and ``.timeindex``.

As Kafka's ``LogSegment``: batches arrive with offsets assigned and are appended as bytes; the
indexes get an entry each time more than ``index.interval.bytes`` were appended since the last
one. Reads and offset lookups decode batch headers only (``refka.protocol.batch_header``), never
records. ``recover`` validates every batch (size, magic 2, CRC-32C over bytes [21:]), rebuilds
both indexes and cuts the log at the first bad batch.

A segment rolls on age when it is older than ``segment.ms`` less its ``roll_jitter_ms``, drawn
once per segment in [0, min(``segment.jitter.ms``, ``segment.ms``)) as Kafka's
``LogConfig.randomSegmentJitter``; the draw is a hash of the partition directory and the base
offset, so it is deterministic and the same each time the segment is opened.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from refka.log.config import LogConfig
from refka.log.file_slice import FileSlice
from refka.log.leader_epoch_cache import LeaderEpochCache
from refka.log.offset_index import ENTRY_SIZE as OFFSET_ENTRY_SIZE
from refka.log.offset_index import OffsetIndex
from refka.log.storage import Storage
from refka.log.time_index import ENTRY_SIZE as TIME_ENTRY_SIZE
from refka.log.time_index import NO_TIMESTAMP, TimeIndex
from refka.protocol.batch_header import ATTRIBUTES, HEADER_SIZE, LOG_OVERHEAD
from refka.protocol.crc import crc32c

# baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
# baseTimestamp, maxTimestamp: the header prefix the log needs.
_PREFIX = struct.Struct(">qiibIhiqq")
_RECOVERY_CHUNK_BYTES = 1 << 20


def file_name(base_offset: int, suffix: str) -> str:
    """Kafka's segment file name: the base offset in 20 digits, then the suffix."""
    return f"{base_offset:020d}{suffix}"


def roll_jitter_ms(config: LogConfig, dir_name: str, base_offset: int) -> int:
    """This segment's jitter in [0, min(segment.jitter.ms, segment.ms)); 0 without jitter."""
    bound = min(config.segment_jitter_ms, config.segment_ms)
    if bound <= 0:
        return 0
    import hashlib  # only a topic with segment.jitter.ms

    digest = hashlib.blake2b(f"{dir_name}/{base_offset}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % bound


@dataclass(frozen=True, slots=True)
class BatchPosition:
    """Where one batch sits in a segment file, and the header fields the log uses."""

    position: int
    base_offset: int
    last_offset: int
    size: int
    max_timestamp: int
    partition_leader_epoch: int = -1


class LogSegment:
    """A ``.log`` file and its two sparse indexes; see the module docstring."""

    def __init__(
        self,
        storage: Storage,
        dir_name: str,
        base_offset: int,
        config: LogConfig,
        now_ms: int,
        suffix: str = "",
    ) -> None:
        """``suffix`` (``.cleaned``, ``.swap``) names the files of a segment being swapped in."""
        self.storage = storage
        self.base_offset = base_offset
        self.log_path = f"{dir_name}/{file_name(base_offset, '.log')}{suffix}"
        index_bytes = config.segment_index_bytes
        self.offset_index = OffsetIndex(
            storage,
            f"{dir_name}/{file_name(base_offset, '.index')}{suffix}",
            base_offset,
            index_bytes // OFFSET_ENTRY_SIZE,
        )
        self.time_index = TimeIndex(
            storage,
            f"{dir_name}/{file_name(base_offset, '.timeindex')}{suffix}",
            base_offset,
            index_bytes // TIME_ENTRY_SIZE,
        )
        self.txn_index_path = f"{dir_name}/{file_name(base_offset, '.txnindex')}{suffix}"
        self.index_interval_bytes = config.index_interval_bytes
        self.size = 0
        self.next_offset = base_offset
        self.bytes_since_last_index_entry = 0
        self.max_timestamp = NO_TIMESTAMP
        self.offset_of_max_timestamp = -1
        self.rolling_based_timestamp: int | None = None
        self.created_ms = now_ms
        self.roll_jitter_ms = roll_jitter_ms(config, dir_name, base_offset)

    # -- opening -------------------------------------------------------------------------------

    def create(self) -> None:
        """Create empty files for a new segment."""
        for path in (self.log_path, self.offset_index.path, self.time_index.path):
            self.storage.open(path)
            self.storage.truncate(path, 0)

    def load(self) -> bool:
        """Open an existing segment trusting its indexes and batches (it lies below the
        recovery point); False if it must be recovered: an index fails Kafka's sanity check,
        or the batches after the last index entry do not end exactly at the end of the file."""
        self.storage.open(self.log_path)
        self.size = self.storage.size(self.log_path)
        if not (self.offset_index.load() and self.time_index.load()):
            return False
        if self.offset_index.positions and self.offset_index.positions[-1] >= self.size:
            return False
        end, self.next_offset = self.offset_index.lookup_position(self.size)[1], self.base_offset
        for batch in self.batches(end):
            end, self.next_offset = batch.position + batch.size, batch.last_offset + 1
        if end != self.size:
            return False
        self._reload_max_timestamp()
        return True

    def recover(self, leader_epoch_cache: LeaderEpochCache | None = None) -> int:
        """Validate every batch, rebuild both indexes (and epochs newer than the cache's);
        return the bytes cut from a bad tail."""
        self.storage.open(self.log_path)
        file_size = self.storage.size(self.log_path)
        self.offset_index.reset()
        self.time_index.reset()
        self.size = 0
        self.next_offset = self.base_offset
        self.bytes_since_last_index_entry = 0
        self.max_timestamp, self.offset_of_max_timestamp = NO_TIMESTAMP, -1
        self.rolling_based_timestamp = None
        for batch in self._valid_batches(file_size):
            self._index_batch(batch)
            epoch = batch.partition_leader_epoch
            if leader_epoch_cache is not None and epoch >= 0:
                latest = leader_epoch_cache.latest_epoch
                if latest is None or epoch > latest:
                    leader_epoch_cache.assign(epoch, batch.base_offset)
            self.size = batch.position + batch.size
            self.next_offset = batch.last_offset + 1
        if self.size < file_size:
            self.storage.truncate(self.log_path, self.size)
        if self.max_timestamp != NO_TIMESTAMP:
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
        return file_size - self.size

    def _valid_batches(self, file_size: int) -> Iterator[BatchPosition]:
        """Batches from the start of the file up to the first torn, corrupt or out-of-order one."""
        chunk, chunk_start, position = b"", 0, 0
        expected_offset = self.base_offset
        while position + LOG_OVERHEAD <= file_size:
            if position + HEADER_SIZE > chunk_start + len(chunk):
                chunk_start = position
                chunk = self.storage.read(self.log_path, position, _RECOVERY_CHUNK_BYTES)
            at = position - chunk_start
            if len(chunk) - at < HEADER_SIZE:
                return
            base, length, epoch, magic, crc, _, delta, _, max_ts = _PREFIX.unpack_from(chunk, at)
            size = length + LOG_OVERHEAD
            if magic != 2 or size < HEADER_SIZE or delta < 0 or base < expected_offset:
                return
            if position + size > file_size:
                return
            if at + size > len(chunk):
                chunk_start = position
                chunk = self.storage.read(self.log_path, position, max(size, _RECOVERY_CHUNK_BYTES))
                at = 0
            if crc32c(memoryview(chunk)[at + ATTRIBUTES : at + size]) != crc:
                return
            if base + delta - self.base_offset > 0x7FFFFFFF:
                return
            yield BatchPosition(position, base, base + delta, size, max_ts, epoch)
            expected_offset = base + delta + 1
            position += size

    # -- appending -----------------------------------------------------------------------------

    def append(self, records: bytes | bytearray, batches: list[BatchPosition]) -> None:
        """Append ``records``; ``batches`` describe it, positions relative to its start."""
        start = self.size
        self.storage.append(self.log_path, records)
        for batch in batches:
            self._index_batch(batch, start)
        self.size = start + len(records)
        self.next_offset = batches[-1].last_offset + 1

    def _index_batch(self, batch: BatchPosition, start: int = 0) -> None:
        """Kafka's per-batch bookkeeping; ``batch.position`` is relative to ``start``."""
        if batch.max_timestamp > self.max_timestamp:
            self.max_timestamp, self.offset_of_max_timestamp = (
                batch.max_timestamp,
                batch.last_offset,
            )
        if self.rolling_based_timestamp is None:
            self.rolling_based_timestamp = batch.max_timestamp
        if self.bytes_since_last_index_entry > self.index_interval_bytes:
            self.offset_index.append(batch.last_offset, start + batch.position)
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
            self.bytes_since_last_index_entry = 0
        self.bytes_since_last_index_entry += batch.size

    def should_roll(
        self, batches: list[BatchPosition], records_size: int, config: LogConfig, now_ms: int
    ) -> bool:
        """Kafka's ``LogSegment.shouldRoll``: size, age (``segment.ms`` less the jitter), a
        full index, or offset overflow."""
        if self.size == 0:
            return False
        if self.size > config.segment_bytes - records_size:
            return True
        if (
            self.time_waited_for_roll_ms(now_ms, max(b.max_timestamp for b in batches))
            > config.segment_ms - self.roll_jitter_ms
        ):
            return True
        if self.offset_index.is_full or self.time_index.is_full:
            return True
        return batches[-1].last_offset - self.base_offset > 0x7FFFFFFF

    def time_waited_for_roll_ms(self, now_ms: int, timestamp_ms: int) -> int:
        """Age for ``segment.ms``: by record time if the segment has one, else by creation."""
        first = self.rolling_based_timestamp
        if first is not None and first >= 0:
            return timestamp_ms - first
        return now_ms - self.created_ms

    # -- reading -------------------------------------------------------------------------------

    def batches(self, position: int, end: int | None = None) -> Iterator[BatchPosition]:
        """Headers of the batches from ``position`` (a batch boundary) up to ``end``."""
        end = self.size if end is None else end
        read, path, unpack = self.storage.read, self.log_path, _PREFIX.unpack_from
        while position + _PREFIX.size <= end:
            head = read(path, position, _PREFIX.size)
            if len(head) < _PREFIX.size:
                return
            base, length, _, _, _, _, delta, _, max_ts = unpack(head)
            size = length + LOG_OVERHEAD
            if position + size > end:
                return
            yield BatchPosition(position, base, base + delta, size, max_ts)
            position += size

    def translate_offset(self, offset: int, starting_position: int = 0) -> BatchPosition | None:
        """The first batch whose last offset is >= ``offset``, or None."""
        position = max(self.offset_index.lookup(offset)[1], starting_position)
        for batch in self.batches(position):
            if batch.last_offset >= offset:
                return batch
        return None

    def read(
        self, start_offset: int, max_bytes: int, max_position: int, min_one_batch: bool
    ) -> FileSlice | None:
        """Whole batches from the one holding ``start_offset``, ending at or before
        ``max_position`` (a batch boundary) and within ``max_bytes`` (unless ``min_one_batch``
        and the first batch alone is larger). None if no batch holds ``start_offset``."""
        first = self.translate_offset(start_offset)
        if first is None:
            return None
        start = first.position
        if start >= max_position:
            return FileSlice(self.log_path, start, 0)
        budget = max(max_bytes, first.size) if min_one_batch else max_bytes
        limit = min(max_position, start + budget)
        end = limit if limit == max_position else self._whole_batches_end(start, limit)
        return FileSlice(self.log_path, start, end - start)

    def _whole_batches_end(self, start: int, limit: int) -> int:
        """End of the last whole batch that ends at or before ``limit``."""
        end = max(start, self.offset_index.lookup_position(limit)[1])
        for batch in self.batches(end, limit):
            end = batch.position + batch.size
        return end

    def position_of(self, offset: int) -> int:
        """File position where the batch holding ``offset`` starts, or the end of the file."""
        found = self.translate_offset(offset)
        return self.size if found is None else found.position

    def largest_timestamp_ms(self) -> int:
        """For time retention: the largest record timestamp, or when the segment was made."""
        return self.max_timestamp if self.max_timestamp >= 0 else self.created_ms

    # -- truncating, flushing, closing ---------------------------------------------------------

    def truncate_to(self, offset: int) -> int:
        """Remove the batch holding ``offset`` and everything after it; return bytes cut."""
        found = self.translate_offset(offset)
        if found is None:
            return 0
        self.offset_index.truncate_to(offset)
        self.time_index.truncate_to(offset)
        self.truncate_txn_index(offset)
        cut = self.size - found.position
        self.storage.truncate(self.log_path, found.position)
        self.size = found.position
        self.next_offset = found.base_offset
        self.bytes_since_last_index_entry = 0
        if self.size == 0:
            self.rolling_based_timestamp = None
        self._reload_max_timestamp()
        return cut

    def append_aborted_txn(self, entry: bytes) -> None:
        """One ``.txnindex`` entry (``refka.log.transaction_index``); the file is made on the
        first aborted transaction, as Kafka's ``TransactionIndex`` does."""
        self.storage.append(self.txn_index_path, entry)

    def truncate_txn_index(self, offset: int) -> None:
        """Drop the aborted transactions whose marker is at or after ``offset``."""
        if not self.storage.exists(self.txn_index_path):
            return
        from refka.log.transaction_index import ENTRY, AbortedTxn

        data = self.storage.read(self.txn_index_path, 0, self.storage.size(self.txn_index_path))
        keep = 0
        while keep + ENTRY.size <= len(data):
            if AbortedTxn.decode(data, keep).last_offset >= offset:
                break
            keep += ENTRY.size
        self.storage.truncate(self.txn_index_path, keep)

    def _reload_max_timestamp(self) -> None:
        """Largest timestamp without a full scan: each offset index entry was written with a
        time index entry for the largest timestamp so far, so the last time index entry covers
        every batch up to the last offset index entry; scan only the batches from there."""
        self.max_timestamp, self.offset_of_max_timestamp = self.time_index.last_entry()
        if self.max_timestamp == NO_TIMESTAMP:
            self.offset_of_max_timestamp = -1
        positions = self.offset_index.positions
        for batch in self.batches(positions[-1] if positions else 0):
            if batch.max_timestamp > self.max_timestamp:
                self.max_timestamp = batch.max_timestamp
                self.offset_of_max_timestamp = batch.last_offset
        if self.size > 0 and self.rolling_based_timestamp is None:
            head = self.storage.read(self.log_path, 0, _PREFIX.size)
            self.rolling_based_timestamp = _PREFIX.unpack_from(head)[8]

    def on_become_inactive(self) -> None:
        """At roll: record the final largest timestamp in the time index (as Kafka does)."""
        if self.max_timestamp != NO_TIMESTAMP:
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
        self.offset_index.write()
        self.time_index.write()

    def close_index_handles(self) -> None:
        """An inactive segment keeps only its ``.log`` open (Kafka would unmap the indexes)."""
        self.offset_index.write()
        self.time_index.write()
        self.storage.close(self.offset_index.path)
        self.storage.close(self.time_index.path)

    def flush(self) -> None:
        self.storage.fsync(self.log_path)
        if self.storage.exists(self.txn_index_path):
            self.storage.fsync(self.txn_index_path)
        self.offset_index.flush()
        self.time_index.flush()

    def close(self) -> None:
        self.offset_index.write()
        self.time_index.write()
        for path in self.paths:
            self.storage.close(path)

    @property
    def paths(self) -> tuple[str, str, str, str]:
        """The segment's files; the ``.txnindex`` exists only once a transaction aborted."""
        return self.log_path, self.offset_index.path, self.time_index.path, self.txn_index_path

    def delete(self) -> None:
        for path in self.paths:
            if self.storage.exists(path):
                self.storage.delete(path)
