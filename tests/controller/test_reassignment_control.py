"""AlterPartitionReassignments and ListPartitionReassignments (KIP-455) on the QuorumController,
sans-I/O: a move is in flight (``adding``/``removing`` replicas in the PartitionChangeRecord and
in the listing) until the new replica joins the ISR; then the old one leaves. Cancel reverts."""

from __future__ import annotations

from typing import Any

from controller_driver import ControllerDriver
from kio.schema.errors import ErrorCode
from test_quorum_controller import TOPIC, alter_partition, call, cluster, create_topic, partition


def reassign(d: ControllerDriver, replicas: list[int] | None, version: int = 1, **kw: Any) -> Any:
    answer = call(
        d,
        45,
        version,
        timeout=5000,
        topics=[{"name": TOPIC, "partitions": [{"partition_index": 0, "replicas": replicas}]}],
        **kw,
    )
    assert answer.error_code == ErrorCode.none
    return answer.responses[0].partitions[0]


def listing(d: ControllerDriver, named: bool = False) -> list[tuple[int, tuple[int, ...], ...]]:
    topics = [{"name": TOPIC, "partition_indexes": [0, 7]}] if named else None
    answer = call(d, 46, 0, timeout=5000, topics=topics)
    assert answer.error_code == ErrorCode.none
    return [
        (p.partition_index, tuple(p.replicas), tuple(p.adding_replicas), tuple(p.removing_replicas))
        for t in answer.topics
        for p in t.partitions
    ]


def moved_topic() -> tuple[ControllerDriver, int, int]:
    d = cluster()
    create_topic(d, rf=1)
    source = partition(d).replicas[0]
    target = next(b for b in (1, 2, 3) if b != source)
    return d, source, target


def test_a_move_is_listed_in_flight_then_completes_when_the_new_replica_joins_the_isr() -> None:
    d, source, target = moved_topic()
    assert listing(d) == []
    before = partition(d)
    assert reassign(d, [target]).error_code == ErrorCode.none
    p = partition(d)
    assert (p.replicas, p.adding_replicas, p.removing_replicas) == (
        (target, source),
        (target,),
        (source,),
    )
    assert p.leader == source and p.isr == (source,)
    assert listing(d) == [(0, (target, source), (target,), (source,))]
    assert listing(d, named=True) == listing(d)

    answer = alter_partition(d, [source, target])  # the new replica caught up
    assert answer.topics[0].partitions[0].error_code == ErrorCode.none
    done = partition(d)
    assert (done.replicas, done.isr, done.leader) == ((target,), (target,), target)
    assert (done.adding_replicas, done.removing_replicas) == ((), ())
    assert done.leader_epoch == before.leader_epoch + 1
    assert listing(d) == []


def test_the_move_waits_while_the_new_replica_is_out_of_the_isr() -> None:
    d = cluster()
    create_topic(d, rf=2)
    p = partition(d)
    spare = next(b for b in (1, 2, 3) if b not in p.replicas)
    keep, drop = p.leader, next(r for r in p.replicas if r != p.leader)
    reassign(d, [keep, spare])
    alter_partition(d, [keep])  # the removed follower drops out: still waiting for the spare
    assert partition(d).adding_replicas == (spare,)
    alter_partition(d, [keep, spare])
    done = partition(d)
    assert done.replicas == (keep, spare) and drop not in done.isr and done.leader == keep


def test_cancel_reverts_and_with_nothing_in_progress_is_refused() -> None:
    d, source, target = moved_topic()
    assert reassign(d, None).error_code == ErrorCode.no_reassignment_in_progress
    reassign(d, [target])
    assert reassign(d, None).error_code == ErrorCode.none
    p = partition(d)
    assert (p.replicas, p.isr, p.leader) == ((source,), (source,), source)
    assert (p.adding_replicas, p.removing_replicas) == ((), ())
    assert listing(d) == []


def test_replication_factor_change_refused_when_not_allowed() -> None:
    d, source, target = moved_topic()
    refused = reassign(d, [source, target], allow_replication_factor_change=False)
    assert refused.error_code == ErrorCode.invalid_replication_factor
    assert refused.error_message == "The replication factor is changed from 1 to 2"
    assert reassign(d, [9]).error_code == ErrorCode.invalid_replica_assignment
    assert partition(d).replicas == (source,)


def test_a_new_order_of_the_same_replicas_completes_at_once() -> None:
    d = cluster()
    create_topic(d)
    order = list(reversed(partition(d).replicas))
    assert reassign(d, order, version=0).error_code == ErrorCode.none
    assert list(partition(d).replicas) == order and listing(d) == []
