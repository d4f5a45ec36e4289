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
    # An xdist worker (not a pytest that a test runs) has a basetemp of
    # ``<the run's basetemp>/popen-gwN``: the parent is the run's, where the locks live.
    if hasattr(config, "workerinput") and config.option.basetemp:
        run_dir = Path(config.option.basetemp).parent
        config.pluginmanager.register(Turns(run_dir), "refka-turns")


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


class Turns:
    """Under pytest-xdist, every test (its fixtures' set-up and teardown included) takes its
    turn: shared for most, alone for ``exclusive`` ones. A plugin of the whole session, not a
    conftest hook, so that model_tests/ take their turns too."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        with _turn(self.run_dir, exclusive=item.get_closest_marker("exclusive") is not None):
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
