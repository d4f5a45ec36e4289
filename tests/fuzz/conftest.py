"""A fuzz target shared by the regression tests: one combined node in process, on a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from refka.fuzz.target import InProcessTarget
from refka.log.storage import FileStorage


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessTarget]:
    log_dir: Path = tmp_path_factory.mktemp("fuzz")
    node = InProcessTarget(FileStorage(str(log_dir)))
    yield node
    node.close()


@pytest.fixture(scope="module")
def controller_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessTarget]:
    """The same node, with the inputs sent to its controller's listener."""
    log_dir: Path = tmp_path_factory.mktemp("fuzz-controller")
    node = InProcessTarget(FileStorage(str(log_dir)), controller_listener=True)
    yield node
    node.close()
