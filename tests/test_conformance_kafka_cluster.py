"""A three-broker Apache Kafka cluster (`refka peer kafka --brokers 3`) and the cluster probes.

The cluster probes (conformance/test_cluster.py) must all pass against Kafka, and the peer's
handle must be able to fail a broker: kill -9 the leader of a partition and leadership moves
(a new leader, a higher leader epoch) and `acks=all` below min.insync.replicas is refused;
start it again and it rejoins the ISR. Skips (with the reason) when Java or the Kafka jars
are unavailable. One cluster serves the module (it takes ~10 s to start).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kio.schema.errors import ErrorCode
from refka.peers.cluster_metadata import PartitionState, create_topic
from refka.peers.kafka_cluster import KafkaCluster, start_kafka_cluster
from refka.peers.process import PeerUnavailable

from conformance.outcomes import ERROR, FAILED, PASSED, SKIPPED, UNSUPPORTED
from conformance.probes import produce_request
from conformance.records import Record, build_batch
from conformance.runner import run_suite_subprocess
from conformance.target import unique_topic
from conformance.wire import Connection, build

FAILOVER_DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    try:
        running = start_kafka_cluster(tmp_path_factory.mktemp("kafka-cluster"), brokers=3)
    except PeerUnavailable as error:
        pytest.skip(str(error))
    with running:
        yield running


def test_apache_kafka_cluster_passes_the_cluster_probes(
    cluster: KafkaCluster, tmp_path: Path
) -> None:
    only = "(test_cluster and not test_cluster_id) or test_update_features"
    run = run_suite_subprocess(
        cluster.bootstrap, tmp_path / "cluster.json", "Apache Kafka cluster", only=only
    )
    bad = [f"{o.test_id}: {o.detail}" for o in run.with_outcome(FAILED, ERROR, SKIPPED)]
    assert not bad, "Apache Kafka disagrees with the cluster probes:\n" + "\n".join(bad)
    assert not run.with_outcome(UNSUPPORTED)
    assert run.totals()[PASSED] >= 25


def replicated_topic(cluster: KafkaCluster, configs: dict[str, str]) -> tuple[str, PartitionState]:
    name = unique_topic("failover")
    assert create_topic(cluster.address(1), name, 1, 3, configs) == ErrorCode.none
    cluster.wait_until(
        lambda: cluster.partition(name).fully_replicated, FAILOVER_DEADLINE_S, "in sync"
    )
    return name, cluster.partition(name)


def produce(
    cluster: KafkaCluster,
    node_id: int,
    topic: str,
    acks: int,
    not_yet: frozenset[ErrorCode] = frozenset(
        {ErrorCode.not_leader_or_follower, ErrorCode.unknown_topic_or_partition}
    ),
) -> ErrorCode:
    """Produce one record to broker `node_id`; while it answers an error of `not_yet` (it does
    not yet know it leads, or not yet the topic: its metadata can trail the broker that
    answered Metadata, whose new partition lists every replica in sync from the start), try
    again until the deadline, as a client retries them."""
    request = build(0, 9, **produce_request(topic, build_batch([Record(b"x")]), acks=acks))
    end = time.monotonic() + FAILOVER_DEADLINE_S
    while True:
        with Connection(cluster.address(node_id)) as conn:
            answer = conn.request(request)
        error = answer.responses[0].partition_responses[0].error_code
        if error not in not_yet or time.monotonic() > end:
            return error
        time.sleep(0.1)


def test_kill_leader_moves_leadership_and_restart_rejoins(cluster: KafkaCluster) -> None:
    topic, before = replicated_topic(cluster, {"min.insync.replicas": "3"})
    assert produce(cluster, before.leader, topic, acks=-1) == ErrorCode.none

    cluster.kill(before.leader)
    started = time.monotonic()
    cluster.wait_until(
        lambda: (
            (p := cluster.partition(topic)).leader not in (-1, before.leader)
            and p.leader_epoch > before.leader_epoch
            and before.leader not in p.isr
        ),
        FAILOVER_DEADLINE_S,
        f"led by a broker other than {before.leader}",
    )
    failover_s = time.monotonic() - started
    after = cluster.partition(topic)
    assert set(after.isr) == set(before.replicas) - {before.leader}
    assert produce(cluster, after.leader, topic, acks=-1) == ErrorCode.not_enough_replicas
    assert produce(cluster, after.leader, topic, acks=1) == ErrorCode.none

    cluster.start(before.leader)
    cluster.wait_until(
        lambda: cluster.partition(topic).fully_replicated, FAILOVER_DEADLINE_S, "rejoined"
    )
    # the leader counts the rejoined replica once its AlterPartition is answered, which may
    # come a moment after the broker that answered Metadata applied the new ISR
    not_yet = frozenset({ErrorCode.not_leader_or_follower, ErrorCode.not_enough_replicas})
    leader = cluster.partition(topic).leader
    assert produce(cluster, leader, topic, acks=-1, not_yet=not_yet) == ErrorCode.none
    print(f"failover after kill -9: {failover_s:.1f}s")


def test_paused_follower_leaves_and_rejoins_the_isr(cluster: KafkaCluster) -> None:
    cluster.wait_ready()
    topic, before = replicated_topic(cluster, {})
    follower = next(r for r in before.replicas if r != before.leader)
    cluster.pause(follower)
    try:
        cluster.wait_until(
            lambda: follower not in cluster.partition(topic).isr,
            FAILOVER_DEADLINE_S,
            f"without {follower} in the ISR",
        )
        assert cluster.partition(topic).leader == before.leader
    finally:
        cluster.resume(follower)
    cluster.wait_until(
        lambda: cluster.partition(topic).fully_replicated, FAILOVER_DEADLINE_S, "rejoined"
    )
