"""The request versions Apache Kafka 4.x serves beyond 3.x (issue 12's version parity):
Produce v13, OffsetCommit v10 and OffsetFetch v10 name topics by id (KIP-516, KIP-848),
Metadata v13 has a top-level error code (KIP-1102), Fetch v18 (KIP-1166), FindCoordinator v6
(share groups' key type, KIP-932), DescribeCluster v2 (fenced brokers, KIP-1073), ApiVersions
v5 (the cluster and broker the client expects) and DeleteGroups v3 (a message per result).

Each probe runs at exactly the new version; a target that does not advertise it counts the
probe as *not supported*.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import fetch_request, produce_request
from conformance.records import Record, build_batch, parse_batches
from conformance.target import API_KEYS, Target, eventually, require_api
from conformance.wire import build


def topic_id(target: Target, topic: str) -> uuid.UUID:
    found = target.metadata_topic(topic)
    assert found is not None and found.topic_id is not None, found
    return uuid.UUID(str(found.topic_id))


def values(records: bytes | None) -> list[bytes | None]:
    return [r.value for b in parse_batches(records) for r in b.records]


def call_at(target: Target, api: str, version: int, **fields: Any) -> Any:
    """The request at exactly ``version`` (skipped as not supported if not advertised)."""
    return target.call(api, version, version, **fields)


def by_id(request: dict[str, Any], key: str, topic: str, tid: uuid.UUID) -> dict[str, Any]:
    """``request`` with its one topic (under ``key``) named by id instead of by name."""
    (entry,) = request[key]
    return {**request, key: [{**entry, "name": None, "topic": None, "topic_id": tid}]}


@pytest.mark.api("Produce", behaviour="v13: a topic named by id is appended to, answered by id")
def test_produce_by_topic_id(target: Target, topic: str) -> None:
    tid = topic_id(target, topic)
    request = by_id(
        produce_request(topic, build_batch([Record(b"by-id")])), "topic_data", topic, tid
    )
    answer = call_at(target, "Produce", 13, **request)
    (response,) = answer.responses
    assert response.topic_id == tid
    (partition,) = response.partition_responses
    assert (partition.error_code, partition.base_offset) == (ErrorCode.none, 0)
    fetched = target.call("Fetch", 4, 12, **fetch_request(topic, 0))
    assert values(fetched.responses[0].partitions[0].records) == [b"by-id"]


@pytest.mark.api("Produce", behaviour="v13: an unknown topic id gets UNKNOWN_TOPIC_ID")
def test_produce_unknown_topic_id(target: Target) -> None:
    stranger = uuid.uuid4()
    request = by_id(produce_request("x", build_batch([Record(b"v")])), "topic_data", "x", stranger)
    (response,) = call_at(target, "Produce", 13, **request).responses
    assert response.topic_id == stranger
    assert response.partition_responses[0].error_code == ErrorCode.unknown_topic_id


@pytest.mark.api("Fetch", behaviour="v18: a consumer fetch by topic id returns the records")
def test_fetch_v18_by_topic_id(target: Target, topic: str) -> None:
    target.call("Produce", 3, 12, **produce_request(topic, build_batch([Record(b"v18")])))
    tid = topic_id(target, topic)
    answer = call_at(target, "Fetch", 18, **by_id(fetch_request(topic, 0), "topics", topic, tid))
    assert answer.error_code == ErrorCode.none
    (response,) = answer.responses
    assert response.topic_id == tid
    (partition,) = response.partitions
    assert (partition.error_code, partition.high_watermark) == (ErrorCode.none, 1)
    assert values(partition.records) == [b"v18"]


@pytest.mark.api("Fetch", behaviour="v18: an unknown topic id gets UNKNOWN_TOPIC_ID")
def test_fetch_v18_unknown_topic_id(target: Target) -> None:
    stranger = uuid.uuid4()
    request = by_id(fetch_request("x", 0, max_wait_ms=0), "topics", "x", stranger)
    (response,) = call_at(target, "Fetch", 18, **request).responses
    assert response.topic_id == stranger
    assert response.partitions[0].error_code == ErrorCode.unknown_topic_id


def metadata_v13(target: Target, topics: list[dict[str, Any]] | None) -> Any:
    return call_at(
        target,
        "Metadata",
        13,
        topics=topics,
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )


@pytest.mark.api("Metadata", behaviour="v13: the top-level error code is none, topics as before")
def test_metadata_v13(target: Target, topic: str) -> None:
    answer = metadata_v13(target, [{"name": topic, "topic_id": None}])
    assert answer.error_code == ErrorCode.none
    (found,) = answer.topics
    assert (found.error_code, found.name, len(found.partitions)) == (ErrorCode.none, topic, 1)
    assert answer.brokers and answer.cluster_id == target.cluster_id


@pytest.mark.api("Metadata", behaviour="v13: by topic id; an unknown id gets UNKNOWN_TOPIC_ID")
def test_metadata_v13_by_topic_id(target: Target, topic: str) -> None:
    tid, stranger = topic_id(target, topic), uuid.uuid4()
    answer = metadata_v13(target, [{"name": None, "topic_id": i} for i in (tid, stranger)])
    assert answer.error_code == ErrorCode.none
    found = {t.topic_id: (t.error_code, t.name) for t in answer.topics}
    assert found == {tid: (ErrorCode.none, topic), stranger: (ErrorCode.unknown_topic_id, None)}


def group_name() -> str:
    return f"conform-v10-{uuid.uuid4().hex[:10]}"


def wait_coordinator(target: Target, group: str) -> None:
    """Until FindCoordinator names one and it has loaded the group's offsets partition: the
    first FindCoordinator creates __consumer_offsets, whose new partitions answer
    COORDINATOR_LOAD_IN_PROGRESS a moment longer."""
    found = eventually(
        lambda: target.call("FindCoordinator", 0, 3, key=group, key_type=0),
        lambda a: a.error_code == ErrorCode.none,
    )
    assert found.error_code == ErrorCode.none, f"no coordinator for {group}: {found}"
    fields = {"group_id": group, "topics": None, "require_stable": False}
    request = build(API_KEYS["OffsetFetch"], require_api(target, "OffsetFetch", 2, 7), **fields)
    loaded = eventually(
        lambda: target.request_to(int(found.node_id), request),
        lambda a: a.error_code != ErrorCode.coordinator_load_in_progress,
    )
    assert loaded.error_code == ErrorCode.none, f"{group}'s coordinator: {loaded}"


def commit_v10(target: Target, group: str, *topics: tuple[uuid.UUID, int]) -> Any:
    """OffsetCommit v10 (topics by id) outside any generation: (topic id, offset) each."""
    return call_at(
        target,
        "OffsetCommit",
        10,
        group_id=group,
        generation_id_or_member_epoch=-1,
        member_id="",
        group_instance_id=None,
        topics=[
            {
                "topic_id": tid,
                "partitions": [
                    {
                        "partition_index": 0,
                        "committed_offset": offset,
                        "committed_leader_epoch": -1,
                        "committed_metadata": "v10",
                    }
                ],
            }
            for tid, offset in topics
        ],
    )


def fetch_offsets_v10(target: Target, group: str, topics: list[uuid.UUID] | None) -> Any:
    wanted = None if topics is None else [{"topic_id": t, "partition_indexes": [0]} for t in topics]
    answer = call_at(
        target,
        "OffsetFetch",
        10,
        groups=[{"group_id": group, "member_id": None, "member_epoch": -1, "topics": wanted}],
        require_stable=False,
    )
    (found,) = answer.groups
    assert found.error_code == ErrorCode.none, found
    return {t.topic_id: t.partitions[0] for t in found.topics}


@pytest.mark.api(
    "OffsetCommit", behaviour="v10: commit by topic id; an unknown id: UNKNOWN_TOPIC_ID"
)
def test_offset_commit_v10_by_topic_id(target: Target, topic: str) -> None:
    require_api(target, "OffsetCommit", 10, 10)
    group, tid, stranger = group_name(), topic_id(target, topic), uuid.uuid4()
    wait_coordinator(target, group)
    answer = commit_v10(target, group, (tid, 7), (stranger, 1))
    errors = {t.topic_id: t.partitions[0].error_code for t in answer.topics}
    assert errors == {tid: ErrorCode.none, stranger: ErrorCode.unknown_topic_id}


@pytest.mark.api("OffsetFetch", behaviour="v10: fetch by topic id; an unknown id: UNKNOWN_TOPIC_ID")
def test_offset_fetch_v10_by_topic_id(target: Target, topic: str) -> None:
    require_api(target, "OffsetFetch", 10, 10)
    require_api(target, "OffsetCommit", 10, 10)
    group, tid, stranger = group_name(), topic_id(target, topic), uuid.uuid4()
    wait_coordinator(target, group)
    commit_v10(target, group, (tid, 7))
    found = fetch_offsets_v10(target, group, [tid, stranger])
    assert (found[tid].error_code, found[tid].committed_offset, found[tid].metadata) == (
        ErrorCode.none,
        7,
        "v10",
    )
    assert (found[stranger].error_code, found[stranger].committed_offset) == (
        ErrorCode.unknown_topic_id,
        -1,
    )


@pytest.mark.api("OffsetFetch", behaviour="v10: all of a group's offsets, each topic by its id")
def test_offset_fetch_v10_all_topics(target: Target, topic: str) -> None:
    require_api(target, "OffsetFetch", 10, 10)
    require_api(target, "OffsetCommit", 10, 10)
    group, tid = group_name(), topic_id(target, topic)
    wait_coordinator(target, group)
    commit_v10(target, group, (tid, 9))
    found = fetch_offsets_v10(target, group, None)
    assert list(found) == [tid] and found[tid].committed_offset == 9


def find_coordinators_v6(target: Target, key_type: int, *keys: str) -> Any:
    answer = call_at(target, "FindCoordinator", 6, key_type=key_type, coordinator_keys=list(keys))
    return {c.key: c for c in answer.coordinators}


@pytest.mark.api("FindCoordinator", behaviour="v6: a group's coordinator is a listed broker")
def test_find_coordinator_v6_group(target: Target) -> None:
    group = group_name()
    require_api(target, "FindCoordinator", 6, 6)
    wait_coordinator(target, group)
    found = find_coordinators_v6(target, 0, group)[group]
    brokers = target.call("Metadata", 1, 12, topics=[]).brokers
    assert found.error_code == ErrorCode.none
    assert (found.node_id, found.host, found.port) in {(b.node_id, b.host, b.port) for b in brokers}


@pytest.mark.api(
    "FindCoordinator", behaviour="v6: a malformed share key or unknown type: INVALID_REQUEST"
)
def test_find_coordinator_v6_invalid_keys(target: Target) -> None:
    share = find_coordinators_v6(target, 2, "not-a-share-key")["not-a-share-key"]
    unknown = find_coordinators_v6(target, 3, "k")["k"]
    assert (share.error_code, share.node_id) == (ErrorCode.invalid_request, -1)
    assert (unknown.error_code, unknown.node_id) == (ErrorCode.invalid_request, -1)


@pytest.mark.api(
    "DescribeCluster", behaviour="v2: with fenced brokers asked for, each says is_fenced"
)
def test_describe_cluster_v2(target: Target) -> None:
    metadata = target.call("Metadata", 1, 12, topics=[])
    expected = {(b.node_id, b.host, b.port) for b in metadata.brokers}
    for include in (False, True):
        answer = call_at(
            target,
            "DescribeCluster",
            2,
            include_cluster_authorized_operations=False,
            endpoint_type=1,
            include_fenced_brokers=include,
        )
        assert answer.error_code == ErrorCode.none
        assert {(b.broker_id, b.host, b.port) for b in answer.brokers} == expected
        assert not any(b.is_fenced for b in answer.brokers)


def api_versions_v5(target: Target, cluster_id: str | None, node_id: int) -> Any:
    return call_at(
        target,
        "ApiVersions",
        5,
        client_software_name="refka-conformance",
        client_software_version="1",
        cluster_id=cluster_id,
        node_id=node_id,
    )


@pytest.mark.api("ApiVersions", behaviour="v5: the expected cluster and broker: the full answer")
def test_api_versions_v5_expected_broker(target: Target) -> None:
    require_api(target, "ApiVersions", 5, 5)
    assert target.node_id is not None
    for cluster_id, node_id in ((target.cluster_id, target.node_id), (None, -1)):
        answer = api_versions_v5(target, cluster_id, node_id)
        assert answer.error_code == ErrorCode.none
        ranges = {a.api_key: (a.min_version, a.max_version) for a in answer.api_keys}
        assert ranges == target.api_ranges


@pytest.mark.observed
@pytest.mark.api("ApiVersions", behaviour="v5: another cluster or broker: REBOOTSTRAP_REQUIRED")
def test_api_versions_v5_unexpected_broker(target: Target) -> None:
    require_api(target, "ApiVersions", 5, 5)
    assert target.node_id is not None
    for cluster_id, node_id in (("another-cluster", target.node_id), (target.cluster_id, 999)):
        answer = api_versions_v5(target, cluster_id, node_id)
        assert (answer.error_code, answer.api_keys) == (ErrorCode.rebootstrap_required, ())


@pytest.mark.observed
@pytest.mark.api(
    "ApiVersions", behaviour="v5: a cluster id without a node id (or not): INVALID_REQUEST"
)
def test_api_versions_v5_half_identity(target: Target) -> None:
    require_api(target, "ApiVersions", 5, 5)
    for cluster_id, node_id in ((target.cluster_id, -1), (None, 1)):
        answer = api_versions_v5(target, cluster_id, node_id)
        assert (answer.error_code, answer.api_keys) == (ErrorCode.invalid_request, ())


def delete_groups_v3(target: Target, *groups: str) -> dict[str, Any]:
    answer = call_at(target, "DeleteGroups", 3, groups_names=list(groups))
    return {r.group_id: r for r in answer.results}


@pytest.mark.api("DeleteGroups", behaviour="v3: an unknown group: GROUP_ID_NOT_FOUND, no message")
def test_delete_groups_v3_unknown(target: Target) -> None:
    group = group_name()
    require_api(target, "DeleteGroups", 3, 3)
    wait_coordinator(target, group)
    found = delete_groups_v3(target, group)[group]
    assert (found.error_code, found.error_message) == (ErrorCode.group_id_not_found, None)


@pytest.mark.api("DeleteGroups", behaviour="v3: a group with only offsets is deleted with them")
def test_delete_groups_v3_with_offsets(target: Target, topic: str) -> None:
    require_api(target, "DeleteGroups", 3, 3)
    require_api(target, "OffsetCommit", 10, 10)
    group, tid = group_name(), topic_id(target, topic)
    wait_coordinator(target, group)
    commit_v10(target, group, (tid, 4))
    found = delete_groups_v3(target, group)[group]
    assert (found.error_code, found.error_message) == (ErrorCode.none, None)
    assert fetch_offsets_v10(target, group, [tid])[tid].committed_offset == -1
