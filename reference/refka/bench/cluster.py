"""`refka bench --cluster N`: a refka cluster and an Apache Kafka cluster of N brokers each, one
after the other, under the `acks=all` workloads on topics replicated to 3 brokers.

Both clusters run with `min.insync.replicas=2`. refka starts through
`refka.testing.running_cluster` (a controller and N brokers, each a process); Kafka through
`refka.peers.kafka_cluster` (a KRaft controller and N brokers), with the JVM options of its own
start scripts and its default thread counts and `replica.lag.time.max.ms`, not the test peer's
settings tuned for a quick start and fast failure detection. Broker CPU seconds are summed
over every process of the cluster, controller included.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from refka.bench.brokers import DISPLAY_NAMES, KAFKA_JVM_OPTIONS
from refka.bench.session import Log, Target, run_workloads
from refka.bench.workloads import Plan

CLUSTER_KINDS = ("refka", "kafka")
REPLICATION_FACTOR = 3
CLUSTER_CONFIG = {"min.insync.replicas": "2"}
# Kafka's defaults, where refka.peers.kafka_cluster sets test values.
KAFKA_DEFAULTS = {
    "num.network.threads": "3",
    "num.io.threads": "8",
    "background.threads": "10",
    "replica.lag.time.max.ms": "30000",
}
PHASES = ("produce", "consume")
REGISTERED_DEADLINE_S = 60.0


def display_name(kind: str) -> str:
    return f"{DISPLAY_NAMES[kind]} cluster"


@contextmanager
def _running_kafka(brokers: int, work_dir: Path) -> Iterator[Target]:
    from refka.peers import kafka_cluster

    heap = tuple(o for o in KAFKA_JVM_OPTIONS if o.startswith(("-Xmx", "-Xms")))
    common = tuple(o for o in KAFKA_JVM_OPTIONS if o not in heap)
    properties = {**KAFKA_DEFAULTS, **CLUSTER_CONFIG}
    with (
        mock.patch.object(kafka_cluster, "JVM_COMMON", common),
        mock.patch.object(kafka_cluster, "BROKER_HEAP", heap),
    ):
        cluster = kafka_cluster.start_kafka_cluster(work_dir, brokers, properties=properties)
    with cluster:
        pids = tuple(n.process.pid for n in cluster.nodes.values() if n.process is not None)
        yield Target(display_name("kafka"), cluster.bootstrap, pids, cluster.check_alive)


@contextmanager
def _running_refka(brokers: int, work_dir: Path) -> Iterator[Target]:
    from refka.testing import running_cluster

    with running_cluster(brokers, work_dir, config=CLUSTER_CONFIG) as cluster:
        nodes = cluster.nodes  # the controller and the brokers

        def check_alive() -> None:
            down = [node_id for node_id, node in nodes.items() if not node.running]
            if down:
                raise RuntimeError(f"refka cluster: nodes {down} exited")

        pids = tuple(node.pid for node in nodes.values() if node.pid is not None)
        target = Target(display_name("refka"), cluster.bootstrap, pids, check_alive)
        _wait_registered(target, brokers)
        yield target


def _wait_registered(target: Target, brokers: int) -> None:
    """Poll until every broker's Metadata lists all `brokers` brokers, as the Kafka cluster's
    `wait_ready` does (an RF=3 topic cannot be created before 3 brokers are registered)."""
    from refka.peers.cluster_metadata import describe

    addresses = target.bootstrap.split(",")
    end_s = time.monotonic() + REGISTERED_DEADLINE_S
    seen: dict[str, object] = {}
    while True:
        target.check_alive()
        for address in addresses:
            try:
                seen[address] = sorted(describe(address).brokers)
            except (OSError, ValueError) as error:
                seen[address] = error
        if all(isinstance(ids, list) and len(ids) == brokers for ids in seen.values()):
            return
        if time.monotonic() > end_s:
            raise TimeoutError(
                f"{target.name}: not {brokers} brokers in every broker's Metadata after "
                f"{REGISTERED_DEADLINE_S:.0f} s; each lists {seen}"
            )
        time.sleep(0.05)


def run_cluster_session(
    kind: str, brokers: int, plan: Plan, work_dir: Path, values: dict[int, list[bytes]], log: Log
) -> tuple[dict[str, float | None], dict[str, dict[str, float]]]:
    """Start the cluster, run the plan's produce then consume workloads, stop it; figures and
    details by row key as `session.run_session` returns them (empty if it did not start)."""
    figures: dict[str, float | None] = {}
    details: dict[str, dict[str, float]] = {}
    running = _running_refka if kind == "refka" else _running_kafka
    started = False
    try:
        with running(brokers, work_dir) as target:
            started = True
            log(f"{target.name}: ready on {target.bootstrap}")
            run_workloads(target, plan, values, log, figures, details, PHASES)
            gc.collect()  # drop librdkafka handles before the brokers go away
    except Exception as error:
        log(f"{display_name(kind)}: {'failed' if started else 'did not start'}: {error}")
    return figures, details
