"""PartitionLog.read: whole batches as file slices, bounded by max_bytes and max_offset."""

from __future__ import annotations

import pytest
from log_batches import build_batch, build_batches, iter_records, make_storage
from refka.log.config import LogConfig
from refka.log.file_slice import FileSlice
from refka.log.partition_log import OffsetOutOfRange, PartitionLog
from refka.log.storage import Storage

BATCH = len(build_batches(0, [3]))
SEGMENT = "t-0/00000000000000000000.log"


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


@pytest.fixture
def log(storage: Storage) -> PartitionLog:
    """Ten batches of three records (offsets 0..29), index entries every other batch."""
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(index_interval_bytes=BATCH), 0)
    for _ in range(10):
        log.append(build_batches(log.log_end_offset, [3]), 0)
    return log


def test_read_returns_whole_batches_within_max_bytes(log: PartitionLog) -> None:
    assert log.read(0, 3 * BATCH, 30, False) == [FileSlice(SEGMENT, 0, 3 * BATCH)]
    assert log.read(0, 3 * BATCH - 1, 30, False) == [FileSlice(SEGMENT, 0, 2 * BATCH)]
    assert log.read(0, 10_000, 30, False) == [FileSlice(SEGMENT, 0, 10 * BATCH)]


def test_read_starts_at_the_batch_holding_the_offset(log: PartitionLog) -> None:
    assert log.read(4, BATCH, 30, False) == [FileSlice(SEGMENT, BATCH, BATCH)]
    assert log.read(29, 10_000, 30, False) == [FileSlice(SEGMENT, 9 * BATCH, BATCH)]
    data = log.read_bytes(log.read(13, 2 * BATCH, 30, False))
    assert [r.offset for r in iter_records(data[:BATCH])] == [12, 13, 14]
    assert data == build_batches(12, [3, 3])


def test_min_one_batch_returns_the_first_batch_even_when_larger(log: PartitionLog) -> None:
    assert log.read(6, BATCH - 1, 30, False) == []
    assert log.read(6, BATCH - 1, 30, True) == [FileSlice(SEGMENT, 2 * BATCH, BATCH)]
    assert log.read(6, 0, 30, True) == [FileSlice(SEGMENT, 2 * BATCH, BATCH)]


def test_read_stops_before_the_batch_holding_max_offset(log: PartitionLog) -> None:
    assert log.read(0, 10_000, 9, False) == [FileSlice(SEGMENT, 0, 3 * BATCH)]
    # a max offset inside a batch excludes that batch, as Kafka's high-watermark position does
    assert log.read(0, 10_000, 10, False) == [FileSlice(SEGMENT, 0, 3 * BATCH)]
    assert log.read(9, 10_000, 9, True) == []
    assert log.read(12, 10_000, 9, True) == []  # past the high watermark but below LEO


def test_read_at_log_end_is_empty_and_beyond_is_out_of_range(log: PartitionLog) -> None:
    assert log.read(30, 10_000, 30, True) == []
    with pytest.raises(OffsetOutOfRange) as raised:
        log.read(31, 10_000, 31, True)
    assert (raised.value.log_start_offset, raised.value.log_end_offset) == (0, 30)


def test_read_below_log_start_offset_is_out_of_range(log: PartitionLog) -> None:
    log.increment_log_start_offset(7)
    with pytest.raises(OffsetOutOfRange):
        log.read(6, 10_000, 30, True)
    assert log.read(7, BATCH, 30, True) == [FileSlice(SEGMENT, 2 * BATCH, BATCH)]


def test_read_goes_on_into_the_next_segments(storage: Storage) -> None:
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(segment_bytes=2 * BATCH), 0)
    for _ in range(5):
        log.append(build_batches(log.log_end_offset, [3]), 0)
    assert [s.base_offset for s in log.segments] == [0, 6, 12]
    second, third = "t-0/00000000000000000006.log", "t-0/00000000000000000012.log"
    assert log.read(3, 10_000, 15, False) == [
        FileSlice(SEGMENT, BATCH, BATCH),
        FileSlice(second, 0, 2 * BATCH),
        FileSlice(third, 0, BATCH),
    ]
    assert log.read(3, 2 * BATCH, 15, False) == [
        FileSlice(SEGMENT, BATCH, BATCH),
        FileSlice(second, 0, BATCH),
    ]
    assert log.read(3, 10_000, 9, False) == [
        FileSlice(SEGMENT, BATCH, BATCH),
        FileSlice(second, 0, BATCH),
    ]
    assert log.read(3, 10_000, 6, False) == [FileSlice(SEGMENT, BATCH, BATCH)]
    assert log.read(6, 10_000, 15, False) == [
        FileSlice(second, 0, 2 * BATCH),
        FileSlice(third, 0, BATCH),
    ]
    assert log.read(0, 1, 15, True) == [FileSlice(SEGMENT, 0, BATCH)]  # only the first is forced
    data = log.read_bytes(log.read(0, 10_000, 15, True))
    assert data == build_batches(0, [3, 3, 3, 3, 3])


def test_offset_for_timestamp_finds_the_first_record_at_or_after(storage: Storage) -> None:
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(segment_bytes=2 * BATCH + 60), 0)
    log.append(build_batch(0, [100, 300, 200]), 0)
    log.append(build_batch(3, [400, 350, 500]), 0)
    log.append(build_batch(6, [450, 600, 700]), 0)
    assert len(log.segments) == 2
    assert log.offset_for_timestamp(0, iter_records) == (0, 100)
    assert log.offset_for_timestamp(250, iter_records) == (1, 300)
    assert log.offset_for_timestamp(301, iter_records) == (3, 400)
    assert log.offset_for_timestamp(460, iter_records) == (5, 500)
    assert log.offset_for_timestamp(650, iter_records) == (8, 700)
    assert log.offset_for_timestamp(701, iter_records) is None
    log.increment_log_start_offset(2)
    assert log.offset_for_timestamp(0, iter_records) == (2, 200)
    assert log.max_timestamp_and_offset(iter_records) == (8, 700)


def test_max_timestamp_is_the_first_record_with_it(storage: Storage) -> None:
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(), 0)
    assert log.max_timestamp_and_offset(iter_records) == (-1, -1)
    log.append(build_batch(0, [100, 900, 200]), 0)
    log.append(build_batch(3, [900, 50]), 0)
    assert log.max_timestamp_and_offset(iter_records) == (1, 900)


def test_log_append_time_batches_answer_with_the_batch_timestamp(storage: Storage) -> None:
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(), 0)
    log.append(build_batch(0, [500, 500], log_append_time=True), 0)

    def no_decoding(batch: bytes) -> list[object]:
        raise AssertionError("LogAppendTime batches need no record decoding")

    assert log.offset_for_timestamp(400, no_decoding) == (0, 500)


def test_offset_for_timestamp_decodes_compressed_batches(storage: Storage) -> None:
    from refka.protocol.records import build_batch as build_real_batch

    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(), 0)
    records = [(b"k", b"v" * 50, (), ts) for ts in (100, 300, 200, 250)]
    for codec in (1, 3, 4):  # gzip, lz4, zstd
        log.append(build_real_batch(records, base_offset=log.log_end_offset, compression=codec), 0)
    # the default decoder is refka.protocol.records.iter_records
    assert log.offset_for_timestamp(210) == (1, 300)
    assert log.offset_for_timestamp(301) is None
    log.increment_log_start_offset(6)
    assert log.offset_for_timestamp(210) == (7, 250)
    assert log.max_timestamp_and_offset() == (1, 300)
