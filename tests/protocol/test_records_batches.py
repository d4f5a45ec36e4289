"""Record batches v2: build, read back, assign offsets; every codec."""

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st
from refka.protocol import compression
from refka.protocol.batch_header import CRC, read_header
from refka.protocol.records import (
    NewRecord,
    Record,
    assign_offsets,
    build_batch,
    iter_batch_records,
    iter_records,
    validate_batches,
)

CODECS = [compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4, compression.ZSTD]
MAX = 1 << 20

headers_st = st.lists(
    st.tuples(st.text(max_size=8), st.one_of(st.none(), st.binary(max_size=16))), max_size=3
).map(tuple)
record_st = st.builds(
    NewRecord,
    key=st.one_of(st.none(), st.binary(max_size=32)),
    value=st.one_of(st.none(), st.binary(max_size=200)),
    headers=headers_st,
    timestamp=st.integers(min_value=0, max_value=2**45),
)


def crc_ok(batch: bytes | bytearray) -> bool:
    return read_header(batch).crc == crc32c(bytes(batch[21:]))


@settings(max_examples=60, deadline=None)
@given(st.lists(record_st, min_size=1, max_size=8), st.sampled_from(CODECS))
def test_build_then_iter_round_trips(records: list[NewRecord], codec: int) -> None:
    batch = build_batch(records, base_offset=5, compression=codec)
    (header,) = validate_batches(batch, MAX, from_client=False)
    assert header.compression == codec
    assert header.records_count == len(records)
    assert header.max_timestamp == max(r.timestamp for r in records)
    got = list(iter_records(batch))
    assert got == [
        Record(5 + i, r.timestamp, r.key, r.value, r.headers) for i, r in enumerate(records)
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_assign_offsets_keeps_crc_and_numbers_batches_contiguously(codec: int) -> None:
    first = build_batch([(b"a", b"1", (), 10), (b"b", b"2", (), 11)], compression=codec)
    second = build_batch([(None, b"3", (("h", None),), 12)], compression=codec)
    buf = first + second
    headers = validate_batches(buf, MAX, from_client=False)
    out = assign_offsets(buf, headers, base_offset=100, leader_epoch=7, log_append_time_ms=None)
    assert out[: len(first)] != first  # offsets really were written
    rewritten = validate_batches(out, MAX, from_client=False)
    assert [h.base_offset for h in rewritten] == [100, 102]
    assert [h.partition_leader_epoch for h in rewritten] == [7, 7]
    assert [h.crc for h in rewritten] == [h.crc for h in headers]
    records = [r for _, rs in iter_batch_records(out) for r in rs]
    assert [(r.offset, r.timestamp, r.value) for r in records] == [
        (100, 10, b"1"),
        (101, 11, b"2"),
        (102, 12, b"3"),
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_log_append_time_sets_the_type_bit_max_timestamp_and_a_new_crc(codec: int) -> None:
    batch = build_batch([(b"k", b"v", (), 1_000), (b"k", b"w", (), 2_000)], compression=codec)
    headers = validate_batches(batch, MAX)
    out = assign_offsets(batch, headers, 0, 3, log_append_time_ms=99_000)
    (header,) = validate_batches(out, MAX, from_client=False)  # raises on a stale CRC
    assert header.is_log_append_time
    assert header.max_timestamp == 99_000
    assert header.crc != headers[0].crc and crc_ok(out)
    assert [r.timestamp for r in iter_records(out)] == [99_000, 99_000]


def test_assign_offsets_in_place_on_a_bytearray_and_drops_trailing_bytes() -> None:
    batch = build_batch([(b"k", b"v", (), 1)])
    buf = bytearray(batch + b"\x00" * 5)
    headers = validate_batches(buf, MAX)
    out = assign_offsets(buf, headers, 42, 1, None)
    assert out is buf and len(out) == len(batch)
    assert struct.unpack_from(">q", out, 0)[0] == 42


def test_build_batch_header_fields() -> None:
    batch = build_batch(
        [(b"k", b"v", (), 7)],
        base_offset=9,
        producer_id=1234,
        producer_epoch=2,
        base_sequence=17,
        is_transactional=True,
        is_control=True,
        partition_leader_epoch=4,
        log_append_time=True,
    )
    h = read_header(batch)
    assert (h.base_offset, h.producer_id, h.producer_epoch, h.base_sequence) == (9, 1234, 2, 17)
    assert h.is_transactional and h.is_control and h.is_log_append_time
    assert h.partition_leader_epoch == 4 and h.size == len(batch) and crc_ok(batch)
    assert struct.unpack_from(">I", batch, CRC)[0] == h.crc
