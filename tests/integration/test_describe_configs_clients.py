"""DescribeConfigs through real admin clients: confluent-kafka's AdminClient (sources, flags,
synonyms) and Apache Kafka's Java AdminClient (types and documentation, which confluent-kafka's
Python API does not expose), against a refka broker with static and dynamic configs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    ResourceType,
)
from refka.core.kafka_configs import recorded
from refka.testing import RunningBroker, running_broker

PROBE = Path(__file__).with_name("java") / "DescribeConfigsProbe.java"
DEADLINE_S = 15.0
TOPIC = "described"


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    """A broker with two static keys, a topic with an override, and one per-broker key."""
    data = tmp_path_factory.mktemp("describe") / "data"
    with running_broker(data, num_partitions=3, log_retention_hours=100) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topic = NewTopic(TOPIC, 1, 1, config={"retention.bytes": "12345"})
        admin.create_topics([topic])[TOPIC].result(DEADLINE_S)
        node = ConfigResource(  # librdkafka refuses the cluster resource ""
            ResourceType.BROKER,
            "1",
            incremental_configs=[
                ConfigEntry(
                    "log.segment.bytes", "2000000", incremental_operation=AlterConfigOpType.SET
                )
            ],
        )
        admin.incremental_alter_configs([node])[node].result(DEADLINE_S)
        yield broker


def describe(broker: RunningBroker, kind: ResourceType, name: str) -> dict[str, ConfigEntry]:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(kind, name)
    return dict(admin.describe_configs([resource])[resource].result(DEADLINE_S))


def test_confluent_topic_sources_and_synonyms(configured: RunningBroker) -> None:
    found = describe(configured, ResourceType.TOPIC, TOPIC)
    assert set(found) == set(recorded().topic)
    override = found["retention.bytes"]
    assert (override.value, override.source) == ("12345", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert list(override.synonyms) == ["retention.bytes", "log.retention.bytes"]
    segment = found["segment.bytes"]  # from the broker key set on this broker
    assert (segment.value, segment.source) == ("2000000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    assert found["cleanup.policy"].is_default and not found["cleanup.policy"].is_read_only
    assert found["retention.ms"].value == str(100 * 3_600_000)


def test_confluent_broker_every_key(configured: RunningBroker) -> None:
    found = describe(configured, ResourceType.BROKER, "1")
    assert set(found) == set(recorded().broker)
    assert len(found) >= 300
    partitions = found["num.partitions"]
    assert (partitions.value, partitions.source) == ("3", ConfigSource.STATIC_BROKER_CONFIG.value)
    assert partitions.is_read_only  # Kafka: num.partitions is read-only (no dynamic update)
    assert not found["log.retention.bytes"].is_read_only  # cluster-wide dynamic in Kafka
    password = found["ssl.keystore.password"]
    assert password.is_sensitive and password.value is None
    assert found["log.segment.bytes"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    min_isr = found["min.insync.replicas"]  # KIP-966: Kafka keeps it cluster-wide
    assert min_isr.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value


def test_java_admin_types_and_documentation(configured: RunningBroker) -> None:
    from refka.peers.kafka import libs_dir

    if shutil.which("java") is None or not any(libs_dir().glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    run = subprocess.run(
        ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
         f"{libs_dir()}/*", str(PROBE), configured.bootstrap, TOPIC, "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    types = {(r[0], r[1]): r[2] for r in rows}
    names = ["", "BOOLEAN", "STRING", "INT", "SHORT", "LONG", "DOUBLE", "LIST", "CLASS", "PASSWORD"]
    expected = {("TOPIC", k.name): names[k.config_type] for k in recorded().topic.values()}
    expected |= {("BROKER", k.name): names[k.config_type] for k in recorded().broker.values()}
    assert types == expected
    assert types[("TOPIC", "retention.bytes")] == "LONG"
    assert {
        types[("BROKER", k)] for k in ("ssl.key.password", "offsets.topic.replication.factor")
    } == {
        "PASSWORD",
        "SHORT",
    }
    assert all(r[8] == "true" for r in rows if r[0] == "TOPIC")  # documentation included
    overridden = next(r for r in rows if r[:2] == ["TOPIC", "retention.bytes"])
    assert overridden[3] == "DYNAMIC_TOPIC_CONFIG"
    assert (
        overridden[7] == "retention.bytes=DYNAMIC_TOPIC_CONFIG,log.retention.bytes=DEFAULT_CONFIG"
    )
