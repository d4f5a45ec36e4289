"""A trace of the reference as data for ``spec/trace/TraceElection.tla``.

``election_steps`` keeps the events of one partition and of the brokers that Election.tla has
variables for, and cuts them to the spec's grain; ``tla_module`` writes them as the
``TraceData`` module the trace spec extends. Each step keeps the trace file's line it came from.

The mapping (docs/spec.md, "Trace validation of Election.tla"), where the reference does several
spec steps at once or none:

- leader epochs are renumbered in the order the controller elects (1, 2, ...): Kafka bumps the
  epoch also when it leaves a partition leaderless, Election.tla only at an election (an
  order-preserving renaming: logs compare epochs only for equality);
- a broker's process stop is not an event: the shutdown step (``UncleanShutdown``, or
  ``CleanShutdown`` when its next registration says so) is placed just before the controller
  fences it, the last moment it can be (a stopped process takes no step); a fenced broker that
  acts or is unfenced (``UnfenceBroker``) before it registers again was fenced while it ran
  (its heartbeats were lost): its shutdown, if any, comes just before that registration;
- a deposed leader's (fenced while it ran) ``SendAlterPartition`` and the controller's refusal
  of it change nothing: checked stuttering steps;
- ``ControlledShutdown`` (KIP-631) is ``CleanShutdown`` then ``FenceBroker``; the later
  ``FenceBroker`` of the same session is a stuttering step that checks it is fenced;
- a registration with no fencing before it (the old session had expired) is the shutdown step,
  an unchecked ``FenceBroker`` and ``RegisterBroker``;
- a new ``SendAlterPartition`` while the reference dropped the one before (its leadership
  moved) first answers the old one: ``HandleAlterPartition`` with no change (it must be stale);
- an error answer to a request the spec no longer holds (resent or duplicated on the network)
  changes nothing: a stuttering step;
- ``ReadHighWatermark``, other partitions and group events are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from refka.core import trace as ev
from refka.spec_trace import TraceError

NO_VALUE = -1
BAD_EPOCH = 0  # a leader epoch no election started: the spec's epochs start at 1


def _set(members: tuple[int, ...] | None) -> str:
    return "{" + ", ".join(map(str, members or ())) + "}"


@dataclass(frozen=True, slots=True)
class ElectionStep:
    """One event of ``Trace`` in TraceElection.tla; ``line`` is its line in the trace file."""

    action: str
    node: int
    line: int
    source: str
    leader: int = NO_VALUE
    epoch: int = NO_VALUE  # already renumbered (the spec's epoch)
    offset: int = NO_VALUE
    end: int = NO_VALUE
    record: int = NO_VALUE  # the spec's epoch of the one record a FollowerFetch step copies
    replica: int = NO_VALUE  # the replica an AlterPartition drops or adds
    isr: tuple[int, ...] | None = None  # the partition's state after the step, if it shows it
    elr: tuple[int, ...] = ()
    ok: bool = True  # HandleAlterPartition: the controller answered NONE
    note: str = ""

    def tla(self) -> str:
        return (
            f'[action |-> "{self.action}", node |-> {self.node}, leader |-> {self.leader}, '
            f"epoch |-> {self.epoch}, offset |-> {self.offset}, end |-> {self.end}, "
            f"record |-> {self.record}, replica |-> {self.replica}, "
            f"hasState |-> {'TRUE' if self.isr is not None else 'FALSE'}, "
            f"isr |-> {_set(self.isr)}, elr |-> {_set(self.elr)}, "
            f"ok |-> {'TRUE' if self.ok else 'FALSE'}]"
        )


@dataclass(frozen=True, slots=True)
class ElectionTrace:
    """The steps of one partition, and what the model's constants must be."""

    replicas: tuple[int, ...]
    first_leader: int
    steps: tuple[ElectionStep, ...]
    epochs: int

    @property
    def max_log_size(self) -> int:
        ends = [max(s.offset, s.end) + (s.action in ("LeaderAppend", "FollowerFetch"))
                for s in self.steps]  # fmt: skip
        return max([1, *ends])


