"""The history checker: Jepsen's Kafka-workload anomalies over a client history.

It reads only a :class:`refka.sim.history.History` and, optionally, the final contents of each
partition read on the healed cluster (``final``: ``{(topic, partition): [(offset, value), ...]}``),
so it checks histories recorded against any broker, refka or Apache Kafka. The anomalies carry
the names ``jepsen.tests.kafka`` gives them:

- ``lost-write``: an acknowledged (``ok``) send whose value is missing from the final log of its
  partition; without a final log for the partition, a value nobody read although some read of
  the partition reached its acknowledged offset (Jepsen's rule: every ok send at or below the
  highest offset read must have been read);
- ``duplicate``: one value at more than one offset (in reads, acks or the final log);
- ``poll-skip``: one consumer process, polling one partition, jumps over an offset that exists
  (in the final log or in anybody's reads) and never reads it in that run; a run starts at the
  process's ``assign`` op for the partition (at the position it names) or at its first read;
- ``nonmonotonic-poll``: within such a run, a read at or below the highest offset already read
  (or below the position the run started from);
- ``nonmonotonic-send``: one producer process's acknowledged offsets in one partition go
  backwards, its sends taken in invocation order;
- ``inconsistent-offsets``: one offset of a partition seen with two values (reads, acks, final).

Jepsen's transactional anomalies (``G1a`` aborted reads, ``G0``/``G1c`` cycles, internal
contiguity) are left out: refka's simulated clients do not run transactions.

Which anomalies are violations depends on what the clients were configured to promise
(:class:`Guarantees`, :func:`guarantees_for`); a nonmonotonic poll is always one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from refka.sim.anomalies import (
    Anomaly,
    Duplicate,
    InconsistentOffsets,
    LostWrite,
    NonmonotonicPoll,
    NonmonotonicSend,
    PollSkip,
)
from refka.sim.history import History, Op

__all__ = [
    "STRICT",
    "Anomaly",
    "Duplicate",
    "Final",
    "Guarantees",
    "InconsistentOffsets",
    "LostWrite",
    "NonmonotonicPoll",
    "NonmonotonicSend",
    "PollSkip",
    "Report",
    "check",
    "guarantees_for",
    "violates",
]

TopicPartition = tuple[str, int]
Final = Mapping[TopicPartition, Sequence[tuple[int, int]]]  # offset, value


@dataclass(frozen=True, slots=True)
class Guarantees:
    """What the configured semantics promise; each one makes an anomaly a violation."""

    no_loss: bool  # acks=all: lost-write (and acked offsets rewritten) are violations
    no_duplicates: bool  # idempotent producer: duplicate is a violation
    no_skip: bool  # commit after processing (at-least-once): poll-skip is a violation
    monotonic_sends: bool  # idempotent producer keeps order: nonmonotonic-send is a violation


def guarantees_for(acks: int | str, idempotent: bool, commit: str) -> Guarantees:
    """Kafka's promises for producer ``acks`` (all/-1/1/0), ``enable.idempotence``, and a
    consumer committing ``"before"`` (at-most-once) or ``"after"`` (at-least-once) processing."""
    if str(acks) not in ("all", "-1", "1", "0"):
        raise ValueError(f"acks must be all, -1, 1 or 0, not {acks!r}")
    if commit not in ("before", "after"):
        raise ValueError(f"commit must be 'before' or 'after', not {commit!r}")
    return Guarantees(
        no_loss=str(acks) in ("all", "-1"),
        no_duplicates=idempotent,
        no_skip=commit == "after",
        monotonic_sends=idempotent,
    )


STRICT = Guarantees(no_loss=True, no_duplicates=True, no_skip=True, monotonic_sends=True)


def violates(anomaly: Anomaly, guarantees: Guarantees) -> bool:
    """Whether ``anomaly`` breaks ``guarantees``. Offsets are forever once a log is read: two
    values at one offset are a violation unless only an acknowledgement (of a write the
    configuration may lose) disagrees with the log."""
    match anomaly:
        case LostWrite():
            return guarantees.no_loss
        case Duplicate():
            return guarantees.no_duplicates
        case PollSkip():
            return guarantees.no_skip
        case NonmonotonicSend():
            return guarantees.monotonic_sends
        case InconsistentOffsets():
            return guarantees.no_loss or len(anomaly.log_values) > 1
        case NonmonotonicPoll():
            return True


@dataclass(frozen=True, slots=True)
class Report:
    """Every anomaly found, and those that break the guarantees."""

    anomalies: tuple[Anomaly, ...]
    violations: tuple[Anomaly, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def names(self) -> frozenset[str]:
        return frozenset(a.name for a in self.anomalies)

    def lines(self) -> list[str]:
        """One line per anomaly, violations marked."""
        violations = set(self.violations)
        return [
            ("VIOLATION " if a in violations else "allowed   ") + a.describe()
            for a in self.anomalies
        ]


def check(history: History, guarantees: Guarantees = STRICT, final: Final | None = None) -> Report:
    """Find every anomaly in ``history`` (ops in index order) and judge it by ``guarantees``."""
    ops = history.ops
    seen = list(_sightings(ops, final))
    anomalies: tuple[Anomaly, ...] = (
        *_lost_writes(ops, seen, final),
        *_duplicates(seen),
        *_poll_anomalies(ops, _existing_offsets(seen)),
        *_nonmonotonic_sends(ops),
        *_inconsistent_offsets(seen),
    )
    return Report(anomalies, tuple(a for a in anomalies if violates(a, guarantees)))


# -- what was seen where ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sighting:
    topic: str
    partition: int
    offset: int
    value: int
    op: int | None  # None: the final log
    source: str  # "ack" | "read" | "final"


def _acked(ops: Iterable[Op]) -> Iterator[Op]:
    return (op for op in ops if op.f == "send" and op.type == "ok" and op.value is not None)


def _sightings(ops: Sequence[Op], final: Final | None) -> Iterator[_Sighting]:
    for op in _acked(ops):
        if op.offset is not None and op.offset >= 0 and op.value is not None:
            yield _Sighting(op.topic, op.partition, op.offset, op.value, op.index, "ack")
    for op in ops:
        if op.f == "poll" and op.type == "ok":
            for topic, partition, offset, value in op.reads:
                yield _Sighting(topic, partition, offset, value, op.index, "read")
    for (topic, partition), records in (final or {}).items():
        for offset, value in records:
            yield _Sighting(topic, partition, offset, value, None, "final")


def _existing_offsets(seen: Iterable[_Sighting]) -> dict[TopicPartition, list[int]]:
    """Per partition, the sorted offsets known to hold a record (read, or in the final log)."""
    offsets: dict[TopicPartition, set[int]] = defaultdict(set)
    for s in seen:
        if s.source != "ack":
            offsets[(s.topic, s.partition)].add(s.offset)
    return {tp: sorted(found) for tp, found in offsets.items()}


# -- lost-write, duplicate, inconsistent-offsets ----------------------------------------------


def _lost_writes(
    ops: Sequence[Op], seen: Sequence[_Sighting], final: Final | None
) -> Iterator[LostWrite]:
    """Jepsen's ``lost-write``, judged by the final log where there is one for the partition."""
    read_values: dict[TopicPartition, set[int]] = defaultdict(set)
    furthest: dict[TopicPartition, tuple[int, int]] = {}  # highest offset read, by which op
    for s in seen:
        if s.source == "read" and s.op is not None:
            tp = (s.topic, s.partition)
            read_values[tp].add(s.value)
            if tp not in furthest or s.offset > furthest[tp][0]:
                furthest[tp] = (s.offset, s.op)
    final_values = {tp: {v for _, v in records} for tp, records in (final or {}).items()}
    for op in _acked(ops):
        tp, value, offset = (op.topic, op.partition), op.value, op.offset
        assert value is not None
        offset = -1 if offset is None else offset
        if tp in final_values:
            if value not in final_values[tp]:
                yield LostWrite(op.topic, op.partition, value, offset, op.index)
        elif 0 <= offset <= furthest.get(tp, (-1, 0))[0] and value not in read_values[tp]:
            yield LostWrite(op.topic, op.partition, value, offset, op.index, furthest[tp][1])


