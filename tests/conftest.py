"""Shared test set-up: the ``--slow`` switch and refka's broker fixtures.

- ``@pytest.mark.slow`` tests are skipped unless pytest runs with ``--slow``.
- ``refka_broker``, ``refka_cluster``, ...: refka's pytest plugin (:mod:`refka.pytest_plugin`);
  an installed refka loads it through its entry point, and the line below loads it when refka
  runs from the source tree.
- ``broker``: ``refka_broker`` under a short name.
- ``@pytest.mark.exclusive`` tests run alone under pytest-xdist (``./dev test`` runs two
  workers): one waits for the other worker's test to end, and holds its next test back.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from refka.testing import RunningBroker

pytest_plugins = ["pytester", "refka.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):  # another conftest (model_tests/) may add it too
        parser.addoption("--slow", action="store_true", help="also run @pytest.mark.slow tests")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "exclusive: under pytest-xdist, runs while no other test runs (its time budget assumes "
        "the machine's cores)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


@pytest.fixture
def broker(refka_broker: RunningBroker) -> Iterator[RunningBroker]:
    """A fresh refka broker for one test (``.bootstrap``, ``.restart()``, ``.kill()``)."""
    yield refka_broker


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """Under pytest-xdist, every test (its fixtures' set-up and teardown included) takes its
    turn: shared for most, alone for ``exclusive`` ones."""
    if not hasattr(item.config, "workerinput"):  # not an xdist worker (nor a pytest it runs)
        yield
        return
    # Each worker's basetemp is ``<the run's basetemp>/popen-gwN``: the parent is the run's.
    run_dir = Path(item.config.option.basetemp).parent
    with _turn(run_dir, exclusive=item.get_closest_marker("exclusive") is not None):
        yield


@contextlib.contextmanager
def _turn(run_dir: Path, exclusive: bool) -> Iterator[None]:
    """Two flock(2) locks: ``running`` is held shared by every running test and exclusively
    by an exclusive one; ``gate`` is held exclusively by an exclusive test from before it
    waits, so that no test starts while it waits (flock does not queue a waiting writer
    ahead of new readers)."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with (
        (run_dir / "refka-gate.lock").open("a") as gate,
        (run_dir / "refka-running.lock").open("a") as running,
    ):  # closing a file drops its lock
        fcntl.flock(gate, mode)
        fcntl.flock(running, mode)
        if not exclusive:
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield
