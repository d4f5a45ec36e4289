"""Client flows through kafka-python."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic

from conformance.client_flows import CODECS, Message, deadline, messages, require_data_plane
from conformance.target import Target, require_api, unique_topic


def produce_all(target: Target, topic: str, sent: list[Message], **config: Any) -> None:
    p = KafkaProducer(bootstrap_servers=target.bootstrap, linger_ms=5, **config)
    try:
        futures = [
            p.send(
                topic,
                m.value,
                m.key,
                list(m.headers) or None,
                partition=0,
                timestamp_ms=m.timestamp_ms,
            )
            for m in sent
        ]
        p.flush(20)
        for future in futures:
            future.get(timeout=20)
    finally:
        p.close(timeout=5)


def consumer(target: Target) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=target.bootstrap,
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )


def consume(target: Target, topic: str, offset: int, count: int) -> list[Any]:
    c = consumer(target)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, offset)
        got: list[Any] = []
        end = deadline()
        while len(got) < count and time.monotonic() < end:
            for records in c.poll(timeout_ms=500).values():
                got.extend(records)
        return got
    finally:
        c.close()


def as_message(r: Any) -> Message:
    return Message(r.key, r.value, tuple((k, bytes(v)) for k, v in r.headers), r.timestamp)


@pytest.mark.api("Produce", behaviour="kafka-python round trip: keys, headers, timestamps")
@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(target: Target, topic: str, codec: str) -> None:
    require_data_plane(target)
    sent = messages()
    produce_all(target, topic, sent, compression_type=None if codec == "none" else codec)
    got = consume(target, topic, 0, len(sent))
    assert [as_message(r) for r in got] == sent
    assert [r.offset for r in got] == list(range(len(sent)))


@pytest.mark.api("Fetch", behaviour="kafka-python: seek reads from the given offset")
def test_seek(target: Target, topic: str) -> None:
    require_data_plane(target)
    produce_all(target, topic, messages(10))
    assert [r.offset for r in consume(target, topic, 7, 3)] == [7, 8, 9]


@pytest.mark.api("ListOffsets", behaviour="kafka-python offsets_for_times, beginning and end")
def test_offsets(target: Target, topic: str) -> None:
    require_data_plane(target)
    produce_all(target, topic, messages(10))
    c = consumer(target)
    tp = TopicPartition(topic, 0)
    try:
        found = c.offsets_for_times({tp: 1_700_000_002_000})[tp]
        late = c.offsets_for_times({tp: 2**42})[tp]
        assert (found.offset, found.timestamp) == (2, 1_700_000_002_000)
        assert late is None
        assert c.beginning_offsets([tp])[tp] == 0
        assert c.end_offsets([tp])[tp] == 10
    finally:
        c.close()


@pytest.mark.api("Produce", behaviour="kafka-python idempotent producer: in order, no duplicates")
def test_idempotent(target: Target, topic: str) -> None:
    require_data_plane(target)
    require_api(target, "InitProducerId", 0)
    sent = messages(40)
    produce_all(target, topic, sent, enable_idempotence=True, acks="all")
    assert [r.value for r in consume(target, topic, 0, 40)] == [m.value for m in sent]


@pytest.mark.api("CreateTopics", behaviour="kafka-python admin: create, add partitions, delete")
def test_admin(target: Target) -> None:
    require_api(target, "CreateTopics", 2)
    require_api(target, "CreatePartitions", 0)
    require_api(target, "DeleteTopics", 1)
    admin = KafkaAdminClient(bootstrap_servers=target.bootstrap)
    try:
        name = unique_topic()
        admin.create_topics([NewTopic(name, 1, 1)])
        target.wait_leaders(name, 1)
        admin.create_partitions({name: NewPartitions(total_count=2)})
        target.wait_leaders(name, 2)
        assert name in admin.list_topics()
        admin.delete_topics([name])
    finally:
        admin.close()


@pytest.mark.api("DeleteRecords", behaviour="kafka-python admin: delete records")
def test_admin_delete_records(target: Target, topic: str) -> None:
    require_api(target, "DeleteRecords", 0)
    produce_all(target, topic, messages(5))
    admin = KafkaAdminClient(bootstrap_servers=target.bootstrap)
    try:
        answer = admin.delete_records({TopicPartition(topic, 0): 2})
    finally:
        admin.close()
    assert answer[TopicPartition(topic, 0)]["low_watermark"] == 2
    assert [r.offset for r in consume(target, topic, 2, 3)] == [2, 3, 4]


@pytest.mark.api("DescribeLogDirs", behaviour="kafka-python admin: describe log dirs")
def test_admin_describe_log_dirs(target: Target, topic: str) -> None:
    require_api(target, "DescribeLogDirs", 1)
    produce_all(target, topic, messages(3))
    admin = KafkaAdminClient(bootstrap_servers=target.bootstrap)
    try:
        brokers = admin.describe_log_dirs({topic: [0]})
    finally:
        admin.close()
    found = [
        p
        for broker in brokers
        for log_dir in broker["log_dirs"]
        for t in log_dir["topics"]
        if t["name"] == topic
        for p in t["partitions"]
    ]
    assert [(p["partition_index"], p["offset_lag"]) for p in found] == [(0, 0)]
    assert found[0]["partition_size"] > 0


@pytest.mark.api("DescribeTopicPartitions", behaviour="kafka-python admin: paged partitions")
def test_admin_describe_topic_partitions(target: Target, topic3: str) -> None:
    require_api(target, "DescribeTopicPartitions", 0)
    admin = KafkaAdminClient(bootstrap_servers=target.bootstrap)
    try:
        first = admin.describe_topic_partitions([topic3], response_partition_limit=2)
        cursor = first["next_cursor"]
        rest = admin.describe_topic_partitions([topic3], cursor=cursor)
    finally:
        admin.close()
    assert cursor == {"topic_name": topic3, "partition_index": 2}
    assert rest["next_cursor"] is None
    found = [p for page in (first, rest) for t in page["topics"] for p in t["partitions"]]
    assert [p["partition_index"] for p in found] == [0, 1, 2]
    assert all(p["leader_id"] in p["isr_nodes"] for p in found)


@pytest.mark.api("JoinGroup", behaviour="kafka-python group consumer: subscribe and commit")
def test_group_commit(target: Target, topic: str) -> None:
    require_data_plane(target)
    for api in ("FindCoordinator", "JoinGroup", "SyncGroup", "OffsetCommit", "OffsetFetch"):
        require_api(target, api, 0)
    produce_all(target, topic, messages(5))
    offsets, committed = consume_and_commit(target, topic, unique_topic("group"), 5)
    assert offsets == [0, 1, 2, 3, 4]
    assert committed == 5


def consume_and_commit(
    target: Target, topic: str, group: str, count: int, **config: Any
) -> tuple[list[int], int | None]:
    """A group consumer polls ``count`` records of partition 0 (or until the deadline), then
    commits: the offsets it saw and the offset committed."""
    c = KafkaConsumer(
        topic,
        bootstrap_servers=target.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **config,
    )
    try:
        got: list[Any] = []
        end = deadline()
        # kafka-python 3.0.12 can lose the rejoin of a leader that joined before it knew the
        # topic's partitions (tests/group/test_group_clients.py, kafka_python_consumer).
        while not c.partitions_for_topic(topic) and time.monotonic() < end:
            c.topics()  # a fresh Metadata round trip
        while len(got) < count and time.monotonic() < end:
            for records in c.poll(timeout_ms=500).values():
                got.extend(records)
        if len(got) == count:
            c.commit()
        return [r.offset for r in got], c.committed(TopicPartition(topic, 0))
    finally:
        c.close()


@pytest.mark.api(
    "ApiVersions",
    behaviour="kafka-python pinned to a Kafka release's API versions: produce, group, commit",
)
@pytest.mark.parametrize("release", [(3, 9), (4, 0), (4, 1)], ids=lambda r: f"{r[0]}.{r[1]}")
def test_pinned_api_versions(target: Target, topic: str, release: tuple[int, int]) -> None:
    """``api_version=release`` skips ApiVersions and uses that release's versions (Metadata
    v13 and FindCoordinator v6 from 4.0, Produce v13 and Fetch v18 from 4.1): a broker that
    does not speak one of them closes the connection and the client never gets through."""
    require_data_plane(target)
    pinned = {"api_version": release, "request_timeout_ms": 5000}
    produce_all(target, topic, messages(5), max_block_ms=10000, **pinned)
    offsets, committed = consume_and_commit(target, topic, unique_topic("pinned"), 5, **pinned)
    assert offsets == [0, 1, 2, 3, 4]
    assert committed == 5
