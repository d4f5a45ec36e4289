"""Retention: whole segments deleted by time and by size; the log start offset follows."""

from __future__ import annotations

import pytest
from log_batches import build_batch, build_batches, make_storage
from refka.log.config import LogConfig
from refka.log.partition_log import OffsetOutOfRange, PartitionLog
from refka.log.storage import Storage

BATCH = len(build_batches(0, [3]))


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


def _log(storage: Storage, retention_ms: int = -1, retention_bytes: int = -1) -> PartitionLog:
    """Segments of two 3-record batches; batch i has timestamps 1000*i .. 1000*i + 2."""
    config = LogConfig(
        segment_bytes=2 * BATCH, retention_ms=retention_ms, retention_bytes=retention_bytes
    )
    log = PartitionLog.open(storage, "t-0", "t", 0, config, 0)
    for i in range(7):
        log.append(build_batch(3 * i, [1000 * i, 1000 * i + 1, 1000 * i + 2]), 0)
    assert [s.base_offset for s in log.segments] == [0, 6, 12, 18]
    return log


def test_time_retention_deletes_segments_whose_newest_record_is_too_old(storage: Storage) -> None:
    log = _log(storage, retention_ms=2000)
    # segment 0 ends at 1002, segment 6 at 3002: at 4000 only the first is older than 2000 ms
    assert log.delete_expired_segments(now_ms=4000) == 1
    assert [s.base_offset for s in log.segments] == [6, 12, 18]
    assert log.log_start_offset == 6
    assert not storage.exists("t-0/00000000000000000000.log")
    assert not storage.exists("t-0/00000000000000000000.index")
    with pytest.raises(OffsetOutOfRange):
        log.read(5, 1000, 21, True)
    assert log.delete_expired_segments(now_ms=4000) == 0


def test_time_retention_of_everything_rolls_a_fresh_active_segment(storage: Storage) -> None:
    log = _log(storage, retention_ms=1000)
    assert log.delete_expired_segments(now_ms=100_000) == 4
    assert [s.base_offset for s in log.segments] == [21]
    assert log.log_start_offset == log.log_end_offset == 21
    assert log.read(21, 1000, 21, True) == []
    log.append(build_batches(21, [3]), 0)
    assert log.log_end_offset == 24


def test_size_retention_keeps_at_most_retention_bytes(storage: Storage) -> None:
    log = _log(storage, retention_bytes=3 * BATCH)
    # 7 batches: deleting the two oldest full segments leaves 3 batches
    assert log.delete_expired_segments(now_ms=0) == 2
    assert [s.base_offset for s in log.segments] == [12, 18]
    assert log.size_in_bytes == 3 * BATCH
    assert log.log_start_offset == 12


def test_retention_never_deletes_past_the_high_watermark(storage: Storage) -> None:
    log = _log(storage, retention_ms=1000)
    assert log.delete_expired_segments(now_ms=100_000, high_watermark=12) == 2
    assert [s.base_offset for s in log.segments] == [12, 18]


def test_delete_records_then_retention_drops_segments_below_log_start(storage: Storage) -> None:
    log = _log(storage)
    log.increment_log_start_offset(13)
    assert log.log_start_offset == 13
    assert log.delete_expired_segments(now_ms=0) == 2
    assert [s.base_offset for s in log.segments] == [12, 18]
    assert log.log_start_offset == 13
    with pytest.raises(OffsetOutOfRange):
        log.increment_log_start_offset(22)


def test_compact_only_topics_are_not_deleted_by_time(storage: Storage) -> None:
    log = PartitionLog.open(
        storage, "t-0", "t", 0, LogConfig(segment_bytes=BATCH, cleanup_policy="compact"), 0
    )
    log.append(build_batches(0, [3]), 0)
    log.append(build_batches(3, [3]), 0)
    assert log.delete_expired_segments(now_ms=10**12) == 0
