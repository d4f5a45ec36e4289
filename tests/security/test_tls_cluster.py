"""Replication over TLS: a cluster whose brokers' inter-broker listener (REPLICATION) is SSL
with ``ssl.client.auth=required`` set for that listener only. Followers fetch from the leader
over TLS with their key store, or acks=all with ``min.insync.replicas=2`` never completes."""

from __future__ import annotations

import confluent_kafka
from refka.testing import running_cluster

from tests.security.certs import Certs

RECORDS = 20


def test_followers_fetch_over_tls(certs: Certs) -> None:
    configs = {
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,REPLICATION:SSL",
        "listener.name.replication.ssl.client.auth": "required",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certs.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certs.ca),
    }
    with running_cluster(2, config=configs) as cluster:
        cluster.create_topic("replicated", 1, 2, {"min.insync.replicas": "2"})
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": cluster.bootstrap, "acks": "all", "log_level": 2}
        )
        failed: list[object] = []
        for i in range(RECORDS):
            producer.produce(
                "replicated",
                f"v{i}".encode(),
                on_delivery=lambda e, _: failed.append(e) if e else None,
            )
        assert producer.flush(30) == 0, "".join(
            b.stderr_text()[-3000:] for b in cluster.brokers.values()
        )
        assert not failed
        logs = "".join(broker.stderr_text() for broker in cluster.brokers.values())
        assert "authenticated as User:O=refka,CN=localhost" in logs  # a follower's certificate
