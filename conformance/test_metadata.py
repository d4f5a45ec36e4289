"""Metadata: brokers, topics, partitions, leaders; auto-creation on and off."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, require_api, unique_topic


def metadata(
    target: Target, topics: list[str] | None, auto_create: bool = False, lo: int = 1, hi: int = 12
) -> Any:
    names = None if topics is None else [{"name": t, "topic_id": None} for t in topics]
    return target.call("Metadata", lo, hi, topics=names, allow_auto_topic_creation=auto_create)


@pytest.mark.api("Metadata", behaviour="answers at each version with the topic's partitions")
@pytest.mark.parametrize("version", range(0, 13))
def test_topic_at_version(target: Target, topic3: str, version: int) -> None:
    answer = metadata(target, [topic3], lo=version, hi=version)
    [found] = answer.topics
    assert found.error_code == ErrorCode.none and found.name == topic3
    assert sorted(p.partition_index for p in found.partitions) == [0, 1, 2]


@pytest.mark.api("Metadata", behaviour="a null topic list returns every topic")
def test_all_topics(target: Target, topic: str) -> None:
    assert topic in {t.name for t in metadata(target, None).topics}


@pytest.mark.api("Metadata", behaviour="an empty topic list returns no topics")
def test_empty_list(target: Target, topic: str) -> None:
    assert metadata(target, []).topics == ()


@pytest.mark.api(
    "Metadata", behaviour="unknown topic with auto-create off: UNKNOWN_TOPIC_OR_PARTITION"
)
def test_unknown_topic_no_auto_create(target: Target) -> None:
    require_api(target, "Metadata", 4)
    name = unique_topic("absent")
    [found] = metadata(target, [name], auto_create=False, lo=4).topics
    assert found.error_code == ErrorCode.unknown_topic_or_partition
    [again] = metadata(target, [name], auto_create=False, lo=4).topics
    assert again.error_code == ErrorCode.unknown_topic_or_partition, "must not have been created"


@pytest.mark.api("Metadata", behaviour="unknown topic with auto-create on creates it")
@pytest.mark.observed
def test_auto_create(target: Target) -> None:
    require_api(target, "Metadata", 4)
    enabled = broker_config(target, "auto.create.topics.enable")
    name = unique_topic("auto")
    first = metadata(target, [name], auto_create=True, lo=4).topics[0]
    if enabled == "false":
        assert first.error_code == ErrorCode.unknown_topic_or_partition
        return
    # Kafka 4 (KRaft) creates the topic asynchronously: the first answer is observed to be
    # UNKNOWN_TOPIC_OR_PARTITION; older brokers answer LEADER_NOT_AVAILABLE.
    assert first.error_code in (
        ErrorCode.none,
        ErrorCode.leader_not_available,
        ErrorCode.unknown_topic_or_partition,
    )
    target.wait_leaders(name, int(broker_config(target, "num.partitions") or 1))


@pytest.mark.api("Metadata", behaviour="auto-create of an invalid name: INVALID_TOPIC_EXCEPTION")
def test_auto_create_invalid_name(target: Target) -> None:
    require_api(target, "Metadata", 4)
    [found] = metadata(target, ["bad name!"], auto_create=True, lo=4).topics
    assert found.error_code == ErrorCode.invalid_topic_exception


@pytest.mark.api("Metadata", behaviour="leaders are listed brokers; replicas and ISR hold them")
def test_leaders_are_brokers(target: Target, topic3: str) -> None:
    answer = metadata(target, [topic3])
    node_ids = {b.node_id for b in answer.brokers}
    for partition in answer.topics[0].partitions:
        assert partition.leader_id in node_ids
        assert partition.leader_id in partition.replica_nodes
        assert partition.leader_id in partition.isr_nodes


@pytest.mark.api("Metadata", behaviour="the broker advertises the address clients reached it on")
def test_advertised_address(target: Target) -> None:
    host, _, port = target.bootstrap.split(",")[0].rpartition(":")
    brokers = {(b.host, b.port) for b in metadata(target, []).brokers}
    assert (host, int(port)) in brokers


@pytest.mark.api("Metadata", behaviour="controller id names a listed broker")
def test_controller_listed(target: Target) -> None:
    answer = metadata(target, [])
    assert answer.controller_id in {b.node_id for b in answer.brokers}


@pytest.mark.api("Metadata", behaviour="cluster id is set (v2+)")
def test_cluster_id(target: Target) -> None:
    answer = metadata(target, [], lo=2)
    assert answer.cluster_id


@pytest.mark.api("Metadata", behaviour="topics have a non-zero topic id (v10+)")
def test_topic_id(target: Target, topic: str) -> None:
    [found] = metadata(target, [topic], lo=10).topics
    assert found.topic_id is not None and found.topic_id.int != 0


@pytest.mark.api("Metadata", behaviour="a user topic is not internal")
def test_not_internal(target: Target, topic: str) -> None:
    assert metadata(target, [topic]).topics[0].is_internal is False


@pytest.mark.api("Metadata", behaviour="partition leader epoch is reported (v7+)")
def test_leader_epoch(target: Target, topic: str) -> None:
    [partition] = metadata(target, [topic], lo=7).topics[0].partitions
    assert partition.leader_epoch >= 0


@pytest.mark.api("Metadata", behaviour="one request mixes known and unknown topics")
def test_mixed_known_unknown(target: Target, topic: str) -> None:
    require_api(target, "Metadata", 4)
    name = unique_topic("absent")
    answer = metadata(target, [topic, name], lo=4)
    errors = {t.name: t.error_code for t in answer.topics}
    assert errors == {topic: ErrorCode.none, name: ErrorCode.unknown_topic_or_partition}


def broker_config(target: Target, key: str) -> str | None:
    """One broker config value through DescribeConfigs (skips if unsupported)."""
    node_id = metadata(target, []).brokers[0].node_id
    answer = target.call(
        "DescribeConfigs",
        1,
        4,
        resources=[
            {"resource_type": 4, "resource_name": str(node_id), "configuration_keys": [key]}
        ],
        include_synonyms=False,
        include_documentation=False,
    )
    for entry in answer.results[0].configs:
        if entry.name == key:
            return str(entry.value)
    return None
