"""Metadata: brokers, the controller, and each topic's partitions with leader and ISR.

Unknown topics are created when both the request (v4+) and ``auto.create.topics.enable``
allow it; as in Kafka the answer for a topic created by this request is LEADER_NOT_AVAILABLE
and the client asks again.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.handlers.topic_names import invalid_reason
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.broker import Broker
    from refka.core.context import RequestContext
    from refka.core.metadata import TopicMetadata

KEY = 3
NO_AUTHORIZED_OPERATIONS = -(1 << 31)
TOPIC_IDS_VERSION = 12  # KIP-516: Metadata by topic id
ZERO_UUID = uuid.UUID(int=0)


def handle_metadata(broker: Broker, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    requested = request.topics
    if _refuses_ids(ctx.api_version, requested):
        return _invalid_request(m, requested)
    if requested is None or (ctx.api_version == 0 and not requested):
        topics = [_topic(m, broker, t) for t in broker.metadata.topics.values()]
    else:
        allow_create = getattr(request, "allow_auto_topic_creation", True)
        topics = [_requested(m, broker, ctx, t, allow_create) for t in requested]
    node = broker.node
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
        cluster_id=broker.metadata.cluster_id,
        controller_id=node.node_id,
        topics=tuple(topics),
        cluster_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )


def _refuses_ids(version: int, requested: Any) -> bool:
    """v10-v11 have topic ids in their schema but Kafka refuses them, and a null name, for the
    whole request (``KafkaApis.handleTopicMetadataRequest``: INVALID_REQUEST)."""
    if not 10 <= version < TOPIC_IDS_VERSION or not requested:
        return False
    return any(t.name is None or (t.topic_id or ZERO_UUID) != ZERO_UUID for t in requested)


def _invalid_request(m: Any, requested: Any) -> Any:
    """Kafka's error response: no brokers, no controller, every topic INVALID_REQUEST (a null
    name answered as the empty string)."""
    topics = tuple(
        _error(m, ErrorCode.invalid_request, t.name or "", t.topic_id) for t in requested
    )
    return codec.build(
        m.MetadataResponse,
        throttle_time=codec.millis(0),
        brokers=(),
        cluster_id=None,
        controller_id=-1,
        topics=topics,
        cluster_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )


def _requested(m: Any, broker: Broker, ctx: RequestContext, wanted: Any, allow_create: bool) -> Any:
    name = wanted.name
    topic_id = getattr(wanted, "topic_id", None)
    if name is None and topic_id is not None:
        found = broker.metadata.topic_by_id(topic_id)
        if found is None:
            return _error(m, ErrorCode.unknown_topic_id, None, topic_id)
        return _topic(m, broker, found)
    topic = broker.metadata.topics.get(name)
    if topic is not None:
        return _topic(m, broker, topic)
    if invalid_reason(name) is not None:
        return _error(m, ErrorCode.invalid_topic_exception, name)
    if allow_create and broker.config.auto_create_topics_enable:
        broker.create_topic(name, broker.config.num_partitions, {}, ctx.now_ms)
        return _error(m, ErrorCode.leader_not_available, name)
    return _error(m, ErrorCode.unknown_topic_or_partition, name)


def _topic(m: Any, broker: Broker, topic: TopicMetadata) -> Any:
    node_id = broker.node.node_id
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
    return codec.build(
        m.MetadataResponseTopic,
        error_code=error,
        name=name,
        topic_id=topic_id or ZERO_UUID,
        is_internal=False,
        partitions=(),
        topic_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )
