"""The Java AdminClient (kafka-clients 4.4) moves a replica to another of refka's two
``log.dirs`` (alterReplicaLogDirs, describeReplicaLogDirs) and downgrades and upgrades
``transaction.version`` (updateFeatures, describeFeatures)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import running_broker

PROBE = Path(__file__).with_name("java") / "AdminTool.java"


def test_java_admin_moves_a_replica_and_changes_a_feature(tmp_path: Path) -> None:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    first, second = tmp_path / "d0", tmp_path / "d1"
    with running_broker(tmp_path / "unused", config={"log.dirs": f"{first},{second}"}) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("java-moved", 1, 1)])["java-moved"].result(10)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        producer.produce("java-moved", b"value")
        assert producer.flush(10) == 0
        here = first if (first / "java-moved-0").exists() else second
        there = second if here == first else first
        run = subprocess.run(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
             f"{libs}/*", str(PROBE), broker.bootstrap, "java-moved", str(there)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.splitlines() == [
            f"dir {there}",
            "features 2",
            "features 1",
            "features 2",
        ]
        assert (there / "java-moved-0").is_dir() and not (here / "java-moved-0").exists()
