"""AlterReplicaLogDirs (KIP-113): the answers a broker gives whatever its number of log dirs.

Moving a replica between two directories is shown by tests/integration/
test_alter_replica_log_dirs.py (refka with two ``log.dirs``)."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import produce_values
from conformance.target import Target, unique_topic


def alter(target: Target, version: int, path: str, topic: str, partition: int = 0) -> Any:
    wanted = [{"path": path, "topics": [{"name": topic, "partitions": [partition]}]}]
    answer = target.call("AlterReplicaLogDirs", version, version, dirs=wanted)
    [result] = answer.results
    [found] = result.partitions
    assert (result.topic_name, found.partition_index) == (topic, partition)
    return found.error_code


def current_dir(target: Target, topic: str) -> str:
    answer = target.call("DescribeLogDirs", 1, None, topics=[{"topic": topic, "partitions": [0]}])
    [path] = [r.log_dir for r in answer.results if any(t.name == topic for t in r.topics)]
    return str(path)


@pytest.mark.api("AlterReplicaLogDirs", behaviour="a directory not in log.dirs: LOG_DIR_NOT_FOUND")
@pytest.mark.parametrize("version", [1, 2])
def test_unknown_dir(target: Target, topic: str, version: int) -> None:
    assert alter(target, version, "/no/such/dir", topic) == ErrorCode.log_dir_not_found
    relative = current_dir(target, topic).lstrip("/")
    assert alter(target, version, relative, topic) == ErrorCode.log_dir_not_found


@pytest.mark.api("AlterReplicaLogDirs", behaviour="the replica's own directory: NONE, it stays")
@pytest.mark.parametrize("version", [1, 2])
def test_same_dir(target: Target, topic: str, version: int) -> None:
    produce_values(target, topic, b"a")
    here = current_dir(target, topic)
    assert alter(target, version, here, topic) == ErrorCode.none
    assert current_dir(target, topic) == here


@pytest.mark.api(
    "AlterReplicaLogDirs", behaviour="an unknown partition: UNKNOWN_TOPIC_OR_PARTITION"
)
@pytest.mark.parametrize("version", [1, 2])
def test_unknown_partition(target: Target, topic: str, version: int) -> None:
    here = current_dir(target, topic)
    assert alter(target, version, here, unique_topic("absent")) == (
        ErrorCode.unknown_topic_or_partition
    )
    assert alter(target, version, here, topic, 9) == ErrorCode.unknown_topic_or_partition
