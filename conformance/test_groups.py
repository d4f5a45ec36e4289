"""Classic consumer groups on the wire: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups (KIP-62, KIP-394)."""

from __future__ import annotations

import io
import struct
import uuid
from typing import Any

import pytest
from kio.schema.consumer_protocol_assignment.v0.data import ConsumerProtocolAssignment
from kio.schema.consumer_protocol_subscription.v0.data import ConsumerProtocolSubscription
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer

from conformance.target import Target, eventually, require_api, unique_topic
from conformance.wire import make

JOIN = ("JoinGroup", 2, 9)
COMMIT = ("OffsetCommit", 2, 8)
FETCH_OFFSETS = ("OffsetFetch", 1, 7)


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    buffer.write(struct.pack(">h", 0))  # the embedded protocol's version
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def subscription(*topics: str) -> bytes:
    return encode(ConsumerProtocolSubscription(topics=topics))


def assignment(topic: str, *partitions: int) -> bytes:
    value = {"assigned_partitions": [{"topic": topic, "partitions": list(partitions)}]}
    return encode(make(ConsumerProtocolAssignment, value))


def group_name() -> str:
    return f"conform-group-{uuid.uuid4().hex[:10]}"


def join(target: Target, group: str, topic: str, member_id: str = "", **overrides: Any) -> Any:
    """JoinGroup; on MEMBER_ID_REQUIRED (v4+) join again with the id the broker gave."""
    fields = {
        "group_id": group,
        "session_timeout": 10000,
        "rebalance_timeout": 10000,
        "member_id": member_id,
        "group_instance_id": None,
        "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": subscription(topic)}],
        "reason": None,
        **overrides,
    }
    answer = target.call(*JOIN, **fields)
    if answer.error_code == ErrorCode.member_id_required:
        answer = target.call(*JOIN, **{**fields, "member_id": answer.member_id})
    return answer


def sync(target: Target, group: str, joined: Any, plan: bytes = b"") -> Any:
    members = [{"member_id": joined.member_id, "assignment": plan}] if plan else []
    return target.call(
        "SyncGroup",
        0,
        5,
        group_id=group,
        generation_id=joined.generation_id,
        member_id=joined.member_id,
        group_instance_id=None,
        protocol_type="consumer",
        protocol_name="range",
        assignments=members,
    )


def stable_member(target: Target, group: str, topic: str) -> Any:
    joined = join(target, group, topic)
    assert joined.error_code == ErrorCode.none, joined
    assert sync(target, group, joined, assignment(topic, 0)).error_code == ErrorCode.none
    return joined


def heartbeat(target: Target, group: str, generation: int, member_id: str) -> Any:
    return target.call(
        "Heartbeat",
        0,
        4,
        group_id=group,
        generation_id=generation,
        member_id=member_id,
        group_instance_id=None,
    ).error_code


def commit(
    target: Target,
    group: str,
    topic: str,
    offset: int,
    generation: int = -1,
    member_id: str = "",
    metadata: str | None = "meta",
) -> Any:
    answer = target.call(
        *COMMIT,
        group_id=group,
        generation_id_or_member_epoch=generation,
        member_id=member_id,
        group_instance_id=None,
        retention_time=-1,
        topics=[
            {
                "name": topic,
                "partitions": [
                    {
                        "partition_index": 0,
                        "committed_offset": offset,
                        "committed_leader_epoch": -1,
                        "committed_metadata": metadata,
                    }
                ],
            }
        ],
    )
    return answer.topics[0].partitions[0].error_code


def fetch_offset(target: Target, group: str, topic: str) -> Any:
    answer = target.call(
        *FETCH_OFFSETS,
        group_id=group,
        require_stable=False,
        topics=[{"name": topic, "partition_indexes": [0]}],
    )
    return answer.topics[0].partitions[0]


def describe(target: Target, group: str) -> Any:
    answer = target.call(
        "DescribeGroups", 0, 5, groups=[group], include_authorized_operations=False
    )
    return answer.groups[0]


@pytest.mark.api("FindCoordinator", behaviour="a group's coordinator is a listed broker")
def test_find_coordinator(target: Target) -> None:
    """The first FindCoordinator of a cluster creates __consumer_offsets and answers
    COORDINATOR_NOT_AVAILABLE until its partitions have leaders: ask until it names one."""
    group = group_name()
    answer = eventually(
        lambda: target.call("FindCoordinator", 0, 3, key=group, key_type=0),
        lambda a: a.error_code != ErrorCode.coordinator_not_available,
    )
    brokers = target.call("Metadata", 1, 12, topics=[]).brokers
    assert answer.error_code == ErrorCode.none
    assert (answer.node_id, answer.host, answer.port) in {
        (b.node_id, b.host, b.port) for b in brokers
    }


@pytest.mark.api("JoinGroup", behaviour="v4+: first join without member id gets MEMBER_ID_REQUIRED")
def test_member_id_required(target: Target, topic: str) -> None:
    require_api(target, "JoinGroup", 4, 9)
    answer = target.call(
        *JOIN,
        group_id=group_name(),
        session_timeout=10000,
        rebalance_timeout=10000,
        member_id="",
        group_instance_id=None,
        protocol_type="consumer",
        reason=None,
        protocols=[{"name": "range", "metadata": subscription(topic)}],
    )
    assert answer.error_code == ErrorCode.member_id_required
    assert answer.member_id


@pytest.mark.api("JoinGroup", behaviour="a lone member becomes leader of generation 1")
def test_join_alone(target: Target, topic: str) -> None:
    joined = join(target, group_name(), topic)
    assert joined.error_code == ErrorCode.none
    assert joined.leader == joined.member_id and joined.generation_id == 1
    assert joined.protocol_name == "range"
    assert [m.member_id for m in joined.members] == [joined.member_id]


