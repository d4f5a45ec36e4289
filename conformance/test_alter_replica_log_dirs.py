"""AlterReplicaLogDirs (KIP-113): the answers a broker gives whatever its number of log dirs,
and, on a broker with two or more ``log.dirs`` (else skipped), a replica with data moving to
another directory (tests/test_conformance_log_dirs.py runs it on Kafka and refka so)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import fetch, produce_values
from conformance.records import parse_batches
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


@pytest.mark.api("AlterReplicaLogDirs", behaviour="a replica with data moves to another log dir")
def test_move_to_another_dir(target: Target, topic: str) -> None:
    answer = target.call("DescribeLogDirs", 1, None, topics=None)
    paths = [r.log_dir for r in answer.results]
    if len(paths) < 2:
        pytest.skip("the target has one log dir")
    produce_values(target, topic, b"a", b"b")
    here = current_dir(target, topic)
    there = next(p for p in paths if p != here)
    assert alter(target, 2, there, topic) == ErrorCode.none
    deadline = time.monotonic() + 15.0
    while not moved(target, topic, there):  # Kafka copies in the background
        assert time.monotonic() < deadline, "the replica did not move"
        time.sleep(0.05)
    produce_values(target, topic, b"c")
    data = fetch(target, topic, 0)
    assert [r.value for b in parse_batches(data.records) for r in b.records] == [b"a", b"b", b"c"]


def moved(target: Target, topic: str, there: str) -> bool:
    """Only in ``there``, and no future replica left."""
    answer = target.call("DescribeLogDirs", 1, None, topics=[{"topic": topic, "partitions": [0]}])
    found = [
        (r.log_dir, p.is_future_key)
        for r in answer.results
        for t in r.topics
        if t.name == topic
        for p in t.partitions
    ]
    return found == [(there, False)]
