"""Apache Kafka as a multi-broker test peer: a KRaft cluster on loopback (KIP-500, KIP-853).

Default layout: one dedicated controller (`process.roles=controller`, node id 1000) and N
brokers (node ids 1..N). With `combined`, N nodes that are each broker and controller, a
quorum of N voters. Every node has its own directory under `work_dir`, formatted with
`kafka.tools.StorageTool format` (in parallel) as the single-node peer does, and its own
free ports. The cluster is ready when every broker's Metadata lists all N brokers and a
topic replicated to min(3, N) brokers has its full ISR in every broker's view.

    with running_kafka_cluster(tmp_dir, brokers=3) as cluster:
        print(cluster.bootstrap)          # 127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
        cluster.kill(cluster.partition("t", 0).leader)
"""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kio.schema.errors import ErrorCode

from refka.peers.cluster_metadata import ClusterView, PartitionState, create_topic, describe
from refka.peers.kafka import (
    LOG4J2_PROPERTIES,
    ensure_jars,
    java_command,
    new_cluster_id,
    write_properties,
)
from refka.peers.kafka_node import KafkaNode, NodeState
from refka.peers.process import PeerUnavailable
from refka.peers.readiness import free_port

CONTROLLER_ID = 1000
READY_TOPIC = "refka-cluster-ready"
READY_DEADLINE_S = 120.0
JVM_COMMON = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k")
BROKER_HEAP = ("-Xmx384m", "-Xms64m")
CONTROLLER_HEAP = ("-Xmx256m", "-Xms32m")

# Fast failure detection and few threads: tests kill brokers, and the machine is small.
TEST_SETTINGS = {
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
    "replica.lag.time.max.ms": "5000",
    "group.initial.rebalance.delay.ms": "0",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.partitions": "1",
    "min.insync.replicas": "1",
}


def _uuid() -> str:
    """A Kafka Uuid in its string form (url-safe base64, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _layout(work_dir: Path, brokers: int, combined: bool) -> dict[int, KafkaNode]:
    nodes: dict[int, KafkaNode] = {}
    for node_id in range(1, brokers + 1):
        roles = "broker,controller" if combined else "broker"
        cport = free_port() if combined else None
        nodes[node_id] = KafkaNode(node_id, roles, work_dir / f"node-{node_id}", free_port(), cport)
    if not combined:
        nodes[CONTROLLER_ID] = KafkaNode(
            CONTROLLER_ID, "controller", work_dir / "controller", None, free_port()
        )
    return nodes


def node_properties(
    node: KafkaNode, nodes: Mapping[int, KafkaNode], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The `server.properties` of `node` in the cluster `nodes`."""
    brokers = sum(1 for n in nodes.values() if n.is_broker)
    replicas = str(min(3, brokers))
    controllers = [n for n in nodes.values() if n.is_controller]
    listeners = []
    if node.is_broker:
        listeners.append(f"PLAINTEXT://127.0.0.1:{node.port}")
    if node.is_controller:
        listeners.append(f"CONTROLLER://127.0.0.1:{node.controller_port}")
    properties = {
        "process.roles": node.roles,
        "node.id": str(node.node_id),
        "controller.quorum.bootstrap.servers": ",".join(
            f"127.0.0.1:{n.controller_port}" for n in controllers
        ),
        "listeners": ",".join(listeners),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(node.work_dir / "kafka-logs"),
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": str(min(2, brokers)),
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": str(min(2, brokers)),
        **TEST_SETTINGS,
    }
    if node.is_broker:
        properties["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{node.port}"
    properties.update(extra or {})
    return properties


def _format_argv(node: KafkaNode, cluster_id: str, voters: str | None) -> list[str]:
    argv = ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(node.config_path)]
    if node.is_controller:
        argv += ["--initial-controllers", voters] if voters else ["--standalone"]
    return argv


