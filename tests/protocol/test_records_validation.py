"""validate_batches answers each defect with the error code Apache Kafka 4 gives it.

Sources: ProduceRequest.validateRecords, UnifiedLog.analyzeAndValidateRecords,
LogValidator.validateBatch, DefaultRecordBatch/DefaultRecord iterators,
ByteBufferLogInputStream.nextBatchSize.
"""

import contextlib
import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.schema.errors import ErrorCode
from refka.protocol import compression
from refka.protocol.batch_header import (
    ATTRIBUTES,
    BASE_OFFSET,
    BATCH_LENGTH,
    CRC,
    HEADER_SIZE,
    LAST_OFFSET_DELTA,
    MAGIC,
    RECORDS_COUNT,
)
from refka.protocol.records import (
    InvalidRecordError,
    build_batch,
    iter_records,
    validate_batches,
)

MAX = 1 << 20
RECORDS = [(b"k%d" % i, b"value-%d" % i, (), 1_000 + i) for i in range(5)]


def recrc(batch: bytes | bytearray) -> bytes:
    out = bytearray(batch)
    struct.pack_into(">I", out, CRC, crc32c(bytes(out[ATTRIBUTES:])))
    return bytes(out)


def patch(batch: bytes, fmt: str, pos: int, value: int, fix_crc: bool = True) -> bytes:
    out = bytearray(batch)
    struct.pack_into(fmt, out, pos, value)
    return recrc(out) if fix_crc else bytes(out)


def code_of(records: bytes, **kwargs: object) -> ErrorCode:
    with pytest.raises(InvalidRecordError) as info:
        validate_batches(records, kwargs.pop("max_bytes", MAX), **kwargs)  # type: ignore[arg-type]
    return info.value.error_code


def test_a_good_batch_passes() -> None:
    (header,) = validate_batches(build_batch(RECORDS), MAX)
    assert header.records_count == 5


def test_bad_crc_is_corrupt_message() -> None:
    batch = bytearray(build_batch(RECORDS))
    batch[-1] ^= 0x01
    assert code_of(bytes(batch)) is ErrorCode.corrupt_message


@pytest.mark.parametrize("codec", [compression.NONE, compression.GZIP, compression.ZSTD])
@pytest.mark.parametrize("claimed", [4, 6])
def test_a_record_count_that_lies_is_invalid_record(codec: int, claimed: int) -> None:
    batch = build_batch(RECORDS, compression=codec)
    batch = patch(batch, ">i", RECORDS_COUNT, claimed)
    batch = patch(batch, ">i", LAST_OFFSET_DELTA, claimed - 1)  # consistent header, lying body
    assert code_of(batch) is ErrorCode.invalid_record
    with pytest.raises(InvalidRecordError):
        list(iter_records(batch))


def test_count_inconsistent_with_last_offset_delta_is_invalid_record() -> None:
    batch = patch(build_batch(RECORDS), ">i", LAST_OFFSET_DELTA, 9)
    assert code_of(batch) is ErrorCode.invalid_record
    assert validate_batches(build_batch(RECORDS), MAX, from_client=False)  # a replica skips it


def test_truncated_batch_leaves_no_batch_which_is_invalid_record() -> None:
    batch = build_batch(RECORDS)
    for cut in (13, HEADER_SIZE, len(batch) - 1):
        assert code_of(batch[:cut]) is ErrorCode.invalid_record
    assert code_of(b"") is ErrorCode.invalid_record
    assert code_of(batch[:-1], from_client=False) is ErrorCode.invalid_record


def test_batch_length_below_minimum_overhead_is_corrupt_message() -> None:
    batch = patch(build_batch(RECORDS), ">i", BATCH_LENGTH, 13, fix_crc=False)
    assert code_of(batch) is ErrorCode.corrupt_message
    short = patch(build_batch(RECORDS), ">i", BATCH_LENGTH, 30, fix_crc=False)
    assert code_of(short) is ErrorCode.corrupt_message  # whole, but smaller than its header


def test_magic_above_2_is_corrupt_message_and_old_magic_invalid_record() -> None:
    batch = bytearray(build_batch(RECORDS))
    batch[MAGIC] = 3
    assert code_of(bytes(batch)) is ErrorCode.corrupt_message
    batch[MAGIC] = 1
    assert code_of(bytes(batch)) is ErrorCode.invalid_record


def test_batch_over_max_message_bytes_is_message_too_large() -> None:
    batch = build_batch(RECORDS)
    assert code_of(batch, max_bytes=len(batch) - 1) is ErrorCode.message_too_large
    assert validate_batches(batch, len(batch))


def test_client_checks() -> None:
    two = build_batch(RECORDS) + build_batch(RECORDS)
    assert code_of(two) is ErrorCode.invalid_record
    assert len(validate_batches(two, MAX, from_client=False)) == 2
    assert code_of(build_batch(RECORDS, base_offset=3)) is ErrorCode.invalid_record
    assert code_of(build_batch(RECORDS, is_control=True)) is ErrorCode.invalid_record
    no_sequence = build_batch(RECORDS, producer_id=5, producer_epoch=0, base_sequence=-1)
    assert code_of(no_sequence) is ErrorCode.invalid_record
    assert validate_batches(build_batch(RECORDS, producer_id=5, base_sequence=0), MAX)


def test_compression_codes() -> None:
    zstd = build_batch(RECORDS, compression=compression.ZSTD)
    assert code_of(zstd, produce_version=6) is ErrorCode.unsupported_compression_type
    assert validate_batches(zstd, MAX, produce_version=7)
    unknown = patch(build_batch(RECORDS), ">h", ATTRIBUTES, 5)
    assert code_of(unknown) is ErrorCode.unsupported_compression_type
    garbage = bytearray(build_batch(RECORDS, compression=compression.LZ4))
    garbage[HEADER_SIZE + 8 :] = b"\xaa" * (len(garbage) - HEADER_SIZE - 8)
    assert code_of(recrc(garbage)) is ErrorCode.corrupt_message


def test_timestamps() -> None:
    producer_lat = build_batch(RECORDS, log_append_time=True)
    assert code_of(producer_lat, log_append_time=True) is ErrorCode.invalid_timestamp
    window = (1_000, 1_003)
    assert code_of(build_batch(RECORDS), timestamp_window_ms=window) is ErrorCode.invalid_timestamp
    assert validate_batches(build_batch(RECORDS), MAX, timestamp_window_ms=(1_000, 1_004))


def test_trailing_partial_batch_is_dropped_as_kafka_trims_it() -> None:
    batch = build_batch(RECORDS)
    headers = validate_batches(batch + batch[:40], MAX)
    assert sum(h.size for h in headers) == len(batch)


def test_record_overrunning_its_batch_is_invalid_record() -> None:
    batch = bytearray(build_batch(RECORDS))
    batch[HEADER_SIZE] = 0x7E  # first record's length varint: 63 bytes, past the first record
    assert code_of(recrc(batch)) is ErrorCode.invalid_record


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_corruption_gets_an_error_code_never_a_crash(data: st.DataObject) -> None:
    codec = data.draw(st.sampled_from([0, 1, 2, 3, 4]))
    batch = bytearray(build_batch(RECORDS, compression=codec))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(BASE_OFFSET, len(batch) - 1))
        batch[pos] = data.draw(st.integers(0, 255))
    candidates = [bytes(batch), recrc(batch)]
    for candidate in candidates:
        try:
            validate_batches(candidate, MAX)
        except InvalidRecordError as e:
            assert isinstance(e.error_code, ErrorCode)
        with contextlib.suppress(InvalidRecordError):
            list(iter_records(candidate))