@dataclass
class _Converter:
    topic: str
    partition: int
    events: list[ev.TraceEvent]
    steps: list[ElectionStep] = field(default_factory=list)
    epochs: dict[int, int] = field(default_factory=dict)
    down: set[int] = field(default_factory=set)  # brokers the spec has stopped and fenced
    live_fenced: set[int] = field(default_factory=set)  # fenced while their process runs
    leader: int = NO_VALUE  # the controller's leader of the partition
    deposed: set[int] = field(default_factory=set)  # leaders fenced while they ran, unaware
    deposed_sends: set[int] = field(default_factory=set)  # AlterPartitions of deposed leaders
    pending: bool = False  # an AlterPartition the spec holds in flight

    def epoch(self, reference_epoch: int) -> int:
        return self.epochs.get(reference_epoch, BAD_EPOCH)

    def ours(self, event: object) -> bool:
        return (getattr(event, "topic", None), getattr(event, "partition", None)) == (
            self.topic, self.partition)  # fmt: skip

    def state(self, states: tuple[ev.PartitionState, ...]) -> ev.PartitionState | None:
        return next((s for s in states if self.ours(s)), None)

    def add(self, action: str, node: int, at: tuple[int, str], **fields: object) -> None:
        self.steps.append(ElectionStep(action, node, at[0], at[1], **fields))  # type: ignore[arg-type]

    def with_state(self, action: str, broker: int, at: tuple[int, str],
                   states: tuple[ev.PartitionState, ...]) -> None:  # fmt: skip
        s = self.state(states)
        if s is None:
            self.add(action, broker, at)
        else:
            self.add(action, broker, at, leader=s.leader, isr=s.isr, elr=s.elr)
            self.leader = s.leader

    def runs_on(self, broker: int, index: int) -> bool:
        """Whether ``broker``, fenced at line ``index``, acts or is unfenced before it
        registers again: it was fenced while it ran."""
        for e in self.events[index:]:
            if isinstance(e, ev.RegisterBroker) and e.broker == broker:
                return False
            if isinstance(e, ev.UnfenceBroker) and e.broker == broker:
                return True
            if self.ours(e) and e.node == broker:
                return True
        return False

    def shutdown(self, broker: int, index: int, at: tuple[int, str]) -> None:
        """The stop of ``broker``'s process: clean if its next registration (from line
        ``index`` + 1 on) says so."""
        later = (e for e in self.events[index:] if isinstance(e, ev.RegisterBroker))
        register = next((e for e in later if e.broker == broker), None)
        clean = register is not None and register.clean_shutdown
        note = "" if register else "no later registration: the stop is taken to be unclean"
        self.add("CleanShutdown" if clean else "UncleanShutdown", broker, at, note=note)
        self.down.add(broker)

    def controller(self, event: ev.TraceEvent, index: int, at: tuple[int, str]) -> None:
        match event:
            case ev.ControlledShutdown() if event.broker in self.live_fenced:
                self.live_fenced.discard(event.broker)
                self.add("CleanShutdown", event.broker, at)
                self.down.add(event.broker)
                self.with_state("Fenced", event.broker, at, event.partitions)
            case ev.ControlledShutdown() if event.broker not in self.down:
                self.add("CleanShutdown", event.broker, at)
                self.down.add(event.broker)
                self.with_state("FenceBroker", event.broker, at, event.partitions)
            case ev.FenceBroker() | ev.ControlledShutdown() if event.broker in self.down:
                self.with_state("Fenced", event.broker, at, event.partitions)
            case ev.FenceBroker() if self.runs_on(event.broker, index):
                self.live_fenced.add(event.broker)
                if self.leader == event.broker:
                    self.deposed.add(event.broker)
                self.with_state("FenceBroker", event.broker, at, event.partitions)
            case ev.FenceBroker():
                self.shutdown(event.broker, index, at)
                self.with_state("FenceBroker", event.broker, at, event.partitions)
            case ev.UnfenceBroker() if event.broker in self.live_fenced:
                self.live_fenced.discard(event.broker)
                self.add("UnfenceBroker", event.broker, at)
            case ev.RegisterBroker():
                if event.broker in self.live_fenced:
                    self.live_fenced.discard(event.broker)
                    self.shutdown(event.broker, index - 1, at)
                elif event.broker not in self.down:
                    self.shutdown(event.broker, index - 1, at)
                    self.add("FenceBroker", event.broker, at, leader=-2)  # -2: unchecked
                self.down.discard(event.broker)
                self.deposed.discard(event.broker)
                self.with_state("RegisterBroker", event.broker, at, event.partitions)

    def partition_event(self, event: ev.TraceEvent, at: tuple[int, str]) -> None:
        n = event.node
        if isinstance(event, ev.BecomeFollower | ev.FollowerFetch):
            self.deposed.discard(n)  # it has learned the new leader
        match event:
            case ev.ElectLeader() if event.leader < 0:
                self.leader = NO_VALUE
                self.add("Leaderless", n, at)
            case ev.ElectLeader():
                self.leader = event.leader
                self.deposed.discard(event.leader)
                self.epochs.setdefault(event.leader_epoch, len(self.epochs) + 1)
                epoch = self.epoch(event.leader_epoch)
                self.add("ElectLeader", n, at, leader=event.leader, epoch=epoch, isr=event.isr,
                         elr=event.elr)  # fmt: skip
            case ev.BecomeLeader():
                self.add("BecomeLeader", n, at, epoch=self.epoch(event.leader_epoch),
                         offset=event.log_end_offset)  # fmt: skip
            case ev.BecomeFollower():
                self.add("FollowerTruncate", n, at, leader=event.leader,
                         offset=event.truncation_offset)  # fmt: skip
            case ev.LeaderAppend():
                for o in range(event.offset, event.log_end_offset):
                    self.add("LeaderAppend", n, at, epoch=self.epoch(event.leader_epoch), offset=o)
            case ev.FollowerFetch() if not event.epochs:
                self.add("FollowerTruncate", n, at, leader=event.leader, offset=event.offset)
            case ev.FollowerFetch():
                for i, e in enumerate(event.epochs):
                    self.add("FollowerFetch", n, at, leader=event.leader,
                             offset=event.offset + i, record=self.epoch(e))  # fmt: skip
            case ev.AdvanceHighWatermark():
                epoch, hw = self.epoch(event.leader_epoch), event.high_watermark
                self.add("AdvanceHighWatermark", n, at, epoch=epoch,
                         offset=event.previous_high_watermark, end=hw)  # fmt: skip
            case ev.AcknowledgeProduce():
                self.add("AcknowledgeProduce", n, at, offset=event.offset,
                         end=event.log_end_offset)  # fmt: skip
            case ev.Flush():
                self.add("Flush", n, at, offset=event.offset)
            case ev.SendAlterPartition() if n in self.deposed:
                self.deposed_sends.add(n)
                self.add("DeposedAlterPartition", n, at, epoch=self.epoch(event.leader_epoch))
            case ev.HandleAlterPartition() if event.broker in self.deposed_sends:
                self.deposed_sends.discard(event.broker)
                self.add("RefuseAlterPartition", n, at, replica=event.broker,
                         leader=event.leader, isr=event.isr, elr=event.elr,
                         ok=event.error == "NONE")  # fmt: skip
            case ev.SendAlterPartition():
                if self.pending:
                    self.add("AbandonAlterPartition", n, at)
                self.pending = True
                replica = event.replicas[0] if len(event.replicas) == 1 else NO_VALUE
                self.add("SendAlterPartition", n, at, replica=replica, isr=event.new_isr,
                         note="" if len(event.replicas) == 1 else
                         "Election.tla's AlterPartition drops or adds one replica")  # fmt: skip
            case ev.HandleAlterPartition():
                self.pending = False
                self.add("HandleAlterPartition", n, at, leader=event.leader, isr=event.isr,
                         elr=event.elr, ok=event.error == "NONE")  # fmt: skip


