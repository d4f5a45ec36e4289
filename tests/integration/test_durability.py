"""Acknowledged records survive a restart and a crash (issue 2).

- SIGTERM restart: every record acknowledged before it is read back after it, at its offset,
  and producing afterwards continues at the next offset.
- kill -9 while a producer sends with acks=all: after a restart on the same log directory,
  every acknowledged (partition, offset, value) is read back, offsets have no gaps, and the
  consumer (which checks CRCs) meets no corrupt batch. Retried sends may appear twice; that is
  allowed without idempotence, losing or moving an acknowledged record is not. With
  idempotence on, each record is stored exactly once (the producer state survives the crash).

- ``replication-offset-checkpoint``: the high watermarks are written every
  ``replica.high.watermark.checkpoint.interval.ms`` and on a clean stop, in Kafka's format.

Small segments (``log.segment.bytes``) make the crash land across segment rolls and indexes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import confluent_kafka
import crc32c
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.protocol.batch_header import ATTRIBUTES, iter_headers
from refka.testing import RunningBroker, running_broker

PARTITIONS = 3
DEADLINE_S = 30.0
SEGMENT_BYTES = 16_384
BURST = 20
CLIENT_RETRY = {
    "reconnect.backoff.ms": 20,
    "reconnect.backoff.max.ms": 200,
    "retry.backoff.ms": 20,
    "retry.backoff.max.ms": 200,
}

Acked = tuple[int, int, bytes]  # (partition, offset, value)


@pytest.fixture
def durable_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    with running_broker(tmp_path / "data", log_segment_bytes=SEGMENT_BYTES) as broker:
        yield broker


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(DEADLINE_S)


def producer(bootstrap: str, **extra: object) -> confluent_kafka.Producer:
    return confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2, **CLIENT_RETRY, **extra}
    )


def located(msg: confluent_kafka.Message) -> Acked:
    """(partition, offset, value) of a delivered or consumed message."""
    partition, offset, value = msg.partition(), msg.offset(), msg.value()
    assert partition is not None and offset is not None and value is not None
    return partition, offset, value


def read_all(bootstrap: str, topic: str) -> dict[int, list[tuple[int, bytes]]]:
    """Every partition from offset 0 to its high watermark, as (offset, value) in read order."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "refka-tests-durability",
            "enable.auto.commit": False,
            "check.crcs": True,
            **CLIENT_RETRY,
        }
    )
    try:
        ends = {
            p: consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(topic, p), timeout=DEADLINE_S
            )[1]
            for p in range(PARTITIONS)
        }
        consumer.assign(
            [confluent_kafka.TopicPartition(topic, p, 0) for p in range(PARTITIONS) if ends[p]]
        )
        read: dict[int, list[tuple[int, bytes]]] = {p: [] for p in range(PARTITIONS)}
        deadline = time.monotonic() + DEADLINE_S
        while any(len(read[p]) < ends[p] for p in read):
            assert time.monotonic() < deadline, f"read {read} of {ends}"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            partition, offset, value = located(msg)
            read[partition].append((offset, value))
    finally:
        consumer.close()
    return read


def assert_all_acknowledged_readable(
    read: dict[int, list[tuple[int, bytes]]], acked: list[Acked], sent: set[bytes]
) -> None:
    for partition, records in read.items():
        offsets = [offset for offset, _ in records]
        assert offsets == list(range(len(offsets))), f"gap in partition {partition}"
        assert {value for _, value in records} <= sent, "a value nobody sent"
    stored = {(p, offset): value for p, records in read.items() for offset, value in records}
    missing = [(p, o, v) for p, o, v in acked if stored.get((p, o)) != v]
    assert not missing, f"{len(missing)} acknowledged records lost or moved: {missing[:5]}"


