"""Replica placement: Kafka's ``StripedReplicaPlacer`` rules and manual-assignment checks.

Automatic placement (``place``) stripes replicas across racks (``broker.rack``; brokers without
a rack share one unnamed rack): leaders go round robin over the unfenced brokers, each
partition's followers come from racks the partition does not use yet, unfenced brokers before
fenced ones. A fenced broker may hold a follower (it is registered) but never leads, and the
replication factor may not exceed the registered brokers: Kafka's ``InvalidReplicationFactor``
messages. The starting point ``start`` comes from the controller's seeded random source, as
Kafka's placer shuffles with its ``Random``.

Manual assignments (``validate_assignment``) are refused with Kafka's
``InvalidReplicaAssignmentException`` messages: an empty list, a broker twice, an unknown
broker, a replica count unlike the other partitions'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PlacementError(ValueError):
    """INVALID_REPLICATION_FACTOR (automatic) or INVALID_REPLICA_ASSIGNMENT (manual)."""


class InvalidReplicationFactor(PlacementError):
    pass


class InvalidReplicaAssignment(PlacementError):
    pass


@dataclass(frozen=True, slots=True)
class UsableBroker:
    """Kafka's ``UsableBroker``: a registered broker, its rack, and whether it is fenced."""

    broker_id: int
    rack: str | None = None
    fenced: bool = False


def place(
    brokers: Sequence[UsableBroker], partitions: int, replication_factor: int, start: int = 0
) -> list[tuple[int, ...]]:
    """Replica lists for ``partitions`` new partitions; the first replica is the leader."""
    if replication_factor <= 0:
        raise InvalidReplicationFactor(
            f"Invalid replication factor {replication_factor}: "
            "the replication factor must be positive."
        )
    unfenced = _striped([b for b in brokers if not b.fenced])
    if not unfenced:
        raise InvalidReplicationFactor(
            "All brokers are currently fenced, or have all their log directories cordoned."
        )
    if replication_factor > len(brokers):
        raise InvalidReplicationFactor(
            f"The target replication factor of {replication_factor} cannot be reached because "
            f"only {len(brokers)} broker(s) are registered or some brokers have all their log "
            "directories cordoned."
        )
    fenced = _striped([b for b in brokers if b.fenced])
    return [
        _place_one(
            unfenced, fenced, replication_factor, start + p, shift=(start + p) // len(unfenced)
        )
        for p in range(partitions)
    ]


def _striped(brokers: list[UsableBroker]) -> list[UsableBroker]:
    """One broker from each rack in turn (racks and brokers in id order)."""
    racks: dict[str, list[UsableBroker]] = {}
    for broker in sorted(brokers, key=lambda b: b.broker_id):
        racks.setdefault(broker.rack or "", []).append(broker)
    columns = [racks[name] for name in sorted(racks)]
    depth = max((len(c) for c in columns), default=0)
    return [column[row] for row in range(depth) for column in columns if row < len(column)]


def _place_one(
    unfenced: list[UsableBroker],
    fenced: list[UsableBroker],
    replication_factor: int,
    index: int,
    shift: int,
) -> tuple[int, ...]:
    leader = unfenced[index % len(unfenced)]
    n = len(unfenced)
    # the followers start a little further round the stripe each lap, so that partitions with
    # the same leader do not all get the same followers
    rest = [unfenced[(index + 1 + (shift + k) % max(n - 1, 1)) % n] for k in range(n - 1)]
    candidates = rest + fenced
    chosen = [leader]
    while len(chosen) < replication_factor:
        used = {b.rack for b in chosen}
        fresh = [b for b in candidates if b not in chosen and b.rack not in used]
        pick = fresh[0] if fresh else next(b for b in candidates if b not in chosen)
        chosen.append(pick)
    return tuple(b.broker_id for b in chosen)


def validate_assignment(
    replicas: Sequence[int], registered: set[int], replication_factor: int | None = None
) -> None:
    """Kafka's ``validateManualPartitionAssignment``: raise InvalidReplicaAssignment."""
    if not replicas:
        raise InvalidReplicaAssignment(
            "The manual partition assignment includes an empty replica list."
        )
    seen: set[int] = set()
    for broker_id in replicas:
        if broker_id not in registered:
            raise InvalidReplicaAssignment(
                f"The manual partition assignment includes broker {broker_id}, but no such "
                "broker is registered."
            )
        if broker_id in seen:
            raise InvalidReplicaAssignment(
                f"The manual partition assignment includes the broker {broker_id} more than once."
            )
        seen.add(broker_id)
    if replication_factor is not None and len(replicas) != replication_factor:
        raise InvalidReplicaAssignment(
            f"The manual partition assignment includes a partition with {len(replicas)} "
            "replica(s), but this is not consistent with previous partitions, which have "
            f"{replication_factor} replica(s)."
        )
