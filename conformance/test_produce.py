"""Produce: acks, offsets assignment, record validation, size limits, timestamps, codecs."""

from __future__ import annotations

import time

import pytest
from kio.schema.errors import ErrorCode

from conformance import records as rec
from conformance.probes import (
    PRODUCE,
    fetch,
    log_end_offset,
    produce,
    produce_request,
    produce_values,
    send,
)
from conformance.records import Record, build_batch, parse_batches
from conformance.target import Target, require_api, unique_topic
from conformance.wire import Connection, build


@pytest.mark.api("Produce", behaviour="acks=1: offsets start at 0 and advance by record count")
def test_acks_1_offsets(target: Target, topic: str) -> None:
    first = produce(target, topic, build_batch([Record(b"a"), Record(b"b")]), acks=1)
    second = produce(target, topic, build_batch([Record(b"c")]), acks=1)
    assert (first.error_code, first.base_offset) == (ErrorCode.none, 0)
    assert (second.error_code, second.base_offset) == (ErrorCode.none, 2)


@pytest.mark.api("Produce", behaviour="acks=-1: the write is acknowledged and readable")
def test_acks_all(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x")]), acks=-1)
    assert response.error_code == ErrorCode.none
    assert fetch(target, topic, 0).high_watermark == 1


@pytest.mark.api("Produce", behaviour="acks=0: no response; the next request is answered")
def test_acks_0(target: Target, topic: str, conn: Connection) -> None:
    version = require_api(target, *PRODUCE)
    conn.send(build(0, version, **produce_request(topic, build_batch([Record(b"z")]), acks=0)))
    answer = conn.request(build(18, 0))  # the answer read is ApiVersions', not Produce's
    assert answer.error_code == ErrorCode.none
    deadline = time.monotonic() + 10
    while log_end_offset(target, topic) != 1:
        assert time.monotonic() < deadline, "acks=0 record never appeared"
        time.sleep(0.05)


@pytest.mark.api("Produce", behaviour="acks=2: INVALID_REQUIRED_ACKS")
def test_invalid_acks(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x")]), acks=2)
    assert response.error_code == ErrorCode.invalid_required_acks


@pytest.mark.api("Produce", behaviour="bad CRC: CORRUPT_MESSAGE, nothing appended")
def test_crc_error(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x")], corrupt_crc=True))
    assert response.error_code == ErrorCode.corrupt_message
    assert log_end_offset(target, topic) == 0


@pytest.mark.api("Produce", behaviour="record count above the records present: CORRUPT_MESSAGE")
@pytest.mark.observed
def test_record_count_too_high(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x")], record_count=3))
    assert response.error_code in (ErrorCode.corrupt_message, ErrorCode.invalid_record)
    assert log_end_offset(target, topic) == 0


@pytest.mark.api("Produce", behaviour="record count below the records present: CORRUPT_MESSAGE")
@pytest.mark.observed
def test_record_count_too_low(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x"), Record(b"y")], record_count=1))
    assert response.error_code in (ErrorCode.corrupt_message, ErrorCode.invalid_record)
    assert log_end_offset(target, topic) == 0


@pytest.mark.api("Produce", behaviour="batch above max.message.bytes: MESSAGE_TOO_LARGE")
def test_too_large(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"max.message.bytes": "1000"})
    response = produce(target, name, build_batch([Record(b"v" * 2000)]))
    assert response.error_code == ErrorCode.message_too_large
    assert produce(target, name, build_batch([Record(b"v" * 100)])).error_code == ErrorCode.none


@pytest.mark.api("Produce", behaviour="unknown partition: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_partition(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x")]), partition=7)
    assert response.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("Produce", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION, not created")
def test_unknown_topic(target: Target) -> None:
    name = unique_topic("absent")
    response = produce(target, name, build_batch([Record(b"x")]))
    assert response.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("Produce", behaviour="keys, headers and timestamps are stored as sent")
def test_round_trip_fields(target: Target, topic: str) -> None:
    sent = [
        Record(b"v1", b"k1", (("h1", b"a"), ("h2", None)), timestamp_ms=1_700_000_000_000),
        Record(None, b"k2", (), timestamp_ms=1_700_000_000_500),
    ]
    assert produce(target, topic, build_batch(sent)).error_code == ErrorCode.none
    [batch] = parse_batches(fetch(target, topic, 0).records)
    got = [(r.key, r.value, r.headers, r.timestamp_ms) for r in batch.records]
    assert got == [(r.key, r.value, r.headers, r.timestamp_ms) for r in sent]
    assert batch.max_timestamp == 1_700_000_000_500


@pytest.mark.api("Produce", behaviour="a client batch whose base offset is not 0: INVALID_RECORD")
@pytest.mark.observed
def test_nonzero_base_offset_rejected(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    response = produce(target, topic, build_batch([Record(b"b")], base_offset=1234))
    assert response.error_code == ErrorCode.invalid_record
    assert log_end_offset(target, topic) == 1


@pytest.mark.api("Produce", behaviour="partition leader epoch in the batch is overwritten")
@pytest.mark.observed
def test_leader_epoch_overwritten(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"a")], partition_leader_epoch=4242))
    assert response.error_code == ErrorCode.none
    [batch] = parse_batches(fetch(target, topic, 0).records)
    assert batch.partition_leader_epoch != 4242


