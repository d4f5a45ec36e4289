"""KIP-455 data movement on a real refka cluster (controller + 3 broker processes): a partition
moves to another broker with AlterPartitionReassignments. While the new replica cannot catch
up (its broker paused) ListPartitionReassignments shows it adding and the old one removing, and
a cancel reverts; once it is back, the move completes (the new replica fetches, joins the ISR,
the old one leaves), and the records written before the move are read from the new replica
after the old broker is killed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from failover_helpers import FAST, live_addresses, partition_where, read_all, wait_for
from kio.schema.errors import ErrorCode
from refka.peers.cluster_metadata import create_topic
from refka.testing import RunningCluster, running_cluster

from conformance.wire import Connection, build

TOPIC = "moving"
RECORDS = 500


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(3, tmp_path / "cluster", config=FAST) as running:
        yield running


def admin(address: str, api_key: int, version: int, **values: Any) -> Any:
    with Connection(address) as conn:
        answer = conn.request(build(api_key, version, **values))
    assert answer.error_code == ErrorCode.none
    return answer


def reassign(address: str, replicas: list[int] | None) -> ErrorCode:
    partitions = [{"partition_index": 0, "replicas": replicas}]
    answer = admin(
        address, 45, 1, timeout=10_000, topics=[{"name": TOPIC, "partitions": partitions}]
    )
    return ErrorCode(answer.responses[0].partitions[0].error_code)


def ongoing(address: str) -> list[tuple[list[int], list[int], list[int]]]:
    answer = admin(address, 46, 0, timeout=10_000, topics=None)
    return [
        (list(p.replicas), list(p.adding_replicas), list(p.removing_replicas))
        for t in answer.topics
        for p in t.partitions
    ]


def test_a_partition_moves_to_another_broker_with_its_data(cluster: RunningCluster) -> None:
    address = live_addresses(cluster)[0]
    assert create_topic(address, TOPIC, 1, 1) == ErrorCode.none
    state = partition_where(cluster, TOPIC, lambda s: s.leader >= 0, "has a leader")
    [source] = state.replicas
    target = next(b for b in cluster.brokers if b != source)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
    for value in range(RECORDS):
        producer.produce(TOPIC, str(value).encode(), partition=0)
    assert producer.flush(20) == 0
    at_source = cluster.brokers[source].bootstrap

    cluster.pause(target)  # the new replica cannot catch up: the move stays in flight
    try:
        assert reassign(at_source, [target]) == ErrorCode.none
        assert ongoing(at_source) == [([target, source], [target], [source])]
        assert reassign(at_source, None) == ErrorCode.none  # cancel
        assert ongoing(at_source) == []
        assert reassign(at_source, None) == ErrorCode.no_reassignment_in_progress
    finally:
        cluster.resume(target)
    partition_where(cluster, TOPIC, lambda s: s.replicas == (source,), "reverted")

    assert reassign(at_source, [target]) == ErrorCode.none
    wait_for(lambda: ongoing(at_source) == [] or None, "the move completes")
    moved = partition_where(cluster, TOPIC, lambda s: s.replicas == (target,), "moved")
    assert moved.leader == target and moved.isr == (target,)

    cluster.kill(source)
    got = read_all(cluster.brokers[target].bootstrap, TOPIC, 1)
    assert [value for _, value in got[0]] == list(range(RECORDS))
