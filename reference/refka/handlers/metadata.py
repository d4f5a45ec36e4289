"""Metadata: the live brokers, the controller, and each topic's partitions as the image has them.

Leader, replicas, ISR (and ``offline_replicas``: replicas on fenced or unknown brokers),
leader epochs, all from the broker's ``MetadataImage``. Unknown topics are created when both
the request (v4+) and ``auto.create.topics.enable`` allow it: the broker asks the controller and,
as Kafka, answers LEADER_NOT_AVAILABLE so that the client asks again. As a KRaft broker does,
``controller_id`` names a live broker (clients send admin requests there; it forwards them).
Brokers are answered with their endpoints of the listener the request arrived on (Kafka's rule:
a broker without that listener is left out, and a partition whose leader lacks it gets
LISTENER_NOT_FOUND from v6, LEADER_NOT_AVAILABLE before). v13 adds a top-level error code
(KIP-1102, for a client to rebootstrap): a broker answers none, as Kafka's does.

With an authorizer (``refka.security.api_acls``): a listing of all topics leaves out those the
principal may not DESCRIBE; a requested one it may not DESCRIBE gets TOPIC_AUTHORIZATION_FAILED
(whether it exists or not, so existence does not leak); auto-creation needs CREATE on the
CLUSTER or on the topic. ``include_*_authorized_operations`` (v8+) are answered (KIP-430).
"""

from __future__ import annotations

import uuid
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.handlers.topic_names import INTERNAL_TOPICS, invalid_reason
from refka.metadata.image import MetadataImage, TopicImage
from refka.protocol import codec
from refka.security.acl import AclOperation
from refka.security.api_acls import (
    CLUSTER,
    TOPIC,
    allowed,
    authorized_operations,
    reported_operations,
)

KEY = 3
NO_AUTHORIZED_OPERATIONS = -(1 << 31)
TOPIC_IDS_VERSION = 12  # KIP-516: Metadata by topic id
ZERO_UUID = uuid.UUID(int=0)


def handle_metadata(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    image = topics.image
    requested = request.topics
    if _refuses_ids(ctx.api_version, requested):
        return _invalid_request(m, requested)
    listener = ctx.listener or topics.listener
    if requested is None or (ctx.api_version == 0 and not requested):
        answered = [
            _topic(m, image, t, ctx, listener, request)
            for t in image.topics_by_name.values()
            if allowed(ctx, TOPIC, t.name)
        ]
    else:
        allow_create = getattr(request, "allow_auto_topic_creation", True)
        answered = [_requested(m, topics, ctx, t, allow_create, request) for t in requested]
    brokers = topics.alive_brokers(listener)
    return codec.build(
        m.MetadataResponse,
        throttle_time=codec.millis(0),
        brokers=tuple(
            codec.build(
                m.MetadataResponseBroker, node_id=b.node_id, host=b.host, port=b.port, rack=b.rack
            )
            for b in brokers
        ),
        cluster_id=image.cluster_id,
        controller_id=_controller_id(topics, brokers),
        topics=tuple(answered),
        cluster_authorized_operations=(
            reported_operations(ctx, CLUSTER)
            if getattr(request, "include_cluster_authorized_operations", False)
            else NO_AUTHORIZED_OPERATIONS
        ),
        error_code=ErrorCode.none,
    )


def _controller_id(topics: Topics, brokers: list[Any]) -> int:
    """A live broker: this one when it is among them, else the first (-1 when there is none)."""
    ids = [b.node_id for b in brokers]
    me = topics.node.node_id
    return me if me in ids else (ids[0] if ids else -1)


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
        error_code=ErrorCode.none,
    )


