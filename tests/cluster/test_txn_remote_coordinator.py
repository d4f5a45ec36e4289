"""KIP-890 on a three-broker cluster where the transaction coordinator is another broker than
the partition's leader: the leader asks the coordinator's broker (AddPartitionsToTxn v5)
before a transaction's first write to the partition.

- Part 1 (Produce v11): a write that arrives after its transaction was aborted is refused
  (TRANSACTION_ABORTABLE); with ``refka.bugs=LateWriteAfterAbort`` it is appended and opens
  a transaction no marker will close (Transactions_LateWriteAfterAbort.cfg's anomaly).
- Part 2 (Produce v12, EndTxn v5): the write adds the partition to the transaction and the
  commit bumps the epoch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from refka.testing import RunningCluster, running_cluster

from conformance import wire
from conformance.records import Record, build_batch

E = ErrorCode
TRANSACTIONAL = 0x10
DEADLINE_S = 60.0
CONFIGS = {"transaction.state.log.num.partitions": 3, "offsets.topic.num.partitions": 1}
NOT_READY = {E.coordinator_not_available, E.not_coordinator, E.coordinator_load_in_progress}

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningCluster]:
    extra = dict(CONFIGS) | getattr(request, "param", {})
    with running_cluster(3, tmp_path / "data", **extra) as c:  # type: ignore[arg-type]
        yield c


def call(bootstrap: str, api_key: int, version: int, **fields: Any) -> Any:
    with wire.Connection(bootstrap) as connection:
        return connection.request(wire.build(api_key, version, **fields))


def until(probe: Any, done: Any) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while not done(answer := probe()):
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)
    return answer


class Setup:
    """A transactional id, its coordinator, and a partition led by another broker."""

    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        any_broker = next(iter(cluster.brokers.values())).bootstrap
        self.txn_id = f"txn-{uuid.uuid4().hex[:6]}"
        found = until(
            lambda: call(any_broker, 10, 4, key_type=1, coordinator_keys=(self.txn_id,)),
            lambda a: a.coordinators[0].error_code == E.none,
        )
        self.coordinator = int(found.coordinators[0].node_id)
        self.topic = f"t-{uuid.uuid4().hex[:6]}"
        cluster.create_topic(self.topic, 3, 1)
        self.partition, self.leader = next(
            (p, leader)
            for p in range(3)
            if (leader := cluster.leader_of(self.topic, p)) != self.coordinator
        )
        init = until(
            lambda: self.to_coordinator(
                22,
                4,
                transactional_id=self.txn_id,
                transaction_timeout=60_000,
                producer_id=-1,
                producer_epoch=-1,
            ),
            lambda a: a.error_code not in NOT_READY | {E.concurrent_transactions},
        )
        assert init.error_code == E.none, init
        self.pid, self.epoch = int(init.producer_id), int(init.producer_epoch)

    def to_coordinator(self, api_key: int, version: int, **fields: Any) -> Any:
        return call(self.cluster.brokers[self.coordinator].bootstrap, api_key, version, **fields)

    def produce(self, version: int, epoch: int, sequence: int) -> Any:
        batch = build_batch(
            [Record(b"v")],
            attributes=TRANSACTIONAL,
            producer_id=self.pid,
            producer_epoch=epoch,
            base_sequence=sequence,
        )
        answer = call(
            self.cluster.brokers[self.leader].bootstrap,
            0,
            version,
            transactional_id=self.txn_id,
            acks=-1,
            timeout=10_000,
            topic_data=[
                {
                    "name": self.topic,
                    "partition_data": [{"index": self.partition, "records": batch}],
                }
            ],
        )
        return answer.responses[0].partition_responses[0].error_code

    def end(self, version: int, epoch: int, commit: bool) -> Any:
        return until(
            lambda: self.to_coordinator(
                26,
                version,
                transactional_id=self.txn_id,
                producer_id=self.pid,
                producer_epoch=epoch,
                committed=commit,
            ),
            lambda a: a.error_code != E.concurrent_transactions,
        )

    def state(self) -> Any:
        return self.to_coordinator(65, 0, transactional_ids=(self.txn_id,)).transaction_states[0]

    def wait_state(self, name: str) -> Any:
        return until(self.state, lambda s: s.transaction_state == name)

    def late_write_after_abort(self) -> ErrorCode:
        """AddPartitionsToTxn, a write, abort; then a write of the same epoch arrives late."""
        added = self.to_coordinator(
            24,
            3,
            v3_and_below_transactional_id=self.txn_id,
            v3_and_below_producer_id=self.pid,
            v3_and_below_producer_epoch=self.epoch,
            v3_and_below_topics=[{"name": self.topic, "partitions": [self.partition]}],
        )
        result = added.results_by_topic_v3_and_below[0].results_by_partition[0]
        assert result.partition_error_code == E.none, added
        assert self.produce(11, self.epoch, 0) == E.none  # verified with the coordinator
        assert self.end(4, self.epoch, False).error_code == E.none
        self.wait_state("CompleteAbort")
        return ErrorCode(self.produce(11, self.epoch, 1))


def test_a_late_write_after_abort_is_refused(cluster: RunningCluster) -> None:
    setup = Setup(cluster)
    assert setup.leader != setup.coordinator
    assert setup.late_write_after_abort() == E.transaction_abortable


@pytest.mark.parametrize("cluster", [{"refka.bugs": "LateWriteAfterAbort"}], indirect=True)
def test_late_write_switch_accepts_it_on_a_cluster(cluster: RunningCluster) -> None:
    setup = Setup(cluster)
    assert setup.late_write_after_abort() == E.none  # the anomaly: outside any transaction
    assert setup.state().transaction_state == "CompleteAbort"


def test_produce_v12_adds_the_partition_on_the_coordinator_broker(cluster: RunningCluster) -> None:
    setup = Setup(cluster)
    assert setup.produce(12, setup.epoch, 0) == E.none
    ongoing = setup.state()
    assert ongoing.transaction_state == "Ongoing"
    assert [(t.topic, list(t.partitions)) for t in ongoing.topics] == [
        (setup.topic, [setup.partition])
    ]
    ended = setup.end(5, setup.epoch, True)
    assert (ended.error_code, ended.producer_epoch) == (E.none, setup.epoch + 1)
    setup.wait_state("CompleteCommit")
    assert setup.produce(12, setup.epoch, 1) == E.invalid_producer_epoch  # fenced by the marker


COPIER = Path(__file__).parents[1] / "txn" / "java" / "EosCopier.java"
JAVA = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp"]
PER_PARTITION = 8


def java_classpath() -> str:
    import shutil

    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    return f"{libs}/*"


def read_committed(bootstrap: str, topic: str) -> dict[int, list[str]]:
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    values: dict[int, list[str]] = {p: [] for p in range(3)}
    ended: set[int] = set()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(ended) < 3:
            assert time.monotonic() < deadline, values
            m = consumer.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                assert m.error().code() == KafkaError._PARTITION_EOF
                ended.add(int(m.partition() or 0))
                continue
            values[int(m.partition() or 0)].append(m.value().decode())
        return values
    finally:
        consumer.close()


def describe(setup: Setup, topic: str) -> list[Any]:
    """The transaction and the producers of ``topic``'s partitions (for a failure's message)."""
    seen: list[Any] = []
    try:
        seen.append(setup.state())
    except Exception as e:  # an Empty transaction's start time -1 is no timestamp for kio
        seen.append(e)
    for p in range(3):
        leader = setup.cluster.leader_of(topic, p)
        answer = call(
            setup.cluster.brokers[leader].bootstrap,
            61,
            0,
            topics=[{"name": topic, "partition_indexes": [p]}],
        )
        seen.append((p, leader, answer.topics[0].partitions[0].active_producers))
    return seen


@pytest.mark.slow
def test_java_copier_at_transaction_version_2_on_a_cluster(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    """The Java client (transaction version 2) copies exactly once when its partitions are
    led by other brokers than its coordinator: every first write and its offsets were added
    to the transaction by their leaders, and each commit bumped the epoch.

    Behind ``--slow`` as it is flaky: of 8 runs 2 ended with a commitTransaction that timed
    out after 60 s and 2 with the copier idle before the last 4 input records (not yet
    understood; docs/transactions.md)."""
    import subprocess

    from confluent_kafka import Producer

    classpath = java_classpath()
    setup = Setup(cluster)  # the copier's transactional id, with its coordinator
    bootstrap = cluster.bootstrap
    for name in ("in-" + setup.topic, "out-" + setup.topic):
        cluster.create_topic(name, 3, 3)
    leaders = {cluster.leader_of("out-" + setup.topic, p) for p in range(3)}
    producer = Producer({"bootstrap.servers": bootstrap})
    for p in range(3):
        for i in range(PER_PARTITION):
            producer.produce("in-" + setup.topic, f"p{p}-r{i}".encode(), partition=p)
    assert producer.flush(DEADLINE_S) == 0
    args = ["in-" + setup.topic, "out-" + setup.topic, "copier", setup.txn_id, "0", "6000"]
    log = tmp_path / "copier.log"
    copier = subprocess.run(
        [*JAVA, classpath, str(COPIER), bootstrap, *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        timeout=DEADLINE_S * 2,
    )
    assert copier.returncode == 0, "\n".join(
        map(str, [copier.stdout, *describe(setup, "out-" + setup.topic)])
    )
    committed = sum(line.startswith("committed") for line in copier.stdout.splitlines())
    expected = {p: [f"P{p}-R{i}" for i in range(PER_PARTITION)] for p in range(3)}
    assert read_committed(bootstrap, "out-" + setup.topic) == expected, (
        copier.stdout,
        log.read_text()[-3000:],
    )
    assert leaders - {setup.coordinator}, f"every partition led by the coordinator: {leaders}"
    # the Setup's InitProducerId, then the copier's, then one bump per commit
    assert int(setup.state().producer_epoch) == setup.epoch + 1 + committed
