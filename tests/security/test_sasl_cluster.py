"""A controller and three brokers whose inter-broker (REPLICATION) and controller listeners are
SASL_PLAINTEXT with PLAIN (``sasl.mechanism.inter.broker.protocol``,
``sasl.mechanism.controller.protocol``): the brokers register with the controller and
followers fetch from leaders only by authenticating, as Kafka's brokers do."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient
from refka.testing.cluster import CONTROLLER_NODE_ID, REPLICATION_LISTENER, running_cluster

from conformance.wire import Connection, build

JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="broker" password="broker-secret" user_broker="broker-secret";'
)
SASL_CLUSTER = {
    "listener.security.protocol.map": (
        f"PLAINTEXT:PLAINTEXT,{REPLICATION_LISTENER}:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    ),
    "sasl.enabled.mechanisms": "PLAIN",
    "sasl.mechanism.inter.broker.protocol": "PLAIN",
    "sasl.mechanism.controller.protocol": "PLAIN",
    f"listener.name.{REPLICATION_LISTENER.lower()}.plain.sasl.jaas.config": JAAS,
    "listener.name.controller.plain.sasl.jaas.config": JAAS,
}
DEADLINE_S = 30.0


SCRAM_JAAS = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required "
    'username="broker" password="broker-secret";'
)
SCRAM_CLUSTER = {
    **SASL_CLUSTER,
    "sasl.enabled.mechanisms": "SCRAM-SHA-512",
    "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
    "sasl.mechanism.controller.protocol": "SCRAM-SHA-512",
    f"listener.name.{REPLICATION_LISTENER.lower()}.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
    "listener.name.controller.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
}


def format_with_scram_user(root: Path) -> None:
    """The controller's directory formatted with the brokers' SCRAM user (``--add-scram``),
    so that they can authenticate on the cluster's first start."""
    refka = [sys.executable, "-m", "refka", "storage"]
    cluster_id = subprocess.run(
        [*refka, "random-uuid"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        [*refka, "format", "--cluster-id", cluster_id, "--set", f"node.id={CONTROLLER_NODE_ID}",
         "--set", "process.roles=controller", "--set", "listeners=CONTROLLER://127.0.0.1:0",
         "--set", f"log.dirs={root / f'node-{CONTROLLER_NODE_ID}'}",
         "--add-scram", "SCRAM-SHA-512=[name=broker,password=broker-secret]"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_three_brokers_replicate_over_sasl_inter_broker_listeners(
    mechanism: str, tmp_path: Path
) -> None:
    config = SASL_CLUSTER if mechanism == "PLAIN" else SCRAM_CLUSTER
    if mechanism != "PLAIN":
        format_with_scram_user(tmp_path)
    with running_cluster(3, tmp_path, config=config) as cluster:  # registered over SASL
        for listener in (cluster.controller.bootstrap, _replication(cluster, 1)):
            with Connection(listener) as conn:  # both refuse an unauthenticated request
                conn.send(build(3, 12, topics=None, allow_auto_topic_creation=False))
                assert conn.closed_by_peer()
        cluster.create_topic("replicated", partitions=1, replication_factor=3)
        producer = confluent_kafka.Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
        producer.produce("replicated", b"over sasl")
        assert producer.flush(DEADLINE_S) == 0  # acks=all: every follower fetched it
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        deadline = time.monotonic() + DEADLINE_S
        isr: list[int] = []
        while time.monotonic() < deadline and len(isr) < 3:
            topic = admin.list_topics("replicated", timeout=DEADLINE_S).topics["replicated"]
            isr = list(topic.partitions[0].isrs)
        assert sorted(isr) == [1, 2, 3]


def _replication(cluster: object, node_id: int) -> str:
    broker = cluster.brokers[node_id]  # type: ignore[attr-defined]
    return f"{broker.host}:{broker.other_listeners[REPLICATION_LISTENER]}"
