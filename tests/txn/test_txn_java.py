"""Exactly-once consume-transform-produce with Apache Kafka's Java client (kafka-clients 4.4)
through refka, the copier killed with SIGKILL in the middle of a transaction.

The copier reads ``in`` at read_committed in a group and writes each record upper-cased to
``out``, committing the consumed offsets in the same transaction (``sendOffsetsToTransaction``).
The first instance is killed right after a transaction's records and offsets were sent, before
its commit; a second instance with the same transactional id fences it (its open transaction is
aborted, the offsets with it) and resumes from the committed offsets. ``out`` read at
read_committed then holds every input record exactly once, in order; read_uncommitted also
shows the killed transaction's records.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import RunningBroker

from conformance import wire

COPIER = Path(__file__).with_name("java") / "EosCopier.java"
PARTITIONS = 2
COUNT = 24  # per partition
DEADLINE_S = 120.0
JAVA = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp"]


@pytest.fixture(scope="module")
def java_classpath() -> str:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    return f"{libs}/*"


def read_all(bootstrap: str, topic: str, isolation: str) -> dict[int, list[str]]:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{isolation}",
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    values: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    ended: set[int] = set()
    deadline = time.monotonic() + 30
    try:
        while len(ended) < PARTITIONS:
            assert time.monotonic() < deadline, values
            m = consumer.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                assert m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF
                ended.add(int(m.partition() or 0))
                continue
            values[int(m.partition() or 0)].append(m.value().decode())
        return values
    finally:
        consumer.close()


def producer_epoch(bootstrap: str, txn_id: str) -> int:
    """The transactional id's current producer epoch (DescribeTransactions v0)."""
    with wire.Connection(bootstrap) as connection:
        response = connection.request(wire.build(65, 0, transactional_ids=(txn_id,)))
    (state,) = response.transaction_states
    return int(state.producer_epoch)


def test_java_copier_killed_mid_transaction_copies_exactly_once(
    refka_broker: RunningBroker, java_classpath: str, tmp_path: Path
) -> None:
    bootstrap = refka_broker.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name in ("in", "out"):
        admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(10)
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for p in range(PARTITIONS):
        for i in range(COUNT):
            producer.produce("in", f"p{p}-r{i}".encode(), partition=p)
    assert producer.flush(10) == 0

    def copier(pause_ms: int, idle_ms: int, log: Path) -> subprocess.Popen[str]:
        args = [bootstrap, "in", "out", "copier", "copier-1", str(pause_ms), str(idle_ms)]
        return subprocess.Popen(
            [*JAVA, java_classpath, str(COPIER), *args],
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )

    first = copier(2_000, 60_000, tmp_path / "first.log")
    assert first.stdout is not None
    deadline = time.monotonic() + DEADLINE_S
    committed = 0
    for line in first.stdout:  # kill after one commit, when the next transaction was sent
        assert time.monotonic() < deadline, "the first copier made no progress"
        if line.startswith("committed"):
            committed += 1
        elif line.startswith("sent") and committed >= 1:
            first.send_signal(signal.SIGKILL)
            break
    first.wait(30)
    assert first.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()[-2000:]
    second = copier(0, 8_000, tmp_path / "second.log")
    out, _ = second.communicate(timeout=DEADLINE_S)
    assert second.returncode == 0, (tmp_path / "second.log").read_text()[-2000:]
    committed += sum(line.startswith("committed") for line in out.splitlines())
    # transaction version 2 (KIP-890 part 2): every EndTxn v5 bumped the epoch, and so did
    # the fence of the killed instance and the second instance's InitProducerId
    assert producer_epoch(bootstrap, "copier-1") == committed + 2
    expected = {p: [f"P{p}-R{i}" for i in range(COUNT)] for p in range(PARTITIONS)}
    assert read_all(bootstrap, "out", "read_committed") == expected
    uncommitted = read_all(bootstrap, "out", "read_uncommitted")
    assert sum(map(len, uncommitted.values())) > PARTITIONS * COUNT  # the killed transaction
