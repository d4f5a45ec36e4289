"""The classic group coordinator: every group of this broker, as Kafka's GroupMetadataManager.

Sans-I/O. Each call brings the current time (``now_ms``) and, for requests that may answer
later, an opaque ``request`` token. Calls that change state return a list of effects: first
``Append``s to ``__consumer_offsets`` (to be made durable), then ``Reply``s, which may answer
other requests than the caller's (a JoinGroup completing for every waiting member). Read-only
calls (``fetch_offsets``, ``describe_groups``, ``list_groups``) return their result directly.
Timers: the driver calls ``on_tick(now_ms)`` at or after ``next_deadline_ms()``.

The offset actions (CommitOffset, OffsetFetch, OffsetDelete, retention) are in ``offsets.py``.
Method names follow the spec's actions (spec/ConsumerGroup.tla): JoinGroup (``join_group``),
CompleteJoin (``_complete_join``), SyncGroup / SyncGroupLeader (``sync_group``), Heartbeat,
LeaveGroup, CommitOffset (``commit_offsets``) and MemberExpired (session expiry in ``on_tick``).
The invariant SingleOwnerPerGeneration holds because a generation's assignment is accepted
once, from its leader, and any membership change starts a new generation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kio.schema.errors import ErrorCode

from refka.group import records as rec
from refka.group.classic_group import ClassicGroup
from refka.group.config import GroupConfig, retention_check
from refka.group.consumer_coordinator import ConsumerGroupActions
from refka.group.consumer_group import ConsumerGroup
from refka.group.consumer_messages import TopicsView
from refka.group.member import ClassicMember
from refka.group.messages import (
    Append,
    DeletedGroup,
    DescribedGroup,
    DescribedMember,
    Effect,
    HeartbeatResult,
    JoinedMember,
    JoinGroupRequest,
    JoinGroupResult,
    LeaveGroupResult,
    LeavingMember,
    LeftMember,
    ListedGroup,
    Reply,
    SyncGroupRequest,
    SyncGroupResult,
)
from refka.group.mixed_group import MixedGroupActions
from refka.group.offsets import OffsetActions, PendingCommit, StoredOffset, offset_key
from refka.group.partitioner import partition_for
from refka.group.state import GroupState, parse_state
from refka.group.txn_offsets import TxnOffsetActions, TxnOffsets

if TYPE_CHECKING:
    from refka.core.trace import Tracer


class RandomBits(Protocol):
    """The random source the coordinator draws member ids from (seeded by the driver)."""

    def getrandbits(self, k: int, /) -> int: ...


TopicPartition = tuple[str, int]
E = ErrorCode


@dataclass(slots=True)
class GroupCoordinator(OffsetActions, TxnOffsetActions, ConsumerGroupActions, MixedGroupActions):
    config: GroupConfig
    rng: RandomBits
    owned_partitions: frozenset[int] | None = None  # None: this broker owns every partition
    loading_partitions: frozenset[int] = frozenset()  # led, still being replayed
    groups: dict[str, ClassicGroup] = field(default_factory=dict)
    consumer_groups: dict[str, ConsumerGroup] = field(default_factory=dict)  # KIP-848
    offsets: dict[str, dict[TopicPartition, StoredOffset]] = field(default_factory=dict)
    pending_offsets: dict[str, dict[TopicPartition, StoredOffset]] = field(default_factory=dict)
    pending_txn_offsets: dict[int, TxnOffsets] = field(default_factory=dict)  # by producer id
    _txn_writes: dict[int, tuple[int, str, list[TopicPartition]]] = field(default_factory=dict)
    next_retention_check_ms: int | None = None
    _records: dict[int, list[tuple[bytes, bytes | None]]] = field(default_factory=dict)
    _staged: dict[int, list[PendingCommit]] = field(default_factory=dict)  # by partition
    _writes: dict[int, tuple[int, list[PendingCommit]]] = field(default_factory=dict)
    _next_write_id: int = 1
    tracer: Tracer | None = None  # ConsumerGroup.tla steps (refka.core.trace)
    node: int = -1  # this broker's id, for the trace events

    # -- routing -----------------------------------------------------------------------

    def partition_for(self, group_id: str) -> int:
        return partition_for(group_id, self.config.offsets_topic_num_partitions)

    def _coordinator_error(self, group_id: str) -> ErrorCode | None:
        if not group_id:
            return E.invalid_group_id
        owned = self.owned_partitions
        if owned is None:
            return None
        partition = self.partition_for(group_id)
        if partition in self.loading_partitions:
            return E.coordinator_load_in_progress
        if partition not in owned:
            return E.not_coordinator
        return None

    def _new_member_id(self, prefix: str) -> str:
        return f"{prefix}-{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def _new_write_id(self) -> int:
        write_id, self._next_write_id = self._next_write_id, self._next_write_id + 1
        return write_id

    def _finish(self, effects: Sequence[Effect], now_ms: int) -> list[Effect]:
        """Appends (one batch per partition) before every reply: persist, then acknowledge.
        Each append is a write whose outcome the driver reports (``complete_write``)."""
        appends: list[Effect] = []
        for p, entries in self._records.items():
            write_id, self._next_write_id = self._next_write_id, self._next_write_id + 1
            self._start_write(p, write_id)
            appends.append(Append(p, rec.build_batch(entries, now_ms), write_id))
        self._records.clear()
        return appends + [e for e in effects if isinstance(e, Reply)]

    # -- JoinGroup ---------------------------------------------------------------------

    def join_group(
        self,
        request: object,
        req: JoinGroupRequest,
        now_ms: int,
        topics: TopicsView | None = None,
    ) -> list[Effect]:
        """JoinGroup: enter the group, or rejoin it, and wait for the rebalance to complete.
        In a KIP-848 group with members, a classic member's join (``mixed_group``)."""
        error = self._coordinator_error(req.group_id)
        consumer = self.consumer_groups.get(req.group_id)
        if error is None and consumer is not None and consumer.members:
            return self.classic_join(request, req, topics, now_ms)
        if error is None and consumer is not None:  # an empty consumer group becomes classic
            self.drop_empty_consumer_group(req.group_id)
        if error is None and not (
            self.config.group_min_session_timeout_ms
            <= req.session_timeout_ms
            <= self.config.group_max_session_timeout_ms
        ):
            error = E.invalid_session_timeout
        group = self.groups.get(req.group_id)
        if error is None and group is None and req.member_id:
            error = E.unknown_member_id
        if error is not None:
            return [Reply(request, JoinGroupResult(error, req.member_id))]
        if group is None:
            group = self.groups[req.group_id] = ClassicGroup(
                req.group_id, state_timestamp_ms=now_ms
            )
        if group.state is GroupState.DEAD:
            return [Reply(request, JoinGroupResult(E.coordinator_not_available, req.member_id))]
        names = frozenset(name for name, _ in req.protocols)
        if not group.supports_protocols(req.protocol_type, names):
            return [Reply(request, JoinGroupResult(E.inconsistent_group_protocol, req.member_id))]
        if req.member_id:
            effects = self._join_known_member(group, request, req, now_ms)
        else:
            effects = self._join_unknown_member(group, request, req, now_ms)
        effects += self._maybe_complete_join(group, now_ms)
        return self._finish(effects, now_ms)

    def _join_unknown_member(
        self, group: ClassicGroup, request: object, req: JoinGroupRequest, now_ms: int
    ) -> list[Effect]:
        instance_id = req.group_instance_id
        if instance_id is not None and group.static_member_id(instance_id) is not None:
            return self._replace_static_member(group, request, req, now_ms)
        if len(group.members) + len(group.pending_members) >= self.config.group_max_size:
            return [Reply(request, JoinGroupResult(E.group_max_size_reached))]
        member_id = self._new_member_id(instance_id or req.client_id)
        if instance_id is None and req.require_known_member_id:
            # KIP-394: hand out the id first, the member joins with it on its next request.
            group.pending_members[member_id] = now_ms + req.session_timeout_ms
            return [Reply(request, JoinGroupResult(E.member_id_required, member_id))]
        return self._add_member_and_rebalance(group, request, req, member_id, now_ms)

    def _join_known_member(
        self, group: ClassicGroup, request: object, req: JoinGroupRequest, now_ms: int
    ) -> list[Effect]:
        member_id = req.member_id
        if member_id in group.pending_members:
            return self._add_member_and_rebalance(group, request, req, member_id, now_ms)
        error = self._member_error(group, member_id, req.group_instance_id)
        if error is None and group.state in (GroupState.EMPTY, GroupState.DEAD):
            error = E.unknown_member_id
        if error is not None:
            return [Reply(request, JoinGroupResult(error, member_id))]
        member = group.members[member_id]
        member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
        if group.state is GroupState.PREPARING_REBALANCE:
            effects = self._take_join(member, request)
            _update_member(member, req)
            return effects
        unchanged = member.matches(req.protocols)
        if group.state is GroupState.COMPLETING_REBALANCE and unchanged:
            # A duplicate join after the response was lost: answer with this generation.
            return [Reply(request, self._join_result(group, member))]
        if group.state is GroupState.STABLE and unchanged and not group.is_leader(member_id):
            return [Reply(request, self._join_result(group, member))]
        _update_member(member, req)
        member.awaiting_join = request
        if self.tracer is not None and group.state is GroupState.STABLE:
            from refka.core import trace

            state = GroupState.PREPARING_REBALANCE.value
            self.tracer(trace.RejoinGroup(self.node, group.group_id, member_id,
                                          group.generation_id, state))  # fmt: skip
        return self._prepare_rebalance(group, now_ms)

    def _take_join(self, member: ClassicMember, request: object) -> list[Effect]:
        """Make ``request`` the member's waiting join; a join it replaces is told to retry."""
        effects: list[Effect] = []
        if member.awaiting_join is not None and member.awaiting_join is not request:
            effects.append(
                Reply(
                    member.awaiting_join, JoinGroupResult(E.rebalance_in_progress, member.member_id)
                )
            )
        member.awaiting_join = request
        return effects

    def _add_member_and_rebalance(
        self,
        group: ClassicGroup,
        request: object,
        req: JoinGroupRequest,
        member_id: str,
        now_ms: int,
    ) -> list[Effect]:
        member = ClassicMember(
            member_id=member_id,
            group_instance_id=req.group_instance_id,
            client_id=req.client_id,
            client_host=req.client_host,
            session_timeout_ms=req.session_timeout_ms,
            rebalance_timeout_ms=req.rebalance_timeout_ms,
            protocol_type=req.protocol_type,
            protocols=req.protocols,
            awaiting_join=request,
            heartbeat_deadline_ms=now_ms + req.session_timeout_ms,
            is_new=True,
        )
        group.add_member(member)
        if self.tracer is not None:  # the group rebalances (the join may complete at once)
            from refka.core import trace  # only a traced core loads the events (issue 15)

            state = GroupState.PREPARING_REBALANCE.value
            self.tracer(
                trace.JoinGroup(self.node, group.group_id, member_id, group.generation_id, state)
            )
        if group.state is GroupState.PREPARING_REBALANCE:
            self._extend_initial_delay(group, now_ms)
            return []
        return self._prepare_rebalance(group, now_ms)

    def _replace_static_member(
        self, group: ClassicGroup, request: object, req: JoinGroupRequest, now_ms: int
    ) -> list[Effect]:
        """A static member rejoins with no member id: it gets a new one, the old is fenced."""
        assert req.group_instance_id is not None
        old_id = group.static_members[req.group_instance_id]
        old = group.members[old_id]
        effects: list[Effect] = []
        if old.awaiting_join is not None:
            effects.append(Reply(old.awaiting_join, JoinGroupResult(E.fenced_instance_id, old_id)))
        if old.awaiting_sync is not None:
            effects.append(Reply(old.awaiting_sync, SyncGroupResult(E.fenced_instance_id)))
        old.awaiting_join = old.awaiting_sync = None
        member = group.replace_static_member(old_id, self._new_member_id(req.group_instance_id))
        unchanged = member.matches(req.protocols)
        _update_member(member, req)
        member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
        if group.state is GroupState.STABLE and unchanged:
            # KIP-345: a known static member restarting does not trigger a rebalance.
            self._store_group(group)
            result = self._join_result(
                group, member, skip_assignment=group.is_leader(member.member_id)
            )
            return [*effects, Reply(request, result)]
        member.awaiting_join = request
        if group.state is GroupState.PREPARING_REBALANCE:
            return effects
        return effects + self._prepare_rebalance(group, now_ms)

    def _join_result(
        self, group: ClassicGroup, member: ClassicMember, skip_assignment: bool = False
    ) -> JoinGroupResult:
        members: tuple[JoinedMember, ...] = ()
        if group.is_leader(member.member_id):
            assert group.protocol_name is not None
            members = tuple(
                JoinedMember(m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
                for m in group.members.values()
            )
        return JoinGroupResult(
            E.none,
            member.member_id,
            group.generation_id,
            group.protocol_type,
            group.protocol_name,
            group.leader_id or "",
            members,
            skip_assignment,
        )

    # -- rebalance ---------------------------------------------------------------------

    def _prepare_rebalance(self, group: ClassicGroup, now_ms: int) -> list[Effect]:
        """Enter PreparingRebalance: members must rejoin within the rebalance timeout."""
        effects: list[Effect] = []
        if group.state is GroupState.COMPLETING_REBALANCE:
            for member in group.members.values():
                member.assignment = b""
                if member.awaiting_sync is not None:
                    result = SyncGroupResult(E.rebalance_in_progress)
                    effects.append(Reply(member.awaiting_sync, result))
                    member.awaiting_sync = None
        was_empty = group.state is GroupState.EMPTY
        group.transition_to(GroupState.PREPARING_REBALANCE, now_ms)
        group.pending_sync = set()
        group.rebalance_deadline_ms = now_ms + group.max_rebalance_timeout_ms()
        if was_empty:
            delay_ms = min(
                self.config.group_initial_rebalance_delay_ms, group.max_rebalance_timeout_ms()
            )
            group.initial_rebalance_end_ms = now_ms + delay_ms
        return effects + self._maybe_complete_join(group, now_ms)

    def _extend_initial_delay(self, group: ClassicGroup, now_ms: int) -> None:
        """group.initial.rebalance.delay.ms: each new member in the window restarts the delay,
        up to the rebalance timeout since the rebalance began (KIP-134)."""
        if group.initial_rebalance_end_ms is None or group.rebalance_deadline_ms is None:
            return
        group.initial_rebalance_end_ms = min(
            now_ms + self.config.group_initial_rebalance_delay_ms, group.rebalance_deadline_ms
        )

    def _maybe_complete_join(self, group: ClassicGroup, now_ms: int) -> list[Effect]:
        if group.state is not GroupState.PREPARING_REBALANCE:
            return []
        in_delay = (
            group.initial_rebalance_end_ms is not None and now_ms < group.initial_rebalance_end_ms
        )
        if in_delay or not group.has_all_members_joined():
            return []
        return self._complete_join(group, now_ms)

    def _complete_join(self, group: ClassicGroup, now_ms: int) -> list[Effect]:
        """The join phase ends: dynamic members that did not rejoin are dropped, the next
        generation starts and every waiting member gets its JoinGroup response."""
        for member in list(group.members.values()):
            if member.awaiting_join is None and not member.is_static:
                group.remove_member(member.member_id)
        group.initial_rebalance_end_ms = None
        group.init_next_generation(now_ms)
        if self.tracer is not None:
            from refka.core import trace

            self.tracer(
                trace.CompleteJoin(
                    self.node,
                    group.group_id,
                    group.generation_id,
                    tuple(sorted(group.members)),
                    group.leader_id or "",
                    group.state.value,
                )
            )
        if group.state is GroupState.EMPTY:
            group.rebalance_deadline_ms = None
            self._store_group(group)
            return []
        group.rebalance_deadline_ms = now_ms + group.max_rebalance_timeout_ms()
        effects: list[Effect] = []
        for member in group.members.values():
            member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
            if member.awaiting_join is not None:
                effects.append(Reply(member.awaiting_join, self._join_result(group, member)))
                member.awaiting_join = None
        return effects

    # -- SyncGroup ---------------------------------------------------------------------

    def sync_group(self, request: object, req: SyncGroupRequest, now_ms: int) -> list[Effect]:
        """SyncGroup: the leader hands in the assignment; every member waits for its own."""
        if req.group_id in self.consumer_groups and self._coordinator_error(req.group_id) is None:
            return self.classic_sync(request, req, now_ms)
        group = self.groups.get(req.group_id)
        error = self._validate(
            group, req.group_id, req.member_id, req.group_instance_id, req.generation_id
        )
        if error is None and group is not None:
            if (req.protocol_type is not None and req.protocol_type != group.protocol_type) or (
                req.protocol_name is not None and req.protocol_name != group.protocol_name
            ):
                error = E.inconsistent_group_protocol
            elif group.state is GroupState.PREPARING_REBALANCE:
                error = E.rebalance_in_progress
        if error is not None or group is None:
            return [Reply(request, SyncGroupResult(error or E.unknown_member_id))]
        member = group.members[req.member_id]
        member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
        if group.state is GroupState.STABLE:
            return [Reply(request, self._sync_result(group, member))]
        member.awaiting_sync = request
        group.pending_sync.discard(member.member_id)
        if not group.is_leader(member.member_id):
            return []
        assignments = dict(req.assignments)
        for m in group.members.values():
            m.assignment = assignments.get(m.member_id, b"")
        if self.tracer is not None:
            from refka.core import trace

            assigned = tuple(sorted((m.member_id, m.assignment) for m in group.members.values()))
            self.tracer(
                trace.SyncGroupLeader(self.node, group.group_id, group.generation_id, assigned)
            )
        self._store_group(group)
        group.transition_to(GroupState.STABLE, now_ms)
        group.rebalance_deadline_ms = None
        effects: list[Effect] = []
        for m in group.members.values():
            if m.awaiting_sync is not None:
                effects.append(Reply(m.awaiting_sync, self._sync_result(group, m)))
                m.awaiting_sync = None
        return self._finish(effects, now_ms)

    @staticmethod
    def _sync_result(group: ClassicGroup, member: ClassicMember) -> SyncGroupResult:
        return SyncGroupResult(E.none, member.assignment, group.protocol_type, group.protocol_name)

    # -- Heartbeat / LeaveGroup --------------------------------------------------------

    def heartbeat(
        self,
        request: object,
        group_id: str,
        member_id: str,
        generation_id: int,
        now_ms: int,
        group_instance_id: str | None = None,
    ) -> list[Effect]:
        """Heartbeat: keep the member's session alive; tell it when it must rejoin."""
        if group_id in self.consumer_groups and self._coordinator_error(group_id) is None:
            return self.classic_heartbeat(request, group_id, member_id, generation_id, now_ms)
        group = self.groups.get(group_id)
        error = self._validate(group, group_id, member_id, group_instance_id, generation_id)
        if error is None and group is not None:
            member = group.members[member_id]
            member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
            if group.state is GroupState.PREPARING_REBALANCE:
                error = E.rebalance_in_progress
        return [Reply(request, HeartbeatResult(error or E.none))]

    def leave_group(
        self, request: object, group_id: str, members: Iterable[LeavingMember], now_ms: int
    ) -> list[Effect]:
        """LeaveGroup: members leave at once (batched, KIP-345); the group rebalances."""
        if group_id in self.consumer_groups and self._coordinator_error(group_id) is None:
            return self.classic_leave(request, group_id, members, now_ms)
        group = self.groups.get(group_id)
        error = self._coordinator_error(group_id)
        if error is None and group is None:
            error = E.unknown_member_id
        if error is None and group is not None and group.state is GroupState.DEAD:
            error = E.coordinator_not_available
        if error is not None or group is None:
            return [Reply(request, LeaveGroupResult(error or E.unknown_member_id))]
        results: list[LeftMember] = []
        effects: list[Effect] = []
        for leaving in members:
            member_error = self._leave_one(group, leaving, effects, now_ms)
            results.append(LeftMember(leaving.member_id, leaving.group_instance_id, member_error))
        effects.append(Reply(request, LeaveGroupResult(E.none, tuple(results))))
        return self._finish(effects, now_ms)

    def _leave_one(
        self, group: ClassicGroup, leaving: LeavingMember, effects: list[Effect], now_ms: int
    ) -> ErrorCode:
        member_id = leaving.member_id
        if leaving.group_instance_id is not None:
            static_id = group.static_member_id(leaving.group_instance_id)
            if static_id is None:
                return E.unknown_member_id
            if member_id and member_id != static_id:
                return E.fenced_instance_id
            member_id = static_id
        if member_id in group.pending_members:
            del group.pending_members[member_id]
            effects += self._maybe_complete_join(group, now_ms)
            return E.none
        if member_id not in group.members:
            return E.unknown_member_id
        effects += self._remove_member_and_rebalance(group, member_id, now_ms, "LeaveGroup")
        return E.none

    def _remove_member_and_rebalance(
        self, group: ClassicGroup, member_id: str, now_ms: int, event: str = ""
    ) -> list[Effect]:
        """Remove the member; ``event`` ("LeaveGroup", "MemberExpired") is traced once the
        group's state shows the removal, before a join phase it lets end (the spec's order)."""
        member = group.remove_member(member_id)
        effects: list[Effect] = []
        if member is not None and member.awaiting_join is not None:
            effects.append(
                Reply(member.awaiting_join, JoinGroupResult(E.unknown_member_id, member_id))
            )
        if member is not None and member.awaiting_sync is not None:
            effects.append(Reply(member.awaiting_sync, SyncGroupResult(E.unknown_member_id)))
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            effects += self._prepare_rebalance(group, now_ms)
            self._trace_removal(group, member_id, event)
            return effects
        self._trace_removal(group, member_id, event)
        return effects + self._maybe_complete_join(group, now_ms)

    def _trace_removal(self, group: ClassicGroup, member_id: str, event: str) -> None:
        if self.tracer is None or not event:
            return
        from refka.core import trace

        cls = trace.LeaveGroup if event == "LeaveGroup" else trace.MemberExpired
        self.tracer(cls(self.node, group.group_id, member_id, group.generation_id,
                        group.state.value))  # fmt: skip

    # -- validation --------------------------------------------------------------------

    @staticmethod
    def _member_error(
        group: ClassicGroup, member_id: str, group_instance_id: str | None
    ) -> ErrorCode | None:
        if group_instance_id is not None:
            static_id = group.static_member_id(group_instance_id)
            if static_id is None:
                return E.unknown_member_id
            if static_id != member_id:
                return E.fenced_instance_id
        if member_id not in group.members:
            return E.unknown_member_id
        return None

    def _validate(
        self,
        group: ClassicGroup | None,
        group_id: str,
        member_id: str,
        group_instance_id: str | None,
        generation_id: int,
    ) -> ErrorCode | None:
        """The checks SyncGroup, Heartbeat and CommitOffset share, in Kafka's order."""
        error = self._coordinator_error(group_id)
        if error is not None:
            return error
        if group is None:
            return E.unknown_member_id
        if group.state is GroupState.DEAD:
            return E.coordinator_not_available
        error = self._member_error(group, member_id, group_instance_id)
        if error is not None:
            return error
        if generation_id != group.generation_id:
            return E.illegal_generation
        return None

    # -- DescribeGroups / ListGroups / DeleteGroups ------------------------------------

    def describe_groups(self, group_ids: Iterable[str]) -> list[DescribedGroup]:
        return [self._describe(group_id) for group_id in group_ids]

    def _describe(self, group_id: str) -> DescribedGroup:
        error = self._coordinator_error(group_id)
        if error is not None:
            return DescribedGroup(group_id, error, "", "", "")
        group = self.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return DescribedGroup(group_id, E.group_id_not_found, GroupState.DEAD.value, "", "")
        stable = group.state is GroupState.STABLE and group.protocol_name is not None
        members = tuple(
            DescribedMember(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.metadata(group.protocol_name) if stable and group.protocol_name else b"",
                m.assignment if stable else b"",
            )
            for m in group.members.values()
        )
        return DescribedGroup(
            group_id,
            E.none,
            group.state.value,
            group.protocol_type or "",
            (group.protocol_name or "") if stable else "",
            members,
        )

    def list_groups(
        self, states: Iterable[str] = (), types: Iterable[str] = ()
    ) -> list[ListedGroup]:
        """ListGroups, filtered by state (KIP-518) and type (KIP-848), case-insensitive."""
        state_names = {s.lower() for s in states}
        wanted = {parse_state(s) for s in states}
        type_names = {t.lower() for t in types}
        consumer = [
            ListedGroup(g.group_id, "consumer", g.state, "consumer")
            for g in self.consumer_groups.values()
            if self._coordinator_error(g.group_id) is None
            and (not state_names or g.state.lower() in state_names)
            and (not type_names or "consumer" in type_names)
        ]
        if type_names and "classic" not in type_names:
            return consumer
        return [
            ListedGroup(g.group_id, g.protocol_type or "", g.state.value)
            for g in self.groups.values()
            if g.state is not GroupState.DEAD
            and self._coordinator_error(g.group_id) is None
            and (not wanted or g.state in wanted)
        ] + consumer

    def delete_groups(self, request: object, group_ids: Iterable[str], now_ms: int) -> list[Effect]:
        """DeleteGroups: only an Empty group goes; its offsets and metadata get tombstones."""
        results = []
        for group_id in group_ids:
            error = self._coordinator_error(group_id)
            if error is None and group_id in self.consumer_groups:
                results.append(DeletedGroup(group_id, self.delete_consumer_group(group_id)))
                continue
            group = self.groups.get(group_id)
            if error is None and (group is None or group.state is GroupState.DEAD):
                error = E.group_id_not_found
            elif error is None and group is not None and group.state is not GroupState.EMPTY:
                error = E.non_empty_group
            if error is None and group is not None:
                self._delete_group(group, now_ms)
            results.append(DeletedGroup(group_id, error or E.none))
        return self._finish([Reply(request, tuple(results))], now_ms)

    def _delete_group(self, group: ClassicGroup, now_ms: int) -> None:
        partition = self.partition_for(group.group_id)
        committed = self.offsets.pop(group.group_id, {})
        pending = self.pending_offsets.pop(group.group_id, {})
        for topic, p in [*committed, *(tp for tp in pending if tp not in committed)]:
            self._record(partition, offset_key(group.group_id, topic, p), None)
        self._record(
            partition, rec.encode_group_metadata_key(rec.GroupMetadataKey(group.group_id)), None
        )
        group.transition_to(GroupState.DEAD, now_ms)
        del self.groups[group.group_id]

    # -- timers ------------------------------------------------------------------------

    def next_deadline_ms(self) -> int | None:
        deadlines = [d for g in self.groups.values() for d in _group_deadlines(g)]
        deadlines += self.consumer_deadlines()
        if self.next_retention_check_ms is not None:
            deadlines.append(self.next_retention_check_ms)
        return min(deadlines, default=None)

    def on_tick(self, now_ms: int) -> list[Effect]:
        """Fire every timer due at ``now_ms``: session expiry (MemberExpired), unused member
        ids, join completion by timeout (CompleteJoin), sync expiry, offset retention."""
        effects: list[Effect] = []
        for group in list(self.groups.values()):
            effects += self._tick_group(group, now_ms)
        self._tick_consumer_groups(now_ms)
        due, self.next_retention_check_ms = retention_check(
            self.next_retention_check_ms, now_ms, self.config.offsets_retention_check_interval_ms
        )
        if due:
            self.expire_offsets(now_ms)
        return self._finish(effects, now_ms)

    def _tick_group(self, group: ClassicGroup, now_ms: int) -> list[Effect]:
        effects: list[Effect] = []
        for member_id, id_deadline_ms in list(group.pending_members.items()):
            if id_deadline_ms <= now_ms:
                del group.pending_members[member_id]
                effects += self._maybe_complete_join(group, now_ms)
        for member in list(group.members.values()):
            if member.member_id not in group.members:
                continue
            if member.heartbeat_deadline_ms is None:  # loaded from the log: start the session now
                member.heartbeat_deadline_ms = now_ms + member.session_timeout_ms
            waiting = member.awaiting_join is not None or member.awaiting_sync is not None
            if member.heartbeat_deadline_ms <= now_ms and not waiting:
                effects += self._remove_member_and_rebalance(
                    group, member.member_id, now_ms, "MemberExpired"
                )
        deadline = group.rebalance_deadline_ms
        initial_end = group.initial_rebalance_end_ms
        if group.state is GroupState.PREPARING_REBALANCE and (
            (deadline is not None and deadline <= now_ms)
            or (initial_end is not None and initial_end <= now_ms)
        ):
            effects += self._complete_join(group, now_ms)
        elif (
            group.state is GroupState.COMPLETING_REBALANCE
            and deadline is not None
            and deadline <= now_ms
        ):
            # Members that never sent SyncGroup within the rebalance timeout are removed.
            for member_id in list(group.pending_sync):
                if group.state is GroupState.COMPLETING_REBALANCE or member_id in group.members:
                    effects += self._remove_member_and_rebalance(
                        group, member_id, now_ms, "MemberExpired"
                    )
        return effects

    # -- durability --------------------------------------------------------------------

    def _record(self, partition: int, key: bytes, value: bytes | None) -> None:
        self._records.setdefault(partition, []).append((key, value))

    def flush_records(self, now_ms: int) -> list[Append]:
        """Appends for records queued outside a request (``expire_offsets`` called directly)."""
        return [e for e in self._finish([], now_ms) if isinstance(e, Append)]

    def _store_group(self, group: ClassicGroup) -> None:
        """Queue the group's GroupMetadata record (written when a generation's assignment is
        known, when the group empties, and when a static member is replaced)."""
        protocol = group.protocol_name
        value = rec.GroupMetadataValue(
            protocol_type=group.protocol_type or "",
            generation=group.generation_id,
            protocol=protocol,
            leader=group.leader_id if group.members else None,
            current_state_timestamp_ms=group.state_timestamp_ms,
            members=tuple(
                rec.MemberMetadata(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    m.rebalance_timeout_ms,
                    m.session_timeout_ms,
                    m.metadata(protocol) if protocol else b"",
                    m.assignment,
                )
                for m in group.members.values()
            ),
        )
        key = rec.encode_group_metadata_key(rec.GroupMetadataKey(group.group_id))
        self._record(
            self.partition_for(group.group_id), key, rec.encode_group_metadata_value(value)
        )

    def _delete_classic_metadata(self, group_id: str) -> None:
        """A tombstone for the classic group's metadata (it became a consumer group)."""
        key = rec.encode_group_metadata_key(rec.GroupMetadataKey(group_id))
        self._record(self.partition_for(group_id), key, None)

    def unload(self, partition: int) -> list[Effect]:
        """Forget the groups of ``partition``: another broker leads it now (Kafka's
        ``onResignation``). Members waiting for a JoinGroup or SyncGroup answer are told
        NOT_COORDINATOR, and find the new coordinator, as every later request of theirs does."""
        effects: list[Effect] = []
        for group_id in [g for g in self.groups if self.partition_for(g) == partition]:
            for member in self.groups.pop(group_id).members.values():
                if member.awaiting_join is not None:
                    result = JoinGroupResult(E.not_coordinator, member.member_id)
                    effects.append(Reply(member.awaiting_join, result))
                if member.awaiting_sync is not None:
                    effects.append(Reply(member.awaiting_sync, SyncGroupResult(E.not_coordinator)))
                member.awaiting_join = member.awaiting_sync = None
        for group_id in [g for g in self.consumer_groups if self.partition_for(g) == partition]:
            del self.consumer_groups[group_id]
        for offsets in (self.offsets, self.pending_offsets):
            for group_id in [g for g in offsets if self.partition_for(g) == partition]:
                del offsets[group_id]
        for write_id in [w for w, (p, _) in self._writes.items() if p == partition]:
            del self._writes[write_id]
        self._records.pop(partition, None)
        self._staged.pop(partition, None)
        self.unload_txn_offsets(partition)
        return effects

    def load(self, partition: int, records: Iterable[object]) -> None:
        """Replay one ``__consumer_offsets`` partition on start (see ``offsets_loader``)."""
        from refka.group.consumer_loader import load_consumer_groups
        from refka.group.offsets_loader import load_partition

        replayed = list(records)
        load_partition(self, partition, replayed)
        load_consumer_groups(self, replayed)
        if self.tracer is not None:  # ConsumerGroup.tla's CoordinatorFailover
            from refka.core import trace

            loaded = tuple(
                (g.group_id, g.generation_id, g.state.value,
                 tuple(sorted((m.member_id, m.assignment) for m in g.members.values())))
                for g in sorted(self.groups.values(), key=lambda g: g.group_id)
                if self.partition_for(g.group_id) == partition
            )  # fmt: skip
            count = self.config.offsets_topic_num_partitions
            self.tracer(trace.LoadGroups(self.node, partition, count, loaded))


def _update_member(member: ClassicMember, req: JoinGroupRequest) -> None:
    member.protocols = req.protocols
    member.session_timeout_ms = req.session_timeout_ms
    member.rebalance_timeout_ms = req.rebalance_timeout_ms
    member.client_id = req.client_id or member.client_id
    member.client_host = req.client_host or member.client_host


def _group_deadlines(group: ClassicGroup) -> list[int]:
    deadlines = list(group.pending_members.values())
    deadlines += [
        m.heartbeat_deadline_ms
        for m in group.members.values()
        if m.heartbeat_deadline_ms is not None
        and m.awaiting_join is None
        and m.awaiting_sync is None
    ]
    if any(m.heartbeat_deadline_ms is None for m in group.members.values()):
        deadlines.append(0)
    if group.state in (GroupState.PREPARING_REBALANCE, GroupState.COMPLETING_REBALANCE):
        deadlines += [
            d
            for d in (group.rebalance_deadline_ms, group.initial_rebalance_end_ms)
            if d is not None
        ]
    return deadlines
