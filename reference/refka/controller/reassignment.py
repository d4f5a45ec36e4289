"""AlterPartitionReassignments (KIP-455) on the controller, as far as refka goes: a new order of
the same replicas.

Kafka completes a reassignment whose target is the current replica set at once: one
``PartitionChangeRecord`` with the new ``replicas`` order (the first is the preferred leader
that a preferred ElectLeaders then picks). Moving a partition to other brokers (adding and
removing replicas while they catch up) is not implemented: such a request is refused with
INVALID_REPLICA_ASSIGNMENT, saying so. ``replicas = null`` cancels; with nothing in progress
that is NO_REASSIGNMENT_IN_PROGRESS. Validation and messages are Kafka 4.4's.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.controller.placement import PlacementError, validate_assignment
from refka.metadata.topic_records import PartitionChangeRecord

Outcome = tuple[ErrorCode, str | None, Any | None]  # error, message, record


def reassign(image: Any, name: str, partition_id: int, replicas: Any) -> Outcome:
    """One partition of AlterPartitionReassignments: Kafka's answer and the record to commit."""
    topic = image.topics_by_name.get(name)
    if topic is None:
        return ErrorCode.unknown_topic_or_partition, f"Unable to find a topic named {name}.", None
    partition = topic.partitions.get(partition_id)
    if partition is None:
        message = f"Unable to find partition {name}:{partition_id}."
        return ErrorCode.unknown_topic_or_partition, message, None
    if replicas is None:
        return ErrorCode.no_reassignment_in_progress, None, None
    try:
        validate_assignment(replicas, set(image.brokers))
    except PlacementError as error:
        return ErrorCode.invalid_replica_assignment, str(error), None
    target = tuple(replicas)
    if set(target) != set(partition.replicas):
        message = "refka cannot move replicas to other brokers yet (only reorder them)."
        return ErrorCode.invalid_replica_assignment, message, None
    if target == tuple(partition.replicas):
        return ErrorCode.none, None, None
    record = PartitionChangeRecord(
        partition_id=partition_id, topic_id=topic.topic_id, replicas=target
    )
    return ErrorCode.none, None, record
