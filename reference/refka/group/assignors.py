"""The server-side assignors of KIP-848 (``group.consumer.assignors``): ``uniform`` and
``range``. Pure functions of the members' subscriptions (topic ids), the partition counts of
the subscribed topics and, for stickiness, the current target assignment.

- ``uniform`` (Kafka's UniformAssignor, the default): balanced and sticky. Every member keeps
  the partitions of its current target it is still subscribed to, up to its fair share
  (floor(partitions / members), one more for as many members as the remainder allows); the
  others go one by one to the eligible member with the fewest. Exactly balanced (counts differ
  by at most one) when subscriptions are homogeneous.
- ``range`` (Kafka's RangeAssignor): per topic, the subscribers in member id order each take a
  contiguous range; the first (partitions % subscribers) take one more.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from refka.group.consumer_member import TopicPartitions

Subscriptions = Mapping[str, frozenset[uuid.UUID]]  # member id -> subscribed topic ids
PartitionCounts = Mapping[uuid.UUID, int]
Target = dict[str, TopicPartitions]
Assignor = Callable[[Subscriptions, PartitionCounts, Mapping[str, TopicPartitions]], Target]


def uniform(
    members: Subscriptions, counts: PartitionCounts, current: Mapping[str, TopicPartitions]
) -> Target:
    out: dict[str, set[tuple[uuid.UUID, int]]] = {m: set() for m in members}
    partitions = [
        (t, p)
        for t in sorted(counts, key=str)
        for p in range(counts[t])
        if any(t in s for s in members.values())
    ]
    subscribers = sum(1 for s in members.values() if s)
    if not subscribers:
        return {m: frozenset() for m in members}
    floor, extra = divmod(len(partitions), subscribers)
    taken: set[tuple[uuid.UUID, int]] = set()

    def still_valid(m: str) -> list[tuple[uuid.UUID, int]]:
        kept = [
            tp
            for tp in current.get(m, ())
            if tp[0] in members[m] and tp[0] in counts and tp[1] < counts[tp[0]]
        ]
        return sorted((tp for tp in kept if tp not in taken), key=lambda x: (str(x[0]), x[1]))

    for m in sorted(members):  # sticky: keep up to the fair share
        for tp in still_valid(m)[: max(floor - len(out[m]), 0)]:
            out[m].add(tp)
            taken.add(tp)
    for m in sorted(members):  # and one more for as many members as the remainder allows
        more = still_valid(m)
        if extra > 0 and more and len(out[m]) == floor:
            out[m].add(more[0])
            taken.add(more[0])
            extra -= 1
    for tp in partitions:  # the rest, one by one, to the eligible member with the fewest
        if tp in taken:
            continue
        eligible = [m for m in sorted(members) if tp[0] in members[m]]
        if eligible:
            fewest = min(eligible, key=lambda m: len(out[m]))
            out[fewest].add(tp)
    return {m: frozenset(ps) for m, ps in out.items()}


def range_(
    members: Subscriptions, counts: PartitionCounts, current: Mapping[str, TopicPartitions]
) -> Target:
    out: dict[str, set[tuple[uuid.UUID, int]]] = {m: set() for m in members}
    for t in sorted(counts, key=str):
        subscribers = sorted(m for m, s in members.items() if t in s)
        if not subscribers:
            continue
        per, extra = divmod(counts[t], len(subscribers))
        start = 0
        for i, m in enumerate(subscribers):
            n = per + (1 if i < extra else 0)
            out[m].update((t, p) for p in range(start, start + n))
            start += n
    return {m: frozenset(ps) for m, ps in out.items()}


ASSIGNORS: dict[str, Assignor] = {"uniform": uniform, "range": range_}
