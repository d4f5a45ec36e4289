"""PartitionChangeBuilder: examples of each rule, then spec/Election.tla's invariants on random
runs of its actions (FenceBroker, RegisterBroker, ElectLeader, ShrinkIsr/ExpandIsr through
HandleAlterPartition, LeaderAppend + AdvanceHighWatermark, CleanShutdown, UncleanShutdown)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from refka.controller.partition_change import (
    NO_LEADER,
    NO_LEADER_CHANGE,
    RECOVERING,
    Election,
    PartitionChange,
    PartitionChangeBuilder,
)
from refka.controller.replication_control import change_record
from refka.metadata.image import PartitionRegistration


@dataclass(frozen=True, slots=True)
class Registration:
    """A stand-in PartitionRegistration with Kafka's merge (the model the builder feeds)."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    elr: tuple[int, ...] = ()
    last_known_elr: tuple[int, ...] = ()
    leader: int = NO_LEADER
    leader_recovery_state: int = 0
    leader_epoch: int = 0
    partition_epoch: int = 0
    adding_replicas: tuple[int, ...] = ()
    removing_replicas: tuple[int, ...] = ()

    def merge(self, change: PartitionChange) -> Registration:
        new = dataclasses.replace(self, partition_epoch=self.partition_epoch + 1)
        if change.leader != NO_LEADER_CHANGE:
            new = dataclasses.replace(new, leader=change.leader, leader_epoch=self.leader_epoch + 1)
        if change.isr is not None:
            new = dataclasses.replace(new, isr=change.isr)
        if change.eligible_leader_replicas is not None:
            new = dataclasses.replace(new, elr=change.eligible_leader_replicas)
        if change.last_known_elr is not None:
            new = dataclasses.replace(new, last_known_elr=change.last_known_elr)
        if change.leader_recovery_state is not None:
            new = dataclasses.replace(new, leader_recovery_state=change.leader_recovery_state)
        return new


def everyone(_: int) -> bool:
    return True


def build(p: Registration, **kwargs: object) -> PartitionChange | None:
    kwargs.setdefault("is_acceptable_leader", everyone)
    kwargs.setdefault("min_isr", 1)
    return PartitionChangeBuilder(p, **kwargs).build()  # type: ignore[arg-type]


P3 = Registration(replicas=(1, 2, 3), isr=(1, 2, 3), leader=1, leader_epoch=5, partition_epoch=7)


def test_no_change_gives_no_record() -> None:
    assert build(P3) is None
    assert build(P3, target_isr=[1, 2, 3]) is None


def test_isr_shrink_keeps_the_leader_and_its_epoch() -> None:
    change = build(P3, target_isr=[1, 2], min_isr=2)
    assert change == PartitionChange(isr=(1, 2))
    assert P3.merge(change).leader_epoch == 5
    assert P3.merge(change).partition_epoch == 8


def test_fenced_leader_moves_to_first_acceptable_isr_member_in_replica_order() -> None:
    change = build(P3, target_isr=[3, 2], is_acceptable_leader=lambda r: r != 1)
    assert change is not None
    assert (change.leader, change.isr) == (2, (3, 2))
    assert P3.merge(change).leader_epoch == 6


def test_shrink_below_min_isr_moves_members_to_the_elr() -> None:
    change = build(P3, target_isr=[1], min_isr=2)
    assert change == PartitionChange(isr=(1,), eligible_leader_replicas=(2, 3), last_known_elr=None)
    back = P3.merge(change)
    assert build(back, target_isr=[1, 2], min_isr=2) == PartitionChange(
        isr=(1, 2), eligible_leader_replicas=()
    )


def test_last_isr_member_fenced_leaves_an_empty_isr_and_elects_from_the_elr() -> None:
    p = Registration(replicas=(1, 2), isr=(1,), elr=(2,), leader=1, leader_epoch=3)
    fenced = build(p, target_isr=[], min_isr=2, is_acceptable_leader=lambda r: r != 1)
    assert fenced == PartitionChange(leader=2, isr=(2,), eligible_leader_replicas=(1,))


def test_elr_off_keeps_the_last_isr_member() -> None:
    p = Registration(replicas=(1, 2), isr=(1,), leader=1)
    change = build(p, target_isr=[], elr_enabled=False, is_acceptable_leader=lambda r: r != 1)
    assert change == PartitionChange(leader=NO_LEADER)


