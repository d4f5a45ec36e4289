"""Cluster probes: leaders, followers and leader epochs on a target of three or more brokers.

They skip (not fail) when Metadata lists fewer than three brokers. Each probe talks to one
broker by node id; KIP-951's hints (`current_leader` and `node_endpoints`, Produce v10+,
Fetch v16+) are checked where Kafka sends them.
"""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.cluster import (
    Placement,
    epoch_request,
    list_offsets_request,
    move_leader,
    on_leader,
    on_node,
    placement,
    replicated_topic,
    require_cluster,
    wait_known,
    wait_placement,
    wait_serving,
)
from conformance.probes import fetch_request, produce_request
from conformance.records import Record, build_batch, parse_batches
from conformance.target import Target, require_api, unique_topic

NOT_LEADER = ErrorCode.not_leader_or_follower


@pytest.fixture
def brokers(target: Target) -> dict[int, str]:
    return require_cluster(target)


@pytest.fixture
def replicated(target: Target, brokers: dict[int, str]) -> Placement:
    """A topic on three brokers, full ISR, with two records written at its first epoch."""
    p = replicated_topic(target)
    assert produce_to(target, p.leader, p.topic, b"a", b"b").error_code == ErrorCode.none
    return p


@pytest.fixture
def single(target: Target, brokers: dict[int, str]) -> tuple[Placement, int]:
    """A one-replica topic, and a live broker that is not its replica."""
    p = single_replica_topic(target)
    outsider = next(b for b in sorted(brokers) if b not in p.replicas)
    wait_known(target, outsider, p)
    return p, outsider


@pytest.fixture
def moved(target: Target, replicated: Placement) -> tuple[Placement, Placement]:
    """`replicated` before and after its leadership moved (a higher epoch), with one more
    record written at the new epoch: offsets 0-1 at the old epoch, 2 at the new."""
    after = move_leader(target, replicated)
    assert produce_to(target, after.leader, after.topic, b"c").error_code == ErrorCode.none
    return replicated, after


def produce_to(target: Target, node: int, topic: str, *values: bytes, lo: int = 3) -> Any:
    batch = build_batch([Record(v) for v in values])
    answer = on_node(target, node, "Produce", lo, 12, **produce_request(topic, batch))
    return answer.responses[0].partition_responses[0]


def fetch_from(
    target: Target,
    node: int,
    p: Placement,
    lo: int = 4,
    hi: int = 12,
    epoch: int = -1,
    replica_id: int = -1,
) -> tuple[Any, Any]:
    """Fetch partition 0 of `p` from broker `node`: (the response, the partition's data)."""
    request = fetch_request(p.topic, 0)
    request["replica_id"] = replica_id
    request["replica_state"] = {"replica_id": replica_id, "replica_epoch": -1}
    request["topics"][0]["topic_id"] = p.topic_id
    request["topics"][0]["partitions"][0]["current_leader_epoch"] = epoch
    answer = on_node(target, node, "Fetch", lo, hi, **request)
    return answer, answer.responses[0].partitions[0]


def assert_leader_hint(answer: Any, data: Any, p: Placement, brokers: dict[int, str]) -> None:
    """KIP-951: the partition names its leader and epoch; the response has its endpoint."""
    hint = data.current_leader
    assert (hint.leader_id, hint.leader_epoch) == (p.leader, p.leader_epoch), hint
    endpoints = {int(e.node_id): f"{e.host}:{e.port}" for e in answer.node_endpoints}
    assert endpoints == {p.leader: brokers[p.leader]}, answer.node_endpoints


@pytest.mark.api("Metadata", behaviour="cluster: leader, three replicas, full ISR, no offline")
def test_metadata_replicas(target: Target, brokers: dict[int, str]) -> None:
    p = replicated_topic(target)
    assert len(p.replicas) == 3 and len(set(p.replicas)) == 3
    assert set(p.replicas) <= set(brokers) and p.leader in p.replicas
    assert set(p.isr) == set(p.replicas) and p.leader_epoch >= 0
    assert not target.metadata_topic(p.topic).partitions[0].offline_replicas


@pytest.mark.api("Metadata", behaviour="cluster: every broker reports the same leader and epoch")
def test_metadata_agrees(target: Target, replicated: Placement) -> None:
    """Each broker applies the controller's records on its own: ask each once it knows."""
    for node in replicated.replicas:
        wait_known(target, node, replicated)
        answer = on_node(
            target, node, "Metadata", 7, 12, topics=[{"name": replicated.topic, "topic_id": None}]
        )
        partition = answer.topics[0].partitions[0]
        assert (partition.leader_id, partition.leader_epoch) == (
            replicated.leader,
            replicated.leader_epoch,
        )


