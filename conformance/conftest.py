"""pytest wiring for the conformance suite: `--bootstrap`, the `target` and `topic` fixtures,
and the `api` marker each test carries (`@pytest.mark.api("Produce", behaviour="...")`).

Run it as `pytest conformance/ --bootstrap HOST:PORT` or `refka conform --bootstrap HOST:PORT`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from conformance.target import Target, unique_topic
from conformance.wire import Connection

BOOTSTRAP_ENV = "REFKA_CONFORM_BOOTSTRAP"
NAME_ENV = "REFKA_CONFORM_TARGET_NAME"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance")
    group.addoption("--bootstrap", default=None, help=f"broker HOST:PORT (or ${BOOTSTRAP_ENV})")
    group.addoption("--target-name", default=None, help="name of the broker in reports")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "api(name, behaviour): the Kafka API and the behaviour a test checks"
    )
    config.addinivalue_line(
        "markers", "observed: the expectation is Kafka's observed, not documented, behaviour"
    )
    bootstrap = config.getoption("--bootstrap") or os.environ.get(BOOTSTRAP_ENV)
    if not bootstrap and not config.getoption("collectonly"):
        raise pytest.UsageError(f"the conformance suite needs --bootstrap or ${BOOTSTRAP_ENV}")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    bootstrap = request.config.getoption("--bootstrap") or os.environ.get(BOOTSTRAP_ENV)
    if not bootstrap:
        raise pytest.UsageError(f"the conformance suite needs --bootstrap or ${BOOTSTRAP_ENV}")
    name = request.config.getoption("--target-name") or os.environ.get(NAME_ENV)
    found = Target.discover(bootstrap, name)
    request.config._conformance_target = found  # type: ignore[attr-defined]  # for the report
    yield found
    found.close()


@pytest.fixture
def conn(target: Target) -> Iterator[Connection]:
    """A fresh connection for one probe (probes may leave it broken)."""
    connection = target.connect()
    yield connection
    connection.close()


@pytest.fixture
def topic(target: Target) -> str:
    """A new topic with one partition."""
    name = unique_topic()
    target.create_topic(name, 1)
    return name


@pytest.fixture
def topic3(target: Target) -> str:
    """A new topic with three partitions."""
    name = unique_topic()
    target.create_topic(name, 3)
    return name