@pytest.mark.api("Produce", behaviour="two batches for one partition (v3+): INVALID_RECORD")
def test_two_batches_rejected(target: Target, topic: str) -> None:
    # ProduceRequest v3+ allows exactly one record batch per partition.
    data = build_batch([Record(b"a"), Record(b"b")]) + build_batch([Record(b"c")])
    response = produce(target, topic, data)
    assert response.error_code == ErrorCode.invalid_record
    assert log_end_offset(target, topic) == 0


@pytest.mark.api("Produce", behaviour="one request to several partitions answers each")
def test_several_partitions(target: Target, topic3: str) -> None:
    partitions = [{"index": i, "records": build_batch([Record(b"p%d" % i)])} for i in (0, 1, 2)]
    answer = send(
        target,
        None,
        PRODUCE,
        transactional_id=None,
        acks=-1,
        timeout=10000,
        topic_data=[{"name": topic3, "partition_data": partitions}],
    )
    results = {p.index: p.error_code for p in answer.responses[0].partition_responses}
    assert results == {0: ErrorCode.none, 1: ErrorCode.none, 2: ErrorCode.none}


@pytest.mark.api("Produce", behaviour="compressed batch stored and fetched intact")
@pytest.mark.parametrize(
    "codec", [rec.GZIP, rec.SNAPPY, rec.LZ4, rec.ZSTD], ids=["gzip", "snappy", "lz4", "zstd"]
)
def test_compressed_batch(target: Target, topic: str, codec: int) -> None:
    sent = [Record(b"value-%d" % i * 10, b"key-%d" % i) for i in range(20)]
    assert produce(target, topic, build_batch(sent, codec=codec)).error_code == ErrorCode.none
    batches = parse_batches(fetch(target, topic, 0).records)
    got = [(r.key, r.value) for b in batches for r in b.records]
    assert got == [(r.key, r.value) for r in sent]
    assert [r.offset for b in batches for r in b.records] == list(range(20))


@pytest.mark.api(
    "Produce", behaviour="timestamp beyond message.timestamp.after.max.ms: INVALID_TIMESTAMP"
)
def test_future_timestamp(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"message.timestamp.after.max.ms": "60000"})
    future_ms = int(time.time() * 1000) + 3_600_000
    response = produce(target, name, build_batch([Record(b"x", timestamp_ms=future_ms)]))
    assert response.error_code == ErrorCode.invalid_timestamp


@pytest.mark.api("Produce", behaviour="LogAppendTime topic: broker stamps the batch")
def test_log_append_time(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"message.timestamp.type": "LogAppendTime"})
    before_ms = int(time.time() * 1000) - 5000
    response = produce(target, name, build_batch([Record(b"x", timestamp_ms=1000)]))
    assert response.error_code == ErrorCode.none
    [batch] = parse_batches(fetch(target, name, 0).records)
    assert batch.attributes & rec.LOG_APPEND_TIME_FLAG
    assert batch.max_timestamp >= before_ms


@pytest.mark.api("Produce", behaviour="log start offset is reported (v5+)")
def test_log_start_offset(target: Target, topic: str) -> None:
    require_api(target, "Produce", 5, 12)
    response = produce(target, topic, build_batch([Record(b"x")]))
    assert response.log_start_offset == 0


@pytest.mark.api("Produce", behaviour="a batch of magic v1 is rejected")
@pytest.mark.observed
def test_old_magic_rejected(target: Target, topic: str) -> None:
    batch = bytearray(build_batch([Record(b"x")]))
    batch[16] = 1  # magic
    response = produce(target, topic, bytes(batch))
    assert response.error_code != ErrorCode.none
    assert log_end_offset(target, topic) == 0


@pytest.mark.api("Produce", behaviour="an unknown compression codec is rejected")
@pytest.mark.observed
def test_unknown_codec_rejected(target: Target, topic: str) -> None:
    response = produce(target, topic, build_batch([Record(b"x")], attributes=0x05))
    assert response.error_code != ErrorCode.none
    assert log_end_offset(target, topic) == 0
