"""A trace of the reference as data for ``spec/trace/TraceReplication.tla``.

``replication_steps`` keeps the events of one partition that Replication.tla has variables
for and cuts them to the spec's granularity (one record per step); ``tla_module`` writes them
as the ``TraceData`` module the trace spec extends (TLC 2.15 has no Json module). Every step
keeps the line of the trace file it came from, so that a rejection names the reference's event.

What is left out, and why (docs/spec.md, "Trace validation"):

- other partitions, and group events: another spec's business;
- ``SendAlterPartition``, ``HandleAlterPartition``, ``FenceBroker``, ``RegisterBroker``: the ISR
  and broker liveness are Election.tla's; only a leader epoch they start (a leaderless one: the
  controller fenced the last leader) becomes an ``ElectLeader`` step with leader -1;
- ``Flush``: Replication.tla has no disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from refka.core import trace as ev

NO_VALUE = -1
SPEC_EPOCH_OFFSET = 1  # the spec's first epoch is 1, Kafka's 0 (SpecEpoch in the trace spec)
_CONTROLLER_STATES = (ev.FenceBroker, ev.RegisterBroker)


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the trace spec's ``Trace``; ``line`` is its line in the trace file."""

    action: str
    node: int
    line: int
    source: str
    leader: int = NO_VALUE
    epoch: int = NO_VALUE
    offset: int = NO_VALUE
    record: int = NO_VALUE
    hw: int = NO_VALUE
    prev_hw: int = NO_VALUE
    end: int = NO_VALUE  # the end of the records an acks=all answer acknowledges
    note: str = ""  # what the spec abstracts away here, if the event may show it

    def tla(self) -> str:
        return (
            f'[action |-> "{self.action}", node |-> {self.node}, leader |-> {self.leader}, '
            f"epoch |-> {self.epoch}, offset |-> {self.offset}, record |-> {self.record}, "
            f"hw |-> {self.hw}, prevHw |-> {self.prev_hw}, end |-> {self.end}]"
        )


@dataclass(frozen=True, slots=True)
class ReplicationTrace:
    """The steps of one partition, and what the model's constants must be."""

    replicas: tuple[int, ...]
    first_leader: int
    steps: tuple[Step, ...]

    @property
    def max_log_size(self) -> int:
        ends = [s.offset + (s.record != NO_VALUE or s.action == "LeaderAppend") for s in self.steps]
        return max([1, *ends])

    @property
    def max_epoch(self) -> int:
        epochs = [s.epoch for s in self.steps] + [s.record for s in self.steps]
        return max([0, *epochs]) + SPEC_EPOCH_OFFSET


class TraceError(ValueError):
    """The trace has no partition to validate (or not from its creation)."""


def _is_ours(event: object, topic: str, partition: int) -> bool:
    return getattr(event, "topic", None) == topic and getattr(event, "partition", None) == partition


def _fetch_steps(event: ev.FollowerFetch, line: int, source: str) -> list[Step]:
    """A fetch of k records is k steps, the HW on the last; an empty fetch is one step (a
    truncating one, offset below the log end, has no Replication step and will not match)."""
    epochs: tuple[int, ...] = event.epochs or (NO_VALUE,)
    last = len(epochs) - 1
    return [
        Step("FollowerFetch", event.node, line, source, leader=event.leader,
             epoch=event.leader_epoch, offset=event.offset + i, record=e,
             hw=event.high_watermark if i == last else NO_VALUE)
        for i, e in enumerate(epochs)
    ]  # fmt: skip


def _split(event: ev.TraceEvent, line: int, source: str) -> list[Step]:
    """The steps of one replica event: a batch of k records is k steps."""
    n = event.node
    match event:
        case ev.LeaderAppend():
            return [
                Step("LeaderAppend", n, line, source, epoch=event.leader_epoch, offset=o)
                for o in range(event.offset, event.log_end_offset)
            ]
        case ev.FollowerFetch():
            return _fetch_steps(event, line, source)
        case ev.BecomeLeader():
            return [Step("BecomeLeader", n, line, source, epoch=event.leader_epoch,
                         offset=event.log_end_offset, hw=event.high_watermark)]  # fmt: skip
        case ev.BecomeFollower():
            return [Step("BecomeFollower", n, line, source, leader=event.leader,
                         epoch=event.leader_epoch, offset=event.truncation_offset,
                         hw=event.high_watermark)]  # fmt: skip
        case ev.ReadHighWatermark():
            return [Step("ConsumerReadHighWatermark", n, line, source, epoch=event.leader_epoch,
                         hw=event.high_watermark)]  # fmt: skip
        case ev.AcknowledgeProduce():
            return [Step("AcknowledgeProduce", n, line, source, offset=event.offset,
                         end=event.log_end_offset)]  # fmt: skip
        case ev.AdvanceHighWatermark():
            return [Step("AdvanceHighWatermark", n, line, source, epoch=event.leader_epoch,
                         prev_hw=event.previous_high_watermark,
                         hw=event.high_watermark)]  # fmt: skip
    return []


