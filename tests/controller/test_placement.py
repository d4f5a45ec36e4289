"""Replica placement: StripedReplicaPlacer's properties and Kafka's refusals."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from refka.controller.placement import (
    InvalidReplicaAssignment,
    InvalidReplicationFactor,
    UsableBroker,
    place,
    validate_assignment,
)

THREE = [UsableBroker(1), UsableBroker(2), UsableBroker(3)]


def test_rf3_on_three_brokers_uses_all_and_rotates_leaders() -> None:
    placed = place(THREE, partitions=3, replication_factor=3)
    assert all(sorted(r) == [1, 2, 3] for r in placed)
    assert sorted(r[0] for r in placed) == [1, 2, 3]


def test_too_high_replication_factor_is_refused_with_kafkas_message() -> None:
    with pytest.raises(InvalidReplicationFactor, match="only 3 broker\\(s\\) are registered"):
        place(THREE, 1, 4)
    with pytest.raises(InvalidReplicationFactor, match="must be positive"):
        place(THREE, 1, 0)
    fenced = [UsableBroker(1, fenced=True)]
    with pytest.raises(InvalidReplicationFactor, match="All brokers are currently fenced"):
        place(fenced, 1, 1)


def test_fenced_brokers_follow_but_never_lead() -> None:
    brokers = [UsableBroker(1), UsableBroker(2, fenced=True)]
    placed = place(brokers, partitions=4, replication_factor=2)
    assert all(r == (1, 2) for r in placed)


def test_racks_are_spread_before_reused() -> None:
    brokers = [
        UsableBroker(1, "a"),
        UsableBroker(2, "a"),
        UsableBroker(3, "b"),
        UsableBroker(4, "b"),
        UsableBroker(5, "c"),
    ]
    rack = {b.broker_id: b.rack for b in brokers}
    for replicas in place(brokers, partitions=10, replication_factor=3):
        assert len({rack[r] for r in replicas}) == 3


@given(
    n=st.integers(1, 7),
    racks=st.integers(1, 3),
    partitions=st.integers(1, 30),
    rf=st.integers(1, 7),
    start=st.integers(0, 1000),
)
def test_placement_properties(n: int, racks: int, partitions: int, rf: int, start: int) -> None:
    brokers = [UsableBroker(i, f"r{i % racks}") for i in range(n)]
    if rf > n:
        with pytest.raises(InvalidReplicationFactor):
            place(brokers, partitions, rf, start)
        return
    placed = place(brokers, partitions, rf, start)
    assert len(placed) == partitions
    for replicas in placed:
        assert len(set(replicas)) == rf
        assert len({f"r{r % racks}" for r in replicas}) == min(rf, racks)
    leaders = Counter(r[0] for r in placed)
    assert max(leaders.values()) - min(leaders.get(b.broker_id, 0) for b in brokers) <= 1


def test_manual_assignment_checks() -> None:
    validate_assignment([1, 2], {1, 2, 3}, 2)
    with pytest.raises(InvalidReplicaAssignment, match="empty replica list"):
        validate_assignment([], {1})
    with pytest.raises(InvalidReplicaAssignment, match="broker 1 more than once"):
        validate_assignment([1, 1], {1})
    with pytest.raises(InvalidReplicaAssignment, match="broker 9, but no such broker"):
        validate_assignment([9], {1})
    with pytest.raises(InvalidReplicaAssignment, match="not consistent with previous"):
        validate_assignment([1], {1, 2}, 2)
