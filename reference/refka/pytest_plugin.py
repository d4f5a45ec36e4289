"""refka's pytest plugin: broker and cluster fixtures with no conftest line.

pytest loads it through the ``pytest11`` entry point of the installed ``refka`` distribution
(or ``-p refka.pytest_plugin`` / ``pytest_plugins = ["refka.pytest_plugin"]`` where entry points
are off). Only pytest imports this module; ``refka.testing`` itself does not need pytest.

Fixtures, one fresh node set per scope:

- ``refka_broker`` (function), ``refka_broker_module``, ``refka_broker_session``;
- ``refka_cluster`` (function), ``refka_cluster_module``, ``refka_cluster_session``: a
  controller and 3 brokers.

``@pytest.mark.refka(mode="in-process", num_partitions=3, ...)`` sets a function-scoped
fixture's mode and Kafka configs; ``--refka-mode`` sets the default mode of the fixtures:
``forked`` (a broker process forked from a warm fork server, the default on Linux: the
process semantics of a subprocess with a start in milliseconds), ``subprocess`` (a fresh
interpreter per broker, the default elsewhere) or ``in-process`` (``refka_broker*`` only: a
cluster's nodes are processes, forked where the default is).
A failed test's report shows the log tail of every refka node it used; with
``--refka-keep-data`` their data and logs stay on disk (the report says where), else they are
removed after the fixture's scope.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from refka.testing import (
    InProcessBroker,
    RunningBroker,
    RunningCluster,
    in_process_broker,
    running_broker,
    running_cluster,
)

MODES = ("subprocess", "forked", "in-process")
# Forking a process that has imported asyncio and ssl is dependable on Linux; macOS's system
# libraries do not promise to survive a fork without exec, and Windows has no fork.
DEFAULT_MODE = "forked" if sys.platform == "linux" else "subprocess"
CLUSTER_BROKERS = 3
LOG_TAIL_BYTES = 3000
Handle = RunningBroker | InProcessBroker | RunningCluster

_roots: dict[int, Path] = {}  # id(handle) -> the directory holding its data and logs
_failed: dict[int, list[str]] = {}  # id(handle) -> node ids of the failed tests that used it


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refka", "refka broker fixtures")
    group.addoption(
        "--refka-keep-data",
        action="store_true",
        help="keep the data and logs of refka brokers used by failed tests",
    )
    group.addoption(
        "--refka-mode",
        choices=MODES,
        default=DEFAULT_MODE,
        help="how refka fixtures run brokers: a process forked from a warm fork server "
        "(forked), a fresh interpreter (subprocess), or a thread (in-process, refka_broker* "
        f"only); default {DEFAULT_MODE}",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "refka(mode=None, **configs): mode and Kafka configs of this test's refka fixture",
    )


def _settings(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    marker = request.node.get_closest_marker("refka") if request.scope == "function" else None
    configs = dict(marker.kwargs) if marker is not None else {}
    mode = configs.pop("mode", None) or request.config.getoption("refka_mode")
    if mode not in MODES:
        raise pytest.UsageError(f"refka mode {mode!r}: expected one of {MODES}")
    return str(mode), configs


def _serve(
    request: pytest.FixtureRequest, start: AbstractContextManager[Handle], root: Path
) -> Iterator[Handle]:
    keep = request.config.getoption("refka_keep_data")
    failed: list[str] = []
    try:
        with start as handle:
            _roots[id(handle)] = root
            try:
                yield handle
            finally:
                failed = _failed.pop(id(handle), [])
                _roots.pop(id(handle), None)
    except BaseException:
        failed = failed or ["start or stop"]
        raise
    finally:
        if not (keep and failed):
            shutil.rmtree(root, ignore_errors=True)


def _broker(request: pytest.FixtureRequest, name: str) -> Iterator[Handle]:
    mode, configs = _settings(request)
    root = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    data = root / "data"
    if mode == "in-process":
        start: AbstractContextManager[Handle] = in_process_broker(data, work_dir=root, **configs)
    else:
        start = running_broker(data, work_dir=root, fork=mode == "forked", **configs)
    yield from _serve(request, start, root)


def _cluster(request: pytest.FixtureRequest, name: str) -> Iterator[Handle]:
    mode, configs = _settings(request)
    fork = mode == "forked" or (mode == "in-process" and DEFAULT_MODE == "forked")
    root = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    start = running_cluster(CLUSTER_BROKERS, root / "data", work_dir=root, fork=fork, **configs)
    yield from _serve(request, start, root)


@pytest.fixture
def refka_broker(request: pytest.FixtureRequest) -> Iterator[Handle]:
    """A fresh refka broker for one test (``.bootstrap``, ``.restart()``, ``.kill()``,
    ``.create_topic(name, partitions)``)."""
    yield from _broker(request, "refka_broker")


@pytest.fixture(scope="module")
def refka_broker_module(request: pytest.FixtureRequest) -> Iterator[Handle]:
    """One refka broker shared by the tests of a module."""
    yield from _broker(request, "refka_broker_module")


@pytest.fixture(scope="session")
def refka_broker_session(request: pytest.FixtureRequest) -> Iterator[Handle]:
    """One refka broker shared by the whole session."""
    yield from _broker(request, "refka_broker_session")


@pytest.fixture
def refka_cluster(request: pytest.FixtureRequest) -> Iterator[Handle]:
    """A fresh controller and 3 brokers for one test (``.kill(node)``, ``.pause(node)``,
    ``.resume(node)``, ``.restart(node)``, ``.leader_of(topic, partition)``)."""
    yield from _cluster(request, "refka_cluster")


@pytest.fixture(scope="module")
def refka_cluster_module(request: pytest.FixtureRequest) -> Iterator[Handle]:
    """One 3-broker cluster shared by the tests of a module."""
    yield from _cluster(request, "refka_cluster_module")


@pytest.fixture(scope="session")
def refka_cluster_session(request: pytest.FixtureRequest) -> Iterator[Handle]:
    """One 3-broker cluster shared by the whole session."""
    yield from _cluster(request, "refka_cluster_session")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """On a failure, add each refka node's log tail (and, when kept, where its data is)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    keep = item.config.getoption("refka_keep_data")
    reported: set[int] = set()
    for name, value in getattr(item, "funcargs", {}).items():
        if not isinstance(value, RunningBroker | InProcessBroker | RunningCluster):
            continue
        if id(value) in reported:  # the same node under another fixture's name
            continue
        reported.add(id(value))
        _failed.setdefault(id(value), []).append(item.nodeid)
        where = f"{value.mode} {value.bootstrap}"
        report.sections.append((f"refka {name} ({where}) log tail", value.log_tail(LOG_TAIL_BYTES)))
        if keep and id(value) in _roots:
            report.sections.append((f"refka {name} data kept", str(_roots[id(value)])))
