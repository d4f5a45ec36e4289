"""One classic group: its members, generation, chosen protocol and leader (Kafka's ClassicGroup).

The group changes state only through ``transition_to``, which consults the table in
``state.py``. Generation ids only grow (``init_next_generation``); together with the leader's
single SyncGroup per generation this is what the spec's SingleOwnerPerGeneration rests on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from refka.group.member import ClassicMember
from refka.group.state import GroupState, check_transition


@dataclass(slots=True)
class ClassicGroup:
    group_id: str
    state: GroupState = GroupState.EMPTY
    previous_state: GroupState = GroupState.EMPTY
    state_timestamp_ms: int = -1
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, ClassicMember] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    pending_members: dict[str, int] = field(default_factory=dict)  # member id -> deadline ms
    pending_sync: set[str] = field(default_factory=set)  # joined this generation, not synced
    rebalance_deadline_ms: int | None = None  # join completes (or sync expires) at this time
    initial_rebalance_end_ms: int | None = None  # group.initial.rebalance.delay.ms window

    def transition_to(self, target: GroupState, now_ms: int) -> None:
        """Move to ``target``; an illegal move raises and leaves the group unchanged."""
        check_transition(self.state, target)
        self.previous_state = self.state
        self.state = target
        self.state_timestamp_ms = now_ms

    # -- membership --------------------------------------------------------------------

    def add_member(self, member: ClassicMember) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        self.pending_members.pop(member.member_id, None)
        if self.leader_id is None:
            self.leader_id = member.member_id

    def remove_member(self, member_id: str) -> ClassicMember | None:
        member = self.members.pop(member_id, None)
        self.pending_sync.discard(member_id)
        if member is None:
            return None
        if member.group_instance_id is not None:
            self.static_members.pop(member.group_instance_id, None)
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def replace_static_member(self, old_id: str, new_id: str) -> ClassicMember:
        """Give the static member known as ``old_id`` the fresh id ``new_id`` (KIP-345)."""
        member = self.members.pop(old_id)
        member.member_id = new_id
        self.members[new_id] = member
        assert member.group_instance_id is not None
        self.static_members[member.group_instance_id] = new_id
        if old_id in self.pending_sync:
            self.pending_sync.discard(old_id)
            self.pending_sync.add(new_id)
        if self.leader_id == old_id:
            self.leader_id = new_id
        return member

    def static_member_id(self, group_instance_id: str | None) -> str | None:
        if group_instance_id is None:
            return None
        return self.static_members.get(group_instance_id)

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def has_all_members_joined(self) -> bool:
        """Every member is waiting on a JoinGroup and no id handed out is still unused."""
        return not self.pending_members and all(
            m.awaiting_join is not None for m in self.members.values()
        )

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # -- protocol selection ------------------------------------------------------------

    def candidate_protocols(self) -> frozenset[str]:
        """Protocols every member supports."""
        sets = [m.protocol_names for m in self.members.values()]
        return frozenset.intersection(*sets) if sets else frozenset()

    def supports_protocols(self, protocol_type: str, names: frozenset[str]) -> bool:
        """Whether a member with these protocols could join (Kafka's supportsProtocols)."""
        if not self.members:
            return bool(protocol_type) and bool(names)
        return protocol_type == self.protocol_type and bool(names & self.candidate_protocols())

    def select_protocol(self) -> str:
        """The candidate protocol most members prefer: each member votes for the first of its
        protocols (in its own order) that all members support; ties go to the first listed."""
        candidates = self.candidate_protocols()
        votes: Counter[str] = Counter()
        for member in self.members.values():
            votes[next(n for n, _ in member.protocols if n in candidates)] += 1
        return max(votes, key=lambda name: votes[name])

    def init_next_generation(self, now_ms: int) -> None:
        """Start a new generation: CompletingRebalance with members, Empty without."""
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.pending_sync = set(self.members)
            self.transition_to(GroupState.COMPLETING_REBALANCE, now_ms)
        else:
            self.protocol_name = None
            self.pending_sync = set()
            self.transition_to(GroupState.EMPTY, now_ms)
        for member in self.members.values():
            member.is_new = False

    def subscribed_topics(self) -> frozenset[str] | None:
        """Topics the members subscribe to, if the group speaks the "consumer" protocol and
        every subscription parses; None when they cannot be known."""
        if self.protocol_type != "consumer" or self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            member_topics = _subscription_topics(member.metadata(self.protocol_name))
            if member_topics is None:
                return None
            topics |= member_topics
        return frozenset(topics)


def _subscription_topics(metadata: bytes) -> set[str] | None:
    """The topics of a ConsumerProtocolSubscription (int16 version, [string] topics, ...)."""
    if len(metadata) < 6:
        return None
    count = int.from_bytes(metadata[2:6], "big", signed=True)
    position, topics = 6, set()
    for _ in range(max(count, 0)):
        size = int.from_bytes(metadata[position : position + 2], "big", signed=True)
        end = position + 2 + size
        if size < 0 or end > len(metadata):
            return None
        try:
            topics.add(metadata[position + 2 : end].decode())
        except UnicodeDecodeError:
            return None
        position = end
    return topics
