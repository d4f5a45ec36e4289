"""Transactions with unmodified clients (issue 11): a transactional producer commits and aborts;
a read_committed consumer sees exactly the committed records, a read_uncommitted one sees the
aborted ones too.

confluent-kafka (librdkafka) and kafka-python run ``init_transactions``, ``begin_transaction``,
then ``commit_transaction`` or ``abort_transaction``; the consumers read the partition from the
beginning by assignment until they reach the end of the log.
"""

from __future__ import annotations

import time

import confluent_kafka
import kafka
import pytest
from refka.testing import RunningBroker
from txn_helpers import (
    DEADLINE_S,
    confluent_producer,
    create_topic,
    read_all,
    send,
    stable_end,
)


def test_confluent_commit_and_abort(refka_broker: RunningBroker) -> None:
    """Committed, aborted, committed: read_committed sees the two committed transactions,
    read_uncommitted all three; the log's end is stable once every transaction ended."""
    bootstrap, topic = refka_broker.bootstrap, "txn-confluent"
    create_topic(bootstrap, topic)
    producer = confluent_producer(bootstrap, "txn-confluent-1")
    batches = [[f"{name}-{i}".encode() for i in range(5)] for name in ("c1", "a1", "c2")]
    for values, commit in zip(batches, (True, False, True), strict=True):
        producer.begin_transaction()
        send(producer, topic, values)
        if commit:
            producer.commit_transaction(DEADLINE_S)
        else:
            producer.abort_transaction(DEADLINE_S)
    assert read_all(bootstrap, topic, "read_committed") == batches[0] + batches[2]
    assert read_all(bootstrap, topic, "read_uncommitted") == batches[0] + batches[1] + batches[2]


def test_confluent_open_transaction_holds_read_committed(refka_broker: RunningBroker) -> None:
    """While a transaction is open, read_committed stops before its first record (the last
    stable offset) and read_uncommitted reads it; after the commit both see it."""
    bootstrap, topic = refka_broker.bootstrap, "txn-open"
    create_topic(bootstrap, topic)
    producer = confluent_producer(bootstrap, "txn-open-1")
    producer.begin_transaction()
    send(producer, topic, [b"first"])
    producer.commit_transaction(DEADLINE_S)
    producer.begin_transaction()
    send(producer, topic, [b"open-1", b"open-2"])
    assert read_all(bootstrap, topic, "read_committed") == [b"first"]
    assert read_all(bootstrap, topic, "read_uncommitted") == [b"first", b"open-1", b"open-2"]
    producer.commit_transaction(DEADLINE_S)
    assert read_all(bootstrap, topic, "read_committed") == [b"first", b"open-1", b"open-2"]


def test_kafka_python_commits(refka_broker: RunningBroker) -> None:
    """kafka-python's transactional producer commits one transaction and aborts the next;
    a read_committed consumer sees only the committed one."""
    bootstrap, topic = refka_broker.bootstrap, "txn-kafka-python"
    create_topic(bootstrap, topic)
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, transactional_id="txn-kp-1")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for i in range(3):
            producer.send(topic, f"kp-c-{i}".encode(), partition=0)
        producer.commit_transaction()
        producer.begin_transaction()
        producer.send(topic, b"kp-aborted", partition=0)
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close()
    committed = [f"kp-c-{i}".encode() for i in range(3)]
    assert read_all(bootstrap, topic, "read_committed") == committed
    assert read_all(bootstrap, topic, "read_uncommitted") == [*committed, b"kp-aborted"]


@pytest.mark.parametrize("isolation", ["read_committed", "read_uncommitted"])
def test_list_offsets_latest_is_lso_at_read_committed(
    refka_broker: RunningBroker, isolation: str
) -> None:
    """ListOffsets latest at read_committed answers the last stable offset (the first offset
    of the open transaction); at read_uncommitted the high watermark."""
    bootstrap, topic = refka_broker.bootstrap, f"txn-lso-{isolation}"
    create_topic(bootstrap, topic)
    producer = confluent_producer(bootstrap, f"txn-lso-{isolation}")
    producer.begin_transaction()
    send(producer, topic, [b"a", b"b"])
    producer.commit_transaction(DEADLINE_S)  # offsets 0, 1 and the marker at 2
    producer.begin_transaction()
    send(producer, topic, [b"open"])  # offset 3, open
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "lso", "isolation.level": isolation}
    )
    try:
        low, high = consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(topic, 0), timeout=DEADLINE_S, cached=False
        )
    finally:
        consumer.close()
    producer.abort_transaction(DEADLINE_S)
    assert low == 0
    assert high == (3 if isolation == "read_committed" else 4)


