"""The delegation token probes (conformance/token_probes.py) against Apache Kafka and refka,
each with a PLAINTEXT and a SASL_PLAINTEXT listener configured alike (PLAIN and SCRAM-SHA-256,
``delegation.token.secret.key`` set). Kafka's run is the proof that the
probes expect Kafka's behaviour; it is skipped only when Java or the Kafka jars are missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sasl_endpoints
from sasl_endpoints import Endpoints

from conformance.token_probes import BROKER_CONFIG, PROBES, Probe


@pytest.fixture(scope="module")
def kafka_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    yield from sasl_endpoints.kafka(tmp_path_factory, BROKER_CONFIG, "tokens")


@pytest.fixture(scope="module")
def refka_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    yield from sasl_endpoints.refka(tmp_path_factory, BROKER_CONFIG, "tokens")


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_apache_kafka(kafka_endpoints: Endpoints, probe: Probe) -> None:
    probe(*kafka_endpoints)


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_refka(refka_endpoints: Endpoints, probe: Probe) -> None:
    probe(*refka_endpoints)
