"""DescribeLogDirs (KIP-113, KIP-827): the broker's log directories and the partitions in them."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import produce_values
from conformance.target import Target, unique_topic


def describe(target: Target, topics: Any, version: int | None = None) -> Any:
    lo, hi = (1, None) if version is None else (version, version)
    answer = target.call("DescribeLogDirs", lo, hi, topics=topics)
    assert getattr(answer, "error_code", ErrorCode.none) == ErrorCode.none
    assert answer.results, answer
    return answer


def partitions_of(answer: Any, topic: str) -> dict[int, Any]:
    return {
        p.partition_index: p
        for result in answer.results
        for t in result.topics
        if t.name == topic
        for p in t.partitions
    }


@pytest.mark.api("DescribeLogDirs", behaviour="a named partition: its size, lag 0, not future")
@pytest.mark.parametrize("version", range(1, 6))
def test_named_partition(target: Target, topic: str, version: int) -> None:
    produce_values(target, topic, b"a", b"b")
    answer = describe(target, [{"topic": topic, "partitions": [0]}], version)
    for result in answer.results:
        assert result.error_code == ErrorCode.none
        assert result.log_dir.startswith("/")
    (found,) = partitions_of(answer, topic).values()
    assert (found.partition_index, found.offset_lag, found.is_future_key) == (0, 0, False)
    assert found.partition_size > 0


@pytest.mark.api("DescribeLogDirs", behaviour="v4+: the volume's total and usable bytes")
def test_volume_bytes(target: Target, topic: str) -> None:
    answer = describe(target, [{"topic": topic, "partitions": [0]}], 4)
    for result in answer.results:
        assert 0 < result.usable_bytes <= result.total_bytes


@pytest.mark.api("DescribeLogDirs", behaviour="size grows with the log")
def test_size_grows(target: Target, topic: str) -> None:
    wanted = [{"topic": topic, "partitions": [0]}]
    assert partitions_of(describe(target, wanted), topic)[0].partition_size == 0
    produce_values(target, topic, b"x" * 100)
    first = partitions_of(describe(target, wanted), topic)[0].partition_size
    produce_values(target, topic, b"y" * 100)
    assert partitions_of(describe(target, wanted), topic)[0].partition_size > first > 100


@pytest.mark.api("DescribeLogDirs", behaviour="topics null: every partition")
def test_all_topics(target: Target, topic3: str) -> None:
    assert set(partitions_of(describe(target, None), topic3)) == {0, 1, 2}


@pytest.mark.api("DescribeLogDirs", behaviour="only the named partitions; absent ones left out")
def test_only_named(target: Target, topic3: str) -> None:
    wanted = [
        {"topic": topic3, "partitions": [1, 7]},
        {"topic": unique_topic("absent"), "partitions": [0]},
    ]
    answer = describe(target, wanted)
    assert set(partitions_of(answer, topic3)) == {1}
    assert {t.name for result in answer.results for t in result.topics} == {topic3}


@pytest.mark.api("DescribeLogDirs", behaviour="a topic with no partition named is left out")
def test_no_partitions_named(target: Target, topic: str) -> None:
    answer = describe(target, [{"topic": topic, "partitions": []}])
    assert all(result.topics == () for result in answer.results)