def test_unclean_election_only_when_enabled_and_marks_recovering() -> None:
    p = Registration(replicas=(1, 2, 3), isr=(1,), leader=NO_LEADER, leader_epoch=4)
    down = {1}
    clean = build(p, is_acceptable_leader=lambda r: r not in down, min_isr=1)
    assert clean is None
    unclean = build(p, is_acceptable_leader=lambda r: r not in down, election=Election.UNCLEAN)
    assert unclean == PartitionChange(
        leader=2, isr=(2,), leader_recovery_state=RECOVERING, unclean=True
    )


def test_unclean_shutdown_replicas_leave_the_elr() -> None:
    p = Registration(replicas=(1, 2, 3), isr=(), elr=(2, 3), leader=NO_LEADER)
    change = build(
        p, min_isr=2, unclean_shutdown_replicas=[3], is_acceptable_leader=lambda r: r == 3
    )
    assert change == PartitionChange(eligible_leader_replicas=(2,), last_known_elr=(3,))


def test_preferred_election_moves_leadership_back() -> None:
    p = dataclasses.replace(P3, leader=2)
    assert build(p) is None
    assert build(p, election=Election.PREFERRED) == PartitionChange(leader=1)
    assert build(p, election=Election.PREFERRED, is_acceptable_leader=lambda r: r != 1) is None


# --------------------------------------------------- spec/Election.tla, randomly

REPLICAS = (1, 2, 3)
TOPIC_ID = uuid.UUID(int=7)


