"""A refka cluster on loopback for tests: one controller and N brokers, each a process, with
handles for fault tests: kill, pause, resume, restart a node; isolate, slow, heal a broker's
links to the rest of the cluster (or cut only its requests to the others); who leads a
partition.

Each broker has two listeners, as a Kafka deployment that keeps replication apart: PLAINTEXT
for clients (direct, never proxied) and REPLICATION, its ``inter.broker.listener.name``, whose
advertised address is a :class:`~refka.testing.proxy.TcpProxy` the cluster owns, so followers
fetch from a leader through it. Each broker also reaches the controller through a proxy of its
own. Isolating a broker cuts its controller link, its REPLICATION proxy (others fetching from
it) and, in the other brokers' REPLICATION proxies, its own connections (it fetching from
them: those proxies know a connection's sender by the ``client_id`` of its first request,
``broker-<id>``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from refka.testing.process import START_TIMEOUT_S, RunningBroker, broker_configs
from refka.testing.proxy import TcpProxy


class RunningCluster:
    """A refka cluster on loopback: one controller (node 0) and brokers 1..N, each a process.

    ``bootstrap`` lists every broker. Each node is a :class:`RunningBroker` handle in
    ``nodes``, so a test can ``kill``, ``pause``, ``resume``, ``stop`` or ``restart`` any one.
    """

    def __init__(self, controller: RunningBroker, brokers: dict[int, RunningBroker]) -> None:
        self.controller = controller
        self.brokers = brokers
        self.links: dict[int, TcpProxy] = {}  # broker id -> the proxy of its controller link
        self.replication: dict[int, TcpProxy] = {}  # broker id -> its REPLICATION listener's

    @property
    def nodes(self) -> dict[int, RunningBroker]:
        return {CONTROLLER_NODE_ID: self.controller, **self.brokers}

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    mode = "subprocess"

    def node(self, node_id: int) -> RunningBroker:
        if node_id not in self.nodes:
            raise KeyError(f"no node {node_id}; nodes are {sorted(self.nodes)}")
        return self.nodes[node_id]

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: a crash."""
        self.node(node_id).kill()

    def pause(self, node_id: int) -> None:
        """SIGSTOP one node: it keeps its sockets but answers nothing (a stalled process)."""
        self.node(node_id).pause()

    def resume(self, node_id: int) -> None:
        """SIGCONT a paused node."""
        self.node(node_id).resume()

    def restart(self, node_id: int) -> None:
        """Stop one node cleanly when it runs (else just start it), on its dir and port."""
        self.node(node_id).restart()

    def leader_of(self, topic: str, partition: int = 0) -> int:
        """The partition's leader by the newest leader epoch any running broker's Metadata
        names, ``-1`` for none. (A broker cut off from the controller keeps naming the leader
        it last knew; the epoch tells the newer answer.)"""
        from refka.testing.admin import NO_LEADER, leader_and_epoch

        answers = [
            leader_and_epoch(b.bootstrap, topic, partition, LEADER_QUERY_TIMEOUT_S)
            for b in self.brokers.values()
            if b.running
        ]
        leader, _ = max(answers, key=lambda answer: answer[1], default=(NO_LEADER, -1))
        return leader

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int = 1,
        configs: Mapping[str, object] | None = None,
    ) -> None:
        """Create a topic; returns once every running broker's Metadata shows a leader for
        every partition (each broker applies the controller's records on its own; the leader
        serves the partition once it has)."""
        from refka.testing.admin import READY_TIMEOUT_S, create_topic, wait_topic_ready

        running = [b.bootstrap for b in self.brokers.values() if b.running]
        create_topic(",".join(running), name, partitions, replication_factor, configs)
        for bootstrap in running:
            wait_topic_ready(bootstrap, name, partitions, READY_TIMEOUT_S)

    def log_tail(self, size: int = 2000) -> str:
        """Every node's log tail, one section per node."""
        return "\n".join(
            f"--- node {node_id} ---\n{node.log_tail(size)}" for node_id, node in self.nodes.items()
        )

    def _proxies(self) -> list[TcpProxy]:
        return [*self.links.values(), *self.replication.values()]

    def _check_proxied(self, node_id: int) -> None:
        if node_id not in self.links:
            raise KeyError(f"node {node_id} has no proxied link; brokers are {sorted(self.links)}")

    def isolate(self, node_id: int) -> None:
        """Cut every link of the broker to the rest of the cluster and refuse them until
        :meth:`heal`: its controller link (its heartbeats stop, so the controller fences it
        and moves its leaderships after ``broker.session.timeout.ms``), the others' fetches
        from it, and its fetches from the others. Clients' connections are not touched."""
        self._check_proxied(node_id)
        self.links[node_id].isolate()
        for other, proxy in self.replication.items():
            if other == node_id:
                proxy.isolate()
            else:
                proxy.isolate_client(broker_client_id(node_id))

    def cut_requests_from(self, node_id: int) -> None:
        """Refuse, until :meth:`heal`, the broker's own connections to the other brokers: its
        fetches and the WriteTxnMarkers its transaction coordinator sends. The others still
        fetch from it (its leaderships keep replicating) and its controller link stays."""
        self._check_proxied(node_id)
        for other, proxy in self.replication.items():
            if other != node_id:
                proxy.isolate_client(broker_client_id(node_id))

    def slow(self, node_id: int, latency_ms: float) -> None:
        """Delay the same links as :meth:`isolate` cuts by ``latency_ms`` each way."""
        self._check_proxied(node_id)
        self.links[node_id].slow(latency_ms)
        for other, proxy in self.replication.items():
            if other == node_id:
                proxy.slow(latency_ms)
            else:
                proxy.slow_client(broker_client_id(node_id), latency_ms)

    def heal(self) -> None:
        """Undo every :meth:`isolate` and :meth:`slow`."""
        for proxy in self._proxies():
            proxy.heal()

    def close_links(self) -> None:
        for proxy in self._proxies():
            proxy.close()

    def stop(self) -> None:
        for broker in self.brokers.values():
            broker.stop()
        self.controller.stop()

    def terminate(self) -> None:
        for node in self.nodes.values():
            node.terminate()


