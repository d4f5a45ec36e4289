"""The group APIs' authorization (``refka.security.api_acls``), as Kafka's ``KafkaApis``.

A request about one group the principal may not use (JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, OffsetCommit, OffsetDelete: READ or DELETE on the GROUP) is answered
GROUP_AUTHORIZATION_FAILED before it reaches the coordinator (:func:`refusal`). The APIs about
several groups or topics filter item by item in their handlers with :func:`offsets_shown`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.group import messages as msg
from refka.group.consumer_messages import ConsumerHeartbeatResult
from refka.handlers.group_apis import (
    CONSUMER_GROUP_HEARTBEAT,
    HEARTBEAT,
    JOIN_GROUP,
    LEAVE_GROUP,
    OFFSET_COMMIT,
    OFFSET_DELETE,
    SYNC_GROUP,
)
from refka.security.api_acls import GROUP, TOPIC, allowed

DENIED = ErrorCode.group_authorization_failed

_DENIED_RESULTS: dict[int, Callable[[Any], Any]] = {
    JOIN_GROUP: lambda _r: msg.JoinGroupResult(DENIED),
    SYNC_GROUP: lambda _r: msg.SyncGroupResult(DENIED),
    HEARTBEAT: lambda _r: msg.HeartbeatResult(DENIED),
    CONSUMER_GROUP_HEARTBEAT: lambda _r: ConsumerHeartbeatResult(DENIED),
    LEAVE_GROUP: lambda _r: msg.LeaveGroupResult(DENIED),
    OFFSET_DELETE: lambda _r: msg.OffsetDeleteResult(DENIED),
    OFFSET_COMMIT: lambda r: msg.OffsetCommitResult(
        tuple(
            msg.PartitionResult(t.name or "", p.partition_index, DENIED)
            for t in r.topics
            for p in t.partitions
        )
    ),
}


def refusal(
    api_key: int,
    ctx: RequestContext,
    request: Any,
    responders: dict[int, Callable[[int, Any], Any]],
) -> Any | None:
    """The GROUP_AUTHORIZATION_FAILED answer of a one-group request that is denied, or None."""
    denied = _DENIED_RESULTS.get(api_key)
    if denied is None or allowed(ctx, GROUP, request.group_id):
        return None
    return responders[api_key](ctx.api_version, denied(request))


def offsets_shown(
    ctx: RequestContext, result: msg.GroupOffsets, asked_all: bool
) -> msg.GroupOffsets:
    """OffsetFetch: GROUP_AUTHORIZATION_FAILED without DESCRIBE on the group; partitions of a
    topic the principal may not DESCRIBE are left out of an "all topics" answer, and answered
    TOPIC_AUTHORIZATION_FAILED when asked for."""
    if not allowed(ctx, GROUP, result.group_id):
        return msg.GroupOffsets(result.group_id, DENIED)
    shown = []
    for o in result.partitions:
        if allowed(ctx, TOPIC, o.topic):
            shown.append(o)
        elif not asked_all:
            denied = ErrorCode.topic_authorization_failed
            shown.append(dataclasses.replace(o, offset=-1, leader_epoch=-1, error=denied))
    return dataclasses.replace(result, partitions=tuple(shown))
