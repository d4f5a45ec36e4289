"""Real clients over TLS (issue 13): confluent-kafka and kafka-python produce and consume on an
SSL listener; ``ssl.client.auth=required`` refuses a client without a certificate and maps the
certificate's name to the principal with ``ssl.principal.mapping.rules``."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterator

import confluent_kafka
import kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import InProcessBroker, in_process_broker

from tests.security.certs import Certs

DEADLINE_S = 30.0
RECORDS = 50
VALUE = b"v" * 3000  # enough bytes that Fetch answers from the segment file (no sendfile on TLS)


def confluent_ssl(certs: Certs, bootstrap: str, client_cert: bool = False) -> dict[str, object]:
    config: dict[str, object] = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": str(certs.ca),
    }
    if client_cert:
        config |= {
            "ssl.certificate.location": str(certs.client_cert),
            "ssl.key.location": str(certs.client_key),
        }
    return config


@pytest.fixture
def ssl_broker(certs: Certs) -> Iterator[InProcessBroker]:
    with in_process_broker(config=certs.broker_configs()) as broker:
        yield broker


def create_topic(config: dict[str, object], topic: str) -> None:
    admin = AdminClient(config)
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(DEADLINE_S)


def produce_and_consume_confluent(config: dict[str, object], topic: str) -> list[bytes]:
    create_topic(config, topic)
    producer = confluent_kafka.Producer(config)
    for i in range(RECORDS):
        producer.produce(topic, value=VALUE + str(i).encode())
    assert producer.flush(DEADLINE_S) == 0
    consumer = confluent_kafka.Consumer(
        {**config, "group.id": "g", "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(values) < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
    finally:
        consumer.close()
    return values


def expected() -> list[bytes]:
    return [VALUE + str(i).encode() for i in range(RECORDS)]


def test_confluent_kafka_produces_and_consumes_over_ssl(
    ssl_broker: InProcessBroker, certs: Certs
) -> None:
    config = confluent_ssl(certs, ssl_broker.bootstrap)
    assert produce_and_consume_confluent(config, "tls-confluent") == expected()


def test_kafka_python_produces_and_consumes_over_ssl(
    ssl_broker: InProcessBroker, certs: Certs
) -> None:
    options = {
        "bootstrap_servers": ssl_broker.bootstrap,
        "security_protocol": "SSL",
        "ssl_cafile": str(certs.ca),
    }
    create_topic(confluent_ssl(certs, ssl_broker.bootstrap), "tls-kafka-python")
    producer = kafka.KafkaProducer(**options)
    for i in range(RECORDS):
        producer.send("tls-kafka-python", VALUE + str(i).encode())
    producer.flush(DEADLINE_S)
    producer.close()
    consumer = kafka.KafkaConsumer(**options, consumer_timeout_ms=int(DEADLINE_S * 1000))
    consumer.assign([kafka.TopicPartition("tls-kafka-python", 0)])
    consumer.seek_to_beginning()
    values = [record.value for _, record in zip(range(RECORDS), consumer, strict=False)]
    consumer.close()
    assert values == expected()


def api_versions_over_tls(port: int, context: ssl.SSLContext) -> bytes:
    """An ApiVersions v0 request on a fresh TLS connection; the response's bytes, b"" if the
    broker closed the connection."""
    request = struct.pack(">hhih", 18, 0, 7, -1)
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(struct.pack(">i", len(request)) + request)
                return tls.recv(65536)
        except (ssl.SSLError, ConnectionError):
            return b""


def test_client_auth_required_refuses_no_certificate_and_maps_the_name(certs: Certs) -> None:
    configs = certs.broker_configs(
        **{
            "ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/L,DEFAULT",
        }
    )
    with in_process_broker(config=configs) as broker:
        anonymous = ssl.create_default_context(cafile=str(certs.ca))
        assert api_versions_over_tls(broker.port, anonymous) == b""
        deadline = time.monotonic() + DEADLINE_S
        while "Failed authentication with 127.0.0.1" not in broker.log_text():
            assert time.monotonic() < deadline, broker.log_text()
            time.sleep(0.01)
        with_cert = ssl.create_default_context(cafile=str(certs.ca))
        with_cert.load_cert_chain(str(certs.client))
        answer = api_versions_over_tls(broker.port, with_cert)
        assert struct.unpack_from(">i", answer, 4) == (7,)  # the correlation id
        assert "authenticated as User:alice@eng" in broker.log_text()
        config = confluent_ssl(certs, broker.bootstrap, client_cert=True)
        assert produce_and_consume_confluent(config, "tls-client-auth") == expected()


def test_no_matching_mapping_rule_closes_the_connection(certs: Certs) -> None:
    configs = certs.broker_configs(
        **{"ssl.client.auth": "required", "ssl.principal.mapping.rules": "RULE:^CN=bob,.*$/b/"}
    )
    with in_process_broker(config=configs) as broker:
        context = ssl.create_default_context(cafile=str(certs.ca))
        context.load_cert_chain(str(certs.client))
        assert api_versions_over_tls(broker.port, context) == b""
        assert "No rules apply to CN=Alice,OU=eng,O=refka,C=US" in broker.log_text()
