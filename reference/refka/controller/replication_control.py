"""Kafka's ``ReplicationControlManager``: topics, partitions, ISR changes and elections.

Each operation reads the controller's ``MetadataImage`` and returns the metadata records that
carry it out (``PartitionRecord``, ``PartitionChangeRecord``, ...) with the answer; the
controller appends the records, applies them to its image, then answers (persist before acting).

- ``partition_updates``: Kafka's ``generateLeaderAndIsrUpdates``: take a broker out of the ISRs
  and leaderships (fenced, in controlled shutdown, shut down uncleanly) or let an unfenced one
  lead leaderless partitions, through the ``PartitionChangeBuilder`` (spec/Election.tla
  ``FenceBroker``, ``ElectLeader``, ``RegisterBroker``).
- ``alter_partition``: ``HandleAlterPartition`` (KIP-497, KIP-903 broker epochs, KIP-966).
- ``elect_leaders``: preferred and unclean elections (KIP-460).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.controller.settings import ControllerSettings
from refka.metadata.image import RECOVERING
from refka.metadata.records import NO_LEADER, NO_LEADER_CHANGE

if TYPE_CHECKING:
    from refka.controller.partition_change import PartitionChange

TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4

Partition = tuple[Any, int]  # (TopicImage, partition id)


@dataclass(frozen=True, slots=True)
class ControllerResult:
    """Kafka's ``ControllerResult``: records to append, then the answer to give."""

    records: tuple[Any, ...]
    response: Any


def is_active(image: Any, broker_id: int) -> bool:
    """Registered, unfenced and not in controlled shutdown: may lead and join an ISR."""
    broker = image.brokers.get(broker_id)
    return broker is not None and not broker.fenced and not broker.in_controlled_shutdown


def topic_config(image: Any, settings: ControllerSettings, topic: str, key: str) -> str | None:
    """A topic's config: its own, else the cluster-wide dynamic broker default."""
    own = image.configs.get((TOPIC_RESOURCE, topic), {})
    if key in own:
        return str(own[key])
    value = image.configs.get((BROKER_RESOURCE, ""), {}).get(key)
    return None if value is None else str(value)


def min_isr(image: Any, settings: ControllerSettings, topic: str) -> int:
    value = topic_config(image, settings, topic, "min.insync.replicas")
    return settings.min_insync_replicas if value is None else int(value)


def unclean_enabled(image: Any, settings: ControllerSettings, topic: str) -> bool:
    value = topic_config(image, settings, topic, "unclean.leader.election.enable")
    return settings.unclean_leader_election_enable if value is None else value.lower() == "true"


def change_record(topic_id: Any, partition_id: int, change: PartitionChange) -> Any:
    from refka.metadata.topic_records import PartitionChangeRecord  # with the first change

    return PartitionChangeRecord(
        partition_id=partition_id,
        topic_id=topic_id,
        isr=change.isr,
        leader=change.leader,
        leader_recovery_state=-1
        if change.leader_recovery_state is None
        else change.leader_recovery_state,
        eligible_leader_replicas=change.eligible_leader_replicas,
        last_known_elr=change.last_known_elr,
        replicas=change.replicas,
        removing_replicas=change.removing_replicas,
        adding_replicas=change.adding_replicas,
    )


def all_partitions(image: Any) -> Iterator[Partition]:
    for topic in image.topics_by_name.values():
        for partition_id in sorted(topic.partitions):
            yield topic, partition_id


def partitions_with(image: Any, member: Callable[[Any], bool]) -> list[Partition]:
    return [(t, p) for t, p in all_partitions(image) if member(t.partitions[p])]


def partition_updates(
    image: Any,
    settings: ControllerSettings,
    partitions: Iterable[Partition],
    broker_to_remove: int = NO_LEADER,
    broker_to_add: int = NO_LEADER,
    broker_with_unclean_shutdown: int = NO_LEADER,
) -> list[Any]:
    """Kafka's ``generateLeaderAndIsrUpdates``: the PartitionChangeRecords that take
    ``broker_to_remove`` (or ``broker_with_unclean_shutdown``, also out of the ELR) out of
    ISRs and leaderships, or let ``broker_to_add`` (being unfenced) lead."""
    partitions = list(partitions)
    if not partitions:  # a broker's first registration: the builder is not loaded (issue 15)
        return []
    from refka.controller.partition_change import Election, PartitionChangeBuilder

    gone = {broker_to_remove, broker_with_unclean_shutdown}

    def acceptable(replica: int) -> bool:
        return replica not in gone and (replica == broker_to_add or is_active(image, replica))

    records = []
    for topic, partition_id in partitions:
        partition = topic.partitions[partition_id]
        unclean = unclean_enabled(image, settings, topic.name)
        change = PartitionChangeBuilder(
            partition,
            is_acceptable_leader=acceptable,
            min_isr=min_isr(image, settings, topic.name),
            target_isr=[r for r in partition.isr if r not in gone],
            election=Election.UNCLEAN if unclean else Election.ONLINE,
            elr_enabled=settings.eligible_leader_replicas_enabled,
            unclean_shutdown_replicas=()
            if broker_with_unclean_shutdown == NO_LEADER
            else (broker_with_unclean_shutdown,),
        ).build()
        if change is not None:
            records.append(change_record(topic.topic_id, partition_id, change))
    return records


# ------------------------------------------------------------------ AlterPartition


