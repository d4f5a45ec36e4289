"""Fetch answers every request layout: topics interleaved, repeated, unknown, in any order.

A Fetch may name a topic more than once and interleave topics (librdkafka does, with many
subscribed topics). The response mirrors the request: its partitions stand in the request's
order, consecutive partitions of one topic under one topic entry. A Hypothesis property drives
the core in process with random layouts and random Fetch requests at every name-addressed
version; a client test reproduces the case that first closed a consumer's connection.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic
from core_driver import START_MS, Driver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.records.readers import read_batch
from kio.schema.errors import ErrorCode
from refka.protocol import codec
from refka.testing import RunningBroker

from conformance.records import Record, build_batch
from conformance.wire import build

FETCH, PRODUCE, CREATE_TOPICS = 1, 0, 19
UNKNOWN = "absent"


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, list[int]]:
    """Topics with partitions, and how many single-record batches each partition holds."""
    names = draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True))
    return {
        f"t-{name}": draw(st.lists(st.integers(0, 3), min_size=1, max_size=3)) for name in names
    }


@st.composite
def fetches(draw: st.DrawFn, layout: dict[str, list[int]]) -> list[tuple[str, int, int]]:
    """(topic, partition, fetch offset) in request order: repeats, interleaving, unknowns."""
    known = [(t, p) for t, counts in layout.items() for p in range(len(counts))]
    wanted = st.one_of(
        st.sampled_from(known),
        st.tuples(st.sampled_from([*layout, UNKNOWN]), st.integers(0, 4)),
    )
    picks = draw(st.lists(wanted, min_size=1, max_size=8))
    return [(t, p, draw(st.integers(-1, 4))) for t, p in picks]


def create(driver: Driver, layout: dict[str, list[int]]) -> None:
    topics = [
        {
            "name": t,
            "num_partitions": len(c),
            "replication_factor": 1,
            "assignments": [],
            "configs": [],
        }
        for t, c in layout.items()
    ]
    request = build(CREATE_TOPICS, 4, topics=topics, timeout=5000, validate_only=False)
    response = driver.call(1, request, codec.response_class(CREATE_TOPICS, 4))
    assert {t.error_code for t in response.topics} == {ErrorCode.none}


def produce(driver: Driver, layout: dict[str, list[int]]) -> None:
    for topic, counts in layout.items():
        for partition, count in enumerate(counts):
            for n in range(count):
                batch = build_batch(
                    [Record(f"{topic}/{partition}/{n}".encode())], timestamp_ms=START_MS
                )
                data = [{"name": topic, "partition_data": [{"index": partition, "records": batch}]}]
                request = build(
                    PRODUCE, 8, acks=-1, timeout=5000, topic_data=data, transactional_id=None
                )
                answer = driver.call(2, request, codec.response_class(PRODUCE, 8))
                [[written]] = [t.partition_responses for t in answer.responses]
                assert written.error_code == ErrorCode.none, written


def fetch_request(version: int, picks: list[tuple[str, int, int]]) -> Any:
    topics = [
        {
            "topic": t,
            "partitions": [
                {
                    "partition": p,
                    "fetch_offset": o,
                    "current_leader_epoch": -1,
                    "last_fetched_epoch": -1,
                    "log_start_offset": -1,
                    "partition_max_bytes": 1 << 20,
                }
            ],
        }
        for t, p, o in picks
    ]
    return build(
        FETCH,
        version,
        replica_id=-1,
        max_wait=0,
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=topics,
        forgotten_topics_data=[],
        rack_id="",
        cluster_id=None,
    )


def values(records: bytes | None) -> list[bytes]:
    out, position = [], 0
    while records and position < len(records):
        batch, size = read_batch(records, position)
        out += [r.value for r in batch.records]
        position += size
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), layout=layouts(), version=st.integers(4, 12))
def test_every_fetch_layout_is_answered_in_request_order(
    data: st.DataObject, layout: dict[str, list[int]], version: int
) -> None:
    driver = Driver()
    create(driver, layout)
    produce(driver, layout)
    picks = data.draw(fetches(layout))

    response = driver.call(3, fetch_request(version, picks), codec.response_class(FETCH, version))

    answered = [(t.topic, p.partition_index) for t in response.responses for p in t.partitions]
    assert answered == [(t, p) for t, p, _ in picks]
    names = [t.topic for t in response.responses]
    assert all(a != b for a, b in itertools.pairwise(names)), "a run split in two"
    flat = [p for t in response.responses for p in t.partitions]
    for (topic, partition, offset), answer in zip(picks, flat, strict=True):
        counts = layout.get(topic, [])
        if partition >= len(counts):
            assert answer.error_code == ErrorCode.unknown_topic_or_partition
        elif not 0 <= offset <= counts[partition]:
            assert answer.error_code == ErrorCode.offset_out_of_range
        else:
            assert answer.error_code == ErrorCode.none
            expected = [
                f"{topic}/{partition}/{n}".encode() for n in range(offset, counts[partition])
            ]
            assert values(answer.records) == expected


def test_a_consumer_of_sixty_topics_by_regex_reads_every_partition(
    broker: RunningBroker,
) -> None:
    """The report that found the crash: 60 topics of 2 partitions, records in each, one
    confluent-kafka consumer subscribed by regex (librdkafka rotates its fetch list, so its
    requests interleave topics); the broker closed the consumer's connection."""
    prefix = f"many-{uuid.uuid4().hex[:6]}-"
    topics = [f"{prefix}{n:02d}" for n in range(60)]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic(t, 2, 1) for t in topics]).values():
        future.result(30)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{prefix}",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([f"^{re.escape(prefix)}.*"])
    expected: set[bytes] = set()
    seen: set[bytes] = set()
    errors: list[str] = []
    try:
        for round_ in range(ROUNDS):
            for topic in topics:
                for partition in (0, 1):
                    value = f"{topic}:{partition}:{round_}".encode()
                    producer.produce(topic, value, partition=partition)
                    expected.add(value)
            assert producer.flush(30) == 0
            deadline = time.monotonic() + 60
            while seen < expected and time.monotonic() < deadline:
                message = consumer.poll(0.2)
                if message is None:
                    continue
                if message.error():
                    errors.append(str(message.error()))
                    continue
                seen.add(message.value())
    finally:
        consumer.close()
    assert seen == expected, f"read {len(seen)} of {len(expected)}; errors {errors[:5]}"
    assert "internal error" not in broker.stderr_text()


ROUNDS = 4
