"""KIP-848's ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69) on the wire, v0-v1
(Apache Kafka 4.4's ranges), over the coordinator's consumer groups
(``refka.group.consumer_coordinator``). Topics travel by id; the coordinator reads the
subscribed topics from the metadata image through :class:`ImageTopics`.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.groups import GroupService
from refka.group.consumer_member import TopicPartitions, by_topic
from refka.group.consumer_messages import (
    ConsumerHeartbeatRequest,
    ConsumerHeartbeatResult,
    DescribedConsumerGroup,
)
from refka.handlers.group_apis import CONSUMER_GROUP_DESCRIBE, CONSUMER_GROUP_HEARTBEAT
from refka.metadata.image import MetadataImage
from refka.protocol import codec
from refka.security.api_acls import GROUP, allowed, reported_operations

E = ErrorCode
CLASSIC_MEMBER_TYPE, CONSUMER_MEMBER_TYPE = 0, 1  # ConsumerGroupDescribe v1 MemberType
NO_AUTHORIZED_OPERATIONS = -(1 << 31)


class ImageTopics:
    """The coordinator's ``TopicsView`` over a metadata image."""

    def __init__(self, image: MetadataImage) -> None:
        self._image = image

    def lookup(self, name: str) -> tuple[uuid.UUID, int] | None:
        topic = self._image.topics_by_name.get(name)
        return None if topic is None else (topic.topic_id, len(topic.partitions))

    def names(self) -> Iterable[str]:
        return self._image.topics_by_name.keys()


def _ms(value: datetime.timedelta | int) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    return int(value)


def handle_consumer_group_heartbeat(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    owned: TopicPartitions | None = None
    if request.topic_partitions is not None:
        owned = frozenset(
            (t.topic_id, int(p)) for t in request.topic_partitions for p in t.partitions
        )
    names = request.subscribed_topic_names
    req = ConsumerHeartbeatRequest(
        group_id=request.group_id,
        member_id=request.member_id,
        member_epoch=int(request.member_epoch),
        instance_id=request.instance_id,
        rack_id=request.rack_id,
        rebalance_timeout_ms=_ms(request.rebalance_timeout),
        subscribed_topic_names=None if names is None else tuple(names),
        subscribed_topic_regex=getattr(request, "subscribed_topic_regex", None),
        server_assignor=request.server_assignor,
        owned=owned,
        client_id=ctx.client_id or "",
        client_host=getattr(ctx, "client_host", "") or "",
        coordinator_generates_id=ctx.api_version == 0,
    )
    topics = ImageTopics(groups.image)
    effects = groups.coordinator.consumer_group_heartbeat(ctx, req, topics, ctx.now_ms)
    return groups.run(ctx, effects)


def consumer_group_heartbeat_response(version: int, r: ConsumerHeartbeatResult) -> Any:
    m = codec.response_module(CONSUMER_GROUP_HEARTBEAT, version)
    assignment = None
    if r.error == E.none and r.assignment is not None:
        assignment = codec.build(
            m.Assignment,
            topic_partitions=tuple(
                codec.build(m.TopicPartitions, topic_id=t, partitions=tuple(sorted(ps)))
                for t, ps in sorted(by_topic(r.assignment).items(), key=lambda kv: str(kv[0]))
            ),
        )
    return codec.build(
        m.ConsumerGroupHeartbeatResponse,
        throttle_time=codec.millis(0),
        error_code=r.error,
        error_message=r.error_message,
        member_id=r.member_id,
        member_epoch=r.member_epoch if r.error == E.none else -1,
        heartbeat_interval=codec.millis(r.heartbeat_interval_ms),
        assignment=assignment,
    )


def handle_consumer_group_describe(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(CONSUMER_GROUP_DESCRIBE, ctx.api_version)
    image = groups.image
    answered = []
    for g in groups.coordinator.consumer_group_describe(request.group_ids):
        if not allowed(ctx, GROUP, g.group_id):
            g = DescribedConsumerGroup(g.group_id, E.group_authorization_failed)
        ops = NO_AUTHORIZED_OPERATIONS
        if request.include_authorized_operations and g.error == E.none:
            ops = reported_operations(ctx, GROUP, g.group_id)
        answered.append(_described(m, ctx.api_version, g, image, ops))
    return codec.build(
        m.ConsumerGroupDescribeResponse, throttle_time=codec.millis(0), groups=tuple(answered)
    )


def _described(
    m: Any, version: int, g: DescribedConsumerGroup, image: MetadataImage, ops: int
) -> Any:
    def assignment(partitions: TopicPartitions) -> Any:
        topics = []
        for topic_id, ps in sorted(by_topic(partitions).items(), key=lambda kv: str(kv[0])):
            known = image.topics_by_id.get(topic_id)
            name = "" if known is None else known.name
            topics.append(
                codec.build(
                    m.TopicPartitions,
                    topic_id=topic_id,
                    topic_name=name,
                    partitions=tuple(sorted(ps)),
                )
            )
        return codec.build(m.Assignment, topic_partitions=tuple(topics))

    members = tuple(
        codec.build(
            m.Member,
            member_id=x.member_id,
            instance_id=x.instance_id,
            rack_id=x.rack_id,
            member_epoch=x.member_epoch,
            client_id=x.client_id,
            client_host=x.client_host,
            subscribed_topic_names=x.subscribed_topic_names,
            subscribed_topic_regex=x.subscribed_topic_regex,
            assignment=assignment(x.assignment),
            target_assignment=assignment(x.target_assignment),
            member_type=CLASSIC_MEMBER_TYPE if x.classic else CONSUMER_MEMBER_TYPE,
        )
        for x in g.members
    )
    return codec.build(
        m.DescribedGroup,
        error_code=g.error,
        error_message=g.error_message,
        group_id=g.group_id,
        group_state=g.state,
        group_epoch=g.group_epoch,
        assignment_epoch=g.assignment_epoch,
        assignor_name=g.assignor_name,
        members=members,
        authorized_operations=ops,
    )
