"""``RunningCluster.isolate(node)`` cuts a broker off the rest of the cluster, replication
included, while clients keep their direct connections (real processes, real clients).

Each broker's inter-broker listener (REPLICATION) is advertised at a proxy the cluster owns, so
followers fetch from a leader through it; ``isolate`` cuts the broker's controller link, the
others' fetches from it and its fetches from the others.

- an isolated follower stops replicating and leaves the ISR while acks=all produce
  (min.insync.replicas=1) goes on; healed, it catches up and rejoins;
- an isolated leader is replaced by the controller, and no longer replicates: an acks=all
  produce sent straight to it is never acknowledged; healed, it follows the new leader;
- a slowed follower (still in the ISR) slows every acks=all produce by its fetch round trip.

A replica's progress is its high watermark as ListOffsets answers with the debugging replica
id (-2), which any replica answers, leader or not: a follower learns the leader's high
watermark only by fetching.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from failover_helpers import FAST, partition_where, produce_raw, replicated_topic, wait_for
from kio.schema.errors import ErrorCode
from kio.schema.list_offsets.v4.request import (
    ListOffsetsPartition,
    ListOffsetsRequest,
    ListOffsetsTopic,
)
from kio.schema.list_offsets.v4.response import ListOffsetsResponse
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i32, i64
from refka.testing import RunningCluster, running_cluster

from conformance.wire import Connection

MIN_ISR_1 = {"min.insync.replicas": "1"}
DEBUGGING_REPLICA_ID, LATEST = -2, -1


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(3, tmp_path / "cluster", config=FAST) as running:
        yield running


def replica_offset(cluster: RunningCluster, node: int, topic: str) -> int:
    """The high watermark of ``node``'s replica of ``topic``-0 (-1 on an error)."""
    request = ListOffsetsRequest(
        replica_id=BrokerId(DEBUGGING_REPLICA_ID),
        isolation_level=i8(0),
        topics=(
            ListOffsetsTopic(
                name=TopicName(topic),
                partitions=(ListOffsetsPartition(partition_index=i32(0), timestamp=i64(LATEST)),),
            ),
        ),
    )
    with Connection(cluster.brokers[node].bootstrap) as conn:
        answer = conn.request(request)
    assert isinstance(answer, ListOffsetsResponse)
    found = answer.topics[0].partitions[0]
    return int(found.offset) if found.error_code == ErrorCode.none else -1


def produce(addresses: list[str], topic: str, count: int) -> None:
    """``count`` records, acks=all, through confluent-kafka; every one acknowledged."""
    producer = Producer(
        {"bootstrap.servers": ",".join(addresses), "acks": "all", "message.timeout.ms": 20000}
    )
    errors: list[object] = []
    for i in range(count):
        producer.produce(topic, b"%d" % i, partition=0,
                         on_delivery=lambda e, _m: errors.append(e) if e else None)  # fmt: skip
    assert producer.flush(30) == 0
    assert errors == []


def addresses(cluster: RunningCluster, nodes: list[int]) -> list[str]:
    return [cluster.brokers[n].bootstrap for n in nodes]


def test_an_isolated_follower_stops_replicating_and_leaves_the_isr(
    cluster: RunningCluster,
) -> None:
    topic = "isolated-follower"
    before = replicated_topic(cluster, topic, 1, MIN_ISR_1)[0]
    leader = before.leader
    follower, other = (r for r in before.replicas if r != leader)
    connected = [leader, other]
    produce(addresses(cluster, connected), topic, 10)
    wait_for(lambda: replica_offset(cluster, follower, topic) == 10, "the follower has 10")

    cluster.isolate(follower)
    after = partition_where(
        cluster, topic, lambda s: follower not in s.isr, "without the isolated follower",
        among=connected,
    )  # fmt: skip
    assert after.leader == leader and set(after.isr) == {leader, other}
    produce(addresses(cluster, connected), topic, 10)  # acks=all goes on without it
    wait_for(lambda: replica_offset(cluster, other, topic) == 20, "the other follower has 20")
    assert replica_offset(cluster, follower, topic) == 10  # its fetches are cut

    cluster.heal()
    partition_where(cluster, topic, lambda s: s.fully_replicated, "with the follower back",
                    among=connected)  # fmt: skip
    wait_for(lambda: replica_offset(cluster, follower, topic) == 20, "the follower caught up")


def test_an_isolated_leader_is_replaced_and_cannot_replicate(cluster: RunningCluster) -> None:
    topic = "isolated-leader"
    before = replicated_topic(cluster, topic, 1, MIN_ISR_1)[0]
    old = before.leader
    others = [r for r in before.replicas if r != old]
    produce(addresses(cluster, others), topic, 5)

    cluster.isolate(old)
    moved = partition_where(
        cluster, topic, lambda s: s.leader in others and old not in s.isr, "led by another",
        among=others,
    )  # fmt: skip
    produce(addresses(cluster, others), topic, 5)  # the new leader takes acks=all
    # The old leader still believes it leads (its controller link is cut), appends, and waits
    # for followers that no longer fetch from it: acks=all is never acknowledged.
    refused = produce_raw(cluster.brokers[old].bootstrap, topic, acks=-1, timeout_ms=1500)
    assert refused in (ErrorCode.request_timed_out, ErrorCode.not_enough_replicas_after_append)
    assert replica_offset(cluster, old, topic) == 5  # nothing of the new leader's reached it

    cluster.heal()
    back = partition_where(cluster, topic, lambda s: s.fully_replicated, "with the old leader back",
                           among=others)  # fmt: skip
    assert back.leader == moved.leader
    wait_for(lambda: replica_offset(cluster, old, topic) == 10, "the old leader caught up")


def test_a_slowed_follower_slows_acks_all(cluster: RunningCluster) -> None:
    """The leader acknowledges once the follower's next fetch shows it has the record: one
    fetch answer and one fetch request through the follower's slowed links, 2 x 300 ms."""
    topic = "slowed-follower"
    before = replicated_topic(cluster, topic, 1, MIN_ISR_1)[0]
    leader = cluster.brokers[before.leader].bootstrap
    follower = next(r for r in before.replicas if r != before.leader)

    def produce_s() -> float:
        began = time.monotonic()
        assert produce_raw(leader, topic, acks=-1, timeout_ms=5000) == ErrorCode.none
        return time.monotonic() - began

    assert produce_s() < 0.5
    cluster.slow(follower, 300)
    assert produce_s() >= 0.6
    cluster.heal()
    partition_where(cluster, topic, lambda s: s.fully_replicated, "all in sync")
    produce_s()  # a fetch that left while slowed may still be on its way
    assert produce_s() < 0.5
