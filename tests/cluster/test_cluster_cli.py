"""``refka cluster``: a controller and three brokers as processes, one command, one address.

The command prints the bootstrap list once every broker is registered and unfenced; a client
given that list creates a replicated topic and reads back what it wrote; SIGTERM stops every
node. Each node is an ordinary ``refka broker`` with Kafka's keys, as the command line shows.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

READY = re.compile(r"refka cluster ready: bootstrap (\S+) ")


def test_refka_cluster_serves_a_replicated_topic_and_stops_on_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "refka", "cluster", "--brokers", "3", "--dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = READY.search(line)
        assert match, f"no ready line: {line!r}"
        bootstrap = match[1]
        assert len(bootstrap.split(",")) == 3

        topic = f"cli-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(30)
        partition = _wait_for_full_isr(admin, topic)
        assert sorted(partition.replicas) == [1, 2, 3]

        producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        for n in range(10):
            producer.produce(topic, f"v{n}".encode())
        assert producer.flush(30) == 0
        assert _read(bootstrap, topic, 10) == [f"v{n}".encode() for n in range(10)]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr[-2000:]
    assert {p.name for p in tmp_path.iterdir()} == {"node-0", "node-1", "node-2", "node-3"}
    assert (tmp_path / "node-0" / "__cluster_metadata-0").is_dir()


def _wait_for_full_isr(admin: AdminClient, topic: str) -> object:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = admin.list_topics(topic, timeout=10).topics[topic]
        if found.error is None and found.partitions and len(found.partitions[0].isrs) == 3:
            return found.partitions[0]
        time.sleep(0.1)
    raise AssertionError(f"{topic} never had an ISR of 3")


def _read(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                values.append(message.value())
    finally:
        consumer.close()
    return values