def _duplicates(seen: Iterable[_Sighting]) -> Iterator[Duplicate]:
    """Jepsen's ``duplicate``: a value at more than one offset."""
    places: dict[int, set[tuple[str, int, int]]] = defaultdict(set)
    ops: dict[int, set[int]] = defaultdict(set)
    for s in seen:
        places[s.value].add((s.topic, s.partition, s.offset))
        if s.op is not None:
            ops[s.value].add(s.op)
    for value in sorted(places):
        if len(places[value]) > 1:
            yield Duplicate(value, tuple(sorted(places[value])), tuple(sorted(ops[value])))


def _inconsistent_offsets(seen: Iterable[_Sighting]) -> Iterator[InconsistentOffsets]:
    """Jepsen's ``inconsistent-offsets``: sends and polls disagree on an offset's value."""
    at: dict[tuple[str, int, int], list[_Sighting]] = defaultdict(list)
    for s in seen:
        at[(s.topic, s.partition, s.offset)].append(s)
    for (topic, partition, offset), sightings in sorted(at.items()):
        values = sorted({s.value for s in sightings})
        if len(values) > 1:
            logged = sorted({s.value for s in sightings if s.source != "ack"})
            ops = sorted({s.op for s in sightings if s.op is not None})
            yield InconsistentOffsets(
                topic, partition, offset, tuple(values), tuple(logged), tuple(ops)
            )


