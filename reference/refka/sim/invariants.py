"""The spec's invariants, checked on a simulated cluster after every step.

Each check is named exactly as its invariant in ``spec/`` and reads the cores' state the way the
spec's variables describe it:

==========================  =======================================  ==========================
spec variable               refka                                    read from
==========================  =======================================  ==========================
``log[r]``                  the epochs of r's records, by offset     the segment files' batch
                                                                     headers (page cache)
``highWatermark[r]``        ``Replica.high_watermark``               each live broker
``leaderEpoch[r]``          ``Replica.leader_epoch``                 each live broker
``leader[r] = r``           ``Replica.is_leader``                    each live broker
``ctrlLeader, ctrlEpoch``   ``PartitionRegistration.leader/epoch``   the controller's image
``isr``                     ``PartitionRegistration.isr``            the controller's image
``acked``                   sends acknowledged under acks=all        the clients' history
``observedHw``              the HW a consumer is shown (ListOffsets  the current leader
                            latest; KIP-207's exposable HW)
==========================  =======================================  ==========================

A record is identified as in the spec by ``<<offset, epoch>>``; the clients' values (unique in
a run) identify acknowledged records, so a lost record cannot hide behind a new one written at
its offset in the same epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from refka.protocol.batch_header import read_header
from refka.protocol.records import iter_records
from refka.sim.clients.wire import decode_value

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant that does not hold: its name in spec/, and why."""

    invariant: str
    detail: str


@dataclass(frozen=True, slots=True)
class ReplicaView:
    """One replica as the spec sees it: ``log[r]``, ``highWatermark[r]``, ``leaderEpoch[r]``."""

    node: int
    tp: TopicPartition
    is_leader: bool
    leader_epoch: int
    high_watermark: int
    exposed_high_watermark: int | None  # what ListOffsets latest shows, if this replica leads
    log_start_offset: int
    epochs: tuple[int, ...]  # epochs[i] is the epoch of offset log_start_offset + i
    values: Mapping[int, int]  # offset -> the client's value, for records that carry one

    @property
    def log_end_offset(self) -> int:
        return self.log_start_offset + len(self.epochs)

    def epoch_at(self, offset: int) -> int | None:
        i = offset - self.log_start_offset
        return self.epochs[i] if 0 <= i < len(self.epochs) else None


@dataclass(frozen=True, slots=True)
class PartitionState:
    """The controller's registration of one partition: ``ctrlLeader``, ``ctrlEpoch``, ISR."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]


def read_log(log: Any) -> tuple[tuple[int, ...], dict[int, int]]:
    """``(epochs, values)`` of a ``PartitionLog`` from its segments' bytes (page cache)."""
    epochs: list[int] = []
    values: dict[int, int] = {}
    start = log.log_start_offset
    for segment in log.segments:
        for batch in segment.batches(0):
            if batch.last_offset < start:
                continue
            first = max(batch.base_offset, start)
            data = log.storage.read(segment.log_path, batch.position, batch.size)
            epochs += [read_header(data).partition_leader_epoch] * (batch.last_offset - first + 1)
            for record in iter_records(data):
                value = decode_value(record.value)
                if value is not None:
                    values[record.offset] = value
    return tuple(epochs), values


@dataclass
class LogReader:
    """Reads replicas' logs, re-reading one only when its end, start or epochs changed, and
    keeps each replica's last view while nothing in it changed (most replicas do not change
    from one step to the next)."""

    _cache: dict[tuple[int, TopicPartition], tuple[Any, tuple[tuple[int, ...], dict[int, int]]]] = (
        field(default_factory=dict)
    )
    _views: dict[tuple[int, TopicPartition], tuple[Any, ReplicaView]] = field(default_factory=dict)

    def view(self, node: int, replica: Any) -> ReplicaView:
        log = replica.log
        key = (node, (replica.topic, replica.partition))
        stamp = (
            id(log),
            log.log_start_offset,
            log.log_end_offset,
            tuple(log.leader_epoch_cache.entries),
        )
        exposed = None
        if replica.is_leader:
            exposed = replica.high_watermark if replica.is_high_watermark_exposable else None
        state = (stamp, replica.is_leader, replica.leader_epoch, replica.high_watermark, exposed)
        last = self._views.get(key)
        if last is not None and last[0] == state:
            return last[1]
        cached = self._cache.get(key)
        if cached is None or cached[0] != stamp:
            cached = self._cache[key] = (stamp, read_log(log))
        epochs, values = cached[1]
        view = ReplicaView(
            node,
            key[1],
            replica.is_leader,
            replica.leader_epoch,
            replica.high_watermark,
            exposed,
            log.log_start_offset,
            epochs,
            values,
        )
        self._views[key] = (state, view)
        return view