def test_confluent_consume_transform_produce_commits_offsets_in_the_transaction(
    refka_broker: RunningBroker,
) -> None:
    """send_offsets_to_transaction (AddOffsetsToTxn, TxnOffsetCommit): the group's offset
    moves only when the transaction commits; an aborted transaction leaves it, and the
    committed offset survives a restart of the broker (the offsets partition is loaded again,
    its transactional records counted at their COMMIT marker)."""
    bootstrap = refka_broker.bootstrap
    source, sink, group = "ctp-in", "ctp-out", "ctp-group"
    create_topic(bootstrap, source)
    create_topic(bootstrap, sink)
    plain = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for i in range(6):
        plain.produce(source, f"in-{i}".encode(), partition=0)
    plain.flush(DEADLINE_S)
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([confluent_kafka.TopicPartition(source, 0, 0)])
    producer = confluent_producer(bootstrap, "ctp-1")
    try:
        for commit in (True, False):
            taken = consume(consumer, 3)
            producer.begin_transaction()
            send(producer, sink, [b"out-" + m.value() for m in taken])
            positions = [confluent_kafka.TopicPartition(source, 0, taken[-1].offset() + 1)]
            producer.send_offsets_to_transaction(
                positions, consumer.consumer_group_metadata(), DEADLINE_S
            )
            if commit:
                producer.commit_transaction(DEADLINE_S)
            else:
                producer.abort_transaction(DEADLINE_S)
        assert committed_offset(bootstrap, source, group) == 3
    finally:
        consumer.close()
    assert read_all(bootstrap, sink, "read_committed") == [b"out-in-0", b"out-in-1", b"out-in-2"]
    refka_broker.restart()
    assert committed_offset(bootstrap, source, group) == 3


def consume(consumer: confluent_kafka.Consumer, count: int) -> list[confluent_kafka.Message]:
    taken: list[confluent_kafka.Message] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(taken) < count:
        assert time.monotonic() < deadline, f"got {len(taken)} of {count} records"
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            taken.append(message)
    return taken


def committed_offset(bootstrap: str, topic: str, group: str) -> int:
    """The group's committed offset of partition 0, asked by a fresh consumer (OffsetFetch),
    retried while the coordinator is not ready (after a restart)."""
    reader = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    deadline = time.monotonic() + DEADLINE_S
    try:
        while True:
            try:
                [found] = reader.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=5)
                return int(found.offset)
            except confluent_kafka.KafkaException:
                if time.monotonic() > deadline:
                    raise
    finally:
        reader.close()


def test_a_transaction_survives_a_broker_kill_and_the_next_instance_aborts_it(
    refka_broker: RunningBroker,
) -> None:
    """The coordinator's state is in ``__transaction_state``: after kill -9 and a restart the
    broker still knows the open transaction, and a new producer instance with the same
    transactional id fences it and aborts it (markers written), so the LSO moves past it."""
    bootstrap, topic = refka_broker.bootstrap, "txn-kill"
    create_topic(bootstrap, topic)
    first = confluent_producer(bootstrap, "txn-kill-1")
    first.begin_transaction()
    send(first, topic, [b"lost-1", b"lost-2"])
    assert stable_end(bootstrap, topic) == 0
    refka_broker.kill()
    refka_broker.start()
    confluent_producer(bootstrap, "txn-kill-1")  # init_transactions: fence and abort
    assert stable_end(bootstrap, topic) == 3  # two records and the ABORT marker
    assert read_all(bootstrap, topic, "read_committed") == []
    assert read_all(bootstrap, topic, "read_uncommitted") == [b"lost-1", b"lost-2"]


def test_a_timed_out_transaction_is_aborted_by_the_coordinator(
    refka_broker: RunningBroker,
) -> None:
    """``transaction.timeout.ms``: a transaction left open that long is aborted; the LSO
    moves past it and its producer is fenced (its commit fails)."""
    bootstrap, topic = refka_broker.bootstrap, "txn-timeout"
    create_topic(bootstrap, topic)
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": "txn-timeout-1",
            "transaction.timeout.ms": 1000,
            "linger.ms": 0,
        }
    )
    producer.init_transactions(DEADLINE_S)
    producer.begin_transaction()
    send(producer, topic, [b"abandoned"])
    deadline = time.monotonic() + DEADLINE_S
    while stable_end(bootstrap, topic) != 2:  # the record and the ABORT marker
        assert time.monotonic() < deadline, "the transaction was not aborted"
        time.sleep(0.1)
    with pytest.raises(confluent_kafka.KafkaException):
        producer.commit_transaction(DEADLINE_S)
    assert read_all(bootstrap, topic, "read_committed") == []


def test_an_open_transaction_survives_a_clean_restart_via_the_snapshot(
    refka_broker: RunningBroker,
) -> None:
    """A clean stop writes the partition's ``<log end offset>.snapshot`` holding the open
    transaction; after the restart the LSO still stops at its first record, and the same
    producer commits it."""
    from refka.log.producer_snapshot import decode

    bootstrap, topic = refka_broker.bootstrap, "txn-snapshot"
    create_topic(bootstrap, topic)
    producer = confluent_producer(bootstrap, "txn-snapshot-1")
    producer.begin_transaction()
    send(producer, topic, [b"before"])
    producer.commit_transaction(DEADLINE_S)
    producer.begin_transaction()
    send(producer, topic, [b"open-1", b"open-2"])
    assert stable_end(bootstrap, topic) == 2  # the record and its COMMIT marker
    refka_broker.restart()
    snapshot = refka_broker.data_dir / f"{topic}-0" / f"{4:020d}.snapshot"  # the log end
    [entry] = decode(snapshot.read_bytes())
    assert entry.current_txn_first_offset == 2
    assert stable_end(bootstrap, topic) == 2
    producer.commit_transaction(DEADLINE_S)
    assert read_all(bootstrap, topic, "read_committed") == [b"before", b"open-1", b"open-2"]