class ElectionMachine(RuleBasedStateMachine):
    """The controller's partition state driven by the builder; ``complete`` is the model of
    which replicas hold every acknowledged record (Election.tla's ``acked`` and ``HasRecord``)."""

    @initialize(min_isr=st.integers(1, 3), unclean=st.booleans())
    def init(self, min_isr: int, unclean: bool) -> None:
        self.min_isr, self.unclean = min_isr, unclean
        self.p = Registration(replicas=REPLICAS, isr=REPLICAS, leader=1, leader_epoch=1)
        self.real = PartitionRegistration(replicas=REPLICAS, isr=REPLICAS, leader=1, leader_epoch=1)
        self.alive = set(REPLICAS)
        self.fenced: set[int] = set()
        self.lost_data: set[int] = set()
        self.complete = set(REPLICAS)
        self.any_unclean = False
        self.elr_enabled = True

    def serving(self, r: int) -> bool:
        return r in self.alive and r not in self.fenced

    def change(self, **kwargs: object) -> None:
        before = self.p
        kwargs.setdefault("is_acceptable_leader", lambda r: r not in self.fenced)
        election = Election.UNCLEAN if self.unclean else Election.ONLINE
        kwargs.setdefault("election", election)
        kwargs.setdefault("elr_enabled", self.elr_enabled)
        change = PartitionChangeBuilder(self.p, min_isr=self.min_isr, **kwargs).build()  # type: ignore[arg-type]
        if change is None:
            return
        self.any_unclean |= change.unclean
        self.p = self.p.merge(change)
        self.real = self.real.merge(change_record(TOPIC_ID, 0, change))
        assert self.real == PartitionRegistration(  # the image's merge agrees with the model's
            **{k: v for k, v in dataclasses.asdict(self.p).items()}
        )
        leader_changed = self.p.leader != before.leader
        assert self.p.leader_epoch == before.leader_epoch + int(leader_changed)
        assert self.p.partition_epoch == before.partition_epoch + 1

    @rule(r=st.sampled_from(REPLICAS))
    def clean_shutdown(self, r: int) -> None:
        self.alive.discard(r)

    @rule(r=st.sampled_from(REPLICAS))
    def unclean_shutdown(self, r: int) -> None:
        if r in self.alive:
            self.alive.discard(r)
            self.lost_data.add(r)
            self.complete.discard(r)

    @rule(r=st.sampled_from(REPLICAS))
    def fence_broker(self, r: int) -> None:
        """FenceBroker: the session expired; r leaves the ISR and leadership."""
        if r in self.alive or r in self.fenced:
            return
        self.fenced.add(r)
        self.change(
            target_isr=[x for x in self.p.isr if x != r],
            is_acceptable_leader=lambda x: x != r and x not in self.fenced,
        )

    @rule(r=st.sampled_from(REPLICAS))
    def register_broker(self, r: int) -> None:
        """RegisterBroker, then unfencing: an unclean shutdown leaves the ISR and ELR first."""
        if r in self.alive or r not in self.fenced:
            return
        self.alive.add(r)
        if r in self.lost_data:
            self.lost_data.discard(r)
            self.change(
                target_isr=[x for x in self.p.isr if x != r],
                unclean_shutdown_replicas=[r],
                is_acceptable_leader=lambda x: x != r and x not in self.fenced,
            )
        self.fenced.discard(r)
        self.change()  # ElectLeader for a partition without one

    @rule()
    def elect_leader(self) -> None:
        self.change()

    @precondition(lambda self: self.p.leader != NO_LEADER and self.serving(self.p.leader))
    @rule(f=st.sampled_from(REPLICAS))
    def alter_partition(self, f: int) -> None:
        """SendAlterPartition + HandleAlterPartition: ShrinkIsr a lagging or dead follower,
        ExpandIsr one that fetched up to the leader."""
        leader = self.p.leader
        if f == leader:
            return
        if f in self.p.isr:
            self.change(target_isr=[x for x in self.p.isr if x != f])
        elif self.serving(f) and f not in self.fenced:
            if leader in self.complete:
                self.complete.add(f)
            else:
                self.complete.discard(f)
            self.change(target_isr=[*self.p.isr, f])

    @precondition(lambda self: self.p.leader != NO_LEADER)
    @rule()
    def commit(self) -> None:
        """LeaderAppend + AdvanceHighWatermark: every ISR member has the new record."""
        if len(self.p.isr) < self.min_isr or not all(self.serving(r) for r in self.p.isr):
            return
        self.complete = {r for r in self.complete if r in self.p.isr}
        if self.p.leader not in self.complete:  # the leader had lost data: acked ones are lost
            self.complete = set()

    @invariant()
    def type_ok(self) -> None:
        assert set(self.p.isr) <= set(REPLICAS) and set(self.p.elr) <= set(REPLICAS)
        assert not set(self.p.isr) & set(self.p.elr)
        assert self.p.leader in (NO_LEADER, *REPLICAS)

    @invariant()
    def leader_in_isr(self) -> None:
        assert self.p.leader == NO_LEADER or self.p.leader in self.p.isr

    @invariant()
    def elr_only_below_min_isr(self) -> None:
        assert not self.p.elr or len(self.p.isr) < self.min_isr

    @invariant()
    def recovering_only_after_unclean(self) -> None:
        assert self.p.leader_recovery_state != RECOVERING or self.any_unclean

    @invariant()
    def no_acked_record_lost(self) -> None:
        """NoAckedRecordLost: with unclean election off, a serving leader holds every acked
        record."""
        if self.unclean or self.p.leader == NO_LEADER or not self.serving(self.p.leader):
            return
        assert self.p.leader in self.complete, (self.p, self.complete)


ElectionMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None
)
TestElection = ElectionMachine.TestCase


def kip966_scenario(elr_enabled: bool) -> ElectionMachine:
    """Election.tla's counterexample with Kip966 = FALSE: the last ISR member acknowledges a
    record, stops uncleanly (losing it), is fenced, registers again and is elected."""
    machine = ElectionMachine()
    machine.init(min_isr=1, unclean=False)
    machine.elr_enabled = elr_enabled
    machine.alter_partition(2)  # ShrinkIsr
    machine.alter_partition(3)
    machine.commit()
    machine.unclean_shutdown(1)
    machine.fence_broker(1)
    machine.register_broker(1)
    return machine


def test_kip966_keeps_a_replica_that_lost_data_from_leading() -> None:
    machine = kip966_scenario(elr_enabled=True)
    machine.no_acked_record_lost()
    assert machine.p.leader == NO_LEADER  # offline rather than lossy


def test_without_kip966_the_replica_that_lost_data_leads_again() -> None:
    machine = kip966_scenario(elr_enabled=False)
    assert machine.p.leader == 1
    with pytest.raises(AssertionError):
        machine.no_acked_record_lost()
