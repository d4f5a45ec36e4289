"""KIP-848's consumer groups in the group coordinator: ConsumerGroupHeartbeat,
ConsumerGroupDescribe, session and revocation timeouts, and their records.

Sans-I/O, as the classic coordinator: each call brings ``now_ms`` and returns effects (the
records to append first, then the reply). The spec's actions (spec/ConsumerGroupProtocol.tla):
Join (a heartbeat at member epoch 0), ComputeTargetAssignment (``_update_target``), Heartbeat
(``reconciliation.reconcile``), Leave (epoch -1; a static member's -2) and SessionExpired
(``_tick_consumer_groups``). A heartbeat is checked as Kafka does: UNKNOWN_MEMBER_ID for a
member the group does not have, FENCED_MEMBER_EPOCH for an epoch that is neither the member's
nor (with owned partitions it was given) the one before, FENCED_INSTANCE_ID /
UNRELEASED_INSTANCE_ID for an instance id another member holds.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from refka.group import consumer_records as crec
from refka.group.assignors import ASSIGNORS
from refka.group.consumer_group import ConsumerGroup, TopicMetadata
from refka.group.consumer_member import (
    LEAVE_EPOCH,
    LEAVE_STATIC_EPOCH,
    NO_PARTITIONS,
    ConsumerMember,
    MemberState,
    by_topic,
)
from refka.group.consumer_messages import (
    ConsumerHeartbeatRequest,
    ConsumerHeartbeatResult,
    DescribedConsumerGroup,
    DescribedConsumerMember,
    TopicsView,
)
from refka.group.messages import Effect, Reply
from refka.group.offsets import offset_key
from refka.group.reconciliation import reconcile
from refka.group.topic_regex import compile_topic_regex, matching_topics

if TYPE_CHECKING:
    from refka.group.classic_group import ClassicGroup
    from refka.group.config import GroupConfig
    from refka.group.coordinator import RandomBits
    from refka.group.offsets import StoredOffset

E = ErrorCode
Result = ConsumerHeartbeatResult


class ConsumerGroupActions:
    """The consumer-group half of ``GroupCoordinator`` (a mixin over its fields)."""

    if TYPE_CHECKING:
        config: GroupConfig
        rng: RandomBits
        groups: dict[str, ClassicGroup]
        consumer_groups: dict[str, ConsumerGroup]
        offsets: dict[str, dict[tuple[str, int], StoredOffset]]
        pending_offsets: dict[str, dict[tuple[str, int], StoredOffset]]

        def partition_for(self, group_id: str) -> int: ...
        def _coordinator_error(self, group_id: str) -> ErrorCode | None: ...
        def _record(self, partition: int, key: bytes, value: bytes | None) -> None: ...
        def _finish(self, effects: Sequence[Effect], now_ms: int) -> list[Effect]: ...
        def _delete_classic_metadata(self, group_id: str) -> None: ...
        def can_upgrade(self, classic: ClassicGroup) -> bool: ...
        def maybe_downgrade(self, group: ConsumerGroup, now_ms: int) -> None: ...
        def upgrade(
            self, classic: ClassicGroup, topics: TopicsView, now_ms: int
        ) -> ConsumerGroup: ...

    # -- ConsumerGroupHeartbeat ----------------------------------------------------------

    def consumer_group_heartbeat(
        self, request: object, req: ConsumerHeartbeatRequest, topics: TopicsView, now_ms: int
    ) -> list[Effect]:
        try:
            result = self._heartbeat(req, topics, now_ms)
        except _Refused as refused:
            result = Result(refused.error, refused.message, req.member_id or None)
        return self._finish([Reply(request, result)], now_ms)

    def _heartbeat(self, req: ConsumerHeartbeatRequest, topics: TopicsView, now_ms: int) -> Result:
        if not req.group_id:
            raise _Refused(E.invalid_request, "GroupId can't be empty.")
        if not req.member_id and req.member_epoch == 0 and req.coordinator_generates_id:
            raw = self.rng.getrandbits(128).to_bytes(16, "big")
            member_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")  # as Kafka's Uuid
            req = dataclasses.replace(req, member_id=member_id)
        error = self._coordinator_error(req.group_id)
        if error is not None:
            raise _Refused(error)
        _check_request(req, self.config)
        if req.member_epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH):
            return self._leave(req, now_ms)
        group = self._group_for(req, topics, now_ms)
        member = self._member_for(group, req, now_ms)
        updated = _with_subscription(member, req)
        updated.session_deadline_ms = now_ms + self.config.group_consumer_session_timeout_ms
        new_member = member.member_id not in group.members
        if new_member and len(group.members) >= self.config.group_consumer_max_size:
            raise _Refused(E.group_max_size_reached)
        bump = new_member or _subscription(member) != _subscription(updated)
        group.put(updated)
        if new_member or bump:
            self._write_member_metadata(group, updated)
        if self._refresh_topics(group, topics):
            bump = True
        if bump:
            self._bump_group_epoch(group)
        self._update_target(group)
        before = group.members[updated.member_id]
        after = self._reconcile(group, before, req.owned, now_ms)
        send = (
            req.member_epoch == 0
            or after.assigned != member.assigned
            or (req.owned is not None and req.owned != after.assigned)
        )
        return Result(
            E.none,
            None,
            after.member_id,
            after.member_epoch,
            self.config.group_consumer_heartbeat_interval_ms,
            after.assigned if send else None,
        )

    def _refresh_topics(self, group: ConsumerGroup, topics: TopicsView | None) -> bool:
        """Read the subscribed topics again; True if they changed (the group epoch must move).
        The first read after a load only sets them."""
        if topics is None:
            return False
        now = _resolve(group, topics)
        changed = group.topics is not None and now != group.topics
        group.topics = now
        return changed

    def _group_for(
        self, req: ConsumerHeartbeatRequest, topics: TopicsView, now_ms: int
    ) -> ConsumerGroup:
        group = self.consumer_groups.get(req.group_id)
        if group is not None:
            return group
        if req.member_epoch != 0:
            raise _Refused(E.unknown_member_id, f"Group {req.group_id} has no such member.")
        classic = self.groups.get(req.group_id)
        if classic is not None and classic.members and self.can_upgrade(classic):
            return self.upgrade(classic, topics, now_ms)  # KIP-848's online upgrade
        if classic is not None and classic.members:
            raise _Refused(E.group_id_not_found, f"Group {req.group_id} is not a consumer group.")
        if classic is not None:  # an empty classic group (its offsets stay) becomes a consumer one
            del self.groups[req.group_id]
            self._delete_classic_metadata(req.group_id)
        group = self.consumer_groups[req.group_id] = ConsumerGroup(req.group_id)
        return group

    def _member_for(
        self, group: ConsumerGroup, req: ConsumerHeartbeatRequest, now_ms: int
    ) -> ConsumerMember:
        if req.member_epoch == 0:
            return self._joining_member(group, req, now_ms)
        member = group.members.get(req.member_id)
        if member is None:
            raise _Refused(E.unknown_member_id, f"Member {req.member_id} is not in the group.")
        if req.instance_id is not None and group.static_members.get(req.instance_id) != (
            req.member_id
        ):
            raise _Refused(E.fenced_instance_id)
        if req.member_epoch > member.member_epoch or (
            req.member_epoch < member.member_epoch
            and not (
                req.member_epoch == member.previous_member_epoch
                and req.owned is not None
                and req.owned <= member.assigned
            )
        ):
            raise _Refused(
                E.fenced_member_epoch,
                f"The member epoch is {member.member_epoch}, not {req.member_epoch}.",
            )
        return member

    def _joining_member(
        self, group: ConsumerGroup, req: ConsumerHeartbeatRequest, now_ms: int
    ) -> ConsumerMember:
        """Epoch 0: a new member, or a static member coming back under its instance id (it
        takes over its predecessor's epoch and assignment, without a rebalance)."""
        if req.instance_id is not None:
            previous_id = group.static_members.get(req.instance_id)
            previous = None if previous_id is None else group.members.get(previous_id)
            if previous is not None and previous_id != req.member_id:
                if not previous.left_static:
                    raise _Refused(
                        E.unreleased_instance_id,
                        f"Instance id {req.instance_id} is in use by {previous_id}.",
                    )
                self._remove_member_records(group, previous.member_id)
                group.remove(previous.member_id)
                epoch = previous.previous_member_epoch
                target = group.target.get(previous.member_id, previous.assigned)
                member = dataclasses.replace(previous, member_id=req.member_id, member_epoch=epoch)
                group.put(member)
                group.target[req.member_id] = target
                self._write_member_metadata(group, member)
                self._write_target_member(group, member.member_id)
                self._write_current_assignment(group, member)
                return member
        known = group.members.get(req.member_id)
        if known is not None:  # a member that lost its state joins again: it owns nothing
            return dataclasses.replace(
                known,
                member_epoch=0,
                state=MemberState.STABLE,
                assigned=NO_PARTITIONS,
                revoking=NO_PARTITIONS,
            )
        return ConsumerMember(req.member_id, instance_id=req.instance_id)

    def _reconcile(
        self,
        group: ConsumerGroup,
        member: ConsumerMember,
        owned: frozenset[tuple[object, int]] | None,
        now_ms: int,
    ) -> ConsumerMember:
        held = group.held_by_others(member.member_id)
        target = group.target.get(member.member_id, NO_PARTITIONS)
        after = reconcile(member, group.assignment_epoch, target, owned, held.__contains__)  # type: ignore[arg-type]
        if after is member:
            return member
        if after.state is MemberState.UNREVOKED_PARTITIONS and after.revoking != member.revoking:
            timeout = after.rebalance_timeout_ms
            after.revocation_deadline_ms = now_ms + timeout if timeout > 0 else None
        elif after.state is not MemberState.UNREVOKED_PARTITIONS:
            after.revocation_deadline_ms = None
        group.put(after)
        self._write_current_assignment(group, after)
        return after

    # -- leaving, expiry -----------------------------------------------------------------

    def _leave(self, req: ConsumerHeartbeatRequest, now_ms: int) -> Result:
        group = self.consumer_groups.get(req.group_id)
        member = None if group is None else group.members.get(req.member_id)
        if group is None or member is None:
            raise _Refused(E.unknown_member_id)
        if req.member_epoch == LEAVE_STATIC_EPOCH and member.instance_id is not None:
            left = dataclasses.replace(
                member,
                member_epoch=LEAVE_STATIC_EPOCH,
                previous_member_epoch=member.member_epoch,
            )
            group.put(left)  # keeps its partitions until its session times out
            self._write_current_assignment(group, left)
        else:
            self._remove_member(group, member.member_id, now_ms)
        return Result(E.none, None, req.member_id, req.member_epoch, 0)

    def _remove_member(self, group: ConsumerGroup, member_id: str, now_ms: int) -> None:
        """Fence or remove a member: its partitions are free at once; the group epoch moves
        and the target assignment is computed again (spec: RemoveMember)."""
        self._remove_member_records(group, member_id)
        group.remove(member_id)
        self._bump_group_epoch(group)
        self._update_target(group)
        self.maybe_downgrade(group, now_ms)

    def _tick_consumer_groups(self, now_ms: int) -> None:
        for group in list(self.consumer_groups.values()):
            if self._coordinator_error(group.group_id) is not None:
                continue
            for member in list(group.members.values()):
                if member.session_deadline_ms is None:
                    member.session_deadline_ms = now_ms + self._session_timeout_ms(member)
                expired = member.session_deadline_ms <= now_ms
                stuck = (
                    member.revocation_deadline_ms is not None
                    and member.revocation_deadline_ms <= now_ms
                )
                if expired or stuck:
                    self._remove_member(group, member.member_id, now_ms)

    def _session_timeout_ms(self, member: ConsumerMember) -> int:
        """A classic member's own session timeout, else group.consumer.session.timeout.ms."""
        if member.classic is not None:
            return member.classic.session_timeout_ms
        return self.config.group_consumer_session_timeout_ms

    def consumer_deadlines(self) -> list[int]:
        out: list[int] = []
        for group in self.consumer_groups.values():
            for m in group.members.values():
                out.append(0 if m.session_deadline_ms is None else m.session_deadline_ms)
                if m.revocation_deadline_ms is not None:
                    out.append(m.revocation_deadline_ms)
        return out

    # -- target assignment ----------------------------------------------------------------

    def _bump_group_epoch(self, group: ConsumerGroup) -> None:
        group.group_epoch += 1
        key = crec.encode_key(crec.ConsumerKey(crec.GROUP_METADATA, group.group_id))
        self._record(self.partition_for(group.group_id), key, crec.encode_epoch(group.group_epoch))

    def _write_epochs(self, group: ConsumerGroup) -> None:
        """ConsumerGroupMetadata and ConsumerGroupTargetAssignmentMetadata as they are."""
        partition = self.partition_for(group.group_id)
        for kind, epoch in (
            (crec.GROUP_METADATA, group.group_epoch),
            (crec.TARGET_METADATA, group.assignment_epoch),
        ):
            key = crec.encode_key(crec.ConsumerKey(kind, group.group_id))
            self._record(partition, key, crec.encode_epoch(epoch))

    def _update_target(self, group: ConsumerGroup) -> None:
        """ComputeTargetAssignment: the assignor runs for the group epoch."""
        if group.assignment_epoch >= group.group_epoch:
            return
        topics = group.topics or {}
        subscriptions = {
            m.member_id: frozenset(topics[n][0] for n in _member_topics(m, topics))
            for m in group.members.values()
        }
        counts = {topic_id: n for topic_id, n in topics.values()}
        assignor = ASSIGNORS[self._assignor_name(group)]
        target = assignor(subscriptions, counts, group.target)
        for member_id, partitions in target.items():
            if group.target.get(member_id) != partitions:
                group.target[member_id] = partitions
                self._write_target_member(group, member_id)
        group.assignment_epoch = group.group_epoch
        key = crec.encode_key(crec.ConsumerKey(crec.TARGET_METADATA, group.group_id))
        value = crec.encode_epoch(group.assignment_epoch)
        self._record(self.partition_for(group.group_id), key, value)

    def _assignor_name(self, group: ConsumerGroup) -> str:
        """The assignor most members ask for, else the first of group.consumer.assignors."""
        default = self.config.consumer_assignors[0]
        asked = [m.server_assignor for m in group.members.values() if m.server_assignor]
        return max(sorted(set(asked)), key=asked.count) if asked else default

    def drop_empty_consumer_group(self, group_id: str) -> None:
        """An empty consumer group that a classic member joins becomes a classic group: its
        epochs get tombstones, its offsets stay."""
        partition = self.partition_for(group_id)
        for kind in (crec.TARGET_METADATA, crec.GROUP_METADATA):
            self._record(partition, crec.encode_key(crec.ConsumerKey(kind, group_id)), None)
        del self.consumer_groups[group_id]

    def delete_consumer_group(self, group_id: str) -> ErrorCode:
        """DeleteGroups for a consumer group: NON_EMPTY_GROUP while it has members, else
        tombstones for its offsets, its epochs and its target assignment."""
        group = self.consumer_groups[group_id]
        if group.members:
            return E.non_empty_group
        partition = self.partition_for(group_id)
        for topic, p in [*self.offsets.pop(group_id, {}), *self.pending_offsets.pop(group_id, {})]:
            self._record(partition, offset_key(group_id, topic, p), None)
        for kind in (crec.TARGET_METADATA, crec.GROUP_METADATA):
            self._record(partition, crec.encode_key(crec.ConsumerKey(kind, group_id)), None)
        del self.consumer_groups[group_id]
        return E.none

    # -- ConsumerGroupDescribe -------------------------------------------------------------

    def consumer_group_describe(self, group_ids: Iterable[str]) -> list[DescribedConsumerGroup]:
        return [self._describe_consumer(g) for g in group_ids]

    def _describe_consumer(self, group_id: str) -> DescribedConsumerGroup:
        error = self._coordinator_error(group_id)
        if error is not None:
            return DescribedConsumerGroup(group_id, error)
        group = self.consumer_groups.get(group_id)
        if group is None:
            message = f"Group {group_id} " + (
                "is not a consumer group." if group_id in self.groups else "not found."
            )
            return DescribedConsumerGroup(group_id, E.group_id_not_found, message)
        members = tuple(
            DescribedConsumerMember(
                m.member_id,
                m.instance_id,
                m.rack_id,
                m.member_epoch,
                m.client_id,
                m.client_host,
                m.subscribed_topic_names,
                m.subscribed_topic_regex,
                m.assigned,
                group.target.get(m.member_id, NO_PARTITIONS),
                m.classic is not None,
            )
            for m in group.members.values()
        )
        return DescribedConsumerGroup(
            group_id,
            E.none,
            None,
            group.state,
            group.group_epoch,
            group.assignment_epoch,
            self._assignor_name(group),
            members,
        )

    # -- records ----------------------------------------------------------------------------

    def _member_record(
        self, group: ConsumerGroup, kind: int, member_id: str, value: bytes | None
    ) -> None:
        key = crec.encode_key(crec.ConsumerKey(kind, group.group_id, member_id))
        self._record(self.partition_for(group.group_id), key, value)

    def _write_member_metadata(self, group: ConsumerGroup, m: ConsumerMember) -> None:
        value = crec.MemberMetadataValue(
            m.instance_id,
            m.rack_id,
            m.client_id,
            m.client_host,
            m.subscribed_topic_names,
            m.subscribed_topic_regex,
            m.rebalance_timeout_ms,
            m.server_assignor,
            None if m.classic is None else (m.classic.session_timeout_ms, m.classic.protocols),
        )
        self._member_record(
            group, crec.MEMBER_METADATA, m.member_id, crec.encode_member_metadata(value)
        )

    def _write_target_member(self, group: ConsumerGroup, member_id: str) -> None:
        target = by_topic(group.target.get(member_id, NO_PARTITIONS))
        self._member_record(group, crec.TARGET_MEMBER, member_id, crec.encode_target_member(target))

    def _write_current_assignment(self, group: ConsumerGroup, m: ConsumerMember) -> None:
        value = crec.CurrentAssignmentValue(
            m.member_epoch,
            m.previous_member_epoch,
            m.state.value,
            by_topic(m.assigned),
            by_topic(m.revoking),
        )
        self._member_record(
            group, crec.CURRENT_ASSIGNMENT, m.member_id, crec.encode_current_assignment(value)
        )

    def _remove_member_records(self, group: ConsumerGroup, member_id: str) -> None:
        """Tombstones, in Kafka's order: current assignment, target, member metadata."""
        for kind in (crec.CURRENT_ASSIGNMENT, crec.TARGET_MEMBER, crec.MEMBER_METADATA):
            self._member_record(group, kind, member_id, None)


class _Refused(Exception):
    def __init__(self, error: ErrorCode, message: str | None = None) -> None:
        super().__init__(message)
        self.error, self.message = error, message


def _check_request(req: ConsumerHeartbeatRequest, config: GroupConfig) -> None:
    """INVALID_REQUEST / UNSUPPORTED_ASSIGNOR / INVALID_REGULAR_EXPRESSION, as Kafka checks."""
    if not req.member_id:
        raise _Refused(E.invalid_request, "MemberId can't be empty.")
    if req.member_epoch < LEAVE_STATIC_EPOCH:
        raise _Refused(E.invalid_request, f"MemberEpoch {req.member_epoch} is invalid.")
    if req.member_epoch == 0:
        if req.rebalance_timeout_ms == -1:
            raise _Refused(
                E.invalid_request, "RebalanceTimeoutMs must be provided in first request."
            )
        if req.owned is None:
            raise _Refused(E.invalid_request, "TopicPartitions must be empty when (re-)joining.")
        if req.subscribed_topic_names is None and req.subscribed_topic_regex is None:
            raise _Refused(
                E.invalid_request,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            )
    if req.member_epoch == LEAVE_STATIC_EPOCH and req.instance_id is None:
        raise _Refused(E.invalid_request, "InstanceId can't be null.")
    if req.server_assignor is not None and req.server_assignor not in config.consumer_assignors:
        raise _Refused(
            E.unsupported_assignor, f"ServerAssignor {req.server_assignor} is not supported."
        )
    if req.subscribed_topic_regex:
        try:
            compile_topic_regex(req.subscribed_topic_regex)
        except re.error as e:
            raise _Refused(
                E.invalid_regular_expression, f"SubscribedTopicRegex is invalid: {e}"
            ) from None


def _with_subscription(member: ConsumerMember, req: ConsumerHeartbeatRequest) -> ConsumerMember:
    """The member with what the request changed (a null field means unchanged)."""
    changes: dict[str, object] = {"client_id": req.client_id, "client_host": req.client_host}
    if req.instance_id is not None:
        changes["instance_id"] = req.instance_id
    if req.rack_id is not None:
        changes["rack_id"] = req.rack_id
    if req.rebalance_timeout_ms != -1:
        changes["rebalance_timeout_ms"] = req.rebalance_timeout_ms
    if req.subscribed_topic_names is not None:
        changes["subscribed_topic_names"] = tuple(sorted(set(req.subscribed_topic_names)))
    if req.subscribed_topic_regex is not None:
        changes["subscribed_topic_regex"] = req.subscribed_topic_regex or None
    if req.server_assignor is not None:
        changes["server_assignor"] = req.server_assignor
    return dataclasses.replace(member, **changes)  # type: ignore[arg-type]


def _subscription(m: ConsumerMember) -> tuple[object, ...]:
    return (m.subscribed_topic_names, m.subscribed_topic_regex, m.server_assignor, m.rack_id)


def _member_topics(m: ConsumerMember, topics: TopicMetadata) -> set[str]:
    """The subscribed names that exist, and the topics the member's regex matches."""
    names = {n for n in m.subscribed_topic_names if n in topics}
    if m.subscribed_topic_regex:
        names |= matching_topics(compile_topic_regex(m.subscribed_topic_regex), topics)
    return names


def _resolve(group: ConsumerGroup, topics: TopicsView) -> TopicMetadata:
    """The subscribed topics' ids and partition counts now (regexes against every topic)."""
    wanted = set(group.subscribed_names())
    names = (
        list(topics.names())
        if any(m.subscribed_topic_regex for m in group.members.values())
        else []
    )
    for regex in {m.subscribed_topic_regex for m in group.members.values()}:
        if regex:
            wanted |= matching_topics(compile_topic_regex(regex), names)
    out: TopicMetadata = {}
    for name in sorted(wanted):
        found = topics.lookup(name)
        if found is not None:
            out[name] = found
    return out
