"""Helpers for the cluster probes: replicated topics, per-broker requests, a leader change.

A probe on a cluster talks to one broker by node id (`Target.connect_to`). The helpers here
make a topic replicated to three brokers and wait until its ISR is full, find a follower and
a broker outside the replica set, and move leadership with the admin APIs a client has
(AlterPartitionReassignments to put another replica first, then a preferred ElectLeaders,
KIP-455/KIP-460), which bumps the partition's leader epoch without stopping a broker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import API_KEYS, Target, require_api, unique_topic
from conformance.wire import build

CLUSTER_SIZE = 3
CONVERGE_S = 20.0


@dataclass(frozen=True)
class Placement:
    """Where one partition lives, as Metadata says after it converged."""

    topic: str
    topic_id: Any
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    def follower(self) -> int:
        return next(r for r in self.replicas if r != self.leader)


def require_cluster(target: Target) -> dict[int, str]:
    """The brokers of a cluster of at least three; skip (with the reason) on anything less."""
    brokers = target.brokers()
    if len(brokers) < CLUSTER_SIZE:
        pytest.skip(
            f"not a cluster: Metadata lists {len(brokers)} broker(s), "
            f"the cluster probes need {CLUSTER_SIZE} or more"
        )
    return brokers


def placement(target: Target, topic: str) -> Placement:
    meta = target.metadata_topic(topic)
    assert meta is not None and meta.error_code == ErrorCode.none, meta
    p = meta.partitions[0]
    return Placement(
        topic,
        getattr(meta, "topic_id", None),
        int(p.leader_id),
        int(p.leader_epoch),
        tuple(int(r) for r in p.replica_nodes),
        tuple(int(r) for r in p.isr_nodes),
    )


def wait_placement(target: Target, topic: str, ok: Any, what: str) -> Placement:
    """Poll Metadata until `ok(placement)` holds; fail after `CONVERGE_S`."""
    end = time.monotonic() + CONVERGE_S
    while True:
        found = placement(target, topic)
        if ok(found):
            return found
        if time.monotonic() > end:
            raise AssertionError(f"{topic}: not {what} after {CONVERGE_S}s: {found}")
        time.sleep(0.1)


def in_sync(p: Placement) -> bool:
    return p.leader >= 0 and set(p.isr) == set(p.replicas)


def replicated_topic(target: Target, configs: dict[str, str] | None = None) -> Placement:
    """A new one-partition topic on three brokers, once its ISR holds all three."""
    name = unique_topic("cluster")
    target.create_topic(name, 1, configs, replication_factor=CLUSTER_SIZE)
    return wait_placement(target, name, in_sync, "fully in sync")


def on_leader(target: Target, p: Placement, api: str, lo: int, hi: int | None, **f: Any) -> Any:
    return on_node(target, p.leader, api, lo, hi, **f)


def on_node(target: Target, node: int, api: str, lo: int, hi: int | None, **f: Any) -> Any:
    """`api` at the best common version in [lo, hi], sent to broker `node`."""
    version = require_api(target, api, lo, hi)
    return target.request_to(node, build(API_KEYS[api], version, **f))


def list_offsets_request(topic: str, epoch: int = -1, timestamp: int = -1) -> dict[str, Any]:
    return {
        "replica_id": -1,
        "isolation_level": 0,
        "timeout": 5000,
        "topics": [
            {
                "name": topic,
                "partitions": [
                    {"partition_index": 0, "current_leader_epoch": epoch, "timestamp": timestamp}
                ],
            }
        ],
    }


def epoch_request(topic: str, leader_epoch: int, current: int = -1) -> dict[str, Any]:
    """OffsetForLeaderEpoch as a consumer asks it (replica id -1)."""
    partition = {"partition": 0, "current_leader_epoch": current, "leader_epoch": leader_epoch}
    return {"replica_id": -1, "topics": [{"topic": topic, "partitions": [partition]}]}


def move_leader(target: Target, p: Placement) -> Placement:
    """Make the next replica the preferred leader and elect it; wait until it leads."""
    require_api(target, "AlterPartitionReassignments", 0)
    require_api(target, "ElectLeaders", 1)
    order = [*p.replicas[1:], p.replicas[0]]
    moved = target.call(
        "AlterPartitionReassignments",
        0,
        None,
        timeout=10000,
        allow_replication_factor_change=False,
        topics=[{"name": p.topic, "partitions": [{"partition_index": 0, "replicas": order}]}],
    )
    assert moved.error_code == ErrorCode.none, moved
    wait_placement(target, p.topic, lambda q: list(q.replicas) == order, "reassigned")
    elected = target.call(
        "ElectLeaders",
        1,
        None,
        election_type=0,  # preferred
        topic_partitions=[{"topic": p.topic, "partitions": [0]}],
        timeout=10000,
    )
    result = elected.replica_election_results[0].partition_result[0]
    assert result.error_code == ErrorCode.none, elected
    new = wait_placement(
        target,
        p.topic,
        lambda q: q.leader == order[0] and q.leader_epoch > p.leader_epoch,
        f"led by {order[0]}",
    )
    wait_serving(target, new)
    return new


def wait_known(target: Target, node: int, p: Placement) -> None:
    """Wait until broker `node`'s Metadata names `p`'s leader: each broker applies the
    controller's records on its own, and one that has not yet answers UNKNOWN_TOPIC_ID."""
    end = time.monotonic() + CONVERGE_S
    while True:
        answer = on_node(
            target, node, "Metadata", 1, 12,
            topics=[{"name": p.topic, "topic_id": None}],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
            include_cluster_authorized_operations=False,
        )  # fmt: skip
        found = answer.topics[0].partitions if answer.topics else ()
        if found and int(found[0].leader_id) == p.leader:
            return
        if time.monotonic() > end:
            raise AssertionError(f"broker {node} does not know {p.topic} led by {p.leader}")
        time.sleep(0.1)


def wait_serving(target: Target, p: Placement) -> None:
    """Wait until the leader answers ListOffsets at its epoch (its metadata caught up)."""
    end = time.monotonic() + CONVERGE_S
    while True:
        request = list_offsets_request(p.topic, p.leader_epoch)
        answer = on_leader(target, p, "ListOffsets", 4, None, **request)
        if answer.topics[0].partitions[0].error_code == ErrorCode.none:
            return
        if time.monotonic() > end:
            raise AssertionError(f"leader {p.leader} of {p.topic} does not serve: {answer}")
        time.sleep(0.1)