@pytest.mark.api("SyncGroup", behaviour="the leader's assignment is handed back to the member")
def test_sync_assignment(target: Target, topic: str) -> None:
    group = group_name()
    joined = join(target, group, topic)
    plan = assignment(topic, 0)
    answer = sync(target, group, joined, plan)
    assert (answer.error_code, answer.assignment) == (ErrorCode.none, plan)


@pytest.mark.api("Heartbeat", behaviour="a stable member's heartbeat is accepted")
def test_heartbeat(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    assert heartbeat(target, group, joined.generation_id, joined.member_id) == ErrorCode.none


@pytest.mark.api("Heartbeat", behaviour="wrong generation: ILLEGAL_GENERATION")
def test_heartbeat_wrong_generation(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    code = heartbeat(target, group, joined.generation_id + 5, joined.member_id)
    assert code == ErrorCode.illegal_generation


@pytest.mark.api("Heartbeat", behaviour="unknown member: UNKNOWN_MEMBER_ID")
def test_heartbeat_unknown_member(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    assert heartbeat(target, group, joined.generation_id, "nobody") == ErrorCode.unknown_member_id


@pytest.mark.api(
    "JoinGroup",
    behaviour="session timeout below group.min.session.timeout.ms: INVALID_SESSION_TIMEOUT",
)
def test_invalid_session_timeout(target: Target, topic: str) -> None:
    answer = join(target, group_name(), topic, session_timeout=1)
    assert answer.error_code == ErrorCode.invalid_session_timeout


@pytest.mark.api(
    "JoinGroup", behaviour="another protocol type than the group's: INCONSISTENT_GROUP_PROTOCOL"
)
def test_inconsistent_protocol(target: Target, topic: str) -> None:
    group = group_name()
    stable_member(target, group, topic)
    answer = join(
        target,
        group,
        topic,
        protocol_type="connect",
        protocols=[{"name": "other", "metadata": b"x"}],
    )
    assert answer.error_code == ErrorCode.inconsistent_group_protocol


@pytest.mark.api("JoinGroup", behaviour="empty group id: INVALID_GROUP_ID")
def test_empty_group_id(target: Target, topic: str) -> None:
    assert join(target, "", topic).error_code == ErrorCode.invalid_group_id


@pytest.mark.api("OffsetCommit", behaviour="a committed offset and its metadata are fetched back")
def test_commit_fetch(target: Target, topic: str) -> None:
    group = group_name()
    assert commit(target, group, topic, 42, metadata="hello") == ErrorCode.none
    found = fetch_offset(target, group, topic)
    assert (found.error_code, found.committed_offset, found.metadata) == (
        ErrorCode.none,
        42,
        "hello",
    )


@pytest.mark.api("OffsetCommit", behaviour="a member of the group commits with its generation")
def test_member_commit(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    code = commit(target, group, topic, 3, joined.generation_id, joined.member_id)
    assert code == ErrorCode.none
    assert fetch_offset(target, group, topic).committed_offset == 3


@pytest.mark.api("OffsetCommit", behaviour="stale generation: ILLEGAL_GENERATION")
def test_commit_stale_generation(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    code = commit(target, group, topic, 3, joined.generation_id + 3, joined.member_id)
    assert code == ErrorCode.illegal_generation


@pytest.mark.api("OffsetCommit", behaviour="unknown member of an active group: UNKNOWN_MEMBER_ID")
def test_commit_unknown_member(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    code = commit(target, group, topic, 3, joined.generation_id, "nobody")
    assert code == ErrorCode.unknown_member_id


@pytest.mark.api("OffsetCommit", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_commit_unknown_topic(target: Target) -> None:
    code = commit(target, group_name(), unique_topic("absent"), 1)
    assert code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("OffsetFetch", behaviour="nothing committed: offset -1, no error")
def test_fetch_nothing_committed(target: Target, topic: str) -> None:
    found = fetch_offset(target, group_name(), topic)
    assert (found.error_code, found.committed_offset) == (ErrorCode.none, -1)


@pytest.mark.api("DescribeGroups", behaviour="a stable group: state, protocol and its member")
def test_describe_stable(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    found = describe(target, group)
    assert (found.error_code, found.group_state, found.protocol_type, found.protocol_data) == (
        ErrorCode.none,
        "Stable",
        "consumer",
        "range",
    )
    assert [m.member_id for m in found.members] == [joined.member_id]


@pytest.mark.api("LeaveGroup", behaviour="the last member leaving empties the group")
def test_leave(target: Target, topic: str) -> None:
    group = group_name()
    joined = stable_member(target, group, topic)
    answer = target.call(
        "LeaveGroup",
        0,
        5,
        group_id=group,
        member_id=joined.member_id,
        members=[{"member_id": joined.member_id, "group_instance_id": None, "reason": None}],
    )
    assert answer.error_code == ErrorCode.none
    found = describe(target, group)
    assert (found.group_state, found.members) == ("Empty", ())


@pytest.mark.api("DescribeGroups", behaviour="unknown group: state Dead, no members")
@pytest.mark.observed
def test_describe_unknown(target: Target) -> None:
    found = describe(target, group_name())
    assert found.error_code in (ErrorCode.none, ErrorCode.group_id_not_found)
    assert found.members == ()
    if found.error_code == ErrorCode.none:
        assert found.group_state == "Dead"


@pytest.mark.api("ListGroups", behaviour="lists an active group with its protocol type")
def test_list_groups(target: Target, topic: str) -> None:
    group = group_name()
    stable_member(target, group, topic)
    answer = target.call("ListGroups", 0, 4, states_filter=[], types_filter=[])
    assert answer.error_code == ErrorCode.none
    assert (group, "consumer") in {(g.group_id, g.protocol_type) for g in answer.groups}