# -- poll-skip, nonmonotonic-poll --------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    """One consumer process's reads of one partition, from an ``assign`` (or its first read)."""

    process: int
    topic: str
    partition: int
    start_op: int | None  # the assign op
    start: int | None  # the position the assign op names
    reads: list[tuple[int, int]] = field(default_factory=list)  # op index, offset


def _runs(ops: Iterable[Op]) -> list[_Run]:
    """Split every process's ok polls into runs; an ok ``assign`` ends all the process's runs
    and starts one for each partition it names."""
    runs: list[_Run] = []
    open_runs: dict[int, dict[TopicPartition, _Run]] = defaultdict(dict)
    for op in ops:
        if op.type != "ok":
            continue
        if op.f == "assign":
            started = {
                (topic, partition): _Run(op.process, topic, partition, op.index, position)
                for topic, partition, position in op.offsets
            }
            open_runs[op.process] = started
            runs.extend(started.values())
        elif op.f == "poll":
            for topic, partition, offset, _ in op.reads:
                run = open_runs[op.process].get((topic, partition))
                if run is None:
                    run = open_runs[op.process][(topic, partition)] = _Run(
                        op.process, topic, partition, None, None
                    )
                    runs.append(run)
                run.reads.append((op.index, offset))
    return runs


def _poll_anomalies(
    ops: Sequence[Op], existing: Mapping[TopicPartition, list[int]]
) -> Iterator[PollSkip | NonmonotonicPoll]:
    for run in _runs(ops):
        yield from _run_anomalies(run, existing.get((run.topic, run.partition), []))


def _run_anomalies(run: _Run, existing: list[int]) -> Iterator[PollSkip | NonmonotonicPoll]:
    """Jepsen's ``poll-skip`` and ``nonmonotonic-poll`` within one run. An offset jumped over
    but read later in the run is a reordering (reported as nonmonotonic), not a skip."""
    read = {offset for _, offset in run.reads}
    high: tuple[int, int] | None = None  # highest offset reached, by which op
    if run.start is not None and run.start_op is not None:
        high = (run.start - 1, run.start_op)
    tp = (run.process, run.topic, run.partition)
    for op, offset in run.reads:
        if high is not None and offset <= high[0]:
            yield NonmonotonicPoll(*tp, high[1], op, high[0], offset)
            continue
        if high is not None:
            gap = existing[bisect_right(existing, high[0]) : bisect_left(existing, offset)]
            skipped = tuple(o for o in gap if o not in read)
            if skipped:
                yield PollSkip(*tp, high[1], op, high[0], offset, skipped)
        high = (offset, op)


# -- nonmonotonic-send -------------------------------------------------------------------------


def _nonmonotonic_sends(ops: Sequence[Op]) -> Iterator[NonmonotonicSend]:
    """Jepsen's ``nonmonotonic-send``: per producer process and partition, acknowledged offsets
    taken in the order the sends were invoked never go down."""
    invoked = {
        (op.process, op.value): op.index for op in ops if op.f == "send" and op.type == "invoke"
    }
    acks = [op for op in _acked(ops) if op.offset is not None and op.offset >= 0]
    acks.sort(key=lambda op: invoked.get((op.process, op.value), op.index))
    high: dict[tuple[int, str, int], Op] = {}
    for op in acks:
        key = (op.process, op.topic, op.partition)
        previous = high.get(key)
        assert op.offset is not None
        if previous is not None and previous.offset is not None and op.offset < previous.offset:
            yield NonmonotonicSend(*key, previous.index, op.index, previous.offset, op.offset)
        else:
            high[key] = op
