"""DescribeTopicPartitions (key 75, v0 as Kafka 4.x): topics' partitions, paged (KIP-966).

Topics are answered in name order (an empty list: every topic), from the request's cursor on,
with at most ``response_partition_limit`` partitions (capped by
``max.request.partition.size.limit``; below 1 counts as 1); when partitions are left over,
``next_cursor`` names the first of them. A cursor whose topic is not among the named ones, or
whose partition index is negative, makes every named topic INVALID_REQUEST, as Kafka answers.
An unknown topic is UNKNOWN_TOPIC_OR_PARTITION, an illegal name INVALID_TOPIC_EXCEPTION (both
with no partitions, not counted against the limit). refka elects leaders from the ISR only
(no eligible leader replicas): ``eligible_leader_replicas`` and ``last_known_elr`` are empty,
as Kafka 4.4's are while every replica is in the ISR. ``topic_authorized_operations`` is
every topic operation (no authorizer), as Kafka computes it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.handlers.metadata import fenced_brokers, partition_fields
from refka.handlers.topic_names import INTERNAL_TOPICS, invalid_reason
from refka.protocol import codec
from refka.security.api_acls import TOPIC, allowed

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.topics import Topics
    from refka.metadata.image import MetadataImage, TopicImage

KEY = 75
METADATA_VERSION = 13  # the Metadata version whose leader rules this answer follows
ZERO_UUID = uuid.UUID(int=0)
NO_AUTHORIZED_OPERATIONS = -(1 << 31)
# READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (AclOperation)
ALL_TOPIC_OPERATIONS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))


def handle_describe_topic_partitions(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    names = [t.name for t in request.topics]
    cursor = request.cursor
    if cursor is not None and (
        cursor.partition_index < 0 or (names and cursor.topic_name not in names)
    ):
        refused = [_error(m, ErrorCode.invalid_request, n, NO_AUTHORIZED_OPERATIONS) for n in names]
        return _response(m, refused, None)
    wanted = sorted(set(names)) if names else sorted(topics.image.topics_by_name)
    denied = frozenset(n for n in wanted if not allowed(ctx, TOPIC, n))  # DESCRIBE
    if not names:  # a listing leaves them out; a request names them refused
        wanted = [n for n in wanted if n not in denied]
    if cursor is not None:
        wanted = [n for n in wanted if n >= cursor.topic_name]
    configured = topics.config.max_request_partition_size_limit
    limit = max(1, min(request.response_partition_limit, configured))
    listener = ctx.listener or topics.listener
    return _page(m, topics.image, wanted, cursor, limit, listener, denied)


def _page(
    m: Any,
    image: MetadataImage,
    wanted: list[str],
    cursor: Any,
    limit: int,
    listener: str,
    denied: frozenset[str] = frozenset(),
) -> Any:
    """The topics ``wanted`` from ``cursor`` on, up to ``limit`` partitions."""
    answered: list[Any] = []
    for name in wanted:
        start = cursor.partition_index if cursor is not None and name == cursor.topic_name else 0
        if limit == 0:
            following = codec.build(m.Cursor, topic_name=name, partition_index=start)
            return _response(m, answered, following)
        topic = image.topics_by_name.get(name)
        if name in denied:
            refused = ErrorCode.topic_authorization_failed
            answered.append(_error(m, refused, name, NO_AUTHORIZED_OPERATIONS))
            continue
        if topic is None:
            answered.append(_missing(m, name))
            continue
        indexes = [i for i in sorted(topic.partitions) if i >= start]
        taken = indexes[:limit]
        limit -= len(taken)
        answered.append(_topic(m, image, topic, taken, listener))
        if len(taken) < len(indexes):
            following = codec.build(m.Cursor, topic_name=name, partition_index=indexes[len(taken)])
            return _response(m, answered, following)
    return _response(m, answered, None)


def _response(m: Any, answered: list[Any], next_cursor: Any) -> Any:
    return codec.build(
        m.DescribeTopicPartitionsResponse,
        throttle_time=codec.millis(0),
        topics=tuple(answered),
        next_cursor=next_cursor,
    )


def _topic(
    m: Any, image: MetadataImage, topic: TopicImage, indexes: list[int], listener: str
) -> Any:
    fenced = fenced_brokers(image)
    partitions = [
        codec.build(
            m.DescribeTopicPartitionsResponsePartition,
            **partition_fields(image, topic, index, METADATA_VERSION, listener, fenced),
            eligible_leader_replicas=(),
            last_known_elr=(),
        )
        for index in indexes
    ]
    return codec.build(
        m.DescribeTopicPartitionsResponseTopic,
        error_code=ErrorCode.none,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.name in INTERNAL_TOPICS,
        partitions=tuple(partitions),
        topic_authorized_operations=ALL_TOPIC_OPERATIONS,
    )


def _missing(m: Any, name: str) -> Any:
    bad = invalid_reason(name) is not None
    error = ErrorCode.invalid_topic_exception if bad else ErrorCode.unknown_topic_or_partition
    return _error(m, error, name, ALL_TOPIC_OPERATIONS)


def _error(m: Any, error: ErrorCode, name: str, operations: int) -> Any:
    return codec.build(
        m.DescribeTopicPartitionsResponseTopic,
        error_code=error,
        name=name,
        topic_id=ZERO_UUID,
        is_internal=False,
        partitions=(),
        topic_authorized_operations=operations,
    )
