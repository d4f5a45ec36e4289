"""One member of a KIP-848 consumer group, as Kafka's ``ConsumerGroupMember``.

The member's subscription (topic names or a regex, its server assignor), its member epoch and
the epoch before it, its reconciliation state (Kafka's ``MemberState``, stored as its byte in
``ConsumerGroupCurrentMemberAssignment``), the partitions it may consume (``assigned``) and
those it must give up first (``revoking``). Partitions are ``(topic id, partition)`` pairs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum

TopicPartitions = frozenset[tuple[uuid.UUID, int]]
NO_PARTITIONS: TopicPartitions = frozenset()
LEAVE_EPOCH = -1  # ConsumerGroupHeartbeat member_epoch: leave the group
LEAVE_STATIC_EPOCH = -2  # a static member leaves and will come back with its instance id


class MemberState(Enum):
    """Kafka's ``MemberState`` with its record byte (spec: cState)."""

    STABLE = 0
    UNREVOKED_PARTITIONS = 1
    UNRELEASED_PARTITIONS = 2
    UNKNOWN = 127


@dataclass(frozen=True, slots=True)
class ClassicInfo:
    """A member that speaks the classic protocol inside a consumer group (KIP-848's upgrade
    path): its session timeout and the protocols of its JoinGroup (name, subscription)."""

    session_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]


@dataclass(slots=True)
class ConsumerMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    rebalance_timeout_ms: int = -1
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: TopicPartitions = field(default=NO_PARTITIONS)
    revoking: TopicPartitions = field(default=NO_PARTITIONS)
    session_deadline_ms: int | None = None  # None: just loaded, set at the first tick
    revocation_deadline_ms: int | None = None  # rebalance timeout while UNREVOKED_PARTITIONS
    classic: ClassicInfo | None = None  # None: the member speaks ConsumerGroupHeartbeat

    @property
    def held(self) -> TopicPartitions:
        """What this member holds: assigned or pending revocation (spec: HeldByOthers)."""
        return self.assigned | self.revoking

    @property
    def left_static(self) -> bool:
        """A static member that sent epoch -2: its instance id may come back."""
        return self.member_epoch == LEAVE_STATIC_EPOCH


def by_topic(partitions: TopicPartitions) -> dict[uuid.UUID, frozenset[int]]:
    """``{topic id: partitions}``, the shape of the wire and of the records."""
    out: dict[uuid.UUID, set[int]] = {}
    for topic_id, p in partitions:
        out.setdefault(topic_id, set()).add(p)
    return {t: frozenset(ps) for t, ps in out.items()}


def flatten(assignment: dict[uuid.UUID, frozenset[int]]) -> TopicPartitions:
    return frozenset((t, p) for t, ps in assignment.items() for p in ps)
