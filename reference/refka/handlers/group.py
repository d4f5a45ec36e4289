"""The group APIs on the wire: kio entities of any version in, coordinator calls, entities out.

FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
DescribeGroups, ListGroups, DeleteGroups and OffsetDelete, over the classic group coordinator
(``refka.group``); KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe are in
``refka.handlers.consumer_group``.

Each handler is ``handle_x(groups, ctx, request)``: ``groups`` is the core's
``refka.core.groups.GroupService`` (the coordinator, ``__consumer_offsets``, the node's address).
Handlers return a response entity or ``PENDING`` (JoinGroup and SyncGroup wait).
Effects are carried out in order: every ``Append`` before any reply (persist, then acknowledge).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.groups import GroupService
from refka.core.transactions import TransactionService
from refka.group import messages as msg
from refka.handlers import group_acls
from refka.handlers.consumer_group import (
    ImageTopics,
    consumer_group_heartbeat_response,
    handle_consumer_group_describe,
    handle_consumer_group_heartbeat,
)
from refka.handlers.group_apis import (
    CONSUMER_GROUP_DESCRIBE,
    CONSUMER_GROUP_HEARTBEAT,
    DELETE_GROUPS,
    DESCRIBE_GROUPS,
    FIND_COORDINATOR,
    HEARTBEAT,
    JOIN_GROUP,
    LEAVE_GROUP,
    LIST_GROUPS,
    OFFSET_COMMIT,
    OFFSET_DELETE,
    OFFSET_FETCH,
    SYNC_GROUP,
)
from refka.handlers.group_apis import NAMES as NAMES  # re-exported with the handlers
from refka.handlers.group_apis import SUPPORTED_VERSIONS as SUPPORTED_VERSIONS
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, GROUP, TOPIC, TXN, allowed, reported_operations

NO_AUTHORIZED_OPERATIONS = -(1 << 31)
E = ErrorCode


def _ms(value: datetime.timedelta | int) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    return int(value)


# -- FindCoordinator ---------------------------------------------------------------------


def handle_find_coordinator(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    """FindCoordinator for groups only (no transaction coordinator given)."""
    return find_coordinator(groups, None, ctx, request)


def find_coordinator(
    groups: GroupService, txns: TransactionService | None, ctx: RequestContext, request: Any
) -> Any:
    """A group's coordinator is the leader of its ``__consumer_offsets`` partition, a
    transactional id's (key type 1) the leader of its ``__transaction_state`` partition;
    COORDINATOR_NOT_AVAILABLE while there is none."""
    m = codec.response_module(FIND_COORDINATOR, ctx.api_version)
    key_type = getattr(request, "key_type", 0)
    keys = request.coordinator_keys if ctx.api_version >= 4 else (request.key,)
    answers = [_coordinator(groups, txns, ctx, key_type, key) for key in keys]
    if ctx.api_version < 4:
        return codec.build(m.FindCoordinatorResponse, throttle_time=codec.millis(0), **answers[0])
    coordinators = tuple(
        codec.build(m.Coordinator, key=key, **answer)
        for key, answer in zip(keys, answers, strict=True)
    )
    return codec.build(
        m.FindCoordinatorResponse, throttle_time=codec.millis(0), coordinators=coordinators
    )


def _coordinator(
    groups: GroupService,
    txns: TransactionService | None,
    ctx: RequestContext,
    key_type: int,
    key: str,
) -> dict:
    if key_type not in (0, 1):
        return _no_coordinator(E.invalid_request, f"unsupported key type {key_type}")
    if key_type == 1 and not allowed(ctx, TXN, key):
        return _no_coordinator(E.transactional_id_authorization_failed, None)
    if key_type == 0 and not allowed(ctx, GROUP, key):
        return _no_coordinator(E.group_authorization_failed, None)
    if key_type == 1:
        if txns is None:
            return _no_coordinator(E.coordinator_not_available, None)
        node = txns.coordinator_for(key, ctx.now_ms, ctx.listener)
    else:
        node = groups.coordinator_for(key, ctx.now_ms, ctx.listener)
    if node is None:
        return _no_coordinator(E.coordinator_not_available, None)
    return {
        "error_code": E.none,
        "error_message": None,
        "node_id": node.node_id,
        "host": node.host,
        "port": node.port,
    }


def _no_coordinator(error: ErrorCode, message: str | None) -> dict:
    return {"error_code": error, "error_message": message, "node_id": -1, "host": "", "port": -1}


# -- JoinGroup / SyncGroup / Heartbeat / LeaveGroup --------------------------------------


def handle_join_group(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    session_timeout_ms = _ms(request.session_timeout)
    rebalance = getattr(request, "rebalance_timeout", None)
    req = msg.JoinGroupRequest(
        group_id=request.group_id,
        member_id=request.member_id,
        group_instance_id=getattr(request, "group_instance_id", None),
        protocol_type=request.protocol_type,
        protocols=tuple((p.name, bytes(p.metadata)) for p in request.protocols),
        session_timeout_ms=session_timeout_ms,
        rebalance_timeout_ms=session_timeout_ms if rebalance is None else _ms(rebalance),
        client_id=ctx.client_id or "",
        client_host=getattr(ctx, "client_host", "") or "",
        require_known_member_id=ctx.api_version >= 4,
    )
    topics = ImageTopics(groups.image)
    return groups.run(ctx, groups.coordinator.join_group(ctx, req, ctx.now_ms, topics))


def join_group_response(version: int, r: msg.JoinGroupResult) -> Any:
    m = codec.response_module(JOIN_GROUP, version)
    members = tuple(
        codec.build(
            m.JoinGroupResponseMember,
            member_id=x.member_id,
            group_instance_id=x.group_instance_id,
            metadata=x.metadata,
        )
        for x in r.members
    )
    nullable = version >= 7
    return codec.build(
        m.JoinGroupResponse,
        throttle_time=codec.millis(0),
        error_code=r.error,
        generation_id=r.generation_id,
        protocol_type=r.protocol_type,
        protocol_name=r.protocol_name if nullable else (r.protocol_name or ""),
        leader=r.leader,
        skip_assignment=r.skip_assignment,
        member_id=r.member_id,
        members=members,
    )


def handle_sync_group(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    req = msg.SyncGroupRequest(
        group_id=request.group_id,
        member_id=request.member_id,
        generation_id=request.generation_id,
        group_instance_id=getattr(request, "group_instance_id", None),
        protocol_type=getattr(request, "protocol_type", None),
        protocol_name=getattr(request, "protocol_name", None),
        assignments=tuple((a.member_id, bytes(a.assignment)) for a in request.assignments),
    )
    return groups.run(ctx, groups.coordinator.sync_group(ctx, req, ctx.now_ms))


def sync_group_response(version: int, r: msg.SyncGroupResult) -> Any:
    m = codec.response_module(SYNC_GROUP, version)
    return codec.build(
        m.SyncGroupResponse,
        throttle_time=codec.millis(0),
        error_code=r.error,
        protocol_type=r.protocol_type,
        protocol_name=r.protocol_name,
        assignment=r.assignment,
    )


def handle_heartbeat(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    effects = groups.coordinator.heartbeat(
        ctx,
        request.group_id,
        request.member_id,
        request.generation_id,
        ctx.now_ms,
        getattr(request, "group_instance_id", None),
    )
    return groups.run(ctx, effects)


def heartbeat_response(version: int, r: msg.HeartbeatResult) -> Any:
    m = codec.response_module(HEARTBEAT, version)
    return codec.build(m.HeartbeatResponse, throttle_time=codec.millis(0), error_code=r.error)


def handle_leave_group(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    if ctx.api_version < 3:
        members = [msg.LeavingMember(request.member_id)]
    else:
        members = [msg.LeavingMember(x.member_id, x.group_instance_id) for x in request.members]
    return groups.run(
        ctx, groups.coordinator.leave_group(ctx, request.group_id, members, ctx.now_ms)
    )


def leave_group_response(version: int, r: msg.LeaveGroupResult) -> Any:
    m = codec.response_module(LEAVE_GROUP, version)
    if version < 3:
        error = r.error if r.error is not E.none or not r.members else r.members[0].error
        return codec.build(m.LeaveGroupResponse, throttle_time=codec.millis(0), error_code=error)
    members = tuple(
        codec.build(
            m.MemberResponse,
            member_id=x.member_id,
            group_instance_id=x.group_instance_id,
            error_code=x.error,
        )
        for x in r.members
    )
    return codec.build(
        m.LeaveGroupResponse, throttle_time=codec.millis(0), error_code=r.error, members=members
    )


# -- OffsetCommit / OffsetFetch / OffsetDelete -------------------------------------------


def handle_offset_commit(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    """As Kafka's ``KafkaApis``: partitions the broker does not know are answered
    UNKNOWN_TOPIC_OR_PARTITION here; only the others reach the coordinator. v10 names topics
    by id (KIP-848): an id the broker does not know is UNKNOWN_TOPIC_ID."""
    ids: dict[str, uuid.UUID] = {}
    entries: list[msg.OffsetCommitEntry] = []
    unknown: list[msg.PartitionResult] = []
    for topic in request.topics:
        name = _topic_name(groups, ctx.api_version, topic)
        if ctx.api_version >= TOPIC_IDS_VERSION:
            ids[name] = topic.topic_id
        may_read = name.startswith(_UNKNOWN_ID) or allowed(ctx, TOPIC, name)
        for p in topic.partitions:
            if _unknown_id(ctx.api_version, name):
                unknown.append(msg.PartitionResult(name, p.partition_index, E.unknown_topic_id))
                continue
            if not may_read:
                denied = E.topic_authorization_failed
                unknown.append(msg.PartitionResult(name, p.partition_index, denied))
                continue
            entries.append(
                msg.OffsetCommitEntry(
                    name,
                    p.partition_index,
                    p.committed_offset,
                    getattr(p, "committed_leader_epoch", -1),
                    p.committed_metadata,
                )
            )
    unknown.extend(
        msg.PartitionResult(e.topic, e.partition, E.unknown_topic_or_partition)
        for e in entries
        if not groups.hosted(e.topic, e.partition)
    )
    known = [e for e in entries if groups.hosted(e.topic, e.partition)]
    topic_ids = tuple(ids.items())
    if not known:
        result = msg.OffsetCommitResult(tuple(unknown), topic_ids)
        return offset_commit_response(ctx.api_version, result)
    retention = getattr(request, "retention_time", None)
    effects = groups.coordinator.commit_offsets(
        ctx,
        request.group_id,
        request.member_id,
        request.generation_id_or_member_epoch,
        known,
        ctx.now_ms,
        getattr(request, "group_instance_id", None),
        -1 if retention is None else _ms(retention),
    )
    if unknown or topic_ids:
        effects = [_with_unknown(effect, ctx, tuple(unknown), topic_ids) for effect in effects]
    return groups.run(ctx, effects)


TOPIC_IDS_VERSION = 10  # OffsetCommit and OffsetFetch v10 name topics by id
_UNKNOWN_ID = "\x00"  # no legal topic name starts so: an unknown id's stand-in name


def _topic_name(groups: GroupService, version: int, topic: Any) -> str:
    """The topic's name: as given before v10, looked up by id from v10 (a stand-in that is
    no legal topic name for an id the broker does not know)."""
    if version < TOPIC_IDS_VERSION:
        return str(topic.name)
    name = groups.topic_name(topic.topic_id)
    return f"{_UNKNOWN_ID}{topic.topic_id}" if name is None else name


def _unknown_id(version: int, name: str) -> bool:
    """``name`` stands in for an unknown topic id; before v10 a client's name can start with
    anything, "\\x00" included, and is only a name."""
    return version >= TOPIC_IDS_VERSION and name.startswith(_UNKNOWN_ID)


def _with_unknown(
    effect: msg.Effect,
    ctx: RequestContext,
    unknown: tuple[msg.PartitionResult, ...],
    topic_ids: tuple[tuple[str, uuid.UUID], ...],
) -> msg.Effect:
    if isinstance(effect, msg.Reply) and effect.request is ctx:
        result: msg.OffsetCommitResult = effect.result  # type: ignore[assignment]
        return msg.Reply(ctx, msg.OffsetCommitResult(result.partitions + unknown, topic_ids))
    return effect


def offset_commit_response(version: int, r: msg.OffsetCommitResult) -> Any:
    m = codec.response_module(OFFSET_COMMIT, version)
    topics = _partition_errors(m, "OffsetCommit", r.partitions, dict(r.topic_ids))
    return codec.build(m.OffsetCommitResponse, throttle_time=codec.millis(0), topics=topics)


TXN_OFFSET_COMMIT = 28


def txn_offset_commit_response(version: int, r: msg.OffsetCommitResult) -> Any:
    """TxnOffsetCommit's answer (``refka.handlers.txn_offset_commit``): OffsetCommit's shape
    (v6: topics by id, KIP-1319)."""
    m = codec.response_module(TXN_OFFSET_COMMIT, version)
    topics = _partition_errors(m, "TxnOffsetCommit", r.partitions, dict(r.topic_ids))
    return codec.build(m.TxnOffsetCommitResponse, throttle_time=codec.millis(0), topics=topics)


def handle_offset_fetch(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    """OffsetFetch answers at once (v8+: several groups, KIP-709; v10: topics by id, an
    unknown id's partitions UNKNOWN_TOPIC_ID)."""
    coordinator = groups.coordinator
    m = codec.response_module(OFFSET_FETCH, ctx.api_version)
    stable = bool(getattr(request, "require_stable", False))
    if ctx.api_version >= 8:
        answered = []
        for g in request.groups:
            wanted, unknown = _wanted(groups, ctx.api_version, g)
            member = getattr(g, "member_id", None)  # v9+: a KIP-848 member names itself
            epoch = getattr(g, "member_epoch", -1)
            result = coordinator.fetch_offsets(g.group_id, wanted, stable, member, epoch)
            result = group_acls.offsets_shown(ctx, result, wanted is None)
            answered.append(_fetched_group(m, ctx.api_version, groups, result, unknown))
        return codec.build(
            m.OffsetFetchResponse, throttle_time=codec.millis(0), groups=tuple(answered)
        )
    wanted, _ = _wanted(groups, ctx.api_version, request)
    result = coordinator.fetch_offsets(request.group_id, wanted, stable)
    result = group_acls.offsets_shown(ctx, result, wanted is None)
    topics = _fetched_topics(m, ctx.api_version, result, "OffsetFetchResponseTopic", "Partition")
    return codec.build(
        m.OffsetFetchResponse, throttle_time=codec.millis(0), topics=topics, error_code=result.error
    )


def _wanted(
    groups: GroupService, version: int, group: Any
) -> tuple[list[tuple[str, list[int]]] | None, list[tuple[uuid.UUID, list[int]]]]:
    """The (topic, partitions) asked for (None: all), and those of topic ids not known."""
    if group.topics is None:
        return None, []
    wanted: list[tuple[str, list[int]]] = []
    unknown: list[tuple[uuid.UUID, list[int]]] = []
    for t in group.topics:
        name = _topic_name(groups, version, t)
        if _unknown_id(version, name):
            unknown.append((t.topic_id, list(t.partition_indexes)))
        else:
            wanted.append((name, list(t.partition_indexes)))
    return wanted, unknown


def _fetched_group(
    m: Any,
    version: int,
    groups: GroupService,
    result: msg.GroupOffsets,
    unknown: list[tuple[uuid.UUID, list[int]]],
) -> Any:
    ids = None
    if version >= TOPIC_IDS_VERSION:
        ids = {o.topic: groups.topic_id(o.topic) for o in result.partitions}
    topics = _fetched_topics(m, version, result, "OffsetFetchResponseTopics", "Partitions", ids)
    if unknown and result.error is E.none:
        topics += tuple(_unknown_topic(m, topic_id, parts) for topic_id, parts in unknown)
    return codec.build(
        m.OffsetFetchResponseGroup, group_id=result.group_id, topics=topics, error_code=result.error
    )


def _unknown_topic(m: Any, topic_id: uuid.UUID, partitions: list[int]) -> Any:
    return codec.build(
        m.OffsetFetchResponseTopics,
        topic_id=topic_id,
        partitions=tuple(
            codec.build(
                m.OffsetFetchResponsePartitions,
                partition_index=p,
                committed_offset=-1,
                committed_leader_epoch=-1,
                metadata="",
                error_code=E.unknown_topic_id,
            )
            for p in partitions
        ),
    )


def _fetched_topics(
    m: Any,
    version: int,
    result: msg.GroupOffsets,
    topic_cls: str,
    partition_suffix: str,
    ids: dict[str, uuid.UUID | None] | None = None,
) -> tuple[Any, ...]:
    """v1 has no group-level error: a group error goes into each partition instead. With
    ``ids`` (v10) topics are named by id, and a topic without one (deleted) is left out."""
    partition_cls = getattr(m, f"OffsetFetchResponse{partition_suffix}")
    partitions = []
    for o in result.partitions:
        if ids is not None and ids.get(o.topic) is None:
            continue
        error = result.error if version < 2 and result.error is not E.none else o.error
        partition = codec.build(
            partition_cls,
            partition_index=o.partition,
            committed_offset=o.offset,
            committed_leader_epoch=o.leader_epoch,
            metadata=o.metadata,
            error_code=error,
        )
        partitions.append((o.topic, partition))
    return _topics(getattr(m, topic_cls), partitions, ids)


def handle_offset_delete(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    """Partitions of a topic the principal may not READ are answered
    TOPIC_AUTHORIZATION_FAILED here (the group's DELETE is checked before)."""
    partitions = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]
    readable = {name for name, _ in partitions if allowed(ctx, TOPIC, name)}
    denied = tuple(
        msg.PartitionResult(name, index, E.topic_authorization_failed)
        for name, index in partitions
        if name not in readable
    )
    partitions = [tp for tp in partitions if tp[0] in readable]
    effects = groups.coordinator.delete_offsets(ctx, request.group_id, partitions, ctx.now_ms)
    if denied:
        effects = [_with_denied_partitions(effect, ctx, denied) for effect in effects]
    return groups.run(ctx, effects)


def _with_denied_partitions(
    effect: msg.Effect, ctx: RequestContext, denied: tuple[msg.PartitionResult, ...]
) -> msg.Effect:
    if isinstance(effect, msg.Reply) and effect.request is ctx:
        result = effect.result
        if isinstance(result, msg.OffsetDeleteResult) and result.error is E.none:
            return msg.Reply(
                ctx, dataclasses.replace(result, partitions=result.partitions + denied)
            )
    return effect


def offset_delete_response(version: int, r: msg.OffsetDeleteResult) -> Any:
    m = codec.response_module(OFFSET_DELETE, version)
    topics = _partition_errors(m, "OffsetDelete", r.partitions)
    return codec.build(
        m.OffsetDeleteResponse, error_code=r.error, throttle_time=codec.millis(0), topics=topics
    )


def _partition_errors(
    m: Any,
    api: str,
    partitions: Iterable[msg.PartitionResult],
    ids: Mapping[str, uuid.UUID | None] | None = None,
) -> tuple[Any, ...]:
    """OffsetCommit's and OffsetDelete's answer: an error code a partition, grouped by topic."""
    partition_cls = getattr(m, f"{api}ResponsePartition")
    return _topics(
        getattr(m, f"{api}ResponseTopic"),
        (
            (x.topic, codec.build(partition_cls, partition_index=x.partition, error_code=x.error))
            for x in partitions
        ),
        ids,
    )


def _topics(
    topic_cls: Any,
    partitions: Iterable[tuple[str, Any]],
    ids: Mapping[str, uuid.UUID | None] | None = None,
) -> tuple[Any, ...]:
    """(topic, partition entity) pairs as ``topic_cls`` entities, topics in first-seen order;
    each named by its id from ``ids`` where the version names topics by id."""
    grouped: dict[str, list[Any]] = {}
    for topic, partition in partitions:
        grouped.setdefault(topic, []).append(partition)
    return tuple(
        codec.build(
            topic_cls,
            name=name,
            topic_id=None if ids is None else ids.get(name),
            partitions=tuple(parts),
        )
        for name, parts in grouped.items()
    )


# -- DescribeGroups / ListGroups / DeleteGroups ------------------------------------------


def handle_describe_groups(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(DESCRIBE_GROUPS, ctx.api_version)
    described = groups.coordinator.describe_groups(request.groups)
    with_ops = getattr(request, "include_authorized_operations", False)
    answered = tuple(
        _described_group(m, ctx.api_version, g)
        if allowed(ctx, GROUP, g.group_id)
        else _described_group(
            m,
            ctx.api_version,
            msg.DescribedGroup(g.group_id, E.group_authorization_failed, "", "", ""),
        )
        for g in described
    )
    if with_ops:
        answered = tuple(
            g
            if g.error_code != E.none
            else dataclasses.replace(
                g, authorized_operations=reported_operations(ctx, GROUP, g.group_id)
            )
            for g in answered
        )
    return codec.build(m.DescribeGroupsResponse, throttle_time=codec.millis(0), groups=answered)


def _described_group(m: Any, version: int, g: msg.DescribedGroup) -> Any:
    error = g.error
    if error is E.group_id_not_found and version < 6:
        error = E.none  # before KIP-1043 an unknown group is described as Dead, without error
    members = tuple(
        codec.build(
            m.DescribedGroupMember,
            member_id=x.member_id,
            group_instance_id=x.group_instance_id,
            client_id=x.client_id,
            client_host=x.client_host,
            member_metadata=x.metadata,
            member_assignment=x.assignment,
        )
        for x in g.members
    )
    return codec.build(
        m.DescribedGroup,
        error_code=error,
        error_message=None,
        group_id=g.group_id,
        group_state=g.state,
        protocol_type=g.protocol_type,
        protocol_data=g.protocol_name,
        members=members,
        authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )


def handle_list_groups(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(LIST_GROUPS, ctx.api_version)
    listed = groups.coordinator.list_groups(
        getattr(request, "states_filter", ()), getattr(request, "types_filter", ())
    )
    everyone = allowed(ctx, CLUSTER)  # DESCRIBE on the cluster lists every group
    answered = tuple(
        codec.build(
            m.ListedGroup,
            group_id=g.group_id,
            protocol_type=g.protocol_type,
            group_state=g.state,
            group_type=g.group_type,
        )
        for g in listed
        if everyone or allowed(ctx, GROUP, g.group_id)
    )
    return codec.build(
        m.ListGroupsResponse, throttle_time=codec.millis(0), error_code=E.none, groups=answered
    )


def handle_delete_groups(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    names = [g for g in request.groups_names if allowed(ctx, GROUP, g)]
    denied = tuple(
        msg.DeletedGroup(g, E.group_authorization_failed)
        for g in request.groups_names
        if g not in names
    )
    if not names:
        return delete_groups_response(ctx.api_version, denied)
    effects = groups.coordinator.delete_groups(ctx, names, ctx.now_ms)
    if denied:
        effects = [_with_denied_groups(effect, denied) for effect in effects]
    return groups.run(ctx, effects)


def _with_denied_groups(effect: msg.Effect, denied: tuple[msg.DeletedGroup, ...]) -> msg.Effect:
    if isinstance(effect, msg.Reply) and isinstance(effect.result, tuple):
        return msg.Reply(effect.request, effect.result + denied)
    return effect


def delete_groups_response(version: int, results: tuple[msg.DeletedGroup, ...]) -> Any:
    m = codec.response_module(DELETE_GROUPS, version)
    return codec.build(
        m.DeleteGroupsResponse,
        throttle_time=codec.millis(0),
        results=tuple(
            codec.build(m.DeletableGroupResult, group_id=r.group_id, error_code=r.error)
            for r in results
        ),
    )


RESPONDERS: dict[int, Callable[[int, Any], Any]] = {
    JOIN_GROUP: join_group_response,
    SYNC_GROUP: sync_group_response,
    HEARTBEAT: heartbeat_response,
    LEAVE_GROUP: leave_group_response,
    OFFSET_COMMIT: offset_commit_response,
    TXN_OFFSET_COMMIT: txn_offset_commit_response,
    OFFSET_DELETE: offset_delete_response,
    DELETE_GROUPS: delete_groups_response,
    CONSUMER_GROUP_HEARTBEAT: consumer_group_heartbeat_response,
}

HANDLERS: dict[int, Callable[[GroupService, RequestContext, Any], Any]] = {
    FIND_COORDINATOR: handle_find_coordinator,
    JOIN_GROUP: handle_join_group,
    SYNC_GROUP: handle_sync_group,
    HEARTBEAT: handle_heartbeat,
    LEAVE_GROUP: handle_leave_group,
    OFFSET_COMMIT: handle_offset_commit,
    OFFSET_FETCH: handle_offset_fetch,
    DESCRIBE_GROUPS: handle_describe_groups,
    LIST_GROUPS: handle_list_groups,
    DELETE_GROUPS: handle_delete_groups,
    OFFSET_DELETE: handle_offset_delete,
    CONSUMER_GROUP_HEARTBEAT: handle_consumer_group_heartbeat,
    CONSUMER_GROUP_DESCRIBE: handle_consumer_group_describe,
}


def handle(api_key: int, groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    """The handler of ``api_key`` (the registry binds one per group API), after the group's
    authorization (``group_acls.refusal``)."""
    refused = group_acls.refusal(api_key, ctx, request, RESPONDERS)
    if refused is not None:
        return refused
    return HANDLERS[api_key](groups, ctx, request)
