"""A KIP-848 consumer group, as Kafka's ``ConsumerGroup`` (spec/ConsumerGroupProtocol.tla).

The group epoch is bumped by every change of membership or subscription (and of the subscribed
topics' partition counts); the target assignment is computed for a group epoch, which becomes
the assignment epoch; each member then reconciles towards its target, one heartbeat at a time.
The group's state is derived, as Kafka's ``ConsumerGroupState``:

    Empty        no members
    Assigning    the target assignment is older than the group epoch
    Reconciling  some member is not yet at the assignment epoch, or not STABLE
    Stable       every member is STABLE at the assignment epoch
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode

from refka.group.consumer_member import ConsumerMember, MemberState, TopicPartitions

TopicMetadata = dict[str, tuple[uuid.UUID, int]]  # subscribed topic name -> (id, partitions)


@dataclass(slots=True)
class ConsumerGroup:
    group_id: str
    group_epoch: int = 0
    assignment_epoch: int = 0
    members: dict[str, ConsumerMember] = field(default_factory=dict)
    target: dict[str, TopicPartitions] = field(default_factory=dict)  # by member id
    topics: TopicMetadata | None = None  # None: not read since the group was loaded
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id

    @property
    def state(self) -> str:
        if not self.members:
            return "Empty"
        if self.assignment_epoch < self.group_epoch:
            return "Assigning"
        if any(
            m.member_epoch != self.assignment_epoch or m.state is not MemberState.STABLE
            for m in self.members.values()
            if not m.left_static
        ):
            return "Reconciling"
        return "Stable"

    def held_by_others(self, member_id: str) -> frozenset[tuple[uuid.UUID, int]]:
        """What the other members hold (assigned or pending revocation)."""
        out: set[tuple[uuid.UUID, int]] = set()
        for m in self.members.values():
            if m.member_id != member_id:
                out |= m.held
        return frozenset(out)

    def subscribed_names(self) -> frozenset[str]:
        return frozenset(n for m in self.members.values() for n in m.subscribed_topic_names)

    def validate_offset_commit(self, member_id: str, member_epoch: int) -> ErrorCode | None:
        """OffsetCommit v9+ to a consumer group (Kafka's ``validateOffsetCommit``): a commit
        without a member (epoch < 0) only while the group is empty; otherwise the member must
        exist (UNKNOWN_MEMBER_ID) and send its current member epoch (STALE_MEMBER_EPOCH)."""
        if member_epoch < 0 and not member_id and not self.members:
            return None
        member = self.members.get(member_id)
        if member is None:
            return ErrorCode.unknown_member_id
        if member_epoch != member.member_epoch:  # a classic member's generation: as classic
            classic = member.classic is not None
            return ErrorCode.illegal_generation if classic else ErrorCode.stale_member_epoch
        return None

    def validate_offset_fetch(self, member_id: str, member_epoch: int) -> ErrorCode | None:
        """OffsetFetch v9+ naming a member (Kafka's ``validateOffsetFetch``): it must exist
        (UNKNOWN_MEMBER_ID) at its current member epoch (STALE_MEMBER_EPOCH); an admin's fetch
        names none."""
        member = self.members.get(member_id)
        if member is None:
            return ErrorCode.unknown_member_id
        if member_epoch != member.member_epoch:
            return ErrorCode.stale_member_epoch
        return None

    def put(self, member: ConsumerMember) -> None:
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id

    def remove(self, member_id: str) -> ConsumerMember | None:
        member = self.members.pop(member_id, None)
        self.target.pop(member_id, None)
        instance_id = None if member is None else member.instance_id
        if instance_id is not None and self.static_members.get(instance_id) == member_id:
            del self.static_members[instance_id]
        return member