def _format_all(nodes: Mapping[int, KafkaNode], java_base: list[str]) -> None:
    """Format every node's log directory, all at once (each is one short JVM run)."""
    cluster_id = new_cluster_id()
    controllers = [n for n in nodes.values() if n.is_controller]
    voters = None
    if len(controllers) > 1:  # KIP-853: id@host:port:directory-id for each initial voter
        voters = ",".join(
            f"{n.node_id}@127.0.0.1:{n.controller_port}:{_uuid()}" for n in controllers
        )
    running = [
        subprocess.Popen(
            [*java_base, *_format_argv(node, cluster_id, voters)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for node in nodes.values()
    ]
    for node, process in zip(nodes.values(), running, strict=True):
        output, _ = process.communicate()
        if process.returncode != 0:
            raise PeerUnavailable(f"Kafka node {node.node_id}: format failed:\n{output.decode()}")


@dataclass
class KafkaCluster:
    """A running Apache Kafka cluster; nodes are addressed by their node id."""

    work_dir: Path
    nodes: dict[int, KafkaNode]
    name: str = "Apache Kafka cluster"

    @property
    def brokers(self) -> dict[int, KafkaNode]:
        return {i: n for i, n in sorted(self.nodes.items()) if n.is_broker}

    @property
    def bootstrap(self) -> str:
        """Every broker's address, comma-separated (a client's `bootstrap.servers`)."""
        return ",".join(n.address for n in self.brokers.values())

    def address(self, node_id: int) -> str:
        return self.brokers[node_id].address

    def start(self, node_id: int) -> None:
        self.nodes[node_id].start()

    def stop(self, node_id: int, timeout_s: float = 15.0) -> None:
        self.nodes[node_id].stop(timeout_s)

    def kill(self, node_id: int) -> None:
        self.nodes[node_id].kill()

    def pause(self, node_id: int) -> None:
        self.nodes[node_id].pause()

    def resume(self, node_id: int) -> None:
        self.nodes[node_id].resume()

    def restart(self, node_id: int, kill: bool = False) -> None:
        """Stop (or kill) the node and start it again on the same log directory and ports."""
        node = self.nodes[node_id]
        node.kill() if kill else node.stop()
        node.start()

    def check_alive(self) -> None:
        for node in self.nodes.values():
            node.check_alive()

    def describe(self, topics: tuple[str, ...] = (), via: int | None = None) -> ClusterView:
        """Metadata from broker `via`, or from the first running broker that answers."""
        candidates = [via] if via is not None else list(self.brokers)
        failure: Exception | None = None
        for node_id in candidates:
            if self.nodes[node_id].state is NodeState.RUNNING:
                try:
                    return describe(self.address(node_id), topics)
                except (OSError, ValueError) as error:
                    failure = error
        raise ConnectionError(f"no running broker answered Metadata: {failure}")

    def partition(self, topic: str, index: int = 0, via: int | None = None) -> PartitionState:
        state = self.describe((topic,), via).partitions.get((topic, index))
        if state is None:
            raise LookupError(f"no partition {topic}-{index} in the metadata")
        return state

    def wait_until(self, condition: Callable[[], bool], deadline_s: float, what: str) -> None:
        """Poll `condition` (connection errors count as not yet) until it holds or time is up."""
        end = time.monotonic() + deadline_s
        while True:
            self.check_alive()
            try:
                if condition():
                    return
            except (OSError, ValueError, LookupError):
                pass
            if time.monotonic() > end:
                raise TimeoutError(f"{self.name}: not {what} after {deadline_s}s")
            time.sleep(0.1)

    def wait_ready(self, deadline_s: float = READY_DEADLINE_S) -> KafkaCluster:
        """Wait until every broker is registered and unfenced in every broker's view, and a
        topic replicated to min(3, N) brokers has its full ISR (all brokers must be running)."""
        down = [i for i, n in self.nodes.items() if n.state is not NodeState.RUNNING]
        if down:
            raise RuntimeError(f"nodes {down} are not running")
        ids = set(self.brokers)
        self.wait_until(
            lambda: all(set(self.describe(via=i).brokers) == ids for i in ids),
            deadline_s,
            f"showing brokers {sorted(ids)}",
        )
        self._ensure_ready_topic()
        self.wait_until(self._ready_topic_replicated, deadline_s, "replicating its ready topic")
        return self

    def _ensure_ready_topic(self) -> None:
        brokers = len(self.brokers)
        error = create_topic(self.bootstrap.split(",")[0], READY_TOPIC, brokers, min(3, brokers))
        if error not in (ErrorCode.none, ErrorCode.topic_already_exists):
            raise RuntimeError(f"{self.name}: could not create {READY_TOPIC}: {error!r}")

    def _ready_topic_replicated(self) -> bool:
        for node_id in self.brokers:
            view = self.describe((READY_TOPIC,), via=node_id)
            states = [s for (t, _), s in view.partitions.items() if t == READY_TOPIC]
            if len(states) != len(self.brokers) or not all(s.fully_replicated for s in states):
                return False
        return True

    def close(self, timeout_s: float = 15.0) -> None:
        """Stop the brokers together (controlled shutdown), then the controllers."""
        for group in (
            [n for n in self.nodes.values() if n.is_broker],
            [n for n in self.nodes.values() if not n.is_broker],
        ):
            for node in group:
                node.terminate()
            for node in group:
                node.stop(timeout_s)

    def __enter__(self) -> KafkaCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_kafka_cluster(
    work_dir: Path,
    brokers: int = 3,
    combined: bool = False,
    properties: Mapping[str, str] | None = None,
    deadline_s: float = READY_DEADLINE_S,
) -> KafkaCluster:
    """Lay out, format and start the cluster under `work_dir`; wait until it is ready."""
    if brokers < 1:
        raise ValueError("a cluster needs at least one broker")
    java, libs = java_command(), ensure_jars()
    work_dir = Path(work_dir)
    nodes = _layout(work_dir, brokers, combined)
    log4j_path = work_dir / "log4j2.properties"
    work_dir.mkdir(parents=True, exist_ok=True)
    log4j_path.write_text(LOG4J2_PROPERTIES)
    base = [java, *JVM_COMMON, f"-Dlog4j2.configurationFile={log4j_path}", "-cp", f"{libs}/*"]
    for node in nodes.values():
        node.work_dir.mkdir(parents=True, exist_ok=True)
        write_properties(node.config_path, node_properties(node, nodes, properties))
        heap = BROKER_HEAP if node.is_broker else CONTROLLER_HEAP
        node.command = [base[0], *heap, *base[1:], "kafka.Kafka", str(node.config_path)]
    _format_all(nodes, [base[0], *CONTROLLER_HEAP, *base[1:]])
    cluster = KafkaCluster(work_dir, nodes)
    try:
        for node_id in sorted(nodes, key=lambda i: not nodes[i].is_controller):
            cluster.start(node_id)
        return cluster.wait_ready(deadline_s)
    except BaseException:
        cluster.close(timeout_s=5.0)
        raise


@contextmanager
def running_kafka_cluster(
    work_dir: Path,
    brokers: int = 3,
    combined: bool = False,
    properties: Mapping[str, str] | None = None,
) -> Iterator[KafkaCluster]:
    """Start an Apache Kafka cluster for the duration of the `with` block."""
    with start_kafka_cluster(work_dir, brokers, combined, properties) as cluster:
        yield cluster
