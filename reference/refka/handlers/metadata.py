"""Metadata: brokers, the controller, and each topic's partitions with leader and ISR.

Unknown topics are created when both the request (v4+) and ``auto.create.topics.enable``
allow it; as in Kafka the answer for a topic created by this request is LEADER_NOT_AVAILABLE
and the client asks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.handlers.topic_names import invalid_reason
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.metadata import TopicMetadata
    from refka.core.topics import Topics

KEY = 3
NO_AUTHORIZED_OPERATIONS = -(1 << 31)


def handle_metadata(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    requested = request.topics
    if requested is None or (ctx.api_version == 0 and not requested):
        answered = [_topic(m, topics, t) for t in topics.metadata.topics.values()]
    else:
        allow_create = getattr(request, "allow_auto_topic_creation", True)
        answered = [_requested(m, topics, ctx, t, allow_create) for t in requested]
    node = topics.node
    return codec.build(
        m.MetadataResponse,
        throttle_time=codec.millis(0),
        brokers=(
            codec.build(
                m.MetadataResponseBroker,
                node_id=node.node_id,
                host=node.host,
                port=node.port,
                rack=node.rack,
            ),
        ),
        cluster_id=topics.metadata.cluster_id,
        controller_id=node.node_id,
        topics=tuple(answered),
        cluster_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )


def _requested(m: Any, topics: Topics, ctx: RequestContext, wanted: Any, allow_create: bool) -> Any:
    name = wanted.name
    topic_id = getattr(wanted, "topic_id", None)
    if name is None and topic_id is not None:
        found = topics.metadata.topic_by_id(topic_id)
        if found is None:
            return _error(m, ErrorCode.unknown_topic_id, None, topic_id)
        return _topic(m, topics, found)
    topic = topics.metadata.topics.get(name)
    if topic is not None:
        return _topic(m, topics, topic)
    if invalid_reason(name) is not None:
        return _error(m, ErrorCode.invalid_topic_exception, name)
    if allow_create and topics.config.auto_create_topics_enable:
        topics.create_topic(name, topics.config.num_partitions, {}, ctx.now_ms)
        return _error(m, ErrorCode.leader_not_available, name)
    return _error(m, ErrorCode.unknown_topic_or_partition, name)


def _topic(m: Any, topics: Topics, topic: TopicMetadata) -> Any:
    node_id = topics.node.node_id
    partitions = tuple(
        codec.build(
            m.MetadataResponsePartition,
            error_code=ErrorCode.none,
            partition_index=p,
            leader_id=node_id,
            leader_epoch=topic.leader_epochs[p],
            replica_nodes=(node_id,),
            isr_nodes=(node_id,),
            offline_replicas=(),
        )
        for p in range(topic.partitions)
    )
    return codec.build(
        m.MetadataResponseTopic,
        error_code=ErrorCode.none,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.is_internal,
        partitions=partitions,
        topic_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )


def _error(m: Any, error: ErrorCode, name: str | None, topic_id: Any = None) -> Any:
    import uuid

    return codec.build(
        m.MetadataResponseTopic,
        error_code=error,
        name=name,
        topic_id=topic_id or uuid.UUID(int=0),
        is_internal=False,
        partitions=(),
        topic_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )
