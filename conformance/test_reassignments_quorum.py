"""AlterPartitionReassignments and ListPartitionReassignments (KIP-455) on one broker, and
DescribeQuorum (KIP-595, KIP-836): answers and errors that do not need a second broker."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, unique_topic

METADATA = "__cluster_metadata"


def reassign(target: Target, topic: str, replicas: list[int] | None, **extra: Any) -> Any:
    partitions = [{"partition_index": 0, "replicas": replicas}]
    answer = target.call(
        "AlterPartitionReassignments", 0, None, timeout=10_000,
        topics=[{"name": topic, "partitions": partitions}], **extra,
    )  # fmt: skip
    assert answer.error_code == ErrorCode.none
    return answer.responses[0].partitions[0]


def only_replica(target: Target, topic: str) -> int:
    metadata = target.call("Metadata", 1, 9, topics=[{"name": topic}])
    [replica] = metadata.topics[0].partitions[0].replica_nodes
    return int(replica)


@pytest.mark.api("AlterPartitionReassignments", behaviour="the same replicas: nothing to move")
def test_same_replicas(target: Target, topic: str) -> None:
    result = reassign(target, topic, [only_replica(target, topic)])
    assert (result.error_code, result.error_message) == (ErrorCode.none, None)
    answer = target.call("ListPartitionReassignments", 0, None, timeout=10_000, topics=None)
    assert topic not in {t.name for t in answer.topics}


@pytest.mark.api("AlterPartitionReassignments", behaviour="refusals: Kafka's codes and messages")
def test_refusals(target: Target, topic: str) -> None:
    replica = only_replica(target, topic)
    cancel = reassign(target, topic, None)
    assert cancel.error_code == ErrorCode.no_reassignment_in_progress
    unknown_broker = reassign(target, topic, [replica + 1000])
    assert (unknown_broker.error_code, unknown_broker.error_message) == (
        ErrorCode.invalid_replica_assignment,
        f"The manual partition assignment includes broker {replica + 1000}, but no such broker "
        "is registered.",
    )
    twice = reassign(target, topic, [replica, replica])
    assert twice.error_message == (
        f"The manual partition assignment includes the broker {replica} more than once."
    )
    empty = reassign(target, topic, [])
    assert empty.error_message == "The manual partition assignment includes an empty replica list."
    # the assignment is checked before the replication factor (KIP-860)
    grow = reassign(target, topic, [replica, replica + 1000], allow_replication_factor_change=False)
    assert grow.error_code == ErrorCode.invalid_replica_assignment
    same = reassign(target, topic, [replica], allow_replication_factor_change=False)
    assert same.error_code == ErrorCode.none
    answer = target.call(
        "AlterPartitionReassignments", 0, None, timeout=10_000,
        topics=[{"name": topic, "partitions": [{"partition_index": 4, "replicas": [replica]}]}],
    )  # fmt: skip
    [[gone]] = [t.partitions for t in answer.responses]
    assert (gone.error_code, gone.error_message) == (
        ErrorCode.unknown_topic_or_partition,
        f"Unable to find partition {topic}:4.",
    )
    name = unique_topic()
    missing = reassign(target, name, [replica])
    assert (missing.error_code, missing.error_message) == (
        ErrorCode.unknown_topic_or_partition,
        f"Unable to find a topic named {name}.",
    )


@pytest.mark.api("ListPartitionReassignments", behaviour="named partitions with no move: none")
def test_list_named(target: Target, topic: str) -> None:
    wanted = [
        {"name": topic, "partition_indexes": [0, 5]},
        {"name": unique_topic(), "partition_indexes": [0]},
    ]
    answer = target.call("ListPartitionReassignments", 0, None, timeout=10_000, topics=wanted)
    assert (answer.error_code, answer.error_message, answer.topics) == (ErrorCode.none, None, ())


def describe_quorum(target: Target, *topics: tuple[str, int]) -> Any:
    wanted = [{"topic_name": name, "partitions": [{"partition_index": p}]} for name, p in topics]
    return target.call("DescribeQuorum", 0, None, topics=wanted)


@pytest.mark.api("DescribeQuorum", behaviour="the metadata quorum: leader, voters, high watermark")
def test_describe_quorum(target: Target) -> None:
    answer = describe_quorum(target, (METADATA, 0))
    assert answer.error_code == ErrorCode.none
    [part] = answer.topics[0].partitions
    assert part.error_code == ErrorCode.none
    voters = {v.replica_id: v for v in part.current_voters}
    assert part.leader_id in voters and part.leader_epoch >= 1
    assert voters[part.leader_id].log_end_offset >= part.high_watermark > 0
    assert not {o.replica_id for o in part.observers} & set(voters)
    for replica in [*part.current_voters, *part.observers]:
        assert replica.log_end_offset <= voters[part.leader_id].log_end_offset
        if hasattr(replica, "last_fetch_timestamp"):  # v1+
            assert replica.last_fetch_timestamp > 0


@pytest.mark.api(
    "DescribeQuorum", behaviour="another topic or partition: UNKNOWN_TOPIC_OR_PARTITION"
)
def test_describe_quorum_unknown_partition(target: Target) -> None:
    answer = describe_quorum(target, ("foo", 0), (METADATA, 3))
    for topic in answer.topics:
        [part] = topic.partitions
        assert part.error_code == ErrorCode.unknown_topic_or_partition
        assert (part.leader_id, part.leader_epoch, part.high_watermark) == (0, 0, 0)
        assert part.current_voters == () and part.observers == ()
        if hasattr(part, "error_message"):  # v2
            assert part.error_message == "This server does not host this topic-partition."