CONTROLLER_NODE_ID = 0
LEADER_QUERY_TIMEOUT_S = 1.0  # a paused broker does not answer; do not wait long for it
REPLICATION_LISTENER = "REPLICATION"


def broker_client_id(node_id: int) -> str:
    """The ``client_id`` of a refka broker's own requests (its network client's name)."""
    return f"broker-{node_id}"


@contextmanager
def running_cluster(
    brokers: int = 3,
    data_dir: Path | None = None,
    *,
    host: str = "127.0.0.1",
    config: Mapping[str, object] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
    work_dir: Path | None = None,
    fork: bool = False,
    **configs: object,
) -> Iterator[RunningCluster]:
    """Run a controller and ``brokers`` brokers for the duration of the block.

    Every node gets the same extra configs; data lives in ``data_dir/node-<id>`` (a temporary
    directory by default). The block starts once every broker is registered and unfenced.
    ``fork=True`` forks every node from the warm fork server
    (:mod:`refka.testing.fork_server`) instead of starting an interpreter for each.
    """
    extra = broker_configs(config, **configs)
    with tempfile.TemporaryDirectory(prefix="refka-cluster-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        root = Path(data_dir) if data_dir is not None else work / "data"
        cluster = _cluster_handles(root, work, host, brokers, extra, fork)
        format_cluster(cluster)
        try:
            cluster.controller.start(start_timeout_s)
            offsets = {}
            for node_id, broker in cluster.brokers.items():
                _proxy_links(cluster, node_id, broker, host)
                offsets[node_id] = broker.launch()
            for node_id, broker in cluster.brokers.items():
                broker.wait_ready(offsets[node_id], start_timeout_s)
                port = broker.other_listeners[REPLICATION_LISTENER]
                cluster.replication[node_id].target = (broker.host, port)
            yield cluster
            # Stop while the links are up: each broker's controlled shutdown reaches the
            # controller, instead of waiting out its bound (SHUTDOWN_WAIT_S) for an answer.
            cluster.stop()
        except BaseException:
            cluster.terminate()
            raise
        finally:
            cluster.close_links()


def _proxy_links(cluster: RunningCluster, node_id: int, broker: RunningBroker, host: str) -> None:
    """Put the broker's controller link and its REPLICATION listener behind proxies: it
    reaches the controller through one, and advertises the other as its inter-broker
    endpoint (its client listener's advertised port 0 is the port it binds)."""
    link = cluster.links[node_id] = TcpProxy(host)
    link.target = (cluster.controller.host, cluster.controller.port)
    protocols = broker.configs.get(  # a test may make REPLICATION SASL_PLAINTEXT or SSL, say
        "listener.security.protocol.map",
        f"{broker.listener}:PLAINTEXT,{REPLICATION_LISTENER}:PLAINTEXT",
    )
    # the proxy reads the client id of a connection's first request; under TLS it cannot
    tls = any(f"{REPLICATION_LISTENER}:{p}" in protocols.upper() for p in ("SSL", "SASL_SSL"))
    replication = TcpProxy(host, identify_clients=not tls)
    cluster.replication[node_id] = replication
    broker.other_listeners[REPLICATION_LISTENER] = 0
    broker.configs.update(
        {
            "controller.quorum.voters": f"{CONTROLLER_NODE_ID}@{link.address}",
            "advertised.listeners": (
                f"{broker.listener}://{host}:0,{REPLICATION_LISTENER}://{replication.address}"
            ),
            "listener.security.protocol.map": protocols,
            "inter.broker.listener.name": REPLICATION_LISTENER,
        }
    )


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
    root: Path, work: Path, host: str, brokers: int, extra: dict[str, str], fork: bool
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
        return RunningBroker(data, logs, host, 0, settings, listener=listener, fork=fork)

    controller = node(CONTROLLER_NODE_ID, "controller", "CONTROLLER")
    members = {n: node(n, "broker", "PLAINTEXT") for n in range(1, brokers + 1)}
    return RunningCluster(controller, members)