_CONTROLLER = (ev.ControlledShutdown, ev.FenceBroker, ev.RegisterBroker, ev.UnfenceBroker)


def election_steps(
    events: Iterable[ev.TraceEvent], topic: str = "sim", partition: int = 0
) -> ElectionTrace:
    """The steps of ``topic``-``partition`` and its brokers, in trace order (lines from 1)."""
    conv = _Converter(topic, partition, list(events))
    first: ev.ElectLeader | None = None
    for index, event in enumerate(conv.events, start=1):
        at = (index, repr(event))
        if first is None:
            if isinstance(event, ev.ElectLeader) and conv.ours(event):
                first = event
                conv.epochs[event.leader_epoch] = 1
                conv.leader = event.leader
            elif conv.ours(event):
                raise TraceError(f"line {index}: {topic}-{partition} acts before its election")
            continue
        if isinstance(event, _CONTROLLER):
            conv.controller(event, index, at)
        elif conv.ours(event):
            conv.partition_event(event, at)
    if first is None:
        raise TraceError(f"no ElectLeader of {topic}-{partition} in the trace")
    if first.leader_epoch != 0:
        raise TraceError(f"the trace starts at leader epoch {first.leader_epoch}, not 0")
    return ElectionTrace(tuple(sorted(first.isr)), first.leader, tuple(conv.steps),
                         len(conv.epochs))  # fmt: skip


def tla_module(trace: ElectionTrace, min_isr: int, stop_at: int = 0) -> str:
    """The ``TraceData`` module; ``stop_at`` > 0 makes TLC stop before that event."""
    body = ",\n    ".join(s.tla() for s in trace.steps)
    return "\n".join([
        "---- MODULE TraceData ----",
        "EXTENDS Integers, Sequences",
        f"TraceReplicas == {_set(trace.replicas)}",
        f"TraceFirstLeader == {trace.first_leader}",
        f"TraceMaxLogSize == {trace.max_log_size}",
        f"TraceMaxEpoch == {max(1, trace.epochs)}",
        f"TraceMinIsr == {min_isr}",
        f"TraceStopAt == {stop_at}",
        f"Trace == <<\n    {body}\n  >>" if trace.steps else "Trace == << >>",
        "====",
        "",
    ])  # fmt: skip