@pytest.mark.api("Produce", behaviour="cluster: to a follower: NOT_LEADER_OR_FOLLOWER")
def test_produce_to_follower(target: Target, replicated: Placement) -> None:
    answer = produce_to(target, replicated.follower(), replicated.topic, b"x")
    assert (answer.error_code, answer.base_offset) == (NOT_LEADER, -1)


@pytest.mark.api("Produce", behaviour="cluster: to a non-replica: NOT_LEADER_OR_FOLLOWER")
def test_produce_to_non_replica(target: Target, single: tuple[Placement, int]) -> None:
    p, outsider = single
    assert produce_to(target, outsider, p.topic, b"x").error_code == NOT_LEADER


@pytest.mark.api(
    "Produce", behaviour="cluster: NOT_LEADER_OR_FOLLOWER names the leader (v10+, KIP-951)"
)
@pytest.mark.parametrize("role", ["follower", "non-replica"])
def test_produce_leader_hint(
    target: Target, brokers: dict[int, str], replicated: Placement, role: str
) -> None:
    p, node = replicated, replicated.follower()
    if role == "non-replica":
        single = single_replica_topic(target)
        p, node = single, next(b for b in sorted(brokers) if b not in single.replicas)
        wait_known(target, node, p)  # else it may not know the topic: UNKNOWN_TOPIC_OR_PARTITION
    version = require_api(target, "Produce", 10, 12)
    batch = build_batch([Record(b"x")])
    answer = on_node(target, node, "Produce", version, version, **produce_request(p.topic, batch))
    data = answer.responses[0].partition_responses[0]
    assert data.error_code == NOT_LEADER
    assert_leader_hint(answer, data, p, brokers)


def single_replica_topic(target: Target) -> Placement:
    name = unique_topic("cluster")
    target.create_topic(name, 1)
    return wait_placement(target, name, lambda q: q.leader >= 0, "led")


@pytest.mark.api("Produce", behaviour="cluster: success carries no leader hint (v10+)")
def test_produce_success_no_hint(target: Target, replicated: Placement) -> None:
    version = require_api(target, "Produce", 10, 12)
    batch = build_batch([Record(b"x")])
    request = produce_request(replicated.topic, batch)
    answer = on_leader(target, replicated, "Produce", version, version, **request)
    data = answer.responses[0].partition_responses[0]
    assert data.error_code == ErrorCode.none and data.base_offset == 2
    assert (data.current_leader.leader_id, data.current_leader.leader_epoch) == (-1, -1)
    assert not answer.node_endpoints


@pytest.mark.api("Fetch", behaviour="cluster: a consumer may fetch from a follower (KIP-392)")
@pytest.mark.observed
def test_fetch_from_follower(target: Target, replicated: Placement) -> None:
    _, leader_data = fetch_from(target, replicated.leader, replicated)
    _, data = fetch_from(target, replicated.follower(), replicated)
    assert data.error_code == ErrorCode.none
    assert 0 <= data.high_watermark <= leader_data.high_watermark == 2
    assert len([r for b in parse_batches(data.records) for r in b.records]) <= 2


@pytest.mark.api("Fetch", behaviour="cluster: from a non-replica: NOT_LEADER_OR_FOLLOWER")
def test_fetch_from_non_replica(target: Target, single: tuple[Placement, int]) -> None:
    p, outsider = single
    _, data = fetch_from(target, outsider, p)
    assert data.error_code == NOT_LEADER and not parse_batches(data.records)


@pytest.mark.api(
    "Fetch", behaviour="cluster: NOT_LEADER_OR_FOLLOWER names the leader (v16+, KIP-951)"
)
def test_fetch_leader_hint(
    target: Target, brokers: dict[int, str], single: tuple[Placement, int]
) -> None:
    p, outsider = single
    answer, data = fetch_from(target, outsider, p, lo=16, hi=16)
    assert data.error_code == NOT_LEADER
    assert_leader_hint(answer, data, p, brokers)


@pytest.mark.api(
    "Fetch", behaviour="cluster: replica fetch by a broker outside the replicas: NOT_LEADER"
)
@pytest.mark.observed
@pytest.mark.parametrize("hi", [12, 17])
def test_replica_fetch_from_non_replica(
    target: Target, single: tuple[Placement, int], hi: int
) -> None:
    p, outsider = single
    _, data = fetch_from(target, p.leader, p, lo=min(hi, 15), hi=hi, replica_id=outsider)
    assert data.error_code == NOT_LEADER and not parse_batches(data.records)


