"""``refka.testing``'s two modes share one interface, the proxy's fault handles, and the
cluster's fault handles (kill, isolate a broker from the controller, leader_of)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

import confluent_kafka
import pytest
from refka.peers.readiness import is_ready
from refka.pytest_plugin import DEFAULT_MODE
from refka.testing import (
    BrokerFailed,
    RunningBroker,
    RunningCluster,
    in_process_broker,
    running_broker,
)
from refka.testing.proxy import TcpProxy

T = TypeVar("T")
DEADLINE_S = 30.0


def wait_for(condition: Callable[[], T | None], what: str, timeout_s: float = DEADLINE_S) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def produce(bootstrap: str, topic: str, values: list[bytes]) -> list[tuple[int, int]]:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    acked: list[tuple[int, int]] = []

    def report(err: object, msg: confluent_kafka.Message) -> None:
        assert err is None, err
        acked.append((msg.partition(), msg.offset()))

    for value in values:
        producer.produce(topic, value, on_delivery=report)
    assert producer.flush(20) == 0
    return acked


def consume_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "modes", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    seen: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(seen) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            seen.append(message.value())
    consumer.close()
    return seen


def forked_broker(*args: object, **kwargs: object) -> AbstractContextManager[RunningBroker]:
    return running_broker(*args, fork=True, **kwargs)  # type: ignore[arg-type]


MODES = [running_broker, forked_broker, in_process_broker]
MODE_IDS = ["subprocess", "forked", "in-process"]


@pytest.mark.parametrize("start", MODES, ids=MODE_IDS)
def test_every_mode_shares_the_interface(tmp_path: Path, start: Callable) -> None:
    with start(tmp_path / "data") as broker:
        broker.create_topic("shared", partitions=3)  # returns with every partition led
        acked = produce(broker.bootstrap, "shared", [b"a", b"b", b"c"])
        assert len(acked) == 3
        port = broker.port
        broker.restart()
        assert broker.port == port
        broker.kill()
        assert not broker.running
        broker.start()
        assert sorted(consume_all(broker.bootstrap, "shared", 3)) == [b"a", b"b", b"c"]
        assert "shut down cleanly" in broker.log_tail()  # the restart's clean stop, logged


def metadata_round_trip_s(bootstrap: str) -> float:
    host, port = bootstrap.split(":")
    began = time.monotonic()
    assert is_ready(host, int(port), timeout_s=5)
    return time.monotonic() - began


@pytest.mark.parametrize("start", MODES, ids=MODE_IDS)
def test_the_proxy_slows_and_isolates_the_clients_link(start: Callable) -> None:
    with start(proxy=True) as broker:
        assert broker.proxy is not None and broker.bootstrap == broker.proxy.address
        assert metadata_round_trip_s(broker.bootstrap) < 0.4
        broker.slow(200)  # two round trips (ApiVersions, Metadata), 2 x 200 ms each
        assert metadata_round_trip_s(broker.bootstrap) >= 0.8
        broker.isolate()
        host, port = broker.bootstrap.split(":")
        assert not is_ready(host, int(port), timeout_s=2)
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            assert sock.recv(1) == b""  # accepted, then closed at once
        broker.heal()
        assert metadata_round_trip_s(broker.bootstrap) < 0.4
        broker.create_topic("through-the-proxy")


def test_the_proxy_isolates_and_slows_one_client_id_only() -> None:
    """With ``identify_clients`` the proxy knows a connection by its first request's
    client_id: cutting or slowing one sender (a broker's fetches) leaves the others alone."""
    from kio.schema.metadata.v1.request import MetadataRequest
    from kio.schema.metadata.v1.response import MetadataResponse
    from refka.peers.readiness import read_response, request_frame

    def connect(client_id: str) -> Callable[[], float]:
        sock = socket.create_connection((proxy.host, proxy.port), timeout=5)
        opened.append(sock)

        def round_trip_s() -> float:
            began = time.monotonic()
            sock.sendall(request_frame(MetadataRequest(topics=()), client_id))
            assert isinstance(read_response(sock, MetadataResponse), MetadataResponse)
            return time.monotonic() - began

        return round_trip_s

    opened: list[socket.socket] = []
    with in_process_broker() as broker:
        proxy = TcpProxy(identify_clients=True)
        proxy.target = (broker.host, broker.port)
        try:
            cut, kept = connect("broker-7"), connect("someone-else")
            assert cut() < 0.4 and kept() < 0.4
            proxy.isolate_client("broker-7")
            with pytest.raises(ConnectionError):  # its open connection is cut
                cut()
            assert kept() < 0.4
            with pytest.raises(ConnectionError):  # and a new one closed after its first request
                connect("broker-7")()
            proxy.heal()
            assert connect("broker-7")() < 0.4
            proxy.slow_client("broker-7", 300)
            assert connect("broker-7")() >= 0.6 and kept() < 0.3
        finally:
            for sock in opened:
                sock.close()
            proxy.close()


@pytest.mark.refka(broker_session_timeout_ms=2000, broker_heartbeat_interval_ms=200)
def test_cluster_handles_kill_and_isolate_move_the_leader(refka_cluster: RunningCluster) -> None:
    assert {node.mode for node in refka_cluster.nodes.values()} == {DEFAULT_MODE}
    refka_cluster.create_topic("moving", partitions=1, replication_factor=3)
    first = refka_cluster.leader_of("moving", 0)
    assert first in refka_cluster.brokers
    refka_cluster.kill(first)
    second = wait_for(
        lambda: (leader := refka_cluster.leader_of("moving", 0)) not in (first, -1) and leader,
        "a new leader after the kill",
    )
    refka_cluster.restart(first)
    refka_cluster.isolate(second)  # its heartbeats stop: fenced, leadership moves
    third = wait_for(
        lambda: (leader := refka_cluster.leader_of("moving", 0)) not in (second, -1) and leader,
        "a new leader after isolating the leader from the controller",
    )
    assert third != second
    refka_cluster.heal()
    produce(refka_cluster.bootstrap, "moving", [b"after the faults"])


def test_a_forked_broker_is_a_process_of_its_own(tmp_path: Path) -> None:
    """kill() is a SIGKILL of the broker alone; the fork server forks the next one; a broker
    that cannot start reports its exit code and stderr as a fresh interpreter's does."""
    with running_broker(tmp_path / "a", fork=True) as first, running_broker(fork=True) as second:
        assert first.pid != second.pid
        first.kill()
        assert first.process is None and second.running
        first.start()
        first.create_topic("after-kill")
    with (
        pytest.raises(BrokerFailed, match=r"(?s)exited with 2 before ready.*log.segment.bytes"),
        running_broker(tmp_path / "b", fork=True, log_segment_bytes=-1),
    ):
        pass


def test_a_forked_process_takes_the_environment_and_directory_of_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the test process sets after the fork server started reaches the next child, as it
    would reach a fresh interpreter: ``refka spec check`` reads ``REFKA_SPEC_DIR`` (here a
    relative path, resolved against the child's working directory)."""
    from refka.testing.fork_server import fork_server

    fork_server()  # started before the test changes anything
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REFKA_SPEC_DIR", "no-spec-here")
    out, err, status = tmp_path / "out", tmp_path / "err", tmp_path / "status"
    child = fork_server().spawn(["spec", "check", "--list"], out, err, status)
    assert child.wait(30) == 2
    assert f"no spec directory at {tmp_path.resolve() / 'no-spec-here'}" in err.read_text()


def test_a_ctrl_c_leaves_the_fork_server_to_its_test_process(tmp_path: Path) -> None:
    """SIGINT (a Ctrl-C reaches the whole process group) does not end the fork server, which
    ends when the test process does; a forked broker still stops cleanly on it."""
    import os
    import signal

    from refka.testing.fork_server import fork_server

    server = fork_server()
    with running_broker(tmp_path, fork=True) as broker:
        os.kill(server.process.pid, signal.SIGINT)
        assert broker.process is not None
        broker.process.send_signal(signal.SIGINT)
        assert broker.process.wait(DEADLINE_S) == 0
        broker.process = None
    assert server.process.poll() is None and fork_server() is server
    with running_broker(fork=True) as another:
        another.create_topic("after-sigint")


def test_a_broker_outliving_its_fork_server_is_still_stopped(tmp_path: Path) -> None:
    """Should the fork server die (the OOM killer, say), its brokers are orphans that their
    handles still kill, with no exit status to wait for forever; the next start forks from a
    new server."""
    import signal

    from refka.testing.fork_server import LOST_EXIT, fork_server

    server = fork_server()
    with running_broker(tmp_path, fork=True) as broker:
        server.process.kill()
        server.process.wait()
        assert broker.running  # an orphan now, still serving
        broker.create_topic("orphaned")
        assert broker.process is not None
        broker.process.send_signal(signal.SIGKILL)
        assert broker.process.wait(DEADLINE_S) == LOST_EXIT
        broker.process = None
    with running_broker(fork=True) as another:
        assert fork_server() is not server
        another.create_topic("after-the-server")
