"""AlterPartitionReassignments and ListPartitionReassignments (KIP-455) on the controller.

Kafka's ``PartitionReassignmentReplicas``: moving a partition from replicas ``C`` to a target
``T`` commits one ``PartitionChangeRecord`` with ``replicas`` = ``T`` then the members of ``C``
not in ``T``, ``adding_replicas`` = ``T - C`` and ``removing_replicas`` = ``C - T``. The brokers
act on it: an adding replica becomes a follower and fetches from the leader until it joins the
ISR (AlterPartition). The ``PartitionChangeBuilder`` completes the move on the first change
whose ISR, less the removing replicas, holds every adding replica (often the AlterPartition
that adds the last one): the removing replicas leave ``replicas`` and the ISR, a new leader is
elected if the old one leaves, and their brokers stop and delete their replicas.

``replicas = null`` cancels (``PartitionReassignmentRevert``): the adding replicas leave, the
removing ones stay; with nothing in progress that is NO_REASSIGNMENT_IN_PROGRESS. A target
that is a new order of the same replicas completes at once. Validation and messages are
Kafka 4.4's, with KIP-860's ``allow_replication_factor_change``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kio.schema.errors import ErrorCode

from refka.controller import replication_control as rc
from refka.controller.placement import PlacementError, validate_assignment
from refka.controller.settings import ControllerSettings

Outcome = tuple[ErrorCode, str | None, Any | None]  # error, message, record


def in_progress(partition: Any) -> bool:
    return bool(partition.adding_replicas or partition.removing_replicas)


@dataclass(frozen=True, slots=True)
class Ongoing:
    """One partition of a ListPartitionReassignments answer."""

    partition_index: int
    replicas: tuple[int, ...]
    adding_replicas: tuple[int, ...]
    removing_replicas: tuple[int, ...]


def reassign(
    image: Any,
    settings: ControllerSettings,
    name: str,
    partition_id: int,
    replicas: Sequence[int] | None,
    allow_replication_factor_change: bool = True,
) -> Outcome:
    """One partition of AlterPartitionReassignments: Kafka's answer and the record to commit."""
    topic = image.topics_by_name.get(name)
    if topic is None:
        return ErrorCode.unknown_topic_or_partition, f"Unable to find a topic named {name}.", None
    partition = topic.partitions.get(partition_id)
    if partition is None:
        message = f"Unable to find partition {name}:{partition_id}."
        return ErrorCode.unknown_topic_or_partition, message, None
    if replicas is None:
        return _cancel(image, settings, topic, partition_id)
    try:
        validate_assignment(replicas, set(image.brokers))
    except PlacementError as error:
        return ErrorCode.invalid_replica_assignment, str(error), None
    if not allow_replication_factor_change:
        heading = len(set(partition.replicas) - set(partition.removing_replicas))
        if heading != len(replicas):
            message = f"The replication factor is changed from {heading} to {len(replicas)}"
            return ErrorCode.invalid_replication_factor, message, None
    current = tuple(partition.replicas)
    target = tuple(replicas)
    merged = target + tuple(r for r in current if r not in target)
    change = _builder(
        image,
        settings,
        topic,
        partition,
        target_replicas=merged,
        target_adding=tuple(r for r in target if r not in current),
        target_removing=tuple(r for r in current if r not in target),
    ).build()
    record = None if change is None else rc.change_record(topic.topic_id, partition_id, change)
    return ErrorCode.none, None, record


def _cancel(image: Any, settings: ControllerSettings, topic: Any, partition_id: int) -> Outcome:
    """Kafka's ``cancelPartitionReassignment`` (``PartitionReassignmentRevert``)."""
    from refka.controller.partition_change import Election

    partition = topic.partitions[partition_id]
    if not in_progress(partition):
        return ErrorCode.no_reassignment_in_progress, None, None
    adding = set(partition.adding_replicas)
    replicas = tuple(r for r in partition.replicas if r not in adding)
    isr = tuple(r for r in partition.isr if r not in adding)
    election = Election.ONLINE
    if not isr:
        if not rc.unclean_enabled(image, settings, topic.name):
            message = (
                f"Unable to revert partition assignment for {topic.name}:{partition_id} "
                "because it would require an unclean leader election."
            )
            return ErrorCode.invalid_replica_assignment, message, None
        election = Election.UNCLEAN
    change = _builder(
        image,
        settings,
        topic,
        partition,
        target_isr=isr,
        target_replicas=replicas,
        target_adding=(),
        target_removing=(),
        election=election,
    ).build()
    record = None if change is None else rc.change_record(topic.topic_id, partition_id, change)
    return ErrorCode.none, None, record


def _builder(
    image: Any, settings: ControllerSettings, topic: Any, partition: Any, **targets: Any
) -> Any:
    from refka.controller.partition_change import PartitionChangeBuilder

    return PartitionChangeBuilder(
        partition,
        is_acceptable_leader=lambda r: rc.is_active(image, r),
        min_isr=rc.min_isr(image, settings, topic.name),
        elr_enabled=settings.eligible_leader_replicas_enabled,
        **targets,
    )


def ongoing(image: Any, wanted: Iterable[tuple[str, Sequence[int]]] | None) -> list[
    tuple[str, list[Ongoing]]
]:  # fmt: skip
    """ListPartitionReassignments: the partitions being moved, of every topic (``None``) or
    of the named partitions (unknown topics and partitions are left out, as Kafka)."""
    if wanted is None:
        wanted = [(name, sorted(t.partitions)) for name, t in sorted(image.topics_by_name.items())]
    found = []
    for name, partition_ids in wanted:
        topic = image.topics_by_name.get(name)
        if topic is None:
            continue
        parts = [
            Ongoing(pid, tuple(p.replicas), tuple(p.adding_replicas), tuple(p.removing_replicas))
            for pid in partition_ids
            if (p := topic.partitions.get(pid)) is not None and in_progress(p)
        ]
        if parts:
            found.append((name, parts))
    return found
