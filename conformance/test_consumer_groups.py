"""KIP-848 consumer groups on the wire: ConsumerGroupHeartbeat and ConsumerGroupDescribe
(member epochs, the assignment by topic id, fencing, leaving), and OffsetCommit v9+ checked
against the member epoch."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target

HEARTBEAT = ("ConsumerGroupHeartbeat", 0, 1)
DESCRIBE = ("ConsumerGroupDescribe", 0, 1)


@pytest.fixture(autouse=True)
def coordinator_ready(target: Target) -> None:
    """FindCoordinator until the group coordinator is there (the first one creates
    __consumer_offsets), as a client does before its first group request."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = target.call("FindCoordinator", 0, 3, key="conform-cgroup", key_type=0)
        if found.error_code == ErrorCode.none:
            return
        time.sleep(0.1)  # the offsets topic is being created: ask again
    raise AssertionError("no group coordinator within 30 s")


def group_name() -> str:
    return f"conform-cgroup-{uuid.uuid4().hex[:10]}"


def heartbeat(target: Target, group: str, member_id: str, epoch: int, **fields: Any) -> Any:
    values = {
        "group_id": group,
        "member_id": member_id,
        "member_epoch": epoch,
        "instance_id": None,
        "rack_id": None,
        "rebalance_timeout": 30_000 if epoch == 0 else -1,
        "subscribed_topic_names": None,
        "subscribed_topic_regex": None,
        "server_assignor": None,
        "topic_partitions": [] if epoch == 0 else None,
        **fields,
    }
    return target.call(*HEARTBEAT, **values)


def joined(target: Target, group: str, topic: str) -> tuple[str, Any]:
    """A member joined with epoch 0 and heartbeated until it owns what it was given."""
    member_id = uuid.uuid4().hex[:22]
    answer = heartbeat(target, group, member_id, 0, subscribed_topic_names=[topic])
    assert answer.error_code == ErrorCode.none, answer
    return member_id, answer


@pytest.mark.api(
    "ConsumerGroupHeartbeat", behaviour="a first member gets epoch 1 and every partition"
)
def test_join_gets_every_partition(target: Target, topic3: str) -> None:
    group = group_name()
    _, answer = joined(target, group, topic3)
    assert answer.member_epoch >= 1 and answer.heartbeat_interval.total_seconds() > 0
    assert answer.assignment is not None
    (tp,) = answer.assignment.topic_partitions
    assert sorted(tp.partitions) == [0, 1, 2]


@pytest.mark.api(
    "ConsumerGroupHeartbeat", behaviour="an epoch ahead of the member's: FENCED_MEMBER_EPOCH"
)
def test_fenced_member_epoch(target: Target, topic: str) -> None:
    group = group_name()
    member_id, answer = joined(target, group, topic)
    fenced = heartbeat(target, group, member_id, answer.member_epoch + 10)
    assert fenced.error_code == ErrorCode.fenced_member_epoch


@pytest.mark.api("ConsumerGroupHeartbeat", behaviour="an unknown member id: UNKNOWN_MEMBER_ID")
def test_unknown_member(target: Target, topic: str) -> None:
    group = group_name()
    joined(target, group, topic)
    answer = heartbeat(target, group, uuid.uuid4().hex[:22], 1)
    assert answer.error_code == ErrorCode.unknown_member_id


@pytest.mark.api(
    "ConsumerGroupHeartbeat", behaviour="a first heartbeat without a subscription: INVALID_REQUEST"
)
def test_join_without_subscription(target: Target) -> None:
    answer = heartbeat(target, group_name(), uuid.uuid4().hex[:22], 0)
    assert answer.error_code == ErrorCode.invalid_request


@pytest.mark.api(
    "ConsumerGroupHeartbeat", behaviour="an unknown server assignor: UNSUPPORTED_ASSIGNOR"
)
def test_unsupported_assignor(target: Target, topic: str) -> None:
    answer = heartbeat(
        target, group_name(), uuid.uuid4().hex[:22], 0,
        subscribed_topic_names=[topic], server_assignor="no-such-assignor",
    )  # fmt: skip
    assert answer.error_code == ErrorCode.unsupported_assignor


@pytest.mark.api("ConsumerGroupHeartbeat", behaviour="member epoch -1 leaves the group")
def test_leave(target: Target, topic: str) -> None:
    group = group_name()
    member_id, _ = joined(target, group, topic)
    left = heartbeat(target, group, member_id, -1)
    assert (left.error_code, left.member_epoch) == (ErrorCode.none, -1)
    found = target.call(*DESCRIBE, group_ids=[group], include_authorized_operations=False)
    assert found.groups[0].members == ()
    assert found.groups[0].group_state == "Empty"


@pytest.mark.api("ConsumerGroupDescribe", behaviour="a member with its epoch and assignment")
def test_describe(target: Target, topic3: str) -> None:
    group = group_name()
    member_id, answer = joined(target, group, topic3)
    found = target.call(*DESCRIBE, group_ids=[group], include_authorized_operations=False)
    (g,) = found.groups
    assert (g.error_code, g.group_id, g.group_epoch) == (ErrorCode.none, group, answer.member_epoch)
    assert g.assignor_name == "uniform"
    (m,) = g.members
    assert (m.member_id, m.member_epoch, m.subscribed_topic_names) == (
        member_id, answer.member_epoch, (topic3,),
    )  # fmt: skip
    (tp,) = m.target_assignment.topic_partitions
    assert (tp.topic_name, sorted(tp.partitions)) == (topic3, [0, 1, 2])


@pytest.mark.api("ConsumerGroupDescribe", behaviour="an unknown group: GROUP_ID_NOT_FOUND")
def test_describe_unknown(target: Target) -> None:
    found = target.call(*DESCRIBE, group_ids=[group_name()], include_authorized_operations=False)
    assert found.groups[0].error_code == ErrorCode.group_id_not_found


@pytest.mark.api(
    "OffsetCommit", behaviour="consumer group: a stale member epoch: STALE_MEMBER_EPOCH"
)
def test_commit_with_member_epoch(target: Target, topic: str) -> None:
    group = group_name()
    member_id, answer = joined(target, group, topic)

    def commit(epoch: int) -> Any:
        found = target.call(
            "OffsetCommit", 9, 9,
            group_id=group, generation_id_or_member_epoch=epoch, member_id=member_id,
            group_instance_id=None, retention_time=-1,
            topics=[{"name": topic, "partitions": [
                {"partition_index": 0, "committed_offset": 0, "committed_leader_epoch": -1,
                 "committed_metadata": ""}]}],
        )  # fmt: skip
        return found.topics[0].partitions[0].error_code

    assert commit(answer.member_epoch) == ErrorCode.none
    assert commit(answer.member_epoch + 1) == ErrorCode.stale_member_epoch


@pytest.mark.api(
    "OffsetFetch", behaviour="consumer group, v9+: a stale member epoch: STALE_MEMBER_EPOCH"
)
def test_fetch_with_member_epoch(target: Target, topic: str) -> None:
    group = group_name()
    member_id, answer = joined(target, group, topic)

    def fetch(epoch: int) -> Any:
        found = target.call(
            "OffsetFetch", 9, 9, require_stable=False,
            groups=[{"group_id": group, "member_id": member_id, "member_epoch": epoch,
                     "topics": [{"name": topic, "partition_indexes": [0]}]}],
        )  # fmt: skip
        return found.groups[0].error_code

    assert fetch(answer.member_epoch) == ErrorCode.none
    assert fetch(answer.member_epoch + 1) == ErrorCode.stale_member_epoch
