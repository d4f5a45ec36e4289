"""Consumer groups on a three-broker cluster, with real processes and confluent-kafka.

The coordinator of a group is the leader of its ``__consumer_offsets`` partition
(replicated, ``offsets.topic.replication.factor`` 3). A commit is answered once the ISR holds
it, so when the coordinator's broker is killed (SIGKILL) the new leader loads the partition and
the group goes on from its commits: every record is delivered, and none whose offset was
committed is delivered again. A whole-cluster restart keeps the commits too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import RunningCluster, running_cluster

PARTITIONS = 4
DEADLINE_S = 60.0
CONFIGS = {
    "broker.heartbeat.interval.ms": 200,
    "broker.session.timeout.ms": 1500,
    "replica.lag.time.max.ms": 3000,
    "offsets.topic.replication.factor": 3,
    "offsets.topic.num.partitions": 6,
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
}

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(3, tmp_path / "data", **CONFIGS) as c:  # type: ignore[arg-type]
        yield c


def new_topic(bootstrap: str) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, 3)])[name].result(30)
    return name


def produce(bootstrap: str, topic: str, per_partition: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        for n in range(per_partition):
            producer.produce(topic, f"p{p}-{n}".encode(), partition=p)
    assert producer.flush(30) == 0


def consumer(bootstrap: str, group: str, topic: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300,
            "partition.assignment.strategy": "range",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    c.subscribe([topic])
    return c


class Ledger:
    """What the group delivered and committed, per partition."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.delivered: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
        self.committed: dict[int, int] = {}
        self.uncommitted: set[tuple[int, int]] = set()  # (partition, offset) whose commit failed

    def poll(self, c: Consumer) -> None:
        """One record: deliver it, then commit past it (retrying while the coordinator
        moves); a commit refused for good (a rebalance took the partition) is noted."""
        m = c.poll(0.1)
        if m is None or m.error() is not None:
            return
        p, offset = int(m.partition() or 0), int(m.offset() or 0)
        self.delivered[p].append(offset)
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                c.commit(offsets=[TopicPartition(self.topic, p, offset + 1)], asynchronous=False)
                self.committed[p] = max(self.committed.get(p, 0), offset + 1)
                return
            except KafkaException as error:
                retriable = error.args[0].retriable()
                if not retriable or time.monotonic() > deadline:
                    self.uncommitted.add((p, offset))
                    return

    def consume(self, consumers: list[Consumer], per_partition: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while any(set(d) < set(range(per_partition)) for d in self.delivered.values()):
            assert time.monotonic() < deadline, f"delivered only {self.delivered}"
            for c in consumers:
                self.poll(c)

    def check(self, per_partition: int) -> None:
        """Nothing skipped; a record delivered twice only if its commit had failed."""
        for p, offsets in self.delivered.items():
            assert sorted(set(offsets)) == list(range(per_partition)), (p, offsets)
            again = {o for o in offsets if offsets.count(o) > 1}
            assert again <= {o for q, o in self.uncommitted if q == p}, (p, offsets)


def coordinator_of(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return int(admin.describe_consumer_groups([group])[group].result(30).coordinator.id)


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's commits as its coordinator answers OffsetFetch (retried while it moves)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        wanted = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                return {tp.partition: tp.offset for tp in c.committed(wanted, timeout=10)}
            except KafkaException:
                assert time.monotonic() < deadline, "no coordinator answered OffsetFetch"
    finally:
        c.close()


def test_coordinator_failover_keeps_commits(cluster: RunningCluster) -> None:
    bootstrap = cluster.bootstrap
    topic, group = new_topic(bootstrap), f"g-{uuid.uuid4().hex[:6]}"
    produce(bootstrap, topic, 10)
    ledger = Ledger(topic)
    members = [consumer(bootstrap, group, topic), consumer(bootstrap, group, topic)]
    try:
        ledger.consume(members, 10)
        before = dict(ledger.committed)
        assert before == {p: 10 for p in range(PARTITIONS)}
        victim = coordinator_of(bootstrap, group)
        cluster.brokers[victim].kill()
        survivors = ",".join(b.bootstrap for n, b in cluster.brokers.items() if n != victim)

        # The new coordinator (another broker) has every acknowledged commit.
        assert committed(survivors, group, topic) == before
        assert coordinator_of(survivors, group) != victim

        # The group goes on: both members deliver and commit through the new coordinator.
        produce(survivors, topic, 10)
        ledger.consume(members, 20)
        # One member leaves: the group rebalances on the new coordinator, and the other
        # member resumes the leaver's partitions at their commits.
        members.pop().close()
        produce(survivors, topic, 10)
        ledger.consume(members, 30)
    finally:
        for c in members:
            c.close()
    ledger.check(30)
    assert committed(survivors, group, topic) == {p: 30 for p in range(PARTITIONS)}


def test_whole_cluster_restart_keeps_commits(cluster: RunningCluster) -> None:
    bootstrap = cluster.bootstrap
    topic, group = new_topic(bootstrap), f"g-{uuid.uuid4().hex[:6]}"
    produce(bootstrap, topic, 10)
    ledger = Ledger(topic)
    first = consumer(bootstrap, group, topic)
    try:
        ledger.consume([first], 6)
    finally:
        first.close()
    before = dict(ledger.committed)
    assert len(before) == PARTITIONS and all(o >= 6 for o in before.values())

    cluster.stop()
    cluster.controller.start()
    offsets = {n: node.launch() for n, node in cluster.brokers.items()}
    for n, node in cluster.brokers.items():
        node.wait_ready(offsets[n], 60)

    assert committed(bootstrap, group, topic) == before
    produce(bootstrap, topic, 5)  # every partition has a record at its committed offset
    resumed = consumer(bootstrap, group, topic)
    try:
        firsts: dict[int, int] = {}
        deadline = time.monotonic() + DEADLINE_S
        while len(firsts) < PARTITIONS:
            assert time.monotonic() < deadline, f"resumed only {firsts}"
            m = resumed.poll(0.1)
            if m is not None and m.error() is None:
                firsts.setdefault(int(m.partition() or 0), int(m.offset() or 0))
    finally:
        resumed.close()
    assert firsts == before
