"""CreateTopics, DeleteTopics, CreatePartitions on the controller (``ReplicationControlManager``
``createTopic`` / ``deleteTopic`` / ``createPartitions``): validation and the records.

A new partition's replicas come from ``placement.place`` (or the manual assignment); its ISR
is the replicas that are active (unfenced, not shutting down), its leader the first of them.
Configs are checked as the broker checks them (``LogConfig``). ``__consumer_offsets`` asked for
with defaults gets ``offsets.topic.num.partitions`` / ``offsets.topic.replication.factor`` (its
compaction comes with the request, as the group coordinator asks for it). Errors, messages and
the order of the checks are Apache Kafka 4.4's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from kio.schema.errors import ErrorCode

from refka.controller.placement import PlacementError, UsableBroker, place, validate_assignment
from refka.controller.replication_control import is_active
from refka.controller.settings import ControllerSettings
from refka.handlers.topic_names import invalid_reason
from refka.log.config import LogConfig
from refka.metadata.topic_records import (
    ConfigRecord,
    PartitionRecord,
    RemoveTopicRecord,
    TopicRecord,
)

TOPIC_RESOURCE = 2
DEFAULT = -1
MAX_PARTITIONS_PER_REQUEST = 10_000  # Kafka's ReplicationControlManager.MAX_PARTITIONS_PER_BATCH
MAX_RECORDS_PER_USER_OP = 10_000  # Kafka's QuorumController.MAX_RECORDS_PER_USER_OP
OFFSETS_TOPIC = "__consumer_offsets"


@dataclass(slots=True)
class TopicOutcome:
    error: ErrorCode
    message: str | None = None
    topic_id: Any = None
    partitions: int = -1
    replication_factor: int = -1
    configs: dict[str, str] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)


def validate_topic_configs(configs: dict[str, str]) -> str | None:
    """Why a topic config set is invalid (INVALID_CONFIG, Kafka's ``LogConfig.validate``
    message), or None."""
    try:
        LogConfig.from_topic_configs(configs)
    except ValueError as error:
        return str(error)
    return None


def usable_brokers(image: Any) -> list[UsableBroker]:
    return [
        UsableBroker(b.broker_id, b.rack, fenced=not is_active(image, b.broker_id))
        for b in image.brokers.values()
    ]


def create_topic(
    image: Any, settings: ControllerSettings, topic: Any, topic_id: Any, start: int
) -> TopicOutcome:
    """Kafka's checks in Kafka's order: exists, name, configs, assignment or counts, placement."""
    name = topic.name
    if name in image.topics_by_name:
        return TopicOutcome(ErrorCode.topic_already_exists, f"Topic '{name}' already exists.")
    reason = invalid_reason(name)
    if reason is None:
        reason = _collision(image, name)
    if reason is not None:
        return TopicOutcome(ErrorCode.invalid_topic_exception, reason)
    for c in topic.configs:
        if c.value is None:
            message = f"Null value not supported for topic configs: {c.name}"
            return TopicOutcome(ErrorCode.invalid_config, message)
    configs = {c.name: c.value for c in topic.configs}
    problem = validate_topic_configs(configs)
    if problem is not None:
        return TopicOutcome(ErrorCode.invalid_config, problem)
    try:
        assignments = _assignments(image, settings, topic, start)
    except _Refused as refused:
        return TopicOutcome(refused.error, str(refused))
    isrs = [tuple(r for r in replicas if is_active(image, r)) for replicas in assignments]
    if any(not isr for isr in isrs):
        factor = len(assignments[0])
        message = (
            f"Unable to replicate the partition {factor} time(s): All brokers are currently "
            "fenced or in controlled shutdown."
        )
        return TopicOutcome(ErrorCode.invalid_replication_factor, message)
    records: list[Any] = [TopicRecord(name=name, topic_id=topic_id)]
    records += [
        ConfigRecord(resource_type=TOPIC_RESOURCE, resource_name=name, name=k, value=v)
        for k, v in sorted(configs.items())
    ]
    records += [
        new_partition(topic_id, index, replicas, isr)
        for index, (replicas, isr) in enumerate(zip(assignments, isrs, strict=True))
    ]
    if len(records) > MAX_RECORDS_PER_USER_OP:
        message = "Unable to perform excessively large batch operation."
        return TopicOutcome(ErrorCode.policy_violation, message)
    return TopicOutcome(
        ErrorCode.none,
        None,
        topic_id,
        len(assignments),
        len(assignments[0]),
        configs,
        records,
    )


class _Refused(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error


def _collision(image: Any, name: str) -> str | None:
    """Kafka refuses a name that differs from an existing one only by '.' vs '_'."""
    folded = name.replace(".", "_")
    for existing in image.topics_by_name:
        if existing != name and existing.replace(".", "_") == folded:
            return f"Topic '{name}' collides with existing topic: {existing}"
    return None


def _assignments(
    image: Any, settings: ControllerSettings, topic: Any, start: int
) -> list[tuple[int, ...]]:
    if topic.assignments:
        return _manual_assignments(image, topic)
    internal = topic.name == OFFSETS_TOPIC
    factor = topic.replication_factor
    if factor == 0 or factor < DEFAULT:
        raise _Refused(
            ErrorCode.invalid_replication_factor,
            "Replication factor must be larger than 0, or -1 to use the default value.",
        )
    partitions = topic.num_partitions
    if partitions == 0 or partitions < DEFAULT:
        raise _Refused(
            ErrorCode.invalid_partitions,
            "Number of partitions was set to an invalid non-positive value.",
        )
    if partitions == DEFAULT:
        partitions = settings.offsets_topic_num_partitions if internal else settings.num_partitions
    if partitions > MAX_PARTITIONS_PER_REQUEST:
        raise _Refused(
            ErrorCode.policy_violation, "Excessively large number of partitions per request."
        )
    if factor == DEFAULT:
        factor = (
            settings.offsets_topic_replication_factor
            if internal
            else settings.default_replication_factor
        )
    return place_partitions(image, partitions, factor, start)


def _manual_assignments(image: Any, topic: Any) -> list[tuple[int, ...]]:
    if topic.replication_factor != DEFAULT:
        raise _Refused(
            ErrorCode.invalid_request,
            "A manual partition assignment was specified, but replication factor was not "
            "set to -1.",
        )
    if topic.num_partitions != DEFAULT:
        raise _Refused(
            ErrorCode.invalid_request,
            "A manual partition assignment was specified, but numPartitions was not set to -1.",
        )
    by_index: dict[int, tuple[int, ...]] = {}
    for a in topic.assignments:
        if a.partition_index in by_index:
            raise _Refused(
                ErrorCode.invalid_replica_assignment,
                f"Found multiple manual partition assignments for partition {a.partition_index}",
            )
        factor = len(next(iter(by_index.values()))) if by_index else None
        try:
            validate_assignment(a.broker_ids, set(image.brokers), factor)
        except PlacementError as error:
            raise _Refused(ErrorCode.invalid_replica_assignment, str(error)) from None
        by_index[a.partition_index] = tuple(a.broker_ids)
    if sorted(by_index) != list(range(len(by_index))):
        raise _Refused(
            ErrorCode.invalid_replica_assignment,
            "partitions should be a consecutive 0-based integer sequence",
        )
    return [by_index[i] for i in range(len(by_index))]


def place_partitions(image: Any, partitions: int, factor: int, start: int) -> list[tuple[int, ...]]:
    try:
        return place(usable_brokers(image), partitions, factor, start)
    except PlacementError as error:
        message = f"Unable to replicate the partition {factor} time(s): {error}"
        raise _Refused(ErrorCode.invalid_replication_factor, message) from None


def delete_topic(
    image: Any, settings: ControllerSettings, name: str | None, topic_id: Any
) -> TopicOutcome:
    if name is None and topic_id is not None:
        topic = image.topics_by_id.get(topic_id)
        if topic is None:
            return TopicOutcome(
                ErrorCode.unknown_topic_id, "This server does not host this topic ID."
            )
    else:
        topic = image.topics_by_name.get(name or "")
        if topic is None:
            return TopicOutcome(
                ErrorCode.unknown_topic_or_partition,
                "This server does not host this topic-partition.",
            )
    if not settings.delete_topic_enable:
        return TopicOutcome(
            ErrorCode.topic_deletion_disabled, "Topic deletion is disabled.", topic.topic_id
        )
    outcome = TopicOutcome(ErrorCode.none, None, topic.topic_id)
    outcome.records = [RemoveTopicRecord(topic_id=topic.topic_id)]
    return outcome


def create_partitions(
    image: Any, settings: ControllerSettings, request_topic: Any, start: int
) -> TopicOutcome:
    topic = image.topics_by_name.get(request_topic.name)
    if topic is None:
        return TopicOutcome(ErrorCode.unknown_topic_or_partition, None)
    existing = len(topic.partitions)
    count = request_topic.count
    if count < existing:
        message = (
            f"The topic {topic.name} currently has {existing} partition(s); {count} would not "
            "be an increase."
        )
        return TopicOutcome(ErrorCode.invalid_partitions, message)
    if count == existing:
        return TopicOutcome(
            ErrorCode.invalid_partitions, f"Topic already has {existing} partition(s)."
        )
    if count - existing > MAX_PARTITIONS_PER_REQUEST:
        message = "Excessively large number of additional partitions per request."
        return TopicOutcome(ErrorCode.policy_violation, message)
    factor = len(topic.partitions[0].replicas)
    try:
        new = _new_assignments(image, request_topic, count - existing, factor, start)
    except _Refused as refused:
        return TopicOutcome(refused.error, str(refused))
    records = []
    for offset, replicas in enumerate(new):
        isr = tuple(r for r in replicas if is_active(image, r))
        if not isr:
            message = (
                f"Unable to replicate the partition {factor} time(s): All brokers are "
                "currently fenced or in controlled shutdown."
            )
            return TopicOutcome(ErrorCode.invalid_replication_factor, message)
        records.append(new_partition(topic.topic_id, existing + offset, replicas, isr))
    outcome = TopicOutcome(ErrorCode.none, None, topic.topic_id, count, factor)
    outcome.records = records
    return outcome


def _new_assignments(
    image: Any, request_topic: Any, added: int, factor: int, start: int
) -> list[tuple[int, ...]]:
    if request_topic.assignments is None:
        return place_partitions(image, added, factor, start)
    if len(request_topic.assignments) != added:
        raise _Refused(
            ErrorCode.invalid_replica_assignment,
            f"Attempted to add {added} additional partition(s), but only "
            f"{len(request_topic.assignments)} assignment(s) were specified.",
        )
    result = []
    for a in request_topic.assignments:
        try:
            validate_assignment(a.broker_ids, set(image.brokers), factor)
        except PlacementError as error:
            raise _Refused(ErrorCode.invalid_replica_assignment, str(error)) from None
        result.append(tuple(a.broker_ids))
    return result


def new_partition(
    topic_id: uuid.UUID, index: int, replicas: tuple[int, ...], isr: tuple[int, ...]
) -> PartitionRecord:
    """A new partition: every live replica in the ISR, the first of them leading, epoch 0."""
    return PartitionRecord(
        partition_id=index,
        topic_id=topic_id,
        replicas=replicas,
        isr=isr,
        leader=isr[0],
        leader_epoch=0,
        partition_epoch=0,
        eligible_leader_replicas=(),
        last_known_elr=(),
    )
