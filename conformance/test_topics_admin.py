"""CreateTopics, DeleteTopics, CreatePartitions: results and error codes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, topic_spec, unique_topic


def create(target: Target, *specs: dict[str, Any], validate_only: bool = False) -> Any:
    return target.call(
        "CreateTopics", 2, None, topics=list(specs), timeout=15000, validate_only=validate_only
    )


def create_one(
    target: Target,
    name: str,
    partitions: int = 1,
    replication: int = 1,
    configs: dict[str, str] | None = None,
    validate_only: bool = False,
) -> Any:
    spec = topic_spec(name, partitions, configs) | {"replication_factor": replication}
    return create(target, spec, validate_only=validate_only).topics[0]


def delete(target: Target, *names: str) -> Any:
    topics = [{"name": n, "topic_id": None} for n in names]
    return target.call(
        "DeleteTopics", 1, None, topic_names=list(names), topics=topics, timeout=15000
    ).responses


def create_partitions(target: Target, name: str, count: int, validate_only: bool = False) -> Any:
    answer = target.call(
        "CreatePartitions",
        0,
        None,
        timeout=15000,
        validate_only=validate_only,
        topics=[{"name": name, "count": count, "assignments": None}],
    )
    return answer.results[0]


def wait_absent(target: Target, name: str, deadline_s: float = 15.0) -> None:
    end = time.monotonic() + deadline_s
    while True:
        found = target.metadata_topic(name)
        if found is not None and found.error_code == ErrorCode.unknown_topic_or_partition:
            return
        assert time.monotonic() < end, f"{name} still exists after {deadline_s}s"
        time.sleep(0.05)


@pytest.mark.api("CreateTopics", behaviour="creates the topic with the requested partitions")
def test_create(target: Target) -> None:
    name = unique_topic()
    result = create_one(target, name, partitions=4)
    assert result.error_code == ErrorCode.none
    target.wait_leaders(name, 4)


@pytest.mark.api("CreateTopics", behaviour="reports partitions and replication factor (v5+)")
def test_create_reports_layout(target: Target) -> None:
    target_v = target.version("CreateTopics", 5)
    if target_v is None:
        pytest.skip("not supported: CreateTopics v5+")
    result = create_one(target, unique_topic(), partitions=2)
    assert (result.num_partitions, result.replication_factor) == (2, 1)


@pytest.mark.api("CreateTopics", behaviour="existing topic: TOPIC_ALREADY_EXISTS")
def test_exists(target: Target, topic: str) -> None:
    assert create_one(target, topic).error_code == ErrorCode.topic_already_exists


@pytest.mark.api("CreateTopics", behaviour="zero partitions: INVALID_PARTITIONS")
def test_zero_partitions(target: Target) -> None:
    assert (
        create_one(target, unique_topic(), partitions=0).error_code == ErrorCode.invalid_partitions
    )


@pytest.mark.api(
    "CreateTopics", behaviour="replication factor above broker count: INVALID_REPLICATION_FACTOR"
)
def test_replication_too_high(target: Target) -> None:
    result = create_one(target, unique_topic(), replication=9)
    assert result.error_code == ErrorCode.invalid_replication_factor


@pytest.mark.api("CreateTopics", behaviour="replication factor 0: INVALID_REPLICATION_FACTOR")
def test_replication_zero(target: Target) -> None:
    result = create_one(target, unique_topic(), replication=0)
    assert result.error_code == ErrorCode.invalid_replication_factor


@pytest.mark.api("CreateTopics", behaviour="invalid topic name: INVALID_TOPIC_EXCEPTION")
@pytest.mark.parametrize(
    "name",
    ["bad/name", "..", "x" * 250, "spaces here"],
    ids=["slash", "dotdot", "too-long", "space"],
)
def test_invalid_name(target: Target, name: str) -> None:
    assert create_one(target, name).error_code == ErrorCode.invalid_topic_exception


@pytest.mark.api("CreateTopics", behaviour="unknown config key: INVALID_CONFIG")
def test_unknown_config(target: Target) -> None:
    result = create_one(target, unique_topic(), configs={"no.such.config": "1"})
    assert result.error_code == ErrorCode.invalid_config


@pytest.mark.api("CreateTopics", behaviour="invalid config value: INVALID_CONFIG")
def test_invalid_config_value(target: Target) -> None:
    result = create_one(target, unique_topic(), configs={"cleanup.policy": "bogus"})
    assert result.error_code == ErrorCode.invalid_config


@pytest.mark.api("CreateTopics", behaviour="validate_only does not create the topic")
def test_validate_only(target: Target) -> None:
    name = unique_topic()
    assert create_one(target, name, validate_only=True).error_code == ErrorCode.none
    assert target.metadata_topic(name).error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("CreateTopics", behaviour="num_partitions -1 takes the broker default (v4+)")
def test_default_partitions(target: Target) -> None:
    if target.version("CreateTopics", 4) is None:
        pytest.skip("not supported: CreateTopics v4+")
    spec = topic_spec(unique_topic(), -1) | {"replication_factor": -1}
    assert create(target, spec).topics[0].error_code == ErrorCode.none


@pytest.mark.api("CreateTopics", behaviour="same topic twice in one request: INVALID_REQUEST")
@pytest.mark.observed
def test_duplicate_in_request(target: Target) -> None:
    name = unique_topic()
    answer = create(target, topic_spec(name, 1), topic_spec(name, 1))
    assert {t.error_code for t in answer.topics} == {ErrorCode.invalid_request}


@pytest.mark.api("CreateTopics", behaviour="several topics in one request each succeed")
def test_several(target: Target) -> None:
    names = [unique_topic() for _ in range(3)]
    answer = create(target, *(topic_spec(n, 1) for n in names))
    assert {t.name: t.error_code for t in answer.topics} == dict.fromkeys(names, ErrorCode.none)


@pytest.mark.api("DeleteTopics", behaviour="deletes the topic; Metadata then reports it unknown")
def test_delete(target: Target, topic: str) -> None:
    [result] = delete(target, topic)
    assert result.error_code == ErrorCode.none
    wait_absent(target, topic)


@pytest.mark.api("DeleteTopics", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_delete_unknown(target: Target) -> None:
    [result] = delete(target, unique_topic("absent"))
    assert result.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("DeleteTopics", behaviour="a deleted name can be created again, empty")
def test_recreate(target: Target, topic: str) -> None:
    from conformance.probes import log_end_offset, produce_values

    produce_values(target, topic, b"old")
    delete(target, topic)
    wait_absent(target, topic)
    end = time.monotonic() + 15
    while (code := create_one(target, topic).error_code) != ErrorCode.none:
        assert code == ErrorCode.topic_already_exists and time.monotonic() < end, code
        time.sleep(0.1)
    target.wait_leaders(topic, 1)
    assert log_end_offset(target, topic) == 0


@pytest.mark.api("CreatePartitions", behaviour="increases the partition count")
def test_add_partitions(target: Target, topic: str) -> None:
    assert create_partitions(target, topic, 3).error_code == ErrorCode.none
    target.wait_leaders(topic, 3)


@pytest.mark.api("CreatePartitions", behaviour="fewer partitions: INVALID_PARTITIONS")
def test_decrease(target: Target, topic3: str) -> None:
    assert create_partitions(target, topic3, 2).error_code == ErrorCode.invalid_partitions


@pytest.mark.api("CreatePartitions", behaviour="same count: INVALID_PARTITIONS")
def test_same_count(target: Target, topic3: str) -> None:
    assert create_partitions(target, topic3, 3).error_code == ErrorCode.invalid_partitions


@pytest.mark.api("CreatePartitions", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_partitions_unknown_topic(target: Target) -> None:
    result = create_partitions(target, unique_topic("absent"), 2)
    assert result.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("CreatePartitions", behaviour="validate_only leaves the count unchanged")
def test_partitions_validate_only(target: Target, topic: str) -> None:
    assert create_partitions(target, topic, 4, validate_only=True).error_code == ErrorCode.none
    assert len(target.metadata_topic(topic).partitions) == 1
