"""``refka.testing``: the broker fixture users put in their own test suites."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import confluent_kafka
import pytest
from refka.pytest_plugin import DEFAULT_MODE
from refka.testing import BrokerFailed, RunningBroker, broker_configs, running_broker

ROOT = Path(__file__).resolve().parents[2]


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


ENTRY_POINT = re.compile(r'\[project\.entry-points\.pytest11\]\n"?([\w.]+)"? = "([\w.]+)"')


def fake_installed_refka(root: Path) -> Path:
    """A dist-info declaring the ``pytest11`` entry point exactly as pyproject.toml does, so
    pytest's entry-point loading (not a conftest line) finds the plugin."""
    match = ENTRY_POINT.search((ROOT / "pyproject.toml").read_text())
    assert match, "pyproject.toml declares no pytest11 entry point"
    info = root / "refka_plugin_probe-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: refka-plugin-probe\nVersion: 0.0\n"
    )
    (info / "entry_points.txt").write_text(f"[pytest11]\n{match[1]} = {match[2]}\n")
    return root


USER_TESTS = """
import socket
import sys

import pytest

seen = {}


def listens(broker):
    host, port = broker.bootstrap.split(":")
    socket.create_connection((host, int(port)), timeout=5).close()


@pytest.mark.parametrize("n", [1, 2])
def test_function_scope(refka_broker, n):
    assert refka_broker.mode == ("forked" if sys.platform == "linux" else "subprocess")
    listens(refka_broker)
    seen.setdefault("function", set()).add(refka_broker.bootstrap)


@pytest.mark.parametrize("n", [1, 2])
def test_module_and_session_scope(refka_broker_module, refka_broker_session, n):
    listens(refka_broker_module)
    listens(refka_broker_session)
    seen.setdefault("module", set()).add(refka_broker_module.bootstrap)
    seen.setdefault("session", set()).add(refka_broker_session.bootstrap)


@pytest.mark.refka(mode="in-process", num_partitions=2)
def test_in_process_by_marker(refka_broker):
    assert refka_broker.mode == "in-process"
    refka_broker.create_topic("two", partitions=2)


def test_scopes_were_honoured():
    assert len(seen["function"]) == 2
    assert len(seen["module"]) == 1 and len(seen["session"]) == 1
"""


def test_the_plugin_loads_from_its_entry_point_with_no_conftest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(fake_installed_refka(pytester.path / "site")))
    pytester.makepyfile(test_user=USER_TESTS)
    assert not list(pytester.path.glob("conftest.py"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


def test_without_entry_points_there_is_no_fixture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: the same file, with entry points off, errors at setup."""
    monkeypatch.syspath_prepend(str(fake_installed_refka(pytester.path / "site")))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.parseoutcomes().get("errors", 0) >= 1


FAILING_TEST = """
from pathlib import Path


def test_fails(refka_broker):
    Path("kept.txt").write_text(str(refka_broker.data_dir.parent))
    assert False, "the user's assertion"
"""


@pytest.mark.parametrize("keep", [False, True])
def test_a_failed_test_shows_the_log_tail_and_keeps_its_data_on_request(
    pytester: pytest.Pytester, keep: bool
) -> None:
    pytester.makepyfile(test_user=FAILING_TEST)
    options = ["-p", "refka.pytest_plugin", "-p", "no:cacheprovider"]
    result = pytester.runpytest_inprocess(*options, *(["--refka-keep-data"] if keep else []))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the user's assertion*",
            f"*refka refka_broker ({DEFAULT_MODE} 127.0.0.1:*) log tail*",
            "--- start 1: *-m refka broker*",
        ]
    )
    root = Path((pytester.path / "kept.txt").read_text())
    assert root.exists() == keep
    if keep:
        result.stdout.fnmatch_lines(["*refka refka_broker data kept*", str(root)])
        assert (root / "data").is_dir() and (root / "broker.stderr").is_file()
        shutil.rmtree(root)