def validate_alter_partition(
    image: Any, broker_id: int, partition: Any, data: Any, fence_stale_broker_epochs: bool = True
) -> ErrorCode:
    """Kafka's ``validateAlterPartitionData``, in its order. ``fence_stale_broker_epochs``
    off (a bug switch) ignores the broker epochs of ``new_isr_with_epochs``, as before
    KIP-903."""
    if partition is None:
        return ErrorCode.unknown_topic_or_partition
    if data.leader_epoch > partition.leader_epoch:
        return ErrorCode.not_controller  # a newer controller made this epoch
    if data.partition_epoch > partition.partition_epoch:
        return ErrorCode.not_controller
    if data.leader_epoch < partition.leader_epoch:
        return ErrorCode.fenced_leader_epoch
    if broker_id != partition.leader:
        return ErrorCode.invalid_request
    if data.partition_epoch < partition.partition_epoch:
        return ErrorCode.invalid_update_version
    new_isr = [s.broker_id for s in data.new_isr_with_epochs]
    if len(set(new_isr)) != len(new_isr) or not set(new_isr) <= set(partition.replicas):
        return ErrorCode.invalid_request
    if partition.leader not in new_isr:
        return ErrorCode.invalid_request  # the ISR always holds the leader
    if data.leader_recovery_state == RECOVERING and len(new_isr) > 1:
        return ErrorCode.invalid_request
    if partition.leader_recovery_state != RECOVERING and data.leader_recovery_state == RECOVERING:
        return ErrorCode.invalid_request
    for state in data.new_isr_with_epochs:
        broker = image.brokers.get(state.broker_id)
        if broker is None or broker.in_controlled_shutdown or broker.fenced:
            return ErrorCode.ineligible_replica
        # bug switch: Bug.STALE_BROKER_EPOCH (spec/bugs/Election_StaleBrokerEpoch.cfg)
        stale = state.broker_epoch != -1 and state.broker_epoch != broker.broker_epoch
        if stale and fence_stale_broker_epochs:
            return ErrorCode.ineligible_replica  # KIP-903: it restarted since it caught up
    return ErrorCode.none


def alter_partition_change(
    image: Any, settings: ControllerSettings, topic: Any, partition_id: int, data: Any
) -> Any | None:
    """The record for a validated AlterPartition (None when nothing changes)."""
    from refka.controller.partition_change import PartitionChangeBuilder

    partition = topic.partitions[partition_id]
    change = PartitionChangeBuilder(
        partition,
        is_acceptable_leader=lambda r: is_active(image, r),
        min_isr=min_isr(image, settings, topic.name),
        target_isr=[s.broker_id for s in data.new_isr_with_epochs],
        elr_enabled=settings.eligible_leader_replicas_enabled,
        target_leader_recovery_state=data.leader_recovery_state,
    ).build()
    return None if change is None else change_record(topic.topic_id, partition_id, change)


# ------------------------------------------------------------------- ElectLeaders

PREFERRED = 0
UNCLEAN = 1
ELECTION_NOT_NEEDED = "Leader election not needed for topic partition."


def elect_leader(
    image: Any, settings: ControllerSettings, topic: Any, partition_id: int, election_type: int
) -> tuple[ErrorCode, str | None, Any | None]:
    """One partition of ElectLeaders (KIP-460): the error and the record, as Kafka answers."""
    from refka.controller.partition_change import Election, PartitionChangeBuilder

    partition = topic.partitions.get(partition_id)
    if partition is None:
        message = f"No such partition as {topic.name}-{partition_id}"
        return ErrorCode.unknown_topic_or_partition, message, None
    if election_type == PREFERRED:
        if partition.leader == partition.replicas[0]:
            return ErrorCode.election_not_needed, ELECTION_NOT_NEEDED, None
        election = Election.PREFERRED
    else:
        if partition.leader != NO_LEADER and is_active(image, partition.leader):
            return ErrorCode.election_not_needed, ELECTION_NOT_NEEDED, None
        election = Election.UNCLEAN
    change = PartitionChangeBuilder(
        partition,
        is_acceptable_leader=lambda r: is_active(image, r),
        min_isr=min_isr(image, settings, topic.name),
        election=election,
        elr_enabled=settings.eligible_leader_replicas_enabled,
    ).build()
    if change is None or change.leader == NO_LEADER_CHANGE:
        if election is Election.PREFERRED:
            return ErrorCode.preferred_leader_not_available, _not_available(partition), None
        return ErrorCode.eligible_leaders_not_available, _no_eligible(partition), None
    if election is Election.PREFERRED and change.leader != partition.replicas[0]:
        return ErrorCode.preferred_leader_not_available, _not_available(partition), None
    return ErrorCode.none, None, change_record(topic.topic_id, partition_id, change)


def _not_available(partition: Any) -> str:
    return (
        f"Failed to elect leader for partition with preferred leader {partition.replicas[0]}: "
        "the preferred replica is not available or not in the ISR."
    )


def _no_eligible(partition: Any) -> str:
    return "Failed to elect leader: no eligible replica is alive."


def unclean_elections(image: Any, settings: ControllerSettings) -> list[Any]:
    """Kafka's periodic ``maybeElectUncleanLeaders`` (KAFKA-12670, every
    ``unclean.leader.election.interval.ms``): a leaderless partition of a topic that now allows
    unclean election gets any acceptable replica as leader. The config may have been turned on
    after the brokers came back, so their unfencing alone would never elect it."""
    records = []
    for topic, partition_id in partitions_with(image, lambda p: p.leader == NO_LEADER):
        if unclean_enabled(image, settings, topic.name):
            _, _, record = elect_leader(image, settings, topic, partition_id, UNCLEAN)
            if record is not None:
                records.append(record)
    return records


def imbalanced_partitions(image: Any) -> list[Partition]:
    """Partitions whose preferred replica could lead but does not (auto.leader.rebalance)."""
    return [
        (t, p)
        for t, p in all_partitions(image)
        if (part := t.partitions[p]).leader != part.replicas[0]
        and part.replicas[0] in part.isr
        and is_active(image, part.replicas[0])
    ]