class IdempotentProducer:
    """confluent-kafka with idempotence on, collecting acknowledgements and errors."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.client = producer(bootstrap, **{"enable.idempotence": True})
        self.acked: list[Acked] = []
        self.errors: list[object] = []

    def on_delivery(self, err: object, msg: confluent_kafka.Message) -> None:
        if err:
            self.errors.append(err)
        else:
            self.acked.append(located(msg))

    def produce(self, values: list[bytes], batch_size: int = 60) -> None:
        """Send ``values`` over all partitions, ``batch_size`` at a time, each round acked."""
        for start in range(0, len(values), batch_size):
            for i, value in enumerate(values[start : start + batch_size], start):
                self.client.produce(
                    self.topic, value, partition=i % PARTITIONS, on_delivery=self.on_delivery
                )
            assert self.client.flush(DEADLINE_S) == 0
            assert self.errors == []


FIRST = [b"before-%04d-" % i + b"x" * (i % 200) for i in range(600)]
SECOND = [b"after-%04d" % i for i in range(30)]


def restart_between(
    broker: RunningBroker, before: IdempotentProducer, after: IdempotentProducer
) -> None:
    """Produce FIRST with ``before`` (over several segments), restart, produce SECOND with
    ``after``; everything acknowledged is read back, each record exactly once."""
    topic = before.topic
    create_topic(broker.bootstrap, topic)
    before.produce(FIRST)
    assert len(list(broker.data_dir.glob(f"{topic}-0/*.log"))) > 1, "one segment only"
    broker.restart()
    assert_all_acknowledged_readable(read_all(broker.bootstrap, topic), before.acked, set(FIRST))
    after.produce(SECOND)
    read = read_all(broker.bootstrap, topic)
    acked = before.acked + (after.acked if after is not before else [])
    assert_all_acknowledged_readable(read, acked, set(FIRST + SECOND))
    assert sum(len(records) for records in read.values()) == len(FIRST) + len(SECOND)


def test_restart_keeps_every_acknowledged_record(durable_broker: RunningBroker) -> None:
    bootstrap = durable_broker.bootstrap
    before = IdempotentProducer(bootstrap, "restart")
    restart_between(durable_broker, before, IdempotentProducer(bootstrap, "restart"))


def test_idempotent_producer_goes_on_across_a_restart(durable_broker: RunningBroker) -> None:
    """One producer id before and after: the broker rebuilds its sequences from the log."""
    same = IdempotentProducer(durable_broker.bootstrap, "restart")
    restart_between(durable_broker, same, same)


def hw_checkpoint_text(data_dir: Path) -> str:
    path = data_dir / "replication-offset-checkpoint"
    return path.read_text() if path.exists() else ""


def test_high_watermarks_are_checkpointed_periodically_and_on_stop(tmp_path: Path) -> None:
    with running_broker(
        tmp_path / "data", replica_high_watermark_checkpoint_interval_ms=200
    ) as broker:
        client = IdempotentProducer(broker.bootstrap, "hw")
        create_topic(broker.bootstrap, "hw")
        client.produce([b"v%d" % i for i in range(6)])  # 2 records in each partition
        periodic = "0\n3\nhw 0 2\nhw 1 2\nhw 2 2\n"
        wait_until(lambda: hw_checkpoint_text(broker.data_dir) == periodic, "a periodic checkpoint")
        broker.configs["replica.high.watermark.checkpoint.interval.ms"] = 3_600_000
        broker.restart()  # from now on only the stop writes the file
        client = IdempotentProducer(broker.bootstrap, "hw")
        client.produce([b"w%d" % i for i in range(4)], batch_size=4)
        assert hw_checkpoint_text(broker.data_dir) == periodic
        broker.stop()
        assert hw_checkpoint_text(broker.data_dir) == "0\n3\nhw 0 4\nhw 1 3\nhw 2 3\n"
        broker.start()


class BackgroundProducer:
    """A thread producing distinct values with acks=all, recording each acknowledgement."""

    def __init__(self, bootstrap: str, topic: str, idempotent: bool) -> None:
        self.topic = topic
        self.client = producer(
            bootstrap,
            **{
                "message.timeout.ms": 20_000,
                "enable.idempotence": idempotent,
                "queue.buffering.max.messages": 5_000,  # bounds the backlog while down
            },
        )
        self.acked: list[Acked] = []
        self.failed: list[object] = []
        self.sent: set[bytes] = set()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="producer", daemon=True)

    def on_delivery(self, err: object, msg: confluent_kafka.Message) -> None:
        if err is None:
            self.acked.append(located(msg))
        else:
            self.failed.append(err)

    def run(self) -> None:
        i = 0
        while not self.stopping.is_set():
            for _ in range(BURST):  # several requests in flight when the broker dies
                value = b"value-%06d-" % i + b"y" * (i % 100)
                try:
                    self.client.produce(
                        self.topic, value, partition=i % PARTITIONS, on_delivery=self.on_delivery
                    )
                except BufferError:
                    break
                self.sent.add(value)
                i += 1
            self.client.poll(0.001)
        self.client.flush(DEADLINE_S)

    def __enter__(self) -> BackgroundProducer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(DEADLINE_S + 5)


def acked_at_least(background: BackgroundProducer, count: int) -> bool:
    return len(background.acked) >= count


@pytest.mark.parametrize(
    ("kill_after_acks", "idempotent"),
    [
        (5, False),
        (400, False),
        (800, True),
    ],
)
def test_kill_9_during_acks_all_produce(
    durable_broker: RunningBroker, kill_after_acks: int, idempotent: bool
) -> None:
    topic = "crash"
    bootstrap = durable_broker.bootstrap
    create_topic(bootstrap, topic)
    with BackgroundProducer(bootstrap, topic, idempotent) as background:
        for round_ in range(2):  # two crashes, each mid-stream
            goal = kill_after_acks * (round_ + 1) + round_ * 100
            wait_until(partial(acked_at_least, background, goal), f"{goal} acks")
            durable_broker.kill()
            durable_broker.restart()
        goal = len(background.acked) + 100
        wait_until(partial(acked_at_least, background, goal), "acks after the last restart")
    assert not background.thread.is_alive()
    read = read_all(bootstrap, topic)
    assert_all_acknowledged_readable(read, background.acked, background.sent)
    assert len(background.acked) >= goal
    assert_segments_intact(durable_broker.data_dir, topic)
    if idempotent:  # retries across the crash are deduplicated: each value exactly once
        values = [value for records in read.values() for _, value in records]
        assert background.failed == []
        assert sorted(values) == sorted(value for _, _, value in background.acked)


def assert_segments_intact(data_dir: Path, topic: str) -> None:
    """After recovery every segment file is whole batches, each with a valid CRC-32C,
    and offsets run on from one batch to the next (and one segment to the next)."""
    for partition in range(PARTITIONS):
        next_offset = 0
        for segment in sorted((data_dir / f"{topic}-{partition}").glob("*.log")):
            assert int(segment.stem) == next_offset, f"{segment.name} after {next_offset}"
            data = segment.read_bytes()
            position = 0
            for header in iter_headers(data):
                batch = data[position : position + header.size]
                assert len(batch) == header.size, f"torn batch in {segment}"
                assert crc32c.crc32c(batch[ATTRIBUTES:]) == header.crc, f"bad CRC in {segment}"
                assert header.base_offset == next_offset, (segment, header)
                next_offset = header.next_offset
                position += header.size
            assert position == len(data), f"{len(data) - position} stray bytes in {segment}"
