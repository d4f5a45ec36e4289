"""Trace events (``refka.core.trace``): the cores of a controller and three brokers on the
in-process router emit one event per TLA+ step, with the values the step gave the spec's
variables; with no tracer they build none."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from refka.core import trace
from refka.core.trace import (
    AdvanceHighWatermark,
    BecomeFollower,
    BecomeLeader,
    ElectLeader,
    FenceBroker,
    Flush,
    FollowerFetch,
    HandleAlterPartition,
    LeaderAppend,
    RegisterBroker,
    SendAlterPartition,
    TraceEvent,
)
from refka.protocol import codec
from traced_cluster import BROKERS, CONTROLLER, TOPIC, TracedCluster


def in_sync_cluster(**configs: str) -> TracedCluster:
    cluster = TracedCluster(**configs)
    cluster.create_topic()
    return cluster


def test_brokers_register_and_a_new_partition_gets_its_first_leader() -> None:
    cluster = in_sync_cluster()
    registered = cluster.of(RegisterBroker)
    assert [(e.node, e.broker, e.clean_shutdown, e.partitions) for e in registered] == [
        (CONTROLLER, n, True, ()) for n in BROKERS
    ]
    assert [e.broker_epoch for e in registered] == [
        b.lifecycle.broker_epoch for b in cluster.brokers.values()
    ]
    [elected] = cluster.of(ElectLeader)
    leader = elected.leader
    assert elected == ElectLeader(CONTROLLER, TOPIC, 0, leader, 0, 0, (1, 2, 3), (), False)
    assert cluster.of(BecomeLeader) == [BecomeLeader(leader, TOPIC, 0, 0, 0, (1, 2, 3), 0, 0)]
    assert sorted(e.node for e in cluster.of(BecomeFollower)) == [n for n in BROKERS if n != leader]
    assert all(e.truncation_offset == 0 for e in cluster.of(BecomeFollower))


def test_an_acks_all_produce_is_leader_append_follower_fetches_then_the_high_watermark() -> None:
    cluster = in_sync_cluster()
    leader = cluster.leader()
    followers = [n for n in BROKERS if n != leader]
    cluster.events.clear()
    answer = cluster.produce(leader, acks=-1, count=3)
    assert answer.error_code == 0 and answer.base_offset == 0
    steps = [e for e in cluster.events if isinstance(e, LeaderAppend | FollowerFetch)]
    steps += cluster.of(AdvanceHighWatermark)
    steps.sort(key=cluster.events.index)
    assert steps[0] == LeaderAppend(leader, TOPIC, 0, 0, 0, 3, -1, -1)
    copies = [e for e in steps[1:] if isinstance(e, FollowerFetch) and e.epochs]
    assert sorted(e.node for e in copies) == followers
    for e in copies:  # the follower's log is now its prefix up to 0, then three epoch-0 records
        assert (e.leader, e.leader_epoch, e.offset, e.epochs, e.log_end_offset) == (
            leader,
            0,
            0,
            (0, 0, 0),
            3,
        )
    [advanced] = cluster.of(AdvanceHighWatermark)
    assert advanced == AdvanceHighWatermark(leader, TOPIC, 0, 0, 0, 3, (1, 2, 3), (3, 3, 3))
    assert cluster.events.index(advanced) > max(cluster.events.index(e) for e in copies)
    # the followers learn the new HW with their next fetch: a FollowerFetch with no records
    cluster.router.advance(1_000)
    learned = [e for e in cluster.of(FollowerFetch) if not e.epochs]
    assert sorted((e.node, e.offset, e.high_watermark) for e in learned) == [
        (n, 3, 3) for n in followers
    ]


def test_a_leader_change_elects_then_the_old_leader_truncates_as_a_follower() -> None:
    cluster = in_sync_cluster()
    old = cluster.leader()
    followers = [n for n in BROKERS if n != old]
    cluster.produce(old, acks=-1)
    cluster.advance_until(cluster.in_sync)
    for f in followers:  # the old leader appends a record nobody else gets
        cluster.router.set_down(f)
    assert cluster.produce(old, acks=1).base_offset == 1
    cluster.router.set_down(old)
    for f in followers:
        cluster.router.set_down(f, False)
    cluster.events.clear()
    cluster.advance_until(lambda: cluster.leader() in followers)
    new = cluster.leader()
    cluster.router.set_down(old, False)
    cluster.advance_until(cluster.in_sync)

    [fenced] = cluster.of(FenceBroker)
    state = trace.PartitionState(TOPIC, 0, new, 1, 1, tuple(followers), ())
    assert fenced == FenceBroker(
        CONTROLLER, old, cluster.brokers[old].lifecycle.broker_epoch, (state,)
    )
    [elected] = cluster.of(ElectLeader)
    assert elected == ElectLeader(CONTROLLER, TOPIC, 0, new, 1, 1, tuple(followers), (), False)
    assert cluster.of(BecomeLeader) == [BecomeLeader(new, TOPIC, 0, 1, 1, tuple(followers), 1, 0)]
    became = {e.node: e for e in cluster.of(BecomeFollower)}
    assert set(became) == set(BROKERS) - {new}
    # the old leader's log (2 records) is cut back to the new leader's (1 record)
    assert became[old].leader == new and became[old].leader_epoch == 1
    assert became[old].truncation_offset == 1
    assert cluster.brokers[old].replicas.replica(TOPIC, 0).log_end_offset == 1  # type: ignore[union-attr]
    order = [cluster.events.index(e) for e in (fenced, elected, cluster.of(BecomeLeader)[0])]
    assert order == sorted(order) and order[-1] < cluster.events.index(became[old])


def test_an_isr_shrink_is_send_alter_partition_then_handle_alter_partition() -> None:
    cluster = in_sync_cluster()
    leader = cluster.leader()
    lagging, other = [n for n in BROKERS if n != leader]
    cluster.router.set_down(lagging)
    cluster.produce(leader, acks=1)  # the lagging follower never fetches it
    cluster.advance_until(lambda: len(cluster.registration().isr) == 2)
    new_isr = tuple(sorted((leader, other)))
    [sent] = cluster.of(SendAlterPartition)
    epochs = {n: b.lifecycle.broker_epoch for n, b in cluster.brokers.items()}
    assert sent == SendAlterPartition(
        leader, TOPIC, 0, "ShrinkIsr", (lagging,), 0, 0, (1, 2, 3), new_isr,
        tuple(epochs[n] for n in new_isr),
    )  # fmt: skip
    [handled] = cluster.of(HandleAlterPartition)
    assert handled == HandleAlterPartition(
        CONTROLLER, TOPIC, 0, leader, new_isr, "NONE", leader, 0, 1, new_isr, ()
    )
    assert cluster.events.index(sent) < cluster.events.index(handled)
    # back, the follower catches up and the leader asks to add it again
    cluster.router.set_down(lagging, False)
    cluster.advance_until(cluster.in_sync)
    expand = [e for e in cluster.of(SendAlterPartition) if e.change == "ExpandIsr"]
    assert [(e.node, e.replicas, e.new_isr) for e in expand] == [(leader, (lagging,), (1, 2, 3))]


def test_a_broker_that_crashed_registers_unclean_and_leaves_the_isr() -> None:
    cluster = in_sync_cluster()
    leader = cluster.leader()
    follower = next(n for n in BROKERS if n != leader)
    cluster.produce(leader, acks=-1, count=2)
    cluster.advance_until(cluster.in_sync)
    cluster.events.clear()
    cluster.crash_and_restart(follower)  # nothing was flushed: its log is empty again
    # its old session runs out first (DUPLICATE_BROKER_REGISTRATION until then): fenced, out
    # of the ISR; then it registers, reporting the unclean shutdown, and catches up
    cluster.advance_until(lambda: cluster.brokers[follower].ready and cluster.in_sync())
    others = tuple(n for n in (1, 2, 3) if n != follower)
    state = trace.PartitionState(TOPIC, 0, leader, 0, 1, others, ())
    [fenced] = cluster.of(FenceBroker)
    assert fenced == FenceBroker(CONTROLLER, follower, fenced.broker_epoch, (state,))
    [registered] = cluster.of(RegisterBroker)
    epoch = cluster.brokers[follower].lifecycle.broker_epoch
    assert registered == RegisterBroker(CONTROLLER, follower, epoch, False, ())
    assert epoch > fenced.broker_epoch
    assert cluster.events.index(fenced) < cluster.events.index(registered)
    became = [e for e in cluster.of(BecomeFollower) if e.node == follower]
    assert [(e.leader, e.truncation_offset) for e in became] == [(leader, 0)]
    fetched = [e for e in cluster.of(FollowerFetch) if e.node == follower and e.epochs]
    assert sum(len(e.epochs) for e in fetched) == 2
    expand = [e for e in cluster.of(SendAlterPartition) if e.change == "ExpandIsr"]
    assert [(e.node, e.replicas) for e in expand] == [(leader, (follower,))]


def test_flush_messages_one_flushes_every_append() -> None:
    cluster = TracedCluster()
    cluster.create_topic(**{"flush.messages": "1"})
    leader = cluster.leader()
    cluster.events.clear()
    cluster.produce(leader, acks=-1, count=2)
    assert Flush(leader, TOPIC, 0, 2) in cluster.events


def test_without_a_tracer_no_event_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[Any, ...]] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        built.append(args)
        raise AssertionError("a trace event was built without a tracer")

    for cls in (*trace.EVENT_TYPES, trace.PartitionState):
        monkeypatch.setattr(trace, cls.__name__, refuse)
    with pytest.raises(AssertionError):
        TracedCluster(traced=True)  # the patch bites where a tracer is set
    assert built
    built.clear()
    cluster = TracedCluster(traced=False)
    cluster.create_topic(**{"flush.messages": "1"})
    old = cluster.leader()
    assert cluster.produce(old, acks=-1).error_code == 0
    cluster.router.set_down(old)
    cluster.advance_until(lambda: cluster.leader() not in (old, -1))
    cluster.router.set_down(old, False)
    cluster.advance_until(cluster.in_sync)
    assert cluster.events == [] and built == []


# ------------------------------------------------------------------------------- reprs


def _sample(annotation: Any, i: int) -> Any:
    if annotation is int:
        return i
    if annotation is str:
        return f"s{i}'\""
    if annotation is bool:
        return i % 2 == 0
    if annotation is bytes:
        return bytes([i, 0, 255])
    if annotation is trace.PartitionState:
        return _instance(trace.PartitionState)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    assert origin is tuple, annotation
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_sample(args[0], i + k) for k in range(2))
    return tuple(_sample(a, i + k) for k, a in enumerate(args))


def _instance(cls: type[Any]) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(*(_sample(hints[f.name], i) for i, f in enumerate(dataclasses.fields(cls))))


@pytest.mark.parametrize("cls", trace.EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_reads_back_from_its_repr(cls: type[TraceEvent]) -> None:
    event = _instance(cls)
    assert eval(repr(event), trace.namespace()) == event
    assert trace.parse(repr(event)) == event
    assert not hasattr(event, "__dict__")  # slotted
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.node = 5  # type: ignore[misc]


def test_the_events_of_a_run_read_back_from_their_reprs() -> None:
    cluster = in_sync_cluster()
    cluster.produce(cluster.leader(), acks=-1)
    assert len({type(e) for e in cluster.events}) >= 6
    assert [trace.parse(repr(e)) for e in cluster.events] == cluster.events


def test_the_table_in_the_module_docstring_names_every_event() -> None:
    doc = trace.__doc__ or ""
    assert "docs:" in doc
    for cls in trace.EVENT_TYPES:
        assert f"\n{cls.__name__} " in doc, cls.__name__


# ------------------------------------------------------------------------ consumer groups


def test_a_group_generation_its_assignment_and_a_commit() -> None:
    cluster = in_sync_cluster(**{"group.initial.rebalance.delay.ms": "0"})
    group = "g"
    coordinator = -1
    while coordinator < 0:
        found = cluster.call(1, 10, 3, key=group, key_type=0)
        if found.error_code == 0:
            coordinator = found.node_id
        else:
            cluster.router.advance(100)
    cluster.advance_until(lambda: not cluster.brokers[coordinator].groups.loader.loading)
    join = dict(
        group_id=group, session_timeout=codec.millis(10_000),
        rebalance_timeout=codec.millis(10_000), group_instance_id=None,
        protocol_type="consumer",
        protocols=(codec.build(codec.request_module(11, 5).JoinGroupRequestProtocol,
                               name="range", metadata=b""),),
    )  # fmt: skip
    first = cluster.call(coordinator, 11, 5, member_id="", **join)
    assert first.error_code == 79  # MEMBER_ID_REQUIRED
    member = first.member_id
    joined = cluster.call(coordinator, 11, 5, member_id=member, **join)
    assert joined.error_code == 0 and joined.leader == member
    m = codec.request_module(14, 3)
    assignment = codec.build(m.SyncGroupRequestAssignment, member_id=member, assignment=b"\x00a")
    synced = cluster.call(
        coordinator, 14, 3, group_id=group, generation_id=joined.generation_id, member_id=member,
        group_instance_id=None, assignments=(assignment,),
    )  # fmt: skip
    assert synced.error_code == 0
    m = codec.request_module(8, 8)
    part = codec.build(
        m.OffsetCommitRequestPartition, partition_index=0, committed_offset=7,
        committed_leader_epoch=-1, committed_metadata="",
    )  # fmt: skip
    committed = cluster.call(
        coordinator, 8, 8, group_id=group, generation_id_or_member_epoch=joined.generation_id,
        member_id=member, group_instance_id=None,
        topics=(codec.build(m.OffsetCommitRequestTopic, name=TOPIC, partitions=(part,)),),
    )  # fmt: skip
    assert committed.topics[0].partitions[0].error_code == 0
    generation = joined.generation_id
    assert cluster.of(trace.JoinGroup) == [
        trace.JoinGroup(coordinator, group, member, 0, "PreparingRebalance")
    ]
    assert cluster.of(trace.CompleteJoin) == [
        trace.CompleteJoin(coordinator, group, generation, (member,), member, "CompletingRebalance")
    ]
    assert cluster.of(trace.SyncGroupLeader) == [
        trace.SyncGroupLeader(coordinator, group, generation, ((member, b"\x00a"),))
    ]
    steps = [type(e).__name__ for e in cluster.events if e.node == coordinator]
    steps = [n for n in steps if n in ("JoinGroup", "CompleteJoin", "SyncGroupLeader")]
    assert steps == ["JoinGroup", "CompleteJoin", "SyncGroupLeader"]
    assert cluster.of(trace.CommitOffset) == [
        trace.CommitOffset(coordinator, group, member, generation, ((TOPIC, 0, 7),))
    ]
