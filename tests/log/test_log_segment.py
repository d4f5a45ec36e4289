"""Segments: Kafka's file names, rolling on size and on time, sparse index entries."""

from __future__ import annotations

import struct

import pytest
from log_batches import build_batch, build_batches, make_storage
from refka.log.config import LogConfig
from refka.log.partition_log import InvalidRecords, PartitionLog
from refka.log.storage import Storage

BATCH = len(build_batches(0, [3]))  # bytes of one 3-record batch from the helper


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


def _append_batches(log: PartitionLog, count: int, now_ms: int = 0) -> None:
    for _ in range(count):
        log.append(build_batches(log.log_end_offset, [3]), now_ms)


def test_segment_files_are_named_by_twenty_digit_base_offset(storage: Storage) -> None:
    config = LogConfig(segment_bytes=4 * BATCH)
    log = PartitionLog.open(storage, "orders-3", "orders", 3, config, now_ms=0)
    _append_batches(log, 10)
    assert [s.base_offset for s in log.segments] == [0, 12, 24]
    names = storage.list_dir("orders-3")
    for base in ("00000000000000000000", "00000000000000000012", "00000000000000000024"):
        assert {f"{base}.log", f"{base}.index", f"{base}.timeindex"} <= set(names)
    assert storage.size("orders-3/00000000000000000000.log") == 4 * BATCH
    assert log.log_end_offset == 30


def test_roll_on_size_never_splits_an_append(storage: Storage) -> None:
    config = LogConfig(segment_bytes=3 * BATCH + 10)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, now_ms=0)
    log.append(build_batches(0, [3, 3]), 0)
    log.append(build_batches(6, [3, 3]), 0)  # 4 batches would exceed: roll before
    assert [(s.base_offset, s.size) for s in log.segments] == [(0, 2 * BATCH), (6, 2 * BATCH)]


def test_roll_on_segment_ms_by_record_timestamps(storage: Storage) -> None:
    config = LogConfig(segment_ms=1000)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, now_ms=0)
    log.append(build_batch(0, [10_000]), now_ms=0)
    log.append(build_batch(1, [11_000]), now_ms=0)  # 1000 ms after the first: not yet
    assert len(log.segments) == 1
    log.append(build_batch(2, [11_001]), now_ms=0)
    assert [s.base_offset for s in log.segments] == [0, 2]
    # the largest timestamp of the whole append counts, not its first batch's
    log.append(build_batch(3, [11_500]) + build_batch(4, [12_002]), now_ms=0)
    assert [s.base_offset for s in log.segments] == [0, 2, 3]


def test_roll_on_segment_ms_by_creation_time_without_timestamps(storage: Storage) -> None:
    config = LogConfig(segment_ms=1000)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, now_ms=5_000)
    log.append(build_batch(0, [-1]), now_ms=5_000)
    log.append(build_batch(1, [-1]), now_ms=6_000)
    assert len(log.segments) == 1
    log.append(build_batch(2, [-1]), now_ms=6_001)
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_index_gets_an_entry_each_time_more_than_interval_bytes_were_appended(
    storage: Storage,
) -> None:
    config = LogConfig(index_interval_bytes=2 * BATCH - 1)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, now_ms=0)
    _append_batches(log, 10)
    log.flush()
    index = log.active_segment.offset_index
    # batches 2, 4, 6, 8 follow more than 2*BATCH-1 bytes since the last entry; each entry
    # holds the batch's LAST offset and its position
    assert [
        (index.base_offset + o, p)
        for o, p in zip(index.relative_offsets, index.positions, strict=True)
    ] == [(8, 2 * BATCH), (14, 4 * BATCH), (20, 6 * BATCH), (26, 8 * BATCH)]
    raw = storage.read("t-0/00000000000000000000.index", 0, 1000)
    assert list(struct.iter_unpack(">ii", raw)) == [
        (8, 2 * BATCH),
        (14, 4 * BATCH),
        (20, 6 * BATCH),
        (26, 8 * BATCH),
    ]
    raw_time = storage.read("t-0/00000000000000000000.timeindex", 0, 1000)
    # build_batches stamps offset o with 1000 + o; as in Kafka the max so far includes the
    # batch being indexed
    assert list(struct.iter_unpack(">qi", raw_time)) == [
        (1008, 8),
        (1014, 14),
        (1020, 20),
        (1026, 26),
    ]


def test_append_rejects_bytes_that_do_not_continue_the_log(storage: Storage) -> None:
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(), now_ms=0)
    log.append(build_batches(0, [3]), 0)
    with pytest.raises(InvalidRecords):
        log.append(build_batches(5, [3]), 0)  # gap
    with pytest.raises(InvalidRecords):
        log.append(build_batches(3, [3])[:-1], 0)  # torn
    assert log.log_end_offset == 3
    assert log.active_segment.size == BATCH
