"""The invariant checks on hand-made replica states: each finds what it names, and only that."""

from __future__ import annotations

from refka.core.trace import CommitOffset
from refka.sim.invariants import (
    HighWatermarkMonotonic,
    PartitionState,
    ReplicaView,
    SingleOwnerPerGeneration,
    leader_completeness,
    leader_in_isr,
    log_matching,
    single_leader_per_epoch,
)

TP = ("t", 0)


def view(
    node: int,
    epochs: tuple[int, ...],
    leader: bool = False,
    epoch: int = 1,
    hw: int = 0,
    exposed: int | None = None,
    values: dict[int, int] | None = None,
) -> ReplicaView:
    values = values if values is not None else {o: 100 * node + o for o in range(len(epochs))}
    return ReplicaView(node, TP, leader, epoch, hw, exposed, 0, epochs, values)


def test_log_matching_accepts_a_prefix_and_a_truncated_tail() -> None:
    assert not list(log_matching([view(1, (1, 1, 2)), view(2, (1, 1))]))
    assert not list(log_matching([view(1, (1, 1, 2)), view(2, (1, 1, 3, 3))]))


def test_log_matching_finds_logs_that_agree_after_disagreeing() -> None:
    [violation] = log_matching([view(1, (1, 2, 3)), view(2, (1, 1, 3))])
    assert violation.invariant == "LogMatching"
    assert "offset 2" in violation.detail and "not at 1" in violation.detail


def test_single_leader_per_epoch() -> None:
    ok = [view(1, (), leader=True, epoch=2), view(2, (), leader=True, epoch=3)]
    assert not list(single_leader_per_epoch(ok))
    bad = [view(1, (), leader=True, epoch=3), view(2, (), leader=True, epoch=3)]
    assert [v.invariant for v in single_leader_per_epoch(bad)] == ["SingleLeaderPerEpoch"]


def test_leader_in_isr() -> None:
    assert not list(leader_in_isr({TP: PartitionState(1, 2, (1, 2), ())}))
    assert not list(leader_in_isr({TP: PartitionState(-1, 2, (), (1,))}))
    [v] = leader_in_isr({TP: PartitionState(3, 2, (1, 2), ())})
    assert v.invariant == "LeaderInIsr"


def test_leader_completeness_only_asks_a_leader_that_has_taken_over() -> None:
    states = {TP: PartitionState(2, 4, (2,), ())}
    acked = {TP: {0: 7, 1: 8}}
    complete = view(2, (1, 1), leader=True, epoch=4, values={0: 7, 1: 8})
    assert not list(leader_completeness(states, {(2, TP): complete}, acked))
    lacking = view(2, (1, 2), leader=True, epoch=4, values={0: 7, 1: 9})
    [v] = leader_completeness(states, {(2, TP): lacking}, acked)
    assert v.invariant == "LeaderCompleteness" and "value 8 at offset 1 (holds 9)" in v.detail
    not_yet = view(2, (1,), leader=False, epoch=3, values={0: 7})
    assert not list(leader_completeness(states, {(2, TP): not_yet}, acked))


def test_high_watermark_monotonic_remembers_what_was_shown() -> None:
    check = HighWatermarkMonotonic()
    states = {TP: PartitionState(1, 1, (1, 2), ())}
    assert not list(check.check(states, {(1, TP): view(1, (1,) * 5, True, 1, 5, 5)}))
    states2 = {TP: PartitionState(2, 2, (1, 2), ())}
    hidden = view(2, (1,) * 5, True, 2, 3, None)  # KIP-207: not exposable yet
    assert not list(check.check(states2, {(2, TP): hidden}))
    shown = view(2, (1,) * 5, True, 2, 3, 3)  # exposed while lagging: KAFKA-2334
    [v] = check.check(states2, {(2, TP): shown})
    assert v.invariant == "HighWatermarkMonotonic" and "3 after 5" in v.detail


def test_single_owner_per_generation_over_accepted_commits() -> None:
    def commit(member: str, generation: int) -> CommitOffset:
        return CommitOffset(1, "g", member, generation, (("t", 0, 5),))

    check = SingleOwnerPerGeneration()
    assert not list(check.check([commit("a", 1), commit("b", 2), commit("b", 2)]))
    [v] = check.check([commit("a", 2)])
    assert v.invariant == "SingleOwnerPerGeneration" and "by b and by a" in v.detail
