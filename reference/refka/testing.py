"""refka as a fast real broker inside your own test suite.

A context manager that runs ``python -m refka broker`` as a child process on loopback::

    from refka.testing import running_broker

    with running_broker(log_segment_bytes=1024) as broker:
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
        ...
        broker.restart()  # SIGTERM, then start again on the same data dir and port
        broker.kill()     # SIGKILL, for crash tests; broker.restart() brings it back

and a pytest plugin (enable it with ``pytest_plugins = ["refka.testing"]`` in your top-level
``conftest.py``) offering a ``refka_broker`` fixture: one fresh broker per test.

Config keys are Kafka's (``server.properties``): pass them as keyword arguments with
underscores for dots (``num_partitions=3``) or as ``config={"log.segment.bytes": "1024"}``.
The broker's stdout and stderr go to files; an error raised here ends with stderr's tail.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

READY_LINE = re.compile(r"refka (?:broker|controller) ready on (\S+):(\d+)([^\n]*)\n")  # a line
STARTUP_MS = re.compile(r" in (\d+) ms")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.01
STDERR_TAIL_BYTES = 4000


class BrokerFailed(AssertionError):
    """The broker did not start, or did not stop cleanly; the message ends with its stderr."""


def config_value(value: object) -> str:
    """Kafka's spelling of a config value: ``true``/``false`` for booleans, else ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def broker_configs(config: Mapping[str, object] | None = None, **configs: object) -> dict[str, str]:
    """Merge ``config`` with keyword configs (``log_segment_bytes`` -> ``log.segment.bytes``)."""
    merged = {key: config_value(value) for key, value in (config or {}).items()}
    merged.update({key.replace("_", "."): config_value(value) for key, value in configs.items()})
    return merged


