"""Transactions on a three-broker cluster, with real processes and confluent-kafka.

The transaction coordinator is the leader of the transactional id's ``__transaction_state``
partition (replicated, ``transaction.state.log.replication.factor`` 3). Its markers go to the
leaders of the transaction's partitions: appended where it leads them, WriteTxnMarkers requests
to the other brokers. When the coordinator's broker is killed (SIGKILL) with a transaction open,
the new leader of its partition loads the transaction, and the producer's next instance fences
and aborts it on every partition. Killed between EndTxn's PrepareCommit (PrepareAbort) and the
markers (its requests to the other brokers cut, so the markers cannot leave), the new
coordinator completes the commit (abort) on every partition.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from refka.group.partitioner import partition_for
from refka.testing import RunningCluster, running_cluster

PARTITIONS = 3
TXN_PARTITIONS = 6
DEADLINE_S = 60.0
CONFIGS = {
    "broker.heartbeat.interval.ms": 200,
    "broker.session.timeout.ms": 1500,
    "replica.lag.time.max.ms": 3000,
    "transaction.state.log.num.partitions": TXN_PARTITIONS,
    "offsets.topic.num.partitions": 3,
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


def transactional(bootstrap: str, txn_id: str) -> Producer:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": txn_id,
            "linger.ms": 0,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    producer.init_transactions(DEADLINE_S)
    return producer


def send_all(producer: Producer, topic: str, name: str) -> None:
    for p in range(PARTITIONS):
        producer.produce(topic, f"{name}-{p}".encode(), partition=p)
    assert producer.flush(DEADLINE_S) == 0


def read(bootstrap: str, topic: str, isolation: str) -> dict[int, list[bytes]]:
    """Each partition's values from the start to its end at ``isolation`` (the LSO for
    read_committed), polled until every partition reports its end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"r-{uuid.uuid4().hex[:6]}",
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    values: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    ended: set[int] = set()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(ended) < PARTITIONS:
            assert time.monotonic() < deadline, f"no end of every partition: {values}"
            m = consumer.poll(0.5)
            if m is None:
                continue
            p = int(m.partition() or 0)
            if m.error() is not None:
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                ended.add(p)
                continue
            ended.discard(p)
            values[p].append(m.value())
        return values
    finally:
        consumer.close()


