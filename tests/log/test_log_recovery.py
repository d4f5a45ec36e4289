"""Recovery on open: from the recovery point, cut a torn or CRC-bad tail, rebuild indexes."""

from __future__ import annotations

import pytest
from log_batches import build_batch, build_batches, make_storage
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.storage import MemoryStorage, Storage

BATCH = len(build_batches(0, [3]))
CONFIG = LogConfig(segment_bytes=4 * BATCH, index_interval_bytes=BATCH)
LOG0 = "t-0/00000000000000000000.log"
LOG12 = "t-0/00000000000000000012.log"


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


def _fill(storage: Storage, batches: int) -> PartitionLog:
    log = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0)
    for _ in range(batches):
        log.append(build_batches(log.log_end_offset, [3]), 0)
    return log


def _index_entries(log: PartitionLog) -> list[list[tuple[int, int]]]:
    return [
        list(zip(s.offset_index.relative_offsets, s.offset_index.positions, strict=True))
        for s in log.segments
    ]


def test_torn_tail_is_cut_and_the_index_rebuilt(storage: Storage) -> None:
    log = _fill(storage, 6)
    log.close()
    storage.append(LOG12, build_batches(18, [3])[:40])  # a write torn by a crash
    storage.delete("t-0/00000000000000000012.index")
    reopened = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=12)
    assert reopened.log_end_offset == 18
    assert storage.size(LOG12) == 2 * BATCH
    assert _index_entries(reopened) == _index_entries(log)
    assert reopened.read_bytes(reopened.read(12, 10_000, 18, False)) == build_batches(12, [3, 3])
    reopened.append(build_batches(18, [3]), 0)  # and it goes on from there
    assert reopened.log_end_offset == 21


def test_crc_bad_batch_truncates_it_and_every_later_segment(storage: Storage) -> None:
    log = _fill(storage, 6)
    log.close()
    good = storage.read(LOG0, 0, 4 * BATCH)
    position = 2 * BATCH + 70  # inside the records of the third batch
    flipped = good[:position] + bytes([good[position] ^ 0xFF]) + good[position + 1 :]
    storage.truncate(LOG0, 0)
    storage.append(LOG0, flipped)
    reopened = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=0)
    assert reopened.log_end_offset == 6
    assert [s.base_offset for s in reopened.segments] == [0]
    assert storage.size(LOG0) == 2 * BATCH
    assert not storage.exists(LOG12)


def test_segments_below_the_recovery_point_are_trusted(storage: Storage) -> None:
    log = _fill(storage, 6)
    log.close()
    reopened = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=18)
    assert reopened.log_end_offset == 18
    assert reopened.recovery_point == 18
    assert _index_entries(reopened) == _index_entries(log)
    assert reopened.active_segment.max_timestamp == log.active_segment.max_timestamp


def test_a_missing_index_below_the_recovery_point_is_rebuilt(storage: Storage) -> None:
    log = _fill(storage, 6)
    log.close()
    storage.delete("t-0/00000000000000000000.index")
    reopened = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=18)
    assert _index_entries(reopened) == _index_entries(log)
    assert reopened.read(7, BATCH, 18, False) == log.read(7, BATCH, 18, False)


def test_crash_loses_unflushed_appends_and_recovery_finds_the_flushed_end() -> None:
    storage = MemoryStorage()
    log = _fill(storage, 3)
    log.flush()
    assert log.recovery_point == 9
    log.append(build_batches(9, [3, 3]), 0)  # rolls: segment 9 holds both batches
    assert storage.unflushed_bytes() == 2 * BATCH
    storage.crash(torn_bytes=30)  # the new write reached the disk only in part
    reopened = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=9)
    assert reopened.log_end_offset == 9
    assert storage.size(LOG0) == 3 * BATCH
    assert storage.size("t-0/00000000000000000009.log") == 0


