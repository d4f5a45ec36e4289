"""Client flows through confluent-kafka (librdkafka)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from conformance.client_flows import CODECS, Message, deadline, messages, require_data_plane
from conformance.target import Target, require_api, unique_topic


def producer(target: Target, **config: Any) -> Producer:
    return Producer({"bootstrap.servers": target.bootstrap, "linger.ms": 5, **config})


def produce_all(target: Target, topic: str, sent: list[Message], **config: Any) -> None:
    errors: list[Any] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            errors.append(error)

    p = producer(target, **config)
    for m in sent:
        p.produce(
            topic,
            m.value,
            m.key,
            partition=0,
            headers=list(m.headers) or None,
            timestamp=m.timestamp_ms,
            on_delivery=delivered,
        )
    assert p.flush(20) == 0 and not errors, errors


def consume(target: Target, topic: str, offset: int, count: int) -> list[Any]:
    c = Consumer(
        {
            "bootstrap.servers": target.bootstrap,
            "group.id": unique_topic("g"),
            "enable.auto.commit": False,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, offset)])
        got: list[Any] = []
        end = deadline()
        while len(got) < count and time.monotonic() < end:
            msg = c.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append(msg)
        return got
    finally:
        c.close()


def as_message(msg: Any) -> Message:
    headers = tuple((k, bytes(v)) for k, v in (msg.headers() or []))
    return Message(msg.key(), msg.value(), headers, msg.timestamp()[1])


@pytest.mark.api("Produce", behaviour="confluent-kafka round trip: keys, headers, timestamps")
@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(target: Target, topic: str, codec: str) -> None:
    require_data_plane(target)
    sent = messages()
    produce_all(target, topic, sent, **{"compression.type": codec})
    got = consume(target, topic, 0, len(sent))
    assert [as_message(m) for m in got] == sent
    assert [m.offset() for m in got] == list(range(len(sent)))


@pytest.mark.api("Fetch", behaviour="confluent-kafka: assign at an offset reads from there")
def test_seek(target: Target, topic: str) -> None:
    require_data_plane(target)
    produce_all(target, topic, messages(10))
    got = consume(target, topic, 6, 4)
    assert [m.offset() for m in got] == [6, 7, 8, 9]


@pytest.mark.api("ListOffsets", behaviour="confluent-kafka offsets_for_times")
def test_offsets_for_times(target: Target, topic: str) -> None:
    require_data_plane(target)
    produce_all(target, topic, messages(10))
    c = Consumer({"bootstrap.servers": target.bootstrap, "group.id": unique_topic("g")})
    try:
        stamps = [TopicPartition(topic, 0, 1_700_000_003_500), TopicPartition(topic, 0, 2**42)]
        found = [c.offsets_for_times([tp], timeout=10)[0].offset for tp in stamps]
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()
    assert found == [4, -1]
    assert (low, high) == (0, 10)


@pytest.mark.api(
    "Produce", behaviour="confluent-kafka idempotent producer: in order, no duplicates"
)
def test_idempotent(target: Target, topic: str) -> None:
    require_data_plane(target)
    require_api(target, "InitProducerId", 0)
    sent = messages(50)
    produce_all(
        target,
        topic,
        sent,
        **{"enable.idempotence": True, "acks": "all", "max.in.flight.requests.per.connection": 5},
    )
    got = consume(target, topic, 0, 50)
    assert [m.value() for m in got] == [m.value for m in sent]


@pytest.mark.api("CreateTopics", behaviour="confluent-kafka admin: create, list, delete topics")
def test_admin_topics(target: Target) -> None:
    require_api(target, "CreateTopics", 2)
    require_api(target, "DeleteTopics", 1)
    admin = AdminClient({"bootstrap.servers": target.bootstrap})
    name = unique_topic()
    admin.create_topics([NewTopic(name, 2, 1)])[name].result(15)
    end = deadline()
    while name not in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < end
        time.sleep(0.1)
    assert len(admin.list_topics(name, timeout=10).topics[name].partitions) == 2
    admin.delete_topics([name])[name].result(15)
    with pytest.raises(KafkaException):
        admin.create_topics([NewTopic(name, 0, 1)])[name].result(15)


@pytest.mark.api("CreatePartitions", behaviour="confluent-kafka admin: add partitions")
def test_admin_partitions(target: Target, topic: str) -> None:
    require_api(target, "CreatePartitions", 0)
    admin = AdminClient({"bootstrap.servers": target.bootstrap})
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(15)
    target.wait_leaders(topic, 3)


@pytest.mark.api("DescribeConfigs", behaviour="confluent-kafka admin: describe topic configs")
def test_admin_describe_configs(target: Target) -> None:
    require_api(target, "DescribeConfigs", 1)
    from confluent_kafka.admin import ConfigResource

    name = unique_topic()
    target.create_topic(name, 1, {"retention.ms": "7777777"})
    admin = AdminClient({"bootstrap.servers": target.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    configs = admin.describe_configs([resource])[resource].result(15)
    assert configs["retention.ms"].value == "7777777"
    assert configs["cleanup.policy"].value == "delete"


@pytest.mark.api("DeleteRecords", behaviour="confluent-kafka admin: delete records")
def test_admin_delete_records(target: Target, topic: str) -> None:
    require_api(target, "DeleteRecords", 0)
    produce_all(target, topic, messages(5))
    admin = AdminClient({"bootstrap.servers": target.bootstrap})
    wanted = TopicPartition(topic, 0, 3)
    deleted = admin.delete_records([wanted])[wanted].result(15)
    assert deleted.low_watermark == 3
    assert [m.offset() for m in consume(target, topic, 3, 2)] == [3, 4]


def transactional_producer(target: Target) -> Producer:
    for api in ("InitProducerId", "AddPartitionsToTxn", "EndTxn", "FindCoordinator"):
        require_api(target, api, 0)
    p = producer(target, **{"transactional.id": unique_topic("txn")})
    p.init_transactions(20)
    return p


@pytest.mark.api("Fetch", behaviour="read_committed stops at an open transaction (LSO < HW)")
def test_read_committed_open_transaction(target: Target, topic: str) -> None:
    from conformance.probes import fetch
    from conformance.records import parse_batches

    p = transactional_producer(target)
    p.begin_transaction()
    p.produce(topic, b"pending", partition=0)
    assert p.flush(20) == 0
    committed = fetch(target, topic, 0, isolation_level=1)
    uncommitted = fetch(target, topic, 0, isolation_level=0)
    p.abort_transaction(20)
    assert committed.last_stable_offset == 0 and not parse_batches(committed.records)
    assert committed.high_watermark == 1
    assert [r.value for b in parse_batches(uncommitted.records) for r in b.records] == [b"pending"]


@pytest.mark.api("Fetch", behaviour="read_committed lists aborted transactions; commit is visible")
def test_read_committed_after_abort_and_commit(target: Target, topic: str) -> None:
    from conformance.probes import fetch
    from conformance.records import parse_batches

    p = transactional_producer(target)
    p.begin_transaction()
    p.produce(topic, b"aborted", partition=0)
    assert p.flush(20) == 0  # abort_transaction purges what is not yet sent
    p.abort_transaction(20)
    p.begin_transaction()
    p.produce(topic, b"committed", partition=0)
    p.commit_transaction(20)
    end = deadline()  # markers are written after EndTxn returns (KIP-98), and the HW follows
    while min((data := fetch(target, topic, 0, isolation_level=1)).last_stable_offset,
              data.high_watermark) < 4:  # fmt: skip
        assert time.monotonic() < end, data
        time.sleep(0.05)
    assert [a.first_offset for a in data.aborted_transactions or ()] == [0]
    batches = parse_batches(data.records)
    data_values = [r.value for b in batches if not b.is_control for r in b.records]
    assert data_values == [b"aborted", b"committed"], "the broker sends both; the client filters"
    assert [b.is_control for b in batches] == [False, True, False, True]
    assert data.last_stable_offset == data.high_watermark == 4


@pytest.mark.api("JoinGroup", behaviour="confluent-kafka group consumer: subscribe, commit, resume")
def test_group_resume(target: Target, topic: str) -> None:
    require_data_plane(target)
    for api in ("FindCoordinator", "JoinGroup", "SyncGroup", "OffsetCommit", "OffsetFetch"):
        require_api(target, api, 0)
    produce_all(target, topic, messages(6))
    group = unique_topic("group")

    def read(count: int) -> list[Any]:
        c = Consumer(
            {
                "bootstrap.servers": target.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        try:
            c.subscribe([topic])
            got: list[Any] = []
            end = deadline()
            while len(got) < count and time.monotonic() < end:
                msg = c.poll(0.5)
                if msg is not None and msg.error() is None:
                    got.append(msg)
            if got:
                c.commit(message=got[min(count, len(got)) - 1], asynchronous=False)
            return got
        finally:
            c.close()

    first = read(4)
    second = read(2)
    assert [m.offset() for m in first[:4]] == [0, 1, 2, 3]
    assert [m.offset() for m in second[:2]] == [4, 5]
