"""Each node started alone with Kafka's keys: a controller, then a broker formatted with
``refka storage format`` and pointed at it by ``controller.quorum.voters``."""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic
from kio.schema.metadata.v1.response import MetadataResponse
from refka.bench.probe import metadata_frame
from refka.peers.readiness import free_port, read_response
from refka.testing import RunningBroker

FENCED_WATCH_S = 1.5
CONNECT_DEADLINE_S = 30.0


def refka(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refka", *args], capture_output=True, text=True, timeout=60
    )


def test_a_controller_and_a_broker_started_alone(tmp_path: Path) -> None:
    cluster_id = refka("storage", "random-uuid").stdout.strip()
    assert len(cluster_id) == 22
    controller = RunningBroker(
        tmp_path / "c", tmp_path, "127.0.0.1", 0,
        {"node.id": "10", "process.roles": "controller"}, listener="CONTROLLER",
    )  # fmt: skip
    (tmp_path / "c").mkdir()
    (tmp_path / "b").mkdir()
    broker_logs = tmp_path / "broker-logs"
    broker_logs.mkdir()
    settings = {
        "node.id": "11",
        "process.roles": "broker",
        "controller.quorum.voters": "10@127.0.0.1:1",  # set for real below
    }
    broker = RunningBroker(tmp_path / "b", broker_logs, "127.0.0.1", 0, settings)
    refused = subprocess.run(broker.command(), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "refka storage format" in refused.stderr

    formatted = refka(
        "storage", "format", "--cluster-id", cluster_id,
        "--set", f"log.dirs={tmp_path / 'c'}", "--set", "node.id=10",
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stderr
    formatted = refka(
        "storage", "format", "-t", cluster_id,
        "--set", f"log.dirs={tmp_path / 'b'}", "--set", "node.id=11",
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stderr
    assert f"cluster.id={cluster_id}" in (tmp_path / "b" / "meta.properties").read_text()

    controller.start()
    try:
        broker.configs["controller.quorum.voters"] = f"10@127.0.0.1:{controller.port}"
        broker.start()
        try:
            topic = f"alone-{uuid.uuid4().hex[:8]}"
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
            producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
            producer.produce(topic, b"alone")
            assert producer.flush(30) == 0
            assert _cluster_id(broker.bootstrap) == cluster_id
        finally:
            broker.stop()
    finally:
        controller.stop()


def _cluster_id(bootstrap: str) -> str | None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = admin.describe_cluster(request_timeout=5).result(10)
        if found.cluster_id:
            return str(found.cluster_id)
    return None


def test_a_broker_answers_clients_once_its_controller_unfenced_it(tmp_path: Path) -> None:
    """Kafka's ``BrokerServer`` enables its listeners' request processing only once the
    controller has unfenced the broker: a client that connected before waits, unanswered,
    and gets its answer on the same connection then."""
    cluster_id = refka("storage", "random-uuid").stdout.strip()
    for name, node in (("c", "10"), ("b", "11")):
        formatted = refka(
            "storage", "format", "-t", cluster_id,
            "--set", f"log.dirs={tmp_path / name}", "--set", f"node.id={node}",
        )  # fmt: skip
        assert formatted.returncode == 0, formatted.stderr
    controller_port = free_port()
    controller = RunningBroker(
        tmp_path / "c", tmp_path, "127.0.0.1", controller_port,
        {"node.id": "10", "process.roles": "controller"}, listener="CONTROLLER",
    )  # fmt: skip
    voters = f"10@127.0.0.1:{controller_port}"
    (tmp_path / "broker-logs").mkdir()
    broker = RunningBroker(
        tmp_path / "b", tmp_path / "broker-logs", "127.0.0.1", free_port(),
        {"node.id": "11", "process.roles": "broker", "controller.quorum.voters": voters},
    )  # fmt: skip
    offset = broker.launch()
    client = None
    try:
        end = time.monotonic() + CONNECT_DEADLINE_S
        while client is None:
            assert broker.running and time.monotonic() < end, broker.stderr_tail()
            with contextlib.suppress(ConnectionRefusedError):
                client = socket.create_connection(("127.0.0.1", broker.port), timeout=30)
            time.sleep(0.01)
        client.sendall(metadata_frame())
        readable, _, _ = select.select([client], [], [], FENCED_WATCH_S)
        assert not readable, "a fenced broker answered a client"
        assert broker.running, broker.stderr_tail()
        controller.start()
        try:
            broker.wait_ready(offset, 30)
            answer = read_response(client, MetadataResponse)
            assert [b.node_id for b in answer.brokers] == [11]
        finally:
            broker.stop()
    finally:
        if client is not None:
            client.close()
        broker.kill()
        controller.stop()
