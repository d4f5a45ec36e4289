"""DeleteRecords (KIP-107) is durable: the log start offset survives a clean restart and, once
``log.flush.start.offset.checkpoint.interval.ms`` has written ``log-start-offset-checkpoint``,
a crash; retention then removes the segments wholly below it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from refka.testing import RunningBroker, running_broker

TOPIC = "trimmed"
DEADLINE_S = 30.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def fill(broker: RunningBroker, count: int) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(DEADLINE_S)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(count):
        producer.produce(TOPIC, b"v%04d" % i + b"x" * 200, partition=0)
        producer.flush(DEADLINE_S)  # one batch per record: many small segments


def delete_before(broker: RunningBroker, offset: int) -> int:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    wanted = TopicPartition(TOPIC, 0, offset)
    return int(admin.delete_records([wanted])[wanted].result(DEADLINE_S).low_watermark)


def earliest(broker: RunningBroker) -> int:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = TopicPartition(TOPIC, 0)
    return int(admin.list_offsets({tp: OffsetSpec.earliest()})[tp].result(DEADLINE_S).offset)


def checkpoint_text(data_dir: Path) -> str:
    path = data_dir / "log-start-offset-checkpoint"
    return path.read_text() if path.exists() else ""


def test_log_start_offset_survives_a_clean_restart(tmp_path: Path) -> None:
    with running_broker(tmp_path / "data") as broker:
        fill(broker, 10)
        assert delete_before(broker, 7) == 7
        assert earliest(broker) == 7
        broker.restart()
        assert earliest(broker) == 7
        assert checkpoint_text(broker.data_dir) == f"0\n1\n{TOPIC} 0 7\n"


def test_log_start_offset_survives_a_crash_after_its_checkpoint(tmp_path: Path) -> None:
    with running_broker(
        tmp_path / "data",
        log_segment_bytes=1024,
        log_flush_start_offset_checkpoint_interval_ms=200,
        log_retention_check_interval_ms=200,
        log_segment_delete_delay_ms=0,
    ) as broker:
        fill(broker, 30)
        segments = len(list(broker.data_dir.glob(f"{TOPIC}-0/*.log")))
        assert segments > 3
        assert delete_before(broker, 22) == 22
        wait_until(lambda: f"{TOPIC} 0 22" in checkpoint_text(broker.data_dir), "the checkpoint")
        wait_until(
            lambda: len(list(broker.data_dir.glob(f"{TOPIC}-0/*.log"))) < segments,
            "retention to remove the segments below the log start offset",
        )
        broker.kill()
        broker.start()
        assert earliest(broker) == 22