def stable_ends(bootstrap: str, topic: str) -> list[int]:
    """ListOffsets latest at read_committed of every partition: its last stable offset."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "lso", "isolation.level": "read_committed"}
    )
    try:
        return [
            int(consumer.get_watermark_offsets(TopicPartition(topic, p), 10, cached=False)[1])
            for p in range(PARTITIONS)
        ]
    finally:
        consumer.close()


def test_markers_reach_the_leaders_on_every_broker(cluster: RunningCluster) -> None:
    """The partitions are led by different brokers: a commit and an abort each write their
    marker on all of them (the LSO reaches the end everywhere), and read_committed sees the
    committed transaction only."""
    bootstrap = cluster.bootstrap
    topic = new_topic(bootstrap)
    leaders = {cluster.leader_of(topic, p) for p in range(PARTITIONS)}
    producer = transactional(bootstrap, f"txn-{uuid.uuid4().hex[:6]}")
    producer.begin_transaction()
    send_all(producer, topic, "committed")
    producer.commit_transaction(DEADLINE_S)
    producer.begin_transaction()
    send_all(producer, topic, "aborted")
    producer.abort_transaction(DEADLINE_S)
    assert len(leaders) > 1, f"every partition on one broker: {leaders}"
    deadline = time.monotonic() + DEADLINE_S
    while stable_ends(bootstrap, topic) != [4] * PARTITIONS:  # 2 records and 2 markers each
        assert time.monotonic() < deadline, stable_ends(bootstrap, topic)
        time.sleep(0.2)
    committed = read(bootstrap, topic, "read_committed")
    assert committed == {p: [f"committed-{p}".encode()] for p in range(PARTITIONS)}


def test_coordinator_killed_with_a_transaction_open(cluster: RunningCluster) -> None:
    """SIGKILL the coordinator while a transaction is open on three partitions: the new
    coordinator loads it from ``__transaction_state``, and the producer's next instance fences
    and aborts it on every partition."""
    bootstrap = cluster.bootstrap
    topic = new_topic(bootstrap)
    txn_id = f"txn-{uuid.uuid4().hex[:6]}"
    first = transactional(bootstrap, txn_id)
    first.begin_transaction()
    send_all(first, topic, "open")
    assert stable_ends(bootstrap, topic) == [0] * PARTITIONS
    coordinator = cluster.leader_of("__transaction_state", partition_for(txn_id, TXN_PARTITIONS))
    cluster.kill(coordinator)
    survivors = ",".join(b.bootstrap for n, b in cluster.brokers.items() if n != coordinator)
    transactional(survivors, txn_id)  # init_transactions: fence and abort
    deadline = time.monotonic() + DEADLINE_S
    while stable_ends(survivors, topic) != [2] * PARTITIONS:  # the record and the ABORT marker
        assert time.monotonic() < deadline, stable_ends(survivors, topic)
        time.sleep(0.2)
    assert read(survivors, topic, "read_committed") == {p: [] for p in range(PARTITIONS)}


def topic_led_away_from(cluster: RunningCluster, coordinator: int) -> str:
    """A topic whose partitions the other two brokers lead (the coordinator follows each), so
    that every marker must leave the coordinator's broker as a WriteTxnMarkers request."""
    others = sorted(n for n in cluster.brokers if n != coordinator)
    name = f"t-{uuid.uuid4().hex[:8]}"
    assignment = [[others[p % 2], others[(p + 1) % 2], coordinator] for p in range(PARTITIONS)]
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, replica_assignment=assignment)])[name].result(
        30
    )
    deadline = time.monotonic() + DEADLINE_S
    while [cluster.leader_of(name, p) for p in range(PARTITIONS)] != [a[0] for a in assignment]:
        assert time.monotonic() < deadline, "the topic's leaders were not elected"
        time.sleep(0.2)
    return name


@pytest.mark.parametrize("commit", [True, False], ids=["commit", "abort"])
def test_coordinator_killed_between_end_txn_and_the_markers(
    cluster: RunningCluster, commit: bool
) -> None:
    """EndTxn is answered once PrepareCommit (PrepareAbort) is replicated in
    ``__transaction_state``; the coordinator's requests to the other brokers are cut, so its
    markers cannot leave, and it is killed (SIGKILL) there. The new coordinator loads the
    prepared transaction and writes its markers: every partition ends with the records and
    exactly one marker, read_committed sees the records once (commit) or never (abort)."""
    txn_id = f"txn-{uuid.uuid4().hex[:6]}"
    producer = transactional(cluster.bootstrap, txn_id)
    coordinator = cluster.leader_of("__transaction_state", partition_for(txn_id, TXN_PARTITIONS))
    topic = topic_led_away_from(cluster, coordinator)
    producer.begin_transaction()
    send_all(producer, topic, "txn")
    cluster.cut_requests_from(coordinator)
    if commit:
        producer.commit_transaction(DEADLINE_S)
    else:
        producer.abort_transaction(DEADLINE_S)
    assert stable_ends(cluster.bootstrap, topic) == [0] * PARTITIONS  # no marker written
    cluster.kill(coordinator)
    cluster.heal()
    survivors = ",".join(b.bootstrap for n, b in cluster.brokers.items() if n != coordinator)
    deadline = time.monotonic() + DEADLINE_S
    while stable_ends(survivors, topic) != [2] * PARTITIONS:  # the record and one marker
        assert time.monotonic() < deadline, stable_ends(survivors, topic)
        time.sleep(0.2)
    records = {p: [f"txn-{p}".encode()] for p in range(PARTITIONS)}
    expected = records if commit else {p: [] for p in range(PARTITIONS)}
    assert read(survivors, topic, "read_committed") == expected
    assert read(survivors, topic, "read_uncommitted") == records