@pytest.mark.api("ListOffsets", behaviour="cluster: on a follower: NOT_LEADER_OR_FOLLOWER")
def test_list_offsets_on_follower(target: Target, replicated: Placement) -> None:
    node = replicated.follower()
    answer = on_node(target, node, "ListOffsets", 1, None, **list_offsets_request(replicated.topic))
    assert answer.topics[0].partitions[0].error_code == NOT_LEADER


@pytest.mark.api("OffsetForLeaderEpoch", behaviour="current epoch: the log end offset")
def test_epoch_end_current(target: Target, replicated: Placement) -> None:
    request = epoch_request(replicated.topic, replicated.leader_epoch, replicated.leader_epoch)
    answer = on_leader(target, replicated, "OffsetForLeaderEpoch", 2, None, **request)
    end = answer.topics[0].partitions[0]
    assert (end.error_code, end.leader_epoch, end.end_offset) == (
        ErrorCode.none,
        replicated.leader_epoch,
        2,
    )


@pytest.mark.api("OffsetForLeaderEpoch", behaviour="older epoch: where the next epoch starts")
def test_epoch_end_older(target: Target, moved: tuple[Placement, Placement]) -> None:
    before, after = moved
    for epoch, expected in ((before.leader_epoch, 2), (after.leader_epoch, 3)):
        request = epoch_request(after.topic, epoch, after.leader_epoch)
        answer = on_leader(target, after, "OffsetForLeaderEpoch", 2, None, **request)
        end = answer.topics[0].partitions[0]
        assert (end.error_code, end.leader_epoch, end.end_offset) == (
            ErrorCode.none,
            epoch,
            expected,
        )


@pytest.mark.api(
    "OffsetForLeaderEpoch", behaviour="an epoch after the current one: undefined (-1, -1)"
)
@pytest.mark.observed
def test_epoch_end_future(target: Target, replicated: Placement) -> None:
    request = epoch_request(replicated.topic, replicated.leader_epoch + 3)
    answer = on_leader(target, replicated, "OffsetForLeaderEpoch", 2, None, **request)
    end = answer.topics[0].partitions[0]
    assert (end.error_code, end.leader_epoch, end.end_offset) == (ErrorCode.none, -1, -1)


@pytest.mark.api(
    "OffsetForLeaderEpoch", behaviour="current_leader_epoch ahead: UNKNOWN_LEADER_EPOCH"
)
def test_epoch_end_unknown_current(target: Target, replicated: Placement) -> None:
    epoch = replicated.leader_epoch
    request = epoch_request(replicated.topic, epoch, epoch + 1)
    answer = on_leader(target, replicated, "OffsetForLeaderEpoch", 2, None, **request)
    assert answer.topics[0].partitions[0].error_code == ErrorCode.unknown_leader_epoch


@pytest.mark.api(
    "OffsetForLeaderEpoch", behaviour="current_leader_epoch behind: FENCED_LEADER_EPOCH"
)
def test_epoch_end_fenced(target: Target, moved: tuple[Placement, Placement]) -> None:
    before, after = moved
    request = epoch_request(after.topic, before.leader_epoch, before.leader_epoch)
    answer = on_leader(target, after, "OffsetForLeaderEpoch", 2, None, **request)
    assert answer.topics[0].partitions[0].error_code == ErrorCode.fenced_leader_epoch


@pytest.mark.api("OffsetForLeaderEpoch", behaviour="on a follower: NOT_LEADER_OR_FOLLOWER")
def test_epoch_end_on_follower(target: Target, replicated: Placement) -> None:
    request = epoch_request(replicated.topic, replicated.leader_epoch)
    answer = on_node(target, replicated.follower(), "OffsetForLeaderEpoch", 2, None, **request)
    assert answer.topics[0].partitions[0].error_code == NOT_LEADER


@pytest.mark.api("Fetch", behaviour="current_leader_epoch behind: FENCED_LEADER_EPOCH")
def test_fetch_fenced_epoch(target: Target, moved: tuple[Placement, Placement]) -> None:
    before, after = moved
    _, data = fetch_from(target, after.leader, after, epoch=before.leader_epoch)
    assert data.error_code == ErrorCode.fenced_leader_epoch


