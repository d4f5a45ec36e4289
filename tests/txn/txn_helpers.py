"""Helpers of the transaction tests with real clients: a topic, a transactional
confluent-kafka producer, and what a consumer at an isolation level reads."""

from __future__ import annotations

import time

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE_S = 30.0


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=DEADLINE_S)


def confluent_producer(bootstrap: str, txn_id: str) -> confluent_kafka.Producer:
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 0}
    )
    producer.init_transactions(DEADLINE_S)
    return producer


def send(producer: confluent_kafka.Producer, topic: str, values: list[bytes]) -> None:
    for value in values:
        producer.produce(topic, value, partition=0)
    producer.flush(DEADLINE_S)


def read_all(bootstrap: str, topic: str, isolation: str) -> list[bytes]:
    """Every record value of partition 0 a consumer at ``isolation`` gets, read until the
    consumer's position reaches the last stable offset (read_committed) or the high
    watermark (read_uncommitted) and stays there."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{isolation}",
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
    values: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    return values
                raise AssertionError(message.error())
            values.append(message.value())
        raise AssertionError(f"no end of partition within {DEADLINE_S} s; got {values}")
    finally:
        consumer.close()


def stable_end(bootstrap: str, topic: str) -> int:
    """ListOffsets latest at read_committed: the partition's last stable offset."""
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "lso", "isolation.level": "read_committed"}
    )
    try:
        _, high = consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(topic, 0), timeout=DEADLINE_S, cached=False
        )
        return int(high)
    finally:
        consumer.close()
