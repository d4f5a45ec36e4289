"""Apache Kafka's Java client (kafka-clients 4.4, from the peer's Maven jars) produces with
idempotence and consumes back through refka, in every codec."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import RunningBroker

COUNT = 30
PROBE = Path(__file__).with_name("java") / "RoundTrip.java"


@pytest.fixture(scope="module")
def java_classpath() -> str:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    return f"{libs}/*"


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_java_round_trip(broker: RunningBroker, java_classpath: str, codec: str) -> None:
    topic = f"java-{codec}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(10)
    run = subprocess.run(
        ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
         java_classpath, str(PROBE), broker.bootstrap, topic, codec, str(COUNT)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.split() for line in run.stdout.splitlines()]
    got = {(int(p), int(ts), k, v, h) for p, _, ts, k, v, h in rows}
    expected = {(i % 3, 1_700_000_000_000 + i, f"k{i}", f"v{i}", f"x{i}") for i in range(COUNT)}
    assert got == expected
    for partition in range(3):
        offsets = sorted(int(o) for p, o, *_ in rows if int(p) == partition)
        assert offsets == list(range(len(offsets)))