def partition_states(image: Any) -> dict[TopicPartition, PartitionState]:
    """Every partition of the controller's image (internal topics included)."""
    states = {}
    for name in sorted(image.topics_by_name):
        topic = image.topics_by_name[name]
        for index in sorted(topic.partitions):
            p = topic.partitions[index]
            states[(name, index)] = PartitionState(p.leader, p.leader_epoch, p.isr, p.elr)
    return states


# ---------------------------------------------------------------------------------- invariants


def log_matching(
    views: Iterable[ReplicaView],
    memo: dict[TopicPartition, tuple[tuple[ReplicaView, ...], list[Violation]]] | None = None,
) -> Iterator[Violation]:
    """LogMatching: two logs that hold the same record hold the same records before it.
    ``memo`` keeps each partition's answer for its views: a partition whose replicas did not
    change since the last check gives the same answer without comparing logs again."""
    by_tp: dict[TopicPartition, list[ReplicaView]] = {}
    for v in views:
        by_tp.setdefault(v.tp, []).append(v)
    for tp, replicas in sorted(by_tp.items()):
        key = tuple(replicas)
        known = None if memo is None else memo.get(tp)
        if known is not None and known[0] == key:
            yield from known[1]
            continue
        found = list(_log_matching(tp, replicas))
        if memo is not None:
            memo[tp] = (key, found)
        yield from found


def _log_matching(tp: TopicPartition, replicas: list[ReplicaView]) -> Iterator[Violation]:
    for i, a in enumerate(replicas):
        for b in replicas[i + 1 :]:
            start = max(a.log_start_offset, b.log_start_offset)
            end = min(a.log_end_offset, b.log_end_offset)
            if end <= start or _overlap(a, start, end) == _overlap(b, start, end):
                continue  # the logs agree wherever both hold records
            last_same = -1
            for offset in range(end - 1, start - 1, -1):
                if a.epoch_at(offset) == b.epoch_at(offset):
                    last_same = offset
                    break
            for offset in range(start, last_same):
                if a.epoch_at(offset) != b.epoch_at(offset):
                    yield Violation(
                        "LogMatching",
                        f"{tp[0]}-{tp[1]}: nodes {a.node} and {b.node} agree at offset "
                        f"{last_same} (epoch {a.epoch_at(last_same)}) but not at {offset} "
                        f"(epochs {a.epoch_at(offset)} and {b.epoch_at(offset)})",
                    )
                    break


def no_duplicate_appends(views: Iterable[ReplicaView]) -> Iterator[Violation]:
    """NoDuplicateAppends (Delivery.tla, idempotent producers): no value is in a log twice."""
    for v in views:
        seen: dict[int, int] = {}
        for offset, value in sorted(v.values.items()):
            first = seen.setdefault(value, offset)
            if first != offset:
                yield Violation(
                    "NoDuplicateAppends",
                    f"{v.tp[0]}-{v.tp[1]} on node {v.node}: value {value} at offsets {first} "
                    f"and {offset}",
                )
                break


def _overlap(view: ReplicaView, start: int, end: int) -> tuple[int, ...]:
    """The epochs of ``view``'s records from ``start`` to ``end`` (within its log)."""
    return view.epochs[start - view.log_start_offset : end - view.log_start_offset]


def single_leader_per_epoch(views: Iterable[ReplicaView]) -> Iterator[Violation]:
    """No two replicas lead one partition in the same leader epoch."""
    leaders: dict[tuple[TopicPartition, int], int] = {}
    for v in views:
        if not v.is_leader:
            continue
        other = leaders.setdefault((v.tp, v.leader_epoch), v.node)
        if other != v.node:
            yield Violation(
                "SingleLeaderPerEpoch",
                f"{v.tp[0]}-{v.tp[1]}: nodes {other} and {v.node} both lead epoch {v.leader_epoch}",
            )


