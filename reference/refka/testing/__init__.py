"""refka as a fast, real broker inside your own test suite.

- :func:`running_broker`: a broker as a child process (``python -m refka broker``);
- :func:`in_process_broker`: the same broker on a thread of the test process (fastest start);
- :func:`running_cluster`: a controller and N brokers, each a process, with fault handles.

Each handle offers ``bootstrap``, ``restart()``, ``kill()``, ``create_topic(...)`` (returns
once every partition has a leader) and ``log_tail()``. The pytest plugin
(:mod:`refka.pytest_plugin`, loaded by pytest through its ``pytest11`` entry point) offers
them as fixtures. This package does not import pytest.
"""

from refka.testing.cluster import (
    CONTROLLER_NODE_ID,
    RunningCluster,
    format_cluster,
    running_cluster,
)
from refka.testing.in_process import InProcessBroker, in_process_broker
from refka.testing.process import (
    BrokerFailed,
    RunningBroker,
    broker_configs,
    config_value,
    running_broker,
)

__all__ = [
    "CONTROLLER_NODE_ID",
    "BrokerFailed",
    "InProcessBroker",
    "RunningBroker",
    "RunningCluster",
    "broker_configs",
    "config_value",
    "format_cluster",
    "in_process_broker",
    "running_broker",
    "running_cluster",
]
