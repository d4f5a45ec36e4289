"""Reconciliation of one member towards its target assignment: Kafka's CurrentAssignmentBuilder
and the spec's ``Reconcile`` (spec/ConsumerGroupProtocol.tla).

- A member in UNREVOKED_PARTITIONS stays there, at its member epoch, until its heartbeat
  reports owned partitions without any of those pending revocation.
- A member behind the assignment epoch (or one that just acknowledged its revocation) that
  holds partitions its target no longer has gives them up first: it keeps the rest and its
  epoch, and the others go to ``revoking`` (UNREVOKED_PARTITIONS) - unless the request
  already reports it does not own them (an eager classic member rejoins owning nothing).
- Otherwise it moves to the assignment epoch and receives its target's partitions, except
  those another member still holds (assigned or pending revocation): it then waits for them
  in UNRELEASED_PARTITIONS, else it is STABLE.

This ordering is what keeps NoPartitionOwnedTwice: a partition goes to a new owner only once
its previous owner no longer holds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from refka.group.consumer_member import NO_PARTITIONS, ConsumerMember, MemberState, TopicPartitions


def reconcile(
    member: ConsumerMember,
    assignment_epoch: int,
    target: TopicPartitions,
    owned: TopicPartitions | None,
    held_by_others: Callable[[tuple[object, int]], bool],
) -> ConsumerMember:
    """The member after one heartbeat; ``owned`` is what the request reported (None: unchanged
    since the last heartbeat). Returns the same object when nothing changes."""
    if member.state is MemberState.UNREVOKED_PARTITIONS:
        if owned is None or owned & member.revoking:
            return member  # revocation not acknowledged yet
    elif member.member_epoch == assignment_epoch and member.state is MemberState.STABLE:
        return member
    keep = member.assigned & target
    to_revoke = member.assigned - target
    if to_revoke and (owned is None or owned & to_revoke):
        return _updated(
            member, member.member_epoch, MemberState.UNREVOKED_PARTITIONS, keep, to_revoke
        )
    wanted = target - member.assigned
    free = frozenset(tp for tp in wanted if not held_by_others(tp))
    state = MemberState.STABLE if free == wanted else MemberState.UNRELEASED_PARTITIONS
    return _updated(member, assignment_epoch, state, keep | free, NO_PARTITIONS)


def _updated(
    member: ConsumerMember,
    epoch: int,
    state: MemberState,
    assigned: TopicPartitions,
    revoking: TopicPartitions,
) -> ConsumerMember:
    if (epoch, state, assigned, revoking) == (
        member.member_epoch,
        member.state,
        member.assigned,
        member.revoking,
    ):
        return member
    previous = member.member_epoch if epoch != member.member_epoch else member.previous_member_epoch
    return dataclasses.replace(
        member,
        member_epoch=epoch,
        previous_member_epoch=previous,
        state=state,
        assigned=assigned,
        revoking=revoking,
    )
