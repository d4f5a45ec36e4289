"""Several ``log.dirs`` (KIP-112) and AlterReplicaLogDirs (KIP-113): new partitions go to the
directory with the fewest; a partition with data moves to the other directory, its files
with it, stays readable and writable, and is still there after a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from kio.schema.errors import ErrorCode
from refka.testing import RunningBroker, running_broker

from conformance.target import Target

TOPIC = "moving"
DEADLINE_S = 30.0


def log_dirs(target: Target) -> dict[str, set[int]]:
    """DescribeLogDirs: directory -> the partitions of TOPIC in it."""
    answer = target.call("DescribeLogDirs", 1, None, topics=None)
    return {
        result.log_dir: {
            p.partition_index for t in result.topics if t.name == TOPIC for p in t.partitions
        }
        for result in answer.results
    }


def alter(target: Target, path: str, topic: str = TOPIC, partition: int = 0) -> ErrorCode:
    wanted = [{"path": path, "topics": [{"name": topic, "partitions": [partition]}]}]
    answer = target.call("AlterReplicaLogDirs", 1, None, dirs=wanted)
    (result,) = answer.results
    (found,) = result.partitions
    assert result.topic_name == topic and found.partition_index == partition
    return ErrorCode(found.error_code)


def produce(broker: RunningBroker, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for value in values:
        producer.produce(TOPIC, value, partition=0)
    assert producer.flush(DEADLINE_S) == 0


def read_all(broker: RunningBroker, count: int) -> list[bytes]:
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "mover", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(TOPIC, 0, 0)])
    found: list[Any] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append(message.value())
    finally:
        consumer.close()
    return found


def test_a_partition_moves_to_the_other_log_dir(tmp_path: Path) -> None:
    first, second = str(tmp_path / "d0"), str(tmp_path / "d1")
    with running_broker(tmp_path / "unused", config={"log.dirs": f"{first},{second}"}) as broker:
        target = Target.discover(broker.bootstrap)
        target.create_topic(TOPIC, 2)
        assert log_dirs(target) == {first: {0}, second: {1}}  # the fewest partitions first
        values = [b"v%03d" % i for i in range(50)]
        produce(broker, values)
        assert alter(target, second) == ErrorCode.none
        assert log_dirs(target) == {first: set(), second: {0, 1}}
        assert (Path(second) / f"{TOPIC}-0" / "00000000000000000000.log").stat().st_size > 0
        assert not (Path(first) / f"{TOPIC}-0").exists()
        produce(broker, [b"after"])
        assert read_all(broker, 51) == [*values, b"after"]
        assert alter(target, second) == ErrorCode.none  # already there: nothing to do
        target.close()
        broker.restart()
        target = Target.discover(broker.bootstrap)
        assert log_dirs(target) == {first: set(), second: {0, 1}}
        assert read_all(broker, 51) == [*values, b"after"]
        target.close()


def test_errors_as_kafka(tmp_path: Path) -> None:
    first, second = str(tmp_path / "d0"), str(tmp_path / "d1")
    with running_broker(tmp_path / "unused", config={"log.dirs": f"{first},{second}"}) as broker:
        target = Target.discover(broker.bootstrap)
        target.create_topic(TOPIC, 1)
        assert alter(target, str(tmp_path / "elsewhere")) == ErrorCode.log_dir_not_found
        assert alter(target, "d1") == ErrorCode.log_dir_not_found  # not an absolute path
        assert alter(target, second, "absent") == ErrorCode.unknown_topic_or_partition
        assert alter(target, second, TOPIC, 5) == ErrorCode.unknown_topic_or_partition
        target.close()
