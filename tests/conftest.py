"""Shared test set-up: the ``--slow`` switch and refka's broker fixtures.

- ``@pytest.mark.slow`` tests are skipped unless pytest runs with ``--slow``.
- ``refka_broker``, ``refka_cluster``, ...: refka's pytest plugin (:mod:`refka.pytest_plugin`);
  an installed refka loads it through its entry point, and the line below loads it when refka
  runs from the source tree.
- ``broker``: ``refka_broker`` under a short name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from refka.testing import RunningBroker

pytest_plugins = ["pytester", "refka.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):  # another conftest (model_tests/) may add it too
        parser.addoption("--slow", action="store_true", help="also run @pytest.mark.slow tests")


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
