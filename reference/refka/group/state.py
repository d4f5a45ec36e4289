"""The classic group states and the one table of legal transitions between them.

Everything that decides whether a group may move from one state to another lives in this
file, as in Kafka's ``ClassicGroupState`` (each state lists its valid previous states).
The TLA+ spec ``spec/ConsumerGroup.tla`` uses the same state names.

    Empty --JoinGroup--> PreparingRebalance --all joined / join timeout--> CompletingRebalance
    CompletingRebalance --leader's SyncGroup--> Stable
    Stable | CompletingRebalance --member joins, leaves or expires--> PreparingRebalance
    PreparingRebalance --every member gone at join completion--> Empty
    any --group deleted or offsets all expired--> Dead
"""

from __future__ import annotations

from enum import Enum


class GroupState(Enum):
    """A classic group's state; the values are the names Kafka reports (DescribeGroups)."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


VALID_PREVIOUS_STATES: dict[GroupState, frozenset[GroupState]] = {
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.PREPARING_REBALANCE: frozenset(
        {GroupState.EMPTY, GroupState.STABLE, GroupState.COMPLETING_REBALANCE}
    ),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.DEAD: frozenset(GroupState),
}


class IllegalStateTransition(Exception):
    """A transition the table above does not allow; the group's state is left unchanged."""


def check_transition(source: GroupState, target: GroupState) -> None:
    """Raise ``IllegalStateTransition`` unless ``source -> target`` is in the table."""
    if source not in VALID_PREVIOUS_STATES[target]:
        raise IllegalStateTransition(f"{source.value} -> {target.value} is not a legal transition")


def parse_state(name: str) -> GroupState | None:
    """The state named ``name`` (case-insensitive, as ListGroups' state filter), if any."""
    for state in GroupState:
        if state.value.lower() == name.lower():
            return state
    return None
