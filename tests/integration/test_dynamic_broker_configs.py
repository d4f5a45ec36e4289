"""Dynamic broker configs act without a restart and survive one (KIP-226, issue 12).

confluent-kafka's AdminClient sets a broker key with IncrementalAlterConfigs on this broker's
id (librdkafka refuses the cluster resource ""); every topic that does not override the key
takes it at once: the next segment rolls at the new ``log.segment.bytes``, the next retention
pass applies ``log.retention.bytes``/``log.retention.ms``, the next produce is checked against
``message.max.bytes``. A restart replays the record from the metadata log; DELETE reverts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    ResourceType,
)
from refka.testing import RunningBroker, running_broker

from conformance.target import Target

DEADLINE_S = 15.0
MIB = 1 << 20
VALUE = b"v" * 100_000


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    data = tmp_path_factory.mktemp("dynamic") / "data"
    with running_broker(data, log_retention_check_interval_ms=100) as running:
        yield running


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def described(broker: RunningBroker, key: str) -> ConfigEntry:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(ResourceType.BROKER, "1")
    return admin.describe_configs([resource])[resource].result(DEADLINE_S)[key]


def alter(broker: RunningBroker, **values: str | None) -> None:
    """Set (a value) or DELETE (None) broker keys (``log_segment_bytes=...``) on broker 1, and
    wait until the broker applied them (DescribeConfigs shows what the broker's image holds)."""
    keys = {name.replace("_", "."): value for name, value in values.items()}
    entries = [
        ConfigEntry(
            key,
            value,
            incremental_operation=AlterConfigOpType.DELETE
            if value is None
            else AlterConfigOpType.SET,
        )
        for key, value in keys.items()
    ]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(ResourceType.BROKER, "1", incremental_configs=entries)
    admin.incremental_alter_configs([resource])[resource].result(DEADLINE_S)
    dynamic = ConfigSource.DYNAMIC_BROKER_CONFIG.value
    for key, value in keys.items():

        def applied(key: str = key, value: str | None = value) -> bool:
            entry = described(broker, key)
            return entry.value == value if value is not None else entry.source != dynamic

        wait_for(applied, f"{key}={value}")


def create(broker: RunningBroker, topic: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    overrides = {k.replace("_", "."): v for k, v in configs.items()}
    admin.create_topics([NewTopic(topic, 1, 1, config=overrides)])[topic].result(DEADLINE_S)


def produce(broker: RunningBroker, topic: str, count: int, value: bytes = VALUE) -> list[str]:
    """Produce ``count`` records one at a time; the error names of the refused ones."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    errors: list[str] = []

    def report(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            errors.append(error.name())

    for _ in range(count):
        producer.produce(topic, value, on_delivery=report)
        producer.flush(DEADLINE_S)
    return errors


def segments(broker: RunningBroker, topic: str) -> list[Path]:
    return sorted(broker.data_dir.glob(f"{topic}-0/*.log"))


def low_watermark(broker: RunningBroker, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "watermarks"})
    try:
        low, _ = consumer.get_watermark_offsets(TopicPartition(topic, 0), DEADLINE_S)
        return int(low)
    finally:
        consumer.close()


def test_segment_bytes_rolls_at_once_and_survives_a_restart(broker: RunningBroker) -> None:
    create(broker, "rolls")
    create(broker, "pinned", segment_bytes=str(64 * MIB))
    assert produce(broker, "rolls", 3) == []
    assert len(segments(broker, "rolls")) == 1
    alter(broker, log_segment_bytes=str(MIB))
    try:
        assert produce(broker, "rolls", 25) == []
        assert produce(broker, "pinned", 25) == []
        rolled = len(segments(broker, "rolls"))
        assert rolled >= 3  # 2.8 MB at 1 MiB a segment
        assert len(segments(broker, "pinned")) == 1  # the topic's own segment.bytes wins
        broker.restart()
        entry = described(broker, "log.segment.bytes")
        assert (entry.value, entry.source) == (str(MIB), ConfigSource.DYNAMIC_BROKER_CONFIG.value)
        assert produce(broker, "rolls", 25) == []
        assert len(segments(broker, "rolls")) >= rolled + 2
    finally:
        alter(broker, log_segment_bytes=None)
    before = len(segments(broker, "rolls"))
    assert produce(broker, "rolls", 15) == []
    assert len(segments(broker, "rolls")) == before  # back to 1 GiB segments


def test_retention_bytes_then_ms_delete_old_segments(broker: RunningBroker) -> None:
    create(broker, "aging", segment_bytes=str(MIB))
    assert produce(broker, "aging", 40) == []
    written = len(segments(broker, "aging"))
    assert written >= 4 and low_watermark(broker, "aging") == 0
    alter(broker, log_segment_delete_delay_ms="0", log_retention_bytes=str(2 * MIB))
    try:
        wait_for(lambda: low_watermark(broker, "aging") > 0, "retention.bytes to delete")
        wait_for(lambda: len(segments(broker, "aging")) <= 3, "segment files to go")
        alter(broker, log_retention_bytes=None, log_retention_ms="100")
        wait_for(lambda: len(segments(broker, "aging")) == 1, "retention.ms to delete")
        assert low_watermark(broker, "aging") >= 30
    finally:
        alter(broker, log_segment_delete_delay_ms=None, log_retention_ms=None)


def test_message_max_bytes_refuses_at_once_and_delete_reverts(broker: RunningBroker) -> None:
    create(broker, "sizes")
    create(broker, "roomy", max_message_bytes="500000")
    assert produce(broker, "sizes", 1) == []
    alter(broker, message_max_bytes="50000")
    try:
        assert produce(broker, "sizes", 1) == ["MSG_SIZE_TOO_LARGE"]
        assert produce(broker, "sizes", 1, b"s" * 1000) == []
        assert produce(broker, "roomy", 1) == []  # the topic's max.message.bytes wins
    finally:
        alter(broker, message_max_bytes=None)
    assert produce(broker, "sizes", 1) == []


def test_read_only_key_refused(broker: RunningBroker) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    entry = ConfigEntry("log.retention.hours", "1", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[entry])
    with pytest.raises(Exception, match=r"Cannot update these configs dynamically"):
        admin.incremental_alter_configs([resource])[resource].result(DEADLINE_S)


def alter_cluster(broker: RunningBroker, key: str, value: str | None) -> None:
    """IncrementalAlterConfigs on the cluster resource "" (librdkafka refuses it: refka's
    Kafka-protocol client of the conformance suite sends it), waiting until it applies."""
    target = Target.discover(broker.bootstrap)
    try:
        answer = target.call(
            "IncrementalAlterConfigs",
            0,
            1,
            validate_only=False,
            resources=[
                {
                    "resource_type": ResourceType.BROKER.value,
                    "resource_name": "",
                    "configs": [
                        {"name": key, "config_operation": 0 if value else 1, "value": value}
                    ],
                }
            ],
        )
        assert answer.responses[0].error_code == 0, answer
    finally:
        target.close()
    source = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
    wait_for(
        lambda: (described(broker, key).source == source) == (value is not None),
        f"cluster-wide {key}={value}",
    )


def test_per_broker_beats_cluster_wide(broker: RunningBroker) -> None:
    create(broker, "layers")
    alter_cluster(broker, "message.max.bytes", "50000")
    try:
        assert produce(broker, "layers", 1) == ["MSG_SIZE_TOO_LARGE"]
        alter(broker, message_max_bytes="500000")
        assert produce(broker, "layers", 1) == []
        alter(broker, message_max_bytes=None)
        assert produce(broker, "layers", 1) == ["MSG_SIZE_TOO_LARGE"]
    finally:
        alter(broker, message_max_bytes=None)
        alter_cluster(broker, "message.max.bytes", None)
    assert produce(broker, "layers", 1) == []