def _noted(step: Step, event: ev.TraceEvent, replicas: set[int], unclean: set[int]) -> Step:
    """A note for a rejection at ``step`` when the event shows what Replication.tla leaves out."""
    if isinstance(event, ev.AdvanceHighWatermark) and set(event.isr) != replicas:
        note = (f"the commit ISR {event.isr} is not every replica: Replication.tla's HW waits "
                "for all of them (ISR changes are Election.tla's)")  # fmt: skip
        return replace(step, note=note)
    if isinstance(event, ev.BecomeFollower) and event.node in unclean:
        unclean.discard(event.node)
        note = (
            f"node {event.node} restarted after an unclean shutdown and may have lost "
            "unflushed records, which Replication.tla does not model (Election.tla does)"
        )
        return replace(step, note=note)
    return step


def replication_steps(
    events: Iterable[ev.TraceEvent], topic: str = "sim", partition: int = 0
) -> ReplicationTrace:
    """The steps of ``topic``-``partition``, in trace order (lines numbered from 1)."""
    steps: list[Step] = []
    first: ev.ElectLeader | None = None
    replicas: set[int] = set()
    controller_epoch = NO_VALUE
    unclean: set[int] = set()  # brokers that registered after an unclean shutdown
    for line, event in enumerate(events, start=1):
        source = repr(event)
        if isinstance(event, ev.RegisterBroker) and not event.clean_shutdown:
            unclean.add(event.broker)
        if isinstance(event, _CONTROLLER_STATES):
            for state in event.partitions:
                if _is_ours(state, topic, partition) and state.leader_epoch > controller_epoch:
                    controller_epoch = state.leader_epoch
                    steps.append(Step("ElectLeader", event.node, line, source,
                                      leader=state.leader, epoch=state.leader_epoch))  # fmt: skip
            continue
        if not _is_ours(event, topic, partition):
            continue
        if isinstance(event, ev.ElectLeader):
            if first is None:
                first, controller_epoch = event, event.leader_epoch
                replicas.update(event.isr)
            elif event.leader_epoch > controller_epoch:
                controller_epoch = event.leader_epoch
                steps.append(Step("ElectLeader", event.node, line, source,
                                  leader=event.leader, epoch=event.leader_epoch))  # fmt: skip
            continue
        if first is None:
            raise TraceError(f"line {line}: {topic}-{partition} acts before its first election")
        steps.extend(_noted(s, event, replicas, unclean) for s in _split(event, line, source))
    if first is None:
        raise TraceError(f"no ElectLeader of {topic}-{partition} in the trace")
    if first.leader_epoch != 0:
        raise TraceError(f"the trace starts at leader epoch {first.leader_epoch}, not 0")
    replicas.update(s.node for s in steps if s.action != "ElectLeader")
    return ReplicationTrace(tuple(sorted(replicas)), first.leader, tuple(steps))


def tla_module(trace: ReplicationTrace, stop_at: int = 0, name: str = "TraceData") -> str:
    """The ``TraceData`` module; ``stop_at`` > 0 makes TLC stop before that event."""
    body = ",\n    ".join(s.tla() for s in trace.steps)
    return "\n".join([
        f"---- MODULE {name} ----",
        "EXTENDS Integers, Sequences",
        f"TraceReplicas == {{{', '.join(map(str, trace.replicas))}}}",
        f"TraceFirstLeader == {trace.first_leader}",
        f"TraceMaxLogSize == {trace.max_log_size}",
        f"TraceMaxEpoch == {trace.max_epoch}",
        f"TraceStopAt == {stop_at}",
        f"Trace == <<\n    {body}\n  >>" if trace.steps else "Trace == << >>",
        "====",
        "",
    ])  # fmt: skip


def read_trace(lines: Sequence[str]) -> list[ev.TraceEvent]:
    """The events of a trace file's lines (one ``repr`` a line; blank lines skipped)."""
    return [ev.parse(line) for line in lines if line.strip()]