def test_a_torn_write_that_reached_disk_keeps_its_whole_batches() -> None:
    storage = MemoryStorage()
    log = _fill(storage, 1)
    log.flush()
    log.append(build_batches(3, [3, 3]), 0)
    storage.crash(torn_bytes=BATCH + 30)
    reopened = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=3)
    assert reopened.log_end_offset == 6
    assert storage.size(LOG0) == 2 * BATCH


def test_flush_messages_makes_every_append_durable() -> None:
    storage = MemoryStorage()
    config = LogConfig(flush_messages=1)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, 0)
    log.append(build_batches(0, [3]), 0)
    assert log.recovery_point == 3
    storage.crash()
    assert (
        PartitionLog.open(storage, "t-0", "t", 0, config, 0, recovery_point=3).log_end_offset == 3
    )


def test_flush_ms_flushes_on_tick() -> None:
    storage = MemoryStorage()
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(flush_ms=100), now_ms=0)
    log.append(build_batches(0, [3]), now_ms=10)
    log.on_tick(99)
    assert log.recovery_point == 0 and storage.unflushed_bytes() > 0
    log.on_tick(100)
    assert log.recovery_point == 3 and storage.unflushed_bytes() == 0


def test_truncate_to_removes_from_the_batch_holding_the_offset(storage: Storage) -> None:
    log = _fill(storage, 6)
    log.truncate_to(13)  # inside batch 12..14: the whole batch goes
    assert log.log_end_offset == 12
    assert [s.base_offset for s in log.segments] == [0, 12]
    assert log.active_segment.size == 0
    log.truncate_to(7)
    assert log.log_end_offset == 6
    assert [s.base_offset for s in log.segments] == [0]
    log.append(build_batches(6, [3]), 0)
    assert log.read_bytes(log.read(0, 10_000, 9, False)) == build_batches(0, [3, 3, 3])


def test_truncate_fully_and_start_at(storage: Storage) -> None:
    log = _fill(storage, 6)
    log.truncate_fully_and_start_at(100)
    assert (log.log_start_offset, log.log_end_offset) == (100, 100)
    assert "00000000000000000012.log.deleted" in storage.list_dir("t-0")
    log.on_tick(CONFIG.file_delete_delay_ms)  # the old segments leave after the delay
    assert storage.list_dir("t-0") == [
        "00000000000000000100.index",
        "00000000000000000100.log",
        "00000000000000000100.timeindex",
        "leader-epoch-checkpoint",
    ]
    log.append(build_batches(100, [3]), 0)
    assert log.log_end_offset == 103


def test_after_a_clean_close_the_active_segment_is_not_rescanned(storage: Storage) -> None:
    log = _fill(storage, 2)
    log.close()
    assert log.recovery_point == 6
    data = storage.read(LOG0, 0, 2 * BATCH)
    storage.truncate(LOG0, 0)
    storage.append(LOG0, data[:-1] + bytes([data[-1] ^ 1]))  # a CRC recovery would catch
    trusted = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=6)
    assert trusted.log_end_offset == 6
    trusted.close()
    recovered = PartitionLog.open(storage, "t-0", "t", 0, CONFIG, 0, recovery_point=0)
    assert recovered.log_end_offset == 3


def test_largest_timestamp_survives_reopen_and_follows_truncation(storage: Storage) -> None:
    config = LogConfig(index_interval_bytes=1)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, 0)
    for offset, ts in enumerate([500, 100, 900, 300, 200]):
        log.append(build_batch(offset, [ts]), 0)
    log.close()
    reopened = PartitionLog.open(storage, "t-0", "t", 0, config, 0, recovery_point=5)
    segment = reopened.active_segment
    assert (segment.max_timestamp, segment.offset_of_max_timestamp) == (900, 2)
    reopened.truncate_to(2)
    assert (segment.max_timestamp, segment.offset_of_max_timestamp) == (500, 0)
    reopened.truncate_to(0)
    assert segment.max_timestamp == -1
