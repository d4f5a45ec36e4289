"""SASL_SSL: the SASL exchange inside TLS (issue 13). confluent-kafka and the Java client
authenticate with SCRAM-SHA-512 on a SASL_SSL listener (PEM stores from tests/security/certs.py)
and produce and consume; a wrong password is an authentication error there too. ``certs`` is
the TLS tests' fixture (tests/security/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import confluent_kafka
import pytest
from refka.testing import RunningBroker, running_broker

pytest.importorskip("refka.server.tls", reason="needs the TLS listeners (issue 13, TLS part)")

from tests.security.test_sasl_clients import (
    add_scram_user,
    authentication_error,
    java_round_trip,
    java_scram,
    produce_consume,
    sasl_config,
)

LISTENER = "sasl_ssl"


@pytest.fixture(scope="module")
def sasl_ssl_broker(certs: Any) -> Iterator[RunningBroker]:
    plain = sasl_config()
    config = {
        **certs.broker_configs(),
        **{k.replace("sasl_plaintext", LISTENER): v for k, v in plain.items()},
        "listeners": "SASL_SSL://127.0.0.1:0",
    }
    with running_broker(config=config) as broker:
        yield broker


def ssl_client(certs: Any, broker: RunningBroker, mechanism: str, user: str, pw: str) -> dict:
    return {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(certs.ca),
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": pw,
    }


def test_confluent_scram_over_sasl_ssl(certs: Any, sasl_ssl_broker: RunningBroker) -> None:
    admin = ssl_client(certs, sasl_ssl_broker, "PLAIN", "admin", "admin-secret")
    add_scram_user(sasl_ssl_broker, "tls-user", "tls-secret", admin)
    config = ssl_client(certs, sasl_ssl_broker, "SCRAM-SHA-512", "tls-user", "tls-secret")
    assert produce_consume(config, "sasl-ssl") == [f"sasl-ssl-{i}".encode() for i in range(5)]
    wrong = {**config, "sasl.password": "wrong"}
    assert authentication_error(wrong).code() == confluent_kafka.KafkaError._AUTHENTICATION


def test_java_client_scram_over_sasl_ssl(certs: Any, sasl_ssl_broker: RunningBroker) -> None:
    admin = ssl_client(certs, sasl_ssl_broker, "PLAIN", "admin", "admin-secret")
    add_scram_user(sasl_ssl_broker, "java-tls", "java-tls-secret", admin)
    tls = {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(certs.ca)}
    good = java_round_trip(
        sasl_ssl_broker,
        "java-sasl-ssl",
        {**java_scram("java-tls", "java-tls-secret", "SASL_SSL"), **tls},
    )
    assert good.returncode == 0, good.stderr[-2000:]
    assert good.stdout.split() == ["consumed", "5"]
    bad = java_round_trip(
        sasl_ssl_broker, "java-sasl-ssl", {**java_scram("java-tls", "wrong", "SASL_SSL"), **tls}
    )
    assert bad.returncode == 3, bad.stdout + bad.stderr[-2000:]
