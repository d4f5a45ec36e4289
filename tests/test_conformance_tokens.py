"""The delegation token probes (conformance/token_probes.py) against Apache Kafka and refka,
each with a PLAINTEXT and a SASL_PLAINTEXT listener configured alike (PLAIN and SCRAM-SHA-256,
``delegation.token.secret.key`` set). Kafka's run is the proof that the
probes expect Kafka's behaviour; it is skipped only when Java or the Kafka jars are missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from refka.peers.kafka import running_kafka
from refka.peers.process import PeerUnavailable
from refka.peers.readiness import free_port
from refka.testing import RunningBroker

from conformance.token_probes import BROKER_CONFIG, PROBES, Probe

Endpoints = tuple[str, str]  # (SASL_PLAINTEXT, PLAINTEXT) host:port


@pytest.fixture(scope="module")
def kafka_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    sasl_port = free_port()
    work = tmp_path_factory.mktemp("kafka-tokens")
    try:
        context = running_kafka(
            work, properties=BROKER_CONFIG, extra_listeners={"SASL_PLAINTEXT": sasl_port}
        )
        peer = context.__enter__()
    except PeerUnavailable as error:
        pytest.skip(str(error))
    try:
        yield f"127.0.0.1:{sasl_port}", peer.bootstrap
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def refka_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    work = tmp_path_factory.mktemp("refka-tokens")
    broker = RunningBroker(work / "data", work, "127.0.0.1", 0, dict(BROKER_CONFIG))
    broker.other_listeners["SASL_PLAINTEXT"] = 0
    broker.start()
    try:
        yield f"127.0.0.1:{broker.other_listeners['SASL_PLAINTEXT']}", broker.bootstrap
    finally:
        broker.terminate()


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_apache_kafka(kafka_endpoints: Endpoints, probe: Probe) -> None:
    probe(*kafka_endpoints)


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_refka(refka_endpoints: Endpoints, probe: Probe) -> None:
    probe(*refka_endpoints)