class RunningBroker:
    """One refka broker process; restartable on the same data directory and port."""

    def __init__(
        self,
        data_dir: Path,
        work_dir: Path,
        host: str,
        port: int,
        configs: dict[str, str],
        listener: str = "PLAINTEXT",
    ) -> None:
        self.data_dir = data_dir
        self.listener = listener
        self.host = host
        self.port = port
        self.configs = configs
        self.stdout_path = work_dir / "broker.stdout"
        self.stderr_path = work_dir / "broker.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_ms: int | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        """``host:port``, for a client's ``bootstrap.servers``."""
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        listener = f"{self.listener}://{self.host}:{self.port}"
        settings = {"listeners": listener, "log.dirs": str(self.data_dir), **self.configs}
        args = [sys.executable, "-m", "refka", "broker"]
        for key, value in settings.items():
            args += ["--set", f"{key}={value}"]
        return args

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the process and wait for its ready line; learn the port when it was 0."""
        self.wait_ready(self.launch(), timeout_s)

    def launch(self) -> int:
        """Start the process without waiting; returns where its ready line will be looked for."""
        if self.running:
            raise BrokerFailed(f"broker already running (pid {self.pid})")
        self.starts += 1
        banner = f"--- start {self.starts}: {' '.join(self.command())}\n".encode()
        for path in (self.stdout_path, self.stderr_path):
            with path.open("ab") as f:
                f.write(banner)
        offset = self.stdout_path.stat().st_size
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
            )
        return offset

    def wait_ready(self, offset: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.stdout_path.open("rb") as f:
                f.seek(offset)
                match = READY_LINE.search(f.read().decode(errors="replace"))
            if match:
                self.host, self.port = match[1], int(match[2])
                startup = STARTUP_MS.search(match[3])
                self.ready_ms = int(startup[1]) if startup else None
                return
            if self.process is not None and self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise BrokerFailed(f"broker exited with {code} before ready{self.stderr_tail()}")
            time.sleep(POLL_INTERVAL_S)
        self.terminate()
        raise BrokerFailed(f"no ready line within {timeout_s} s{self.stderr_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, wait, and require exit code 0 (a clean shutdown)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BrokerFailed(
                f"broker ignored SIGTERM for {timeout_s} s{self.stderr_tail()}"
            ) from None
        if code != 0:
            raise BrokerFailed(f"broker exited with {code}{self.stderr_tail()}")

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed or closed."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.kill()
        process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process stops answering but keeps its sockets (a stalled node)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop cleanly (when running) and start again on the same data dir and port."""
        self.stop()
        self.start(timeout_s)

    def terminate(self) -> None:
        """Stop without judging the exit code (clean-up after a failure)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self) -> str:
        tail = self.stderr_text()[-STDERR_TAIL_BYTES:]
        return f"\n--- broker stderr ({self.stderr_path}) ---\n{tail}" if tail else ""


@contextmanager
def running_broker(
    data_dir: Path | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    config: Mapping[str, object] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
    **configs: object,
) -> Iterator[RunningBroker]:
    """Run a refka broker for the duration of the block; always stops it.

    ``data_dir`` (``log.dirs``) defaults to a temporary directory removed afterwards.
    ``port=0`` lets the broker pick a free port; restarts keep the one it picked.
    Leaving the block normally requires a clean exit (code 0) of a running broker.
    """
    with tempfile.TemporaryDirectory(prefix="refka-broker-") as tmp:
        work_dir = Path(tmp)
        data = Path(data_dir) if data_dir is not None else work_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        broker = RunningBroker(data, work_dir, host, port, broker_configs(config, **configs))
        try:
            broker.start(start_timeout_s)
            yield broker
        except BaseException:
            broker.terminate()
            raise
        broker.stop()


@pytest.fixture
def refka_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """A fresh refka broker for one test, data in ``tmp_path / "refka-data"``."""
    with running_broker(tmp_path / "refka-data") as broker:
        yield broker


class RunningCluster:
    """A refka cluster on loopback: one controller (node 0) and brokers 1..N, each a process.

    ``bootstrap`` lists every broker. Each node is a :class:`RunningBroker` handle in
    ``nodes``, so a test can ``kill``, ``pause``, ``resume``, ``stop`` or ``restart`` any one.
    """

    def __init__(self, controller: RunningBroker, brokers: dict[int, RunningBroker]) -> None:
        self.controller = controller
        self.brokers = brokers

    @property
    def nodes(self) -> dict[int, RunningBroker]:
        return {CONTROLLER_NODE_ID: self.controller, **self.brokers}

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    def stop(self) -> None:
        for broker in self.brokers.values():
            broker.stop()
        self.controller.stop()

    def terminate(self) -> None:
        for node in self.nodes.values():
            node.terminate()


CONTROLLER_NODE_ID = 0


@contextmanager
def running_cluster(
    brokers: int = 3,
    data_dir: Path | None = None,
    *,
    host: str = "127.0.0.1",
    config: Mapping[str, object] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
    **configs: object,
) -> Iterator[RunningCluster]:
    """Run a controller and ``brokers`` brokers for the duration of the block.

    Every node gets the same extra configs; data lives in ``data_dir/node-<id>`` (a temporary
    directory by default). The block starts once every broker is registered and unfenced.
    """
    extra = broker_configs(config, **configs)
    with tempfile.TemporaryDirectory(prefix="refka-cluster-") as tmp:
        root = Path(data_dir) if data_dir is not None else Path(tmp) / "data"
        cluster = _cluster_handles(root, Path(tmp), host, brokers, extra)
        format_cluster(cluster)
        try:
            cluster.controller.start(start_timeout_s)
            voters = f"{CONTROLLER_NODE_ID}@{host}:{cluster.controller.port}"
            offsets = {}
            for node_id, broker in cluster.brokers.items():
                broker.configs["controller.quorum.voters"] = voters
                offsets[node_id] = broker.launch()
            for node_id, broker in cluster.brokers.items():
                broker.wait_ready(offsets[node_id], start_timeout_s)
            yield cluster
        except BaseException:
            cluster.terminate()
            raise
        cluster.stop()


def format_cluster(cluster: RunningCluster) -> str:
    """Give every node's log directory one cluster id (``kafka-storage format``); a directory
    already formatted keeps its own. Returns the cluster id."""
    from refka.broker.meta_properties import MetaProperties, format_directory
    from refka.core.seeded import SeededRandom
    from refka.log.storage import FileStorage

    random = SeededRandom(int.from_bytes(os.urandom(8), "big"))
    existing = [MetaProperties.read(FileStorage(str(n.data_dir))) for n in cluster.nodes.values()]
    known = next((m.cluster_id for m in existing if m is not None), None)
    cluster_id = (
        known
        or format_directory(
            FileStorage(str(cluster.controller.data_dir)), CONTROLLER_NODE_ID, random
        ).cluster_id
    )
    for node_id, node in cluster.nodes.items():
        format_directory(FileStorage(str(node.data_dir)), node_id, random, cluster_id)
    return cluster_id


def _cluster_handles(
    root: Path, work: Path, host: str, brokers: int, extra: dict[str, str]
) -> RunningCluster:
    def node(node_id: int, roles: str, listener: str) -> RunningBroker:
        data = root / f"node-{node_id}"
        logs = work / f"node-{node_id}"
        data.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        settings = {
            "node.id": str(node_id),
            "process.roles": roles,
            "controller.listener.names": "CONTROLLER",
            **extra,
        }
        return RunningBroker(data, logs, host, 0, settings, listener=listener)

    controller = node(CONTROLLER_NODE_ID, "controller", "CONTROLLER")
    members = {n: node(n, "broker", "PLAINTEXT") for n in range(1, brokers + 1)}
    return RunningCluster(controller, members)


@pytest.fixture
def refka_cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    """A fresh 3-broker refka cluster (plus its controller) for one test."""
    with running_cluster(3, tmp_path / "refka-cluster") as cluster:
        yield cluster
