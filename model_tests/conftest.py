"""Options of the model tests: how long the randomized runs are."""

from __future__ import annotations

import contextlib

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    with contextlib.suppress(ValueError):
        parser.addoption(
            "--model-examples",
            type=int,
            default=4,
            help="Hypothesis examples per cluster model test (default 4: the CI bound; a "
            "campaign of hours wants thousands)",
        )
    with contextlib.suppress(ValueError):  # tests/conftest.py adds it too
        parser.addoption("--slow", action="store_true", help="also run @pytest.mark.slow tests")
