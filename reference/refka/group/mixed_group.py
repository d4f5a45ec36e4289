"""Classic members in a KIP-848 consumer group, and the online upgrade of a classic group
(``group.consumer.migration.policy``), as Kafka 4.x allows.

- **Upgrade.** A ConsumerGroupHeartbeat joining a Stable classic group of protocol type
  "consumer" converts it (policy ``upgrade`` or ``bidirectional``): each classic member becomes a
  member of the consumer group at the generation as its member epoch, keeping the partitions its
  assignment gave it; then the new member joins (a new group epoch) and the usual
  reconciliation moves partitions, revoking before reassigning.
- **Classic members** keep speaking JoinGroup, SyncGroup, Heartbeat and LeaveGroup. A JoinGroup
  is a heartbeat of the consumer protocol: its subscription (topics, the partitions it still
  owns) is read from its protocol metadata, the member is reconciled, and the answer comes at
  once with the member epoch as generation and no leader (the member is a follower). SyncGroup
  answers the member's assigned partitions (a ConsumerProtocolAssignment); Heartbeat answers
  REBALANCE_IN_PROGRESS while the member is not STABLE at the assignment epoch, so that it
  rejoins and reports what it revoked; LeaveGroup removes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from refka.group.classic_group import ClassicGroup
from refka.group.consumer_group import ConsumerGroup
from refka.group.consumer_member import ClassicInfo, ConsumerMember, MemberState, TopicPartitions
from refka.group.consumer_messages import TopicsView
from refka.group.consumer_protocol import (
    decode_assignment,
    decode_subscription,
    encode_assignment,
)
from refka.group.member import ClassicMember
from refka.group.messages import (
    Effect,
    HeartbeatResult,
    JoinGroupRequest,
    JoinGroupResult,
    LeaveGroupResult,
    LeavingMember,
    LeftMember,
    Reply,
    SyncGroupRequest,
    SyncGroupResult,
)
from refka.group.state import GroupState

if TYPE_CHECKING:
    from refka.group.config import GroupConfig
    from refka.group.consumer_group import TopicMetadata

E = ErrorCode
UPGRADE_POLICIES = frozenset({"upgrade", "bidirectional"})
DOWNGRADE_POLICIES = frozenset({"downgrade", "bidirectional"})


class MixedGroupActions:
    """The classic protocol over consumer groups (a mixin of ``GroupCoordinator``)."""

    if TYPE_CHECKING:
        config: GroupConfig
        groups: dict[str, ClassicGroup]
        consumer_groups: dict[str, ConsumerGroup]

        def _new_member_id(self, prefix: str) -> str: ...
        def _finish(self, effects: Sequence[Effect], now_ms: int) -> list[Effect]: ...
        def _delete_classic_metadata(self, group_id: str) -> None: ...
        def drop_empty_consumer_group(self, group_id: str) -> None: ...
        def _bump_group_epoch(self, group: ConsumerGroup) -> None: ...
        def _write_epochs(self, group: ConsumerGroup) -> None: ...
        def _update_target(self, group: ConsumerGroup) -> None: ...
        def _remove_member(self, group: ConsumerGroup, member_id: str, now_ms: int) -> None: ...
        def _remove_member_records(self, group: ConsumerGroup, member_id: str) -> None: ...
        def _store_group(self, group: ClassicGroup) -> None: ...
        def _prepare_rebalance(self, group: ClassicGroup, now_ms: int) -> list[Effect]: ...
        def _session_timeout_ms(self, member: ConsumerMember) -> int: ...
        def _write_member_metadata(self, group: ConsumerGroup, m: ConsumerMember) -> None: ...
        def _write_target_member(self, group: ConsumerGroup, member_id: str) -> None: ...
        def _write_current_assignment(self, group: ConsumerGroup, m: ConsumerMember) -> None: ...
        def _refresh_topics(self, group: ConsumerGroup, topics: TopicsView | None) -> bool: ...
        def _reconcile(
            self,
            group: ConsumerGroup,
            member: ConsumerMember,
            owned: frozenset[tuple[object, int]] | None,
            now_ms: int,
        ) -> ConsumerMember: ...

    # -- upgrade -----------------------------------------------------------------------------

    def can_upgrade(self, classic: ClassicGroup) -> bool:
        """Policy upgrade/bidirectional, a Stable group of the consumer protocol whose
        members' subscriptions can be read."""
        if not (
            self.config.group_consumer_migration_policy in UPGRADE_POLICIES
            and classic.protocol_type == "consumer"
            and classic.state is GroupState.STABLE
            and classic.protocol_name is not None
        ):
            return False
        try:
            for m in classic.members.values():
                decode_subscription(m.metadata(classic.protocol_name))
        except (ValueError, KeyError):
            return False
        return True

    def upgrade(self, classic: ClassicGroup, topics: TopicsView, now_ms: int) -> ConsumerGroup:
        """The classic group as a consumer group (its records written, its classic record
        tombstoned): members keep their generation as member epoch and their partitions."""
        group = ConsumerGroup(
            classic.group_id,
            group_epoch=classic.generation_id,
            assignment_epoch=classic.generation_id,
        )
        names: set[str] = set()
        subscriptions = {}
        for m in classic.members.values():
            subscriptions[m.member_id] = decode_subscription(
                m.metadata(classic.protocol_name or "")
            )
            names |= set(subscriptions[m.member_id].topics)
        known = {n: found for n in sorted(names) if (found := topics.lookup(n)) is not None}
        for m in classic.members.values():
            assigned = _assigned(m.assignment, known)
            member = ConsumerMember(
                m.member_id,
                instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                subscribed_topic_names=tuple(sorted(set(subscriptions[m.member_id].topics))),
                rebalance_timeout_ms=m.rebalance_timeout_ms,
                member_epoch=classic.generation_id,
                previous_member_epoch=classic.generation_id,
                assigned=assigned,
                session_deadline_ms=now_ms + m.session_timeout_ms,
                classic=ClassicInfo(m.session_timeout_ms, m.protocols),
            )
            group.put(member)
            group.target[member.member_id] = assigned
        group.topics = known
        del self.groups[classic.group_id]
        self._delete_classic_metadata(classic.group_id)
        self.consumer_groups[group.group_id] = group
        self._write_epochs(group)
        for member in group.members.values():
            self._write_member_metadata(group, member)
            self._write_target_member(group, member.member_id)
            self._write_current_assignment(group, member)
        return group

    # -- downgrade -----------------------------------------------------------------------------

    def maybe_downgrade(self, group: ConsumerGroup, now_ms: int) -> None:
        """The last consumer-protocol member left and only classic members remain (policy
        ``downgrade`` or ``bidirectional``): the group becomes a classic group again, at the
        group epoch as generation, each member keeping its assignment, and rebalances (its
        members rejoin at their next heartbeat). Its consumer records get tombstones."""
        members = list(group.members.values())
        if (
            self.config.group_consumer_migration_policy not in DOWNGRADE_POLICIES
            or not members
            or any(m.classic is None for m in members)
        ):
            return
        common = set.intersection(
            *({name for name, _ in m.classic.protocols} for m in members if m.classic)
        )
        first = members[0].classic
        protocol = next((n for n, _ in first.protocols if n in common), None) if first else None
        if protocol is None:
            return  # no protocol every member supports: stay a consumer group
        names = {topic_id: name for name, (topic_id, _) in (group.topics or {}).items()}
        classic = ClassicGroup(
            group.group_id,
            state=GroupState.STABLE,
            state_timestamp_ms=now_ms,
            generation_id=group.group_epoch,
            protocol_type="consumer",
            protocol_name=protocol,
        )
        for m in members:
            assert m.classic is not None
            by_name: dict[str, set[int]] = {}
            for topic_id, p in m.assigned:
                if topic_id in names:
                    by_name.setdefault(names[topic_id], set()).add(p)
            classic.add_member(
                ClassicMember(
                    member_id=m.member_id,
                    group_instance_id=m.instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    session_timeout_ms=m.classic.session_timeout_ms,
                    rebalance_timeout_ms=max(m.rebalance_timeout_ms, 0),
                    protocol_type="consumer",
                    protocols=m.classic.protocols,
                    assignment=encode_assignment({n: frozenset(ps) for n, ps in by_name.items()}),
                    heartbeat_deadline_ms=now_ms + m.classic.session_timeout_ms,
                )
            )
        for m in members:
            self._remove_member_records(group, m.member_id)
        self.drop_empty_consumer_group(group.group_id)
        self.groups[group.group_id] = classic
        self._store_group(classic)
        effects = self._prepare_rebalance(classic, now_ms)
        assert not effects  # no member of a converted group waits on an answer

    # -- JoinGroup / SyncGroup / Heartbeat / LeaveGroup of classic members -----------------------

    def classic_join(
        self, request: object, req: JoinGroupRequest, topics: TopicsView | None, now_ms: int
    ) -> list[Effect]:
        group = self.consumer_groups[req.group_id]
        if req.protocol_type != "consumer" or not req.protocols:
            return [Reply(request, JoinGroupResult(E.inconsistent_group_protocol, req.member_id))]
        if not req.member_id and req.require_known_member_id:
            member_id = self._new_member_id(req.client_id or "consumer")
            return [Reply(request, JoinGroupResult(E.member_id_required, member_id))]
        member_id = req.member_id or self._new_member_id(req.client_id or "consumer")
        known = group.members.get(member_id)
        if req.member_id and known is None and req.group_instance_id is None:
            return [Reply(request, JoinGroupResult(E.unknown_member_id, req.member_id))]
        if known is not None and known.classic is None:
            return [Reply(request, JoinGroupResult(E.inconsistent_group_protocol, member_id))]
        try:
            subscription = decode_subscription(req.protocols[0][1])
        except ValueError:
            return [Reply(request, JoinGroupResult(E.inconsistent_group_protocol, member_id))]
        member = known or ConsumerMember(member_id, instance_id=req.group_instance_id)
        updated = dataclasses.replace(
            member,
            subscribed_topic_names=tuple(sorted(set(subscription.topics))),
            rack_id=subscription.rack_id,
            rebalance_timeout_ms=req.rebalance_timeout_ms,
            client_id=req.client_id,
            client_host=req.client_host,
            classic=ClassicInfo(req.session_timeout_ms, req.protocols),
        )
        updated.session_deadline_ms = now_ms + req.session_timeout_ms
        bump = known is None or known.subscribed_topic_names != updated.subscribed_topic_names
        group.put(updated)
        self._write_member_metadata(group, updated)
        if self._refresh_topics(group, topics) or bump:
            self._bump_group_epoch(group)
        self._update_target(group)
        ids = group.topics or {}
        owned = frozenset((ids[t][0], p) for t, p in subscription.owned if t in ids)
        after = self._reconcile(group, group.members[member_id], owned, now_ms)
        result = JoinGroupResult(
            E.none,
            member_id,
            after.member_epoch,
            "consumer",
            req.protocols[0][0],
            "",
        )
        return self._finish([Reply(request, result)], now_ms)

    def _classic_member(
        self, group: ConsumerGroup, member_id: str, generation_id: int
    ) -> tuple[ConsumerMember | None, ErrorCode]:
        member = group.members.get(member_id)
        if member is None or member.classic is None:
            return None, E.unknown_member_id
        if generation_id != member.member_epoch:
            return None, E.illegal_generation
        return member, E.none

    def classic_sync(self, request: object, req: SyncGroupRequest, now_ms: int) -> list[Effect]:
        group = self.consumer_groups[req.group_id]
        member, error = self._classic_member(group, req.member_id, req.generation_id)
        if member is None or member.classic is None:
            return [Reply(request, SyncGroupResult(error))]
        names = {topic_id: name for name, (topic_id, _) in (group.topics or {}).items()}
        by_name: dict[str, set[int]] = {}
        for topic_id, p in member.assigned:
            if topic_id in names:
                by_name.setdefault(names[topic_id], set()).add(p)
        assignment = encode_assignment({n: frozenset(ps) for n, ps in by_name.items()})
        protocol = member.classic.protocols[0][0] if member.classic.protocols else None
        return [Reply(request, SyncGroupResult(E.none, assignment, "consumer", protocol))]

    def classic_heartbeat(
        self, request: object, group_id: str, member_id: str, generation_id: int, now_ms: int
    ) -> list[Effect]:
        group = self.consumer_groups[group_id]
        member, error = self._classic_member(group, member_id, generation_id)
        if member is not None:
            member.session_deadline_ms = now_ms + self._session_timeout_ms(member)
            behind = member.member_epoch != group.assignment_epoch
            moving = member.assigned != group.target.get(member_id, member.assigned)
            if behind or moving or member.state is not MemberState.STABLE:
                error = E.rebalance_in_progress
        return [Reply(request, HeartbeatResult(error))]

    def classic_leave(
        self, request: object, group_id: str, leaving: Iterable[LeavingMember], now_ms: int
    ) -> list[Effect]:
        group = self.consumer_groups[group_id]
        results = []
        for m in leaving:
            member_id = m.member_id
            if m.group_instance_id is not None:
                member_id = group.static_members.get(m.group_instance_id, "")
            if member_id in group.members:
                self._remove_member(group, member_id, now_ms)
                results.append(LeftMember(m.member_id, m.group_instance_id, E.none))
            else:
                results.append(LeftMember(m.member_id, m.group_instance_id, E.unknown_member_id))
        return self._finish([Reply(request, LeaveGroupResult(E.none, tuple(results)))], now_ms)


def _assigned(assignment: bytes, known: TopicMetadata) -> TopicPartitions:
    """The partitions a classic assignment gives, by topic id (unknown topics left out)."""
    try:
        pairs = decode_assignment(assignment) if assignment else []
    except ValueError:
        pairs = []  # a leader's assignment refka cannot read: the member starts with nothing
    return frozenset((known[t][0], p) for t, p in pairs if t in known)
