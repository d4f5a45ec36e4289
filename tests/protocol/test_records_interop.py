"""Batches written by real clients' record builders validate and read back here, and the
clients' readers read what build_batch writes (kafka-python 3 and aiokafka, every codec)."""

from collections.abc import Callable
from typing import Any

import aiokafka.record.default_records as aiokafka_records
import kafka.codec
import kafka.record.default_records as kafka_python_records
import pytest
from refka.protocol import compression
from refka.protocol.records import (
    NewRecord,
    assign_offsets,
    build_batch,
    iter_records,
    validate_batches,
)

CODECS = [compression.NONE, compression.GZIP, compression.SNAPPY, compression.LZ4, compression.ZSTD]
MAX = 1 << 20
RECORDS = [
    NewRecord(b"key-0", b"v" * 300, (("trace", b"abc"), ("empty", None)), 1_700_000_000_000),
    NewRecord(None, b"no key", (), 1_700_000_000_005),
    NewRecord(b"tombstone", None, (), 1_699_999_999_000),
    NewRecord(b"k" * 70, b"x" * 5000, (("h", b"1"),), 1_700_000_000_001),
]

BUILDERS: dict[str, Callable[..., Any]] = {
    "kafka-python": kafka_python_records.DefaultRecordBatchBuilder,
    "aiokafka": aiokafka_records.DefaultRecordBatchBuilder,
}
READERS: dict[str, Callable[[bytes], Any]] = {
    "kafka-python": kafka_python_records.DefaultRecordBatch,
    "aiokafka": aiokafka_records.DefaultRecordBatch,
}


def skip_unavailable(client: str, codec: int) -> None:
    if client == "kafka-python" and codec == compression.SNAPPY and not kafka.codec.has_snappy():
        pytest.skip("kafka-python's snappy needs python-snappy, not installed")


def client_batch(client: str, codec: int, producer_id: int = -1, base_sequence: int = -1) -> bytes:
    builder = BUILDERS[client](2, codec, 0, producer_id, 0, base_sequence, MAX)
    for offset, r in enumerate(RECORDS):
        builder.append(offset, r.timestamp, r.key, r.value, list(r.headers))
    return bytes(builder.build())


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("client", BUILDERS)
def test_client_built_batches_validate_and_read_back(client: str, codec: int) -> None:
    skip_unavailable(client, codec)
    batch = client_batch(client, codec, producer_id=77, base_sequence=10)
    (header,) = validate_batches(batch, MAX)
    assert (header.compression, header.records_count, header.producer_id) == (codec, 4, 77)
    out = assign_offsets(batch, [header], 500, 3, None)
    got = list(iter_records(out))
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in got] == [
        (500 + i, r.timestamp, r.key, r.value, r.headers) for i, r in enumerate(RECORDS)
    ]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("client", READERS)
def test_clients_read_build_batch_output(client: str, codec: int) -> None:
    skip_unavailable(client, codec)
    batch = build_batch(RECORDS, base_offset=40, compression=codec)
    reader = READERS[client](batch)
    assert reader.validate_crc()
    got = [(r.offset, r.timestamp, r.key, r.value, [tuple(h) for h in r.headers]) for r in reader]
    assert got == [
        (40 + i, r.timestamp, r.key, r.value, [tuple(h) for h in r.headers])
        for i, r in enumerate(RECORDS)
    ]


@pytest.mark.parametrize("client", READERS)
def test_clients_read_log_append_time_rewrite(client: str) -> None:
    batch = build_batch(RECORDS, compression=compression.LZ4)
    out = bytes(assign_offsets(batch, validate_batches(batch, MAX), 0, 1, 1_800_000_000_000))
    reader = READERS[client](out)
    assert reader.validate_crc()
    assert {r.timestamp for r in reader} == {1_800_000_000_000}
