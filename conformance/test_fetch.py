"""Fetch: offsets, long polling, size limits, isolation levels."""

from __future__ import annotations

import threading
import time

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import FETCH, fetch, fetch_request, produce_values, send
from conformance.records import parse_batches
from conformance.target import Target, unique_topic


def values(data: bytes | None, start: int = 0) -> list[bytes | None]:
    return [r.value for b in parse_batches(data) for r in b.records if (r.offset or 0) >= start]


@pytest.mark.api("Fetch", behaviour="returns the produced records and the high watermark")
def test_fetch_records(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a", b"b")
    produce_values(target, topic, b"c")
    data = fetch(target, topic, 0)
    assert data.error_code == ErrorCode.none and data.high_watermark == 3
    assert values(data.records) == [b"a", b"b", b"c"]


@pytest.mark.api("Fetch", behaviour="offset past the log end: OFFSET_OUT_OF_RANGE")
def test_offset_out_of_range(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    assert fetch(target, topic, 5).error_code == ErrorCode.offset_out_of_range


@pytest.mark.api("Fetch", behaviour="negative offset: OFFSET_OUT_OF_RANGE")
def test_negative_offset(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    assert fetch(target, topic, -3).error_code == ErrorCode.offset_out_of_range


@pytest.mark.api("Fetch", behaviour="at the log end: no records, no error")
def test_fetch_at_end(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    data = fetch(target, topic, 1)
    assert data.error_code == ErrorCode.none and not parse_batches(data.records)


@pytest.mark.api("Fetch", behaviour="from the middle of a batch: the whole batch is returned")
@pytest.mark.observed
def test_fetch_mid_batch(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a", b"b", b"c")
    [batch] = parse_batches(fetch(target, topic, 1).records)
    assert batch.base_offset == 0 and len(batch.records) == 3


@pytest.mark.api("Fetch", behaviour="long poll with no data waits about max_wait_ms")
def test_long_poll_waits(target: Target, topic: str) -> None:
    started = time.monotonic()
    data = fetch(target, topic, 0, max_wait_ms=600, min_bytes=1)
    elapsed = time.monotonic() - started
    assert data.error_code == ErrorCode.none and not parse_batches(data.records)
    assert 0.5 <= elapsed < 5.0, f"answered after {elapsed:.3f}s for max_wait_ms=600"


@pytest.mark.api("Fetch", behaviour="long poll is answered early when data arrives")
def test_long_poll_wakes(target: Target, topic: str) -> None:
    timer = threading.Timer(
        0.3, produce_values, (target.__class__.discover(target.bootstrap), topic, b"late")
    )
    started = time.monotonic()
    timer.start()
    try:
        with target.connect() as conn:
            data = fetch(target, topic, 0, conn=conn, max_wait_ms=8000, min_bytes=1)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert values(data.records) == [b"late"]
    assert 0.25 <= elapsed < 6.0, f"answered after {elapsed:.3f}s"


@pytest.mark.api("Fetch", behaviour="data available: answered at once despite max_wait_ms")
def test_no_wait_when_data(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    started = time.monotonic()
    data = fetch(target, topic, 0, max_wait_ms=10000, min_bytes=1)
    assert values(data.records) == [b"a"]
    assert time.monotonic() - started < 3.0


@pytest.mark.api("Fetch", behaviour="max_wait_ms=0 with data available returns the data")
def test_zero_wait_returns_data(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    assert values(fetch(target, topic, 0, max_wait_ms=0).records) == [b"a"]


@pytest.mark.api("Fetch", behaviour="min_bytes above what is available waits for max_wait_ms")
def test_min_bytes_waits(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    started = time.monotonic()
    data = fetch(target, topic, 0, max_wait_ms=500, min_bytes=1_000_000)
    elapsed = time.monotonic() - started
    assert values(data.records) == [b"a"]
    assert 0.4 <= elapsed < 5.0, f"answered after {elapsed:.3f}s"


@pytest.mark.api("Fetch", behaviour="partition_max_bytes limits the batches returned")
def test_partition_max_bytes(target: Target, topic: str) -> None:
    for i in range(4):
        produce_values(target, topic, bytes([65 + i]) * 1000)
    data = fetch(target, topic, 0, partition_max_bytes=1500)
    batches = parse_batches(data.records)
    assert len(batches) == 1, "one ~1 KiB batch fits in 1500 bytes, two do not"
    assert len(data.records or b"") <= 1500


@pytest.mark.api("Fetch", behaviour="first batch larger than max_bytes is still returned (KIP-74)")
def test_oversized_first_batch(target: Target, topic: str) -> None:
    produce_values(target, topic, b"x" * 5000)
    produce_values(target, topic, b"y" * 10)
    data = fetch(target, topic, 0, max_bytes=100, partition_max_bytes=100)
    assert values(data.records) == [b"x" * 5000]


@pytest.mark.api("Fetch", behaviour="response max_bytes caps the total across partitions")
def test_max_bytes_total(target: Target, topic: str) -> None:
    for i in range(5):
        produce_values(target, topic, bytes([65 + i]) * 1000)
    data = fetch(target, topic, 0, max_bytes=2500, partition_max_bytes=1_000_000)
    assert 1 <= len(parse_batches(data.records)) <= 2


@pytest.mark.api("Fetch", behaviour="unknown partition: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_partition(target: Target, topic: str) -> None:
    data = fetch(target, topic, 0, partition=9)
    assert data.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("Fetch", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_topic(target: Target) -> None:
    answer = send(target, None, FETCH, **fetch_request(unique_topic("absent"), 0))
    errors = [p.error_code for t in answer.responses for p in t.partitions]
    assert answer.error_code == ErrorCode.unknown_topic_or_partition or errors == [
        ErrorCode.unknown_topic_or_partition
    ]


@pytest.mark.api("Fetch", behaviour="read_committed without transactions sees every record")
def test_read_committed_plain(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a", b"b")
    data = fetch(target, topic, 0, isolation_level=1)
    assert values(data.records) == [b"a", b"b"]
    assert data.last_stable_offset == data.high_watermark == 2


@pytest.mark.api("Fetch", behaviour="log start offset is reported (v5+)")
def test_log_start_offset(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a")
    assert fetch(target, topic, 0).log_start_offset == 0


@pytest.mark.api("Fetch", behaviour="several partitions in one request are answered each")
def test_several_partitions(target: Target, topic3: str) -> None:
    for partition in range(3):
        produce_values(target, topic3, b"p%d" % partition, partition=partition)
    request = fetch_request(topic3, 0)
    template = request["topics"][0]["partitions"][0]
    request["topics"][0]["partitions"] = [{**template, "partition": p} for p in range(3)]
    answer = send(target, None, FETCH, **request)
    got = {p.partition_index: values(p.records) for p in answer.responses[0].partitions}
    assert got == {0: [b"p0"], 1: [b"p1"], 2: [b"p2"]}


@pytest.mark.api("Fetch", behaviour="fetched batches carry valid CRCs and increasing offsets")
def test_batches_valid(target: Target, topic: str) -> None:
    for i in range(3):
        produce_values(target, topic, b"%d" % i, b"%d" % (i + 10))
    batches = parse_batches(fetch(target, topic, 0).records)
    assert all(b.crc_valid for b in batches)
    assert [b.base_offset for b in batches] == [0, 2, 4]


@pytest.mark.api("Fetch", behaviour="interleaved topics: answered in the request's order")
def test_fetch_interleaved_topics(target: Target, topic3: str, topic: str) -> None:
    """A request may name a topic twice, with another between (librdkafka rotates its fetch
    list); the answer follows the request's order of topics and partitions."""
    produce_values(target, topic3, b"p0", partition=0)
    produce_values(target, topic3, b"p2", partition=2)
    produce_values(target, topic, b"q0")
    request = fetch_request(topic3, 0)
    [first] = request["topics"]
    wanted = [(topic3, 2), (topic, 0), (topic3, 0)]
    request["topics"] = [
        {**first, "topic": name, "partitions": [{**first["partitions"][0], "partition": p}]}
        for name, p in wanted
    ]
    answer = send(target, None, FETCH, **request)
    answered = [(t.topic, p.partition_index) for t in answer.responses for p in t.partitions]
    assert answered == wanted
    got = [values(p.records) for t in answer.responses for p in t.partitions]
    assert got == [[b"p2"], [b"q0"], [b"p0"]]
