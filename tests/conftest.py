"""Shared test set-up: the ``--slow`` switch and refka's broker fixtures.

- ``@pytest.mark.slow`` tests are skipped unless pytest runs with ``--slow``.
- ``refka_broker``: a fresh refka broker process per test (from :mod:`refka.testing`).
- ``broker``: the same, under a short name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from refka.testing import RunningBroker, refka_broker

__all__ = ["broker", "refka_broker"]


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
