"""The suite's own record-batch builder and reader, checked against kio's reader."""

from __future__ import annotations

import pytest
from kio.records.readers import read_batch

from conformance import records as rec
from conformance.records import Record, build_batch, parse_batches

SENT = [
    Record(b"v1", b"k1", (("h", b"x"), ("empty", None)), timestamp_ms=1_700_000_000_000),
    Record(None, None, (), timestamp_ms=1_699_999_999_000),
    Record(b"v3" * 50, b"k3", (), timestamp_ms=1_700_000_002_000),
]


@pytest.mark.parametrize("codec", [rec.NONE, rec.GZIP, rec.SNAPPY, rec.LZ4, rec.ZSTD])
def test_round_trip(codec: int) -> None:
    [batch] = parse_batches(
        build_batch(SENT, codec=codec, producer_id=7, producer_epoch=2, base_sequence=5)
    )
    assert batch.crc_valid and batch.attributes & 0x07 == codec
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (7, 2, 5)
    assert batch.max_timestamp == 1_700_000_002_000 and batch.last_offset_delta == 2
    got = [(r.key, r.value, r.headers, r.timestamp_ms, r.offset) for r in batch.records]
    assert got == [(r.key, r.value, r.headers, r.timestamp_ms, i) for i, r in enumerate(SENT)]


def test_kio_reads_what_we_build() -> None:
    batch, size = read_batch(build_batch(SENT), 0)
    assert size == len(build_batch(SENT))
    assert [(r.key, r.value) for r in batch.records] == [(r.key, r.value) for r in SENT]


def test_corrupt_crc_and_lying_count() -> None:
    [bad] = parse_batches(build_batch(SENT[:1], corrupt_crc=True))
    assert not bad.crc_valid
    data = build_batch(SENT[:1], record_count=3)
    assert int.from_bytes(data[57:61], "big") == 3


def test_partial_trailing_batch_ignored() -> None:
    data = build_batch(SENT[:1]) + build_batch(SENT[1:])[:30]
    assert len(parse_batches(data)) == 1