@pytest.mark.api(
    "Fetch", behaviour="FENCED_LEADER_EPOCH names the leader and its epoch (v16+, KIP-951)"
)
def test_fetch_fenced_hint(
    target: Target, brokers: dict[int, str], moved: tuple[Placement, Placement]
) -> None:
    before, after = moved
    answer, data = fetch_from(target, after.leader, after, 16, 16, epoch=before.leader_epoch)
    assert data.error_code == ErrorCode.fenced_leader_epoch
    assert_leader_hint(answer, data, after, brokers)


@pytest.mark.api("Fetch", behaviour="current_leader_epoch ahead: UNKNOWN_LEADER_EPOCH")
def test_fetch_unknown_epoch(target: Target, replicated: Placement) -> None:
    _, data = fetch_from(target, replicated.leader, replicated, epoch=replicated.leader_epoch + 1)
    assert data.error_code == ErrorCode.unknown_leader_epoch


@pytest.mark.api("Fetch", behaviour="current_leader_epoch equal: the records")
def test_fetch_current_epoch(target: Target, replicated: Placement) -> None:
    _, data = fetch_from(target, replicated.leader, replicated, epoch=replicated.leader_epoch)
    assert data.error_code == ErrorCode.none and data.high_watermark == 2


@pytest.mark.api("ListOffsets", behaviour="current_leader_epoch behind: FENCED_LEADER_EPOCH")
def test_list_offsets_fenced_epoch(target: Target, moved: tuple[Placement, Placement]) -> None:
    before, after = moved
    request = list_offsets_request(after.topic, before.leader_epoch)
    answer = on_leader(target, after, "ListOffsets", 4, None, **request)
    assert answer.topics[0].partitions[0].error_code == ErrorCode.fenced_leader_epoch


@pytest.mark.api("ListOffsets", behaviour="current_leader_epoch ahead: UNKNOWN_LEADER_EPOCH")
def test_list_offsets_unknown_epoch(target: Target, replicated: Placement) -> None:
    request = list_offsets_request(replicated.topic, replicated.leader_epoch + 1)
    answer = on_leader(target, replicated, "ListOffsets", 4, None, **request)
    assert answer.topics[0].partitions[0].error_code == ErrorCode.unknown_leader_epoch


@pytest.mark.api("ListOffsets", behaviour="after a leader change: latest and the new epoch")
def test_list_offsets_after_move(target: Target, moved: tuple[Placement, Placement]) -> None:
    _, after = moved
    request = list_offsets_request(after.topic, after.leader_epoch)
    answer = on_leader(target, after, "ListOffsets", 4, None, **request)
    partition = answer.topics[0].partitions[0]
    assert (partition.error_code, partition.offset, partition.leader_epoch) == (
        ErrorCode.none,
        3,
        after.leader_epoch,
    )


@pytest.mark.api("ElectLeaders", behaviour="preferred election moves the leader, epoch + 1")
def test_preferred_election(target: Target, moved: tuple[Placement, Placement]) -> None:
    before, after = moved
    assert after.leader == before.replicas[1] and after.leader_epoch > before.leader_epoch
    assert set(after.replicas) == set(before.replicas)
    wait_serving(target, after)
    assert placement(target, after.topic).leader == after.leader


@pytest.mark.api(
    "Produce", behaviour="acks=all, min.insync.replicas above the replicas: accepted (capped)"
)
@pytest.mark.observed
def test_min_isr_above_replication_factor(target: Target, brokers: dict[int, str]) -> None:
    p = replicated_topic(target, {"min.insync.replicas": "4"})
    batch = build_batch([Record(b"x")])
    for acks, offset in ((-1, 0), (1, 1)):
        request = produce_request(p.topic, batch, acks=acks)
        answer = on_leader(target, p, "Produce", 3, 12, **request)
        data = answer.responses[0].partition_responses[0]
        assert (data.error_code, data.base_offset) == (ErrorCode.none, offset)


@pytest.mark.api(
    "AlterReplicaLogDirs", behaviour="cluster: on a non-replica: REPLICA_NOT_AVAILABLE"
)
def test_alter_replica_log_dirs_on_non_replica(
    target: Target, single: tuple[Placement, int]
) -> None:
    p, outsider = single
    dirs = on_node(target, outsider, "DescribeLogDirs", 1, None, topics=None)
    path = dirs.results[0].log_dir
    wanted = [{"path": path, "topics": [{"name": p.topic, "partitions": [0]}]}]
    answer = on_node(target, outsider, "AlterReplicaLogDirs", 1, None, dirs=wanted)
    [result] = answer.results
    [found] = result.partitions
    assert found.error_code == ErrorCode.replica_not_available