def leader_in_isr(states: Mapping[TopicPartition, PartitionState]) -> Iterator[Violation]:
    """LeaderInIsr: the controller's leader of a partition is in its ISR (an ELR or unclean
    leader starts a new ISR of itself, Election.tla ``Elect``)."""
    for tp, s in states.items():
        if s.leader >= 0 and s.leader not in s.isr:
            yield Violation(
                "LeaderInIsr", f"{tp[0]}-{tp[1]}: leader {s.leader} is not in ISR {list(s.isr)}"
            )


def serving_leader(
    tp: TopicPartition,
    state: PartitionState,
    views: Mapping[tuple[int, TopicPartition], ReplicaView],
) -> ReplicaView | None:
    """The replica that is ``ctrlLeader`` and has taken over in ``ctrlEpoch``, if alive."""
    view = views.get((state.leader, tp))
    if view is not None and view.is_leader and view.leader_epoch == state.leader_epoch:
        return view
    return None


def leader_completeness(
    states: Mapping[TopicPartition, PartitionState],
    views: Mapping[tuple[int, TopicPartition], ReplicaView],
    acked: Mapping[TopicPartition, Mapping[int, int]],
    name: str = "LeaderCompleteness",
) -> Iterator[Violation]:
    """LeaderCompleteness (Replication.tla) / NoAckedRecordLost (Election.tla): a leader that
    has taken over holds every record acknowledged under acks=all (offset -> value)."""
    for tp, records in sorted(acked.items()):
        state = states.get(tp)
        leader = None if state is None else serving_leader(tp, state, views)
        if leader is None:
            continue
        for offset, value in sorted(records.items()):
            if leader.values.get(offset) != value:
                found = leader.values.get(offset)
                yield Violation(
                    name,
                    f"{tp[0]}-{tp[1]}: leader {leader.node} (epoch {leader.leader_epoch}, LEO "
                    f"{leader.log_end_offset}) lacks acknowledged value {value} at offset "
                    f"{offset}" + ("" if found is None else f" (holds {found})"),
                )
                break


@dataclass
class HighWatermarkMonotonic:
    """HighWatermarkMonotonic: the high watermark a consumer is shown (by the leader that has
    taken over, KIP-207) never moves backwards. A temporal property: it keeps the last value."""

    observed: dict[TopicPartition, int] = field(default_factory=dict)

    def check(
        self,
        states: Mapping[TopicPartition, PartitionState],
        views: Mapping[tuple[int, TopicPartition], ReplicaView],
    ) -> Iterator[Violation]:
        for tp, state in sorted(states.items()):
            leader = serving_leader(tp, state, views)
            if leader is None or leader.exposed_high_watermark is None:
                continue
            shown = leader.exposed_high_watermark
            before = self.observed.get(tp, 0)
            if shown < before:
                yield Violation(
                    "HighWatermarkMonotonic",
                    f"{tp[0]}-{tp[1]}: leader {leader.node} (epoch {leader.leader_epoch}) shows "
                    f"high watermark {shown} after {before} was shown",
                )
            self.observed[tp] = max(before, shown)


@dataclass
class SingleOwnerPerGeneration:
    """SingleOwnerPerGeneration (ConsumerGroup.tla): in every generation, offsets for a
    partition are committed by one member only. It reads the coordinators' ``CommitOffset``
    trace events (the spec's ``commits``: member, the coordinator's generation, partition)."""

    owners: dict[tuple[str, int, TopicPartition], str] = field(default_factory=dict)

    def check(self, commits: Iterable[Any]) -> Iterator[Violation]:
        for c in commits:
            for topic, partition, _ in c.offsets:
                key = (c.group, c.generation, (topic, partition))
                other = self.owners.setdefault(key, c.member)
                if other != c.member:
                    yield Violation(
                        "SingleOwnerPerGeneration",
                        f"group {c.group} generation {c.generation}: {topic}-{partition} "
                        f"committed by {other} and by {c.member}",
                    )
