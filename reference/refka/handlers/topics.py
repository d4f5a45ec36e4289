"""CreateTopics, DeleteTopics and CreatePartitions: the admin operations on topics.

Errors as Kafka's controller gives them: TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION,
INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION,
UNKNOWN_TOPIC_ID, INVALID_REQUEST (a name given twice). ``validate_only`` checks without acting.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.handlers.topic_names import INTERNAL_TOPICS, invalid_reason
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.topics import Topics

CREATE_TOPICS = 19
DELETE_TOPICS = 20
CREATE_PARTITIONS = 37
DEFAULT = -1  # num_partitions / replication_factor: use the broker's default
MAX_PARTITIONS = 100_000


def handle_create_topics(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(CREATE_TOPICS, ctx.api_version)
    counts = Counter(t.name for t in request.topics)
    results = []
    for topic in request.topics:
        if counts[topic.name] > 1:
            message: str | None = f"Duplicate topic name {topic.name}"
            error = ErrorCode.invalid_request
            results.append(_create_result(m, topics, topic.name, error, message))
            continue
        error, message, partitions, configs = _check_create(topics, topic)
        if error == ErrorCode.none and not request.validate_only:
            topics.create_topic(topic.name, partitions, configs, ctx.now_ms)
        results.append(_create_result(m, topics, topic.name, error, message, partitions, configs))
    return codec.build(m.CreateTopicsResponse, throttle_time=codec.millis(0), topics=tuple(results))


def _check_create(topics: Topics, topic: Any) -> tuple[ErrorCode, str | None, int, dict[str, str]]:
    name = topic.name
    configs: dict[str, str] = {c.name: c.value for c in topic.configs if c.value is not None}
    if name in topics.metadata.topics:
        return ErrorCode.topic_already_exists, f"Topic '{name}' already exists.", 0, configs
    reason = invalid_reason(name)
    if reason is not None:
        return ErrorCode.invalid_topic_exception, reason, 0, configs
    if topic.assignments:
        partitions = len(topic.assignments)
        if topic.num_partitions != DEFAULT or topic.replication_factor != DEFAULT:
            message = "Both numPartitions or replicationFactor and replicasAssignments were set."
            return ErrorCode.invalid_request, message, 0, configs
        if any(set(a.broker_ids) != {topics.node.node_id} for a in topic.assignments):
            return (
                ErrorCode.invalid_replica_assignment,
                "Unknown broker in replica assignment",
                0,
                configs,
            )
    else:
        partitions = (
            topics.config.num_partitions
            if topic.num_partitions == DEFAULT
            else topic.num_partitions
        )
    if partitions <= 0 or partitions > MAX_PARTITIONS:
        return (
            ErrorCode.invalid_partitions,
            "Number of partitions was set to an invalid non-positive value.",
            0,
            configs,
        )
    factor = (
        topics.config.default_replication_factor
        if topic.replication_factor == DEFAULT
        else topic.replication_factor
    )
    if factor <= 0:
        return (
            ErrorCode.invalid_replication_factor,
            "Replication factor must be larger than 0, or -1 to use the default value.",
            0,
            configs,
        )
    if factor > 1:
        message = (
            f"Unable to replicate the partition {factor} time(s): The target replication "
            f"factor of {factor} cannot be reached because only 1 broker(s) are registered."
        )
        return ErrorCode.invalid_replication_factor, message, 0, configs
    try:
        topics.log_config(configs)
    except ValueError as error:
        return ErrorCode.invalid_config, str(error), 0, configs
    return ErrorCode.none, None, partitions, configs


def _create_result(
    m: Any,
    topics: Topics,
    name: str,
    error: ErrorCode,
    message: str | None,
    partitions: int = -1,
    configs: dict[str, str] | None = None,
) -> Any:
    ok = error == ErrorCode.none
    described = None
    if ok and hasattr(m, "CreatableTopicConfigs"):
        effective = topics.log_config(configs or {}).to_topic_configs()
        described = tuple(
            codec.build(
                m.CreatableTopicConfigs,
                name=key,
                value=value,
                read_only=False,
                config_source=1 if key in (configs or {}) else 5,  # TOPIC_CONFIG or DEFAULT_CONFIG
                is_sensitive=False,
            )
            for key, value in sorted(effective.items())
        )
    existing = topics.metadata.topics.get(name)
    return codec.build(
        m.CreatableTopicResult,
        name=name,
        topic_id=existing.topic_id if ok and existing is not None else _zero_uuid(),
        error_code=error,
        error_message=message,
        topic_config_error_code=0,
        num_partitions=partitions if ok else -1,
        replication_factor=1 if ok else -1,
        configs=described,
    )


def handle_delete_topics(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(DELETE_TOPICS, ctx.api_version)
    wanted = getattr(request, "topics", None)
    if wanted is None:  # v1-v5 carry names only
        wanted = [(name, None) for name in request.topic_names]
    else:
        wanted = [(t.name, t.topic_id) for t in wanted]
    results = [_delete(m, topics, ctx, name, topic_id) for name, topic_id in wanted]
    return codec.build(
        m.DeleteTopicsResponse, throttle_time=codec.millis(0), responses=tuple(results)
    )


def _delete(m: Any, topics: Topics, ctx: RequestContext, name: str | None, topic_id: Any) -> Any:
    def result(error: ErrorCode, message: str | None = None, topic: Any = None) -> Any:
        return codec.build(
            m.DeletableTopicResult,
            name=topic.name if topic is not None else name,
            topic_id=topic.topic_id if topic is not None else (topic_id or _zero_uuid()),
            error_code=error,
            error_message=message,
        )

    if name is None and topic_id is not None:
        topic = topics.metadata.topic_by_id(topic_id)
        if topic is None:
            return result(ErrorCode.unknown_topic_id, "Topic id not found")
    else:
        topic = topics.metadata.topics.get(name or "")
        if topic is None:
            return result(
                ErrorCode.unknown_topic_or_partition,
                "This server does not host this topic-partition.",
            )
    if not topics.config.delete_topic_enable:
        return result(ErrorCode.topic_deletion_disabled, "Topic deletion is disabled.", topic)
    if topic.name in INTERNAL_TOPICS:
        return result(ErrorCode.topic_authorization_failed, None, topic)
    topics.delete_topic(topic.name, ctx.now_ms)
    return result(ErrorCode.none, None, topic)


def handle_create_partitions(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(CREATE_PARTITIONS, ctx.api_version)
    counts = Counter(t.name for t in request.topics)
    results = []
    for topic in request.topics:
        error, message = _check_partitions(topics, topic, counts[topic.name])
        if error == ErrorCode.none and not request.validate_only:
            topics.add_partitions(topic.name, topic.count, ctx.now_ms)
        results.append(
            codec.build(
                m.CreatePartitionsTopicResult,
                name=topic.name,
                error_code=error,
                error_message=message,
            )
        )
    return codec.build(
        m.CreatePartitionsResponse, throttle_time=codec.millis(0), results=tuple(results)
    )


def _check_partitions(topics: Topics, topic: Any, times_named: int) -> tuple[ErrorCode, str | None]:
    if times_named > 1:
        return ErrorCode.invalid_request, "Duplicate topic name."
    existing = topics.metadata.topics.get(topic.name)
    if existing is None:
        return (
            ErrorCode.unknown_topic_or_partition,
            "This server does not host this topic-partition.",
        )
    if topic.count < existing.partitions:
        return (
            ErrorCode.invalid_partitions,
            f"Topic currently has {existing.partitions} partitions, "
            f"which is higher than the requested {topic.count}.",
        )
    if topic.count == existing.partitions:
        return ErrorCode.invalid_partitions, f"Topic already has {existing.partitions} partitions."
    if topic.count > MAX_PARTITIONS:
        return ErrorCode.invalid_partitions, "Too many partitions."
    if (
        topic.assignments is not None
        and len(topic.assignments) != topic.count - existing.partitions
    ):
        return (
            ErrorCode.invalid_replica_assignment,
            "Attempted to add partitions with a mismatched assignment count.",
        )
    return ErrorCode.none, None


def _zero_uuid() -> Any:
    import uuid

    return uuid.UUID(int=0)
