"""``refka.testing``: the broker fixture users put in their own test suites."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import confluent_kafka
import pytest
from refka.testing import BrokerFailed, RunningBroker, broker_configs, running_broker


def test_config_keys_take_kafka_spelling() -> None:
    configs = broker_configs(
        {"log.segment.bytes": 1024}, num_partitions=3, auto_create_topics_enable=False
    )
    assert configs == {
        "log.segment.bytes": "1024",
        "num.partitions": "3",
        "auto.create.topics.enable": "false",
    }


def produce_one(bootstrap: str, value: bytes) -> int:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    offsets: list[int | None] = []
    producer.produce("fixture", value, on_delivery=lambda err, msg: offsets.append(msg.offset()))
    assert producer.flush(10) == 0
    [offset] = offsets
    assert offset is not None
    return offset


def test_restart_and_kill_keep_port_and_data(refka_broker: RunningBroker) -> None:
    bootstrap, first_pid = refka_broker.bootstrap, refka_broker.pid
    assert refka_broker.port > 0 and refka_broker.ready_ms is not None
    assert produce_one(bootstrap, b"one") == 0
    refka_broker.restart()
    assert (refka_broker.bootstrap, refka_broker.running) == (bootstrap, True)
    assert refka_broker.pid != first_pid
    assert produce_one(bootstrap, b"two") == 1
    refka_broker.kill()
    assert not refka_broker.running
    refka_broker.restart()
    assert produce_one(bootstrap, b"three") == 2
    assert any(refka_broker.data_dir.glob("fixture-0/00000000000000000000.log"))


def test_a_broker_that_cannot_start_fails_with_its_stderr(tmp_path: Path) -> None:
    with (
        pytest.raises(BrokerFailed, match=r"(?s)exited with \d+ before ready.*log.segment.bytes"),
        running_broker(tmp_path / "data", log_segment_bytes=-1),
    ):
        pass


def test_the_pytest_plugin_as_users_enable_it(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["refka.testing"]\n')
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import socket

            def test_broker_listens(refka_broker):
                host, port = refka_broker.bootstrap.split(":")
                socket.create_connection((host, int(port)), timeout=5).close()
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
