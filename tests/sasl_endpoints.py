"""Apache Kafka and refka, each with a PLAINTEXT and a SASL_PLAINTEXT listener configured alike:
the two targets of the SASL and delegation-token probes (``conformance/sasl_probes.py``,
``conformance/token_probes.py``). Kafka's run proves that the probes expect Kafka's behaviour; it
is skipped only when Java or the Kafka jars are missing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from refka.peers.kafka import running_kafka
from refka.peers.process import PeerUnavailable
from refka.peers.readiness import free_port
from refka.testing import RunningBroker

Endpoints = tuple[str, str]  # (SASL_PLAINTEXT, PLAINTEXT) host:port


def kafka(
    factory: pytest.TempPathFactory, config: Mapping[str, str], name: str
) -> Iterator[Endpoints]:
    sasl_port = free_port()
    work = factory.mktemp(f"kafka-{name}")
    try:
        context = running_kafka(
            work, properties=config, extra_listeners={"SASL_PLAINTEXT": sasl_port}
        )
        peer = context.__enter__()
    except PeerUnavailable as error:
        pytest.skip(str(error))
    try:
        yield f"127.0.0.1:{sasl_port}", peer.bootstrap
    finally:
        context.__exit__(None, None, None)


def refka(
    factory: pytest.TempPathFactory, config: Mapping[str, str], name: str
) -> Iterator[Endpoints]:
    work = factory.mktemp(f"refka-{name}")
    broker = RunningBroker(work / "data", work, "127.0.0.1", 0, dict(config))
    broker.other_listeners["SASL_PLAINTEXT"] = 0
    broker.start()
    try:
        yield f"127.0.0.1:{broker.other_listeners['SASL_PLAINTEXT']}", broker.bootstrap
    finally:
        broker.terminate()