def _requested(
    m: Any, topics: Topics, ctx: RequestContext, wanted: Any, allow: bool, request: Any
) -> Any:
    image = topics.image
    listener = ctx.listener or topics.listener
    name = wanted.name
    topic_id = getattr(wanted, "topic_id", None)
    if name is None and topic_id is not None:
        found = image.topics_by_id.get(topic_id)
        if found is None:
            return _error(m, ErrorCode.unknown_topic_id, None, topic_id)
        if not allowed(ctx, TOPIC, found.name):
            return _error(m, ErrorCode.topic_authorization_failed, None, topic_id)
        return _topic(m, image, found, ctx, listener, request)
    topic = image.topics_by_name.get(name)
    auto = allow and topics.config.auto_create_topics_enable and topic is None
    if not allowed(ctx, TOPIC, name) or (auto and not _may_create(ctx, name)):
        return _error(m, ErrorCode.topic_authorization_failed, name)
    if topic is not None:
        return _topic(m, image, topic, ctx, listener, request)
    if invalid_reason(name) is not None:
        return _error(m, ErrorCode.invalid_topic_exception, name)
    if auto:
        config = topics.config
        factor = min(config.default_replication_factor, max(1, topics.alive_broker_count()))
        topics.create_in_background(name, config.num_partitions, factor, {}, ctx.now_ms)
        return _error(m, ErrorCode.leader_not_available, name)
    return _error(m, ErrorCode.unknown_topic_or_partition, name)


def _may_create(ctx: RequestContext, name: str) -> bool:
    """Auto-creation: CREATE on the CLUSTER, or on the topic (Kafka's ``KafkaApis``)."""
    create = AclOperation.CREATE
    return allowed(ctx, CLUSTER, op=create) or allowed(ctx, TOPIC, name, op=create)


def _topic(
    m: Any,
    image: MetadataImage,
    topic: TopicImage,
    ctx: RequestContext,
    listener: str,
    request: Any = None,
) -> Any:
    fenced = fenced_brokers(image)
    partitions = [
        codec.build(
            m.MetadataResponsePartition,
            **partition_fields(image, topic, index, ctx.api_version, listener, fenced),
        )
        for index in sorted(topic.partitions)
    ]
    return codec.build(
        m.MetadataResponseTopic,
        error_code=ErrorCode.none,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.name in INTERNAL_TOPICS,
        partitions=tuple(partitions),
        topic_authorized_operations=(
            authorized_operations(ctx, TOPIC, topic.name)
            if getattr(request, "include_topic_authorized_operations", False)
            else NO_AUTHORIZED_OPERATIONS
        ),
    )


def fenced_brokers(image: MetadataImage) -> set[int]:
    """The brokers the image has fenced."""
    return {b.broker_id for b in image.brokers.values() if b.fenced}


def partition_fields(
    image: MetadataImage,
    topic: TopicImage,
    index: int,
    version: int,
    listener: str,
    fenced: set[int],
) -> dict[str, Any]:
    """A partition's entry as Metadata and DescribeTopicPartitions both give it: its leader
    (with the error a client needs), epoch, replicas, ISR and offline replicas."""
    r = topic.partitions[index]
    error, leader = leader_of(image, r.leader, version, listener)
    offline = tuple(b for b in r.replicas if b in fenced or b not in image.brokers)
    return {
        "error_code": error,
        "partition_index": index,
        "leader_id": leader,
        "leader_epoch": r.leader_epoch,
        "replica_nodes": r.replicas,
        "isr_nodes": r.isr,
        "offline_replicas": offline,
    }


def leader_of(image: MetadataImage, leader: int, version: int, listener: str) -> tuple[Any, int]:
    """The partition's error and leader id: none, or LEADER_NOT_AVAILABLE (-1) when there is
    no leader, or LISTENER_NOT_FOUND (v6+) when the leader has no endpoint of the listener
    the request came on (``KRaftMetadataCache``)."""
    if leader < 0:
        return ErrorCode.leader_not_available, leader
    registration = image.brokers.get(leader)
    if registration is not None and registration.address(listener) is None:
        missing = ErrorCode.listener_not_found if version >= 6 else ErrorCode.leader_not_available
        return missing, -1
    return ErrorCode.none, leader


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
