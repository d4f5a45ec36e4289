"""The same SSL listener on Apache Kafka and on refka (issue 13's conformance probe): a
PLAINTEXT listener beside an SSL one with ``ssl.client.auth=required`` and PEM stores, the
same properties for both brokers. On both, a client without a certificate is refused, a
plaintext client on the SSL port learns nothing, and a client with a certificate produces,
consumes and is told the SSL listener's endpoint by Metadata."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import confluent_kafka
import pytest
from refka.peers.process import PeerUnavailable
from refka.peers.readiness import free_port
from refka.testing import in_process_broker

from tests.security.certs import Certs
from tests.security.test_tls_clients import (
    api_versions_over_tls,
    confluent_ssl,
    expected,
    produce_and_consume_confluent,
)


def properties(certs: Certs, port: int, ssl_port: int, controller_port: int) -> dict[str, str]:
    listeners = f"PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}"
    return {
        "listeners": f"{listeners},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": listeners,
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certs.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certs.ca),
        "ssl.client.auth": "required",
    }


@contextmanager
def broker(kind: str, certs: Certs, work: Path) -> Iterator[int]:
    """The broker of ``kind`` with the SSL listener; its SSL port."""
    port, ssl_port, controller_port = free_port(), free_port(), free_port()
    configs = properties(certs, port, ssl_port, controller_port)
    if kind == "kafka":
        from refka.peers.kafka import running_kafka

        try:
            with running_kafka(work, port, configs):
                yield ssl_port
        except PeerUnavailable as error:
            pytest.skip(str(error))
        return
    with in_process_broker(work, port=port, config=configs):
        yield ssl_port


@pytest.mark.parametrize("kind", ["kafka", "refka"])
def test_ssl_listener_behaves_as_kafkas(kind: str, certs: Certs, tmp_path: Path) -> None:
    with broker(kind, certs, tmp_path / kind) as ssl_port:
        bootstrap = f"127.0.0.1:{ssl_port}"
        anonymous = ssl.create_default_context(cafile=str(certs.ca))
        assert api_versions_over_tls(ssl_port, anonymous) == b""
        plain = confluent_kafka.admin.AdminClient(
            {"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0}
        )
        with pytest.raises(confluent_kafka.KafkaException):
            plain.list_topics(timeout=3)
        config = confluent_ssl(certs, bootstrap, client_cert=True)
        assert produce_and_consume_confluent(config, "tls-conformance") == expected()
        metadata = confluent_kafka.admin.AdminClient(config).list_topics(timeout=10)
        assert [(b.host, b.port) for b in metadata.brokers.values()] == [("127.0.0.1", ssl_port)]
