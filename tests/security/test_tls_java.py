"""Apache Kafka's Java client (kafka-clients 4.4) produces and consumes over SSL, trusting
refka's certificate from a PEM trust store and checking its host name (the Java default)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import in_process_broker

from tests.security.certs import Certs

COUNT = 30
PROBE = Path(__file__).parents[1] / "integration" / "java" / "RoundTrip.java"


def test_java_client_round_trip_over_ssl(certs: Certs, tmp_path: Path) -> None:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    properties = tmp_path / "client.properties"
    properties.write_text(
        f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={certs.ca}\n"
    )
    with in_process_broker(tmp_path / "data", config=certs.broker_configs()) as broker:
        admin = AdminClient(
            {"bootstrap.servers": broker.bootstrap, "security.protocol": "SSL",
             "ssl.ca.location": str(certs.ca)}
        )  # fmt: skip
        admin.create_topics([NewTopic("java-ssl", 3, 1)])["java-ssl"].result(10)
        run = subprocess.run(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
             f"{libs}/*", str(PROBE), broker.bootstrap, "java-ssl", "lz4", str(COUNT)],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "KAFKA_CLIENT_PROPERTIES": str(properties)},
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    values = sorted(line.split()[4] for line in run.stdout.splitlines())
    assert values == sorted(f"v{i}" for i in range(COUNT))
