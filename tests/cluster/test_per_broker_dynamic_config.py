"""A per-broker dynamic config acts on that broker only (KIP-226): ``log.segment.bytes`` set on
broker 2 makes broker 2's replica roll at 1 MiB, leader or follower, while the other brokers'
replicas of the same partition keep one segment."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from failover_helpers import FAST, partition_where, replicated_topic, wait_for
from refka.testing import RunningCluster, running_cluster

MIB = 1 << 20


def segments(cluster: RunningCluster, node: int, topic: str) -> int:
    return len(list(cluster.brokers[node].data_dir.glob(f"{topic}-0/*.log")))


def test_per_broker_segment_bytes_rolls_only_that_broker(tmp_path: Path) -> None:
    with running_cluster(3, tmp_path / "cluster", config=FAST) as cluster:
        topic = "per-broker"
        replicated_topic(cluster, topic)
        entry = ConfigEntry(
            "log.segment.bytes", str(MIB), incremental_operation=AlterConfigOpType.SET
        )
        resource = ConfigResource(ConfigResource.Type.BROKER, "2", incremental_configs=[entry])
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        admin.incremental_alter_configs([resource])[resource].result(20)
        wait_for(
            lambda: (
                admin.describe_configs([resource])[resource].result(20)["log.segment.bytes"].value
                == str(MIB)
            ),
            "broker 2 to apply log.segment.bytes",
        )
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
        for _ in range(30):
            producer.produce(topic, b"v" * 100_000)
            producer.flush(20)
        partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync")
        wait_for(lambda: segments(cluster, 2, topic) >= 3 or None, "broker 2 to roll")
        assert [segments(cluster, n, topic) for n in sorted(cluster.brokers) if n != 2] == [1, 1]
