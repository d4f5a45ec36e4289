"""A trace of the reference as data for ``spec/trace/TraceConsumerGroup.tla``.

``group_steps`` keeps the coordinator's events of one consumer group (``group.id``) and cuts
them to ConsumerGroup.tla's grain: an OffsetCommit of k partitions is k ``CommitOffset`` steps.
Member ids become 1, 2, ... in the order they join; partitions are their numbers.

A member's own steps are not events (the members are clients); the converter places the two
that the coordinator's events imply, each at the last moment it can be (docs/spec.md):

- ``Rejoin`` (the spec's ``Heartbeat`` answered REBALANCE_IN_PROGRESS, or its ``JoinGroup``
  again for a member that is out): a member of a ``CompleteJoin`` that did not join anew in
  this rebalance rejoined, just before it; a member whose generation had no ``SyncGroupLeader``
  first got its SyncGroup answered with an error (``SyncGroupFailed``);
- ``SyncGroup`` (the member's SyncGroup answer): each member the leader's ``SyncGroupLeader``
  assigns partitions to learns them, just after it (the coordinator answers them then).

A member the coordinator fenced (expired) learns it at no particular moment: the spec keeps it
a zombie, which is what lets its later commits show.

A ``LoadGroups`` of the group's offsets partition (another broker, or the same restarted,
became its coordinator) is ``CoordinatorFailover`` (a group the log does not hold comes back
Empty at generation 0); the record it reloads, if an older one than the last written, is
committed (``CommitGroupRecord``) just after its write; the group's events of another broker
after it are a coordinator that has not learned it was replaced: ``DeposedCoordinator``, a
stuttering step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from refka.core import trace as ev
from refka.group.partitioner import partition_for
from refka.sim.clients.wire import decode_assignment
from refka.spec_trace import TraceError

NO_VALUE = -1


def _set(items: Iterable[int]) -> str:
    return "{" + ", ".join(map(str, sorted(items))) + "}"


@dataclass(frozen=True, slots=True)
class GroupStep:
    """One event of ``Trace`` in TraceConsumerGroup.tla; ``line``: its line in the file."""

    action: str
    node: int
    line: int
    source: str
    member: int = NO_VALUE
    generation: int = NO_VALUE
    state: str = ""
    members: tuple[int, ...] = ()
    assignment: tuple[tuple[int, int], ...] = ()  # (partition, member)
    partition: int = NO_VALUE
    note: str = ""

    def tla(self) -> str:
        pairs = " @@ ".join(f"{p} :> {m}" for p, m in self.assignment)
        return (
            f'[action |-> "{self.action}", member |-> {self.member}, '
            f'generation |-> {self.generation}, state |-> "{self.state}", '
            f"members |-> {_set(self.members)}, "
            f"assignment |-> {f'({pairs})' if pairs else '<<>>'}, partition |-> {self.partition}]"
        )


@dataclass(frozen=True, slots=True)
class GroupTrace:
    members: int
    partitions: tuple[int, ...]
    steps: tuple[GroupStep, ...]

    @property
    def max_generation(self) -> int:
        return max([1, *(s.generation for s in self.steps)])


@dataclass
class _Converter:
    group: str
    topic: str
    ids: dict[str, int] = field(default_factory=dict)
    partitions: set[int] = field(default_factory=set)
    joined: set[int] = field(default_factory=set)
    syncing: set[int] = field(default_factory=set)  # in the generation, no SyncGroup answer yet
    steps: list[GroupStep] = field(default_factory=list)
    coordinator: int | None = None  # the broker that loaded the group last

    def member(self, member_id: str) -> int:
        return self.ids.setdefault(member_id, len(self.ids) + 1)

    def add(self, action: str, at: tuple[int, int, str], **fields: object) -> None:
        self.steps.append(GroupStep(action, *at, **fields))  # type: ignore[arg-type]

    def assignment(self, pairs: Iterable[tuple[str, bytes]]) -> tuple[tuple[int, int], ...]:
        out = sorted((p, self.member(m)) for m, data in pairs
                     for p in decode_assignment(data, self.topic))  # fmt: skip
        self.partitions.update(p for p, _ in out)
        return tuple(out)

    def committed(self, generation: int) -> None:
        """The record of ``generation`` that a failover reloads reached the HW: just after its
        write, when a newer record was written after it (else the failover loads the last)."""
        writes = [i for i, s in enumerate(self.steps) if s.action == "SyncGroupLeader"
                  or (s.action == "CompleteJoin" and not s.members)]  # fmt: skip
        last = [i for i in writes if self.steps[i].generation == generation]
        if last and last[-1] != writes[-1]:
            at = self.steps[last[-1]]
            step = GroupStep(
                "CommitGroupRecord", at.node, at.line, at.source, generation=generation
            )
            self.steps.insert(last[-1] + 1, step)

    def load(self, event: ev.LoadGroups, at: tuple[int, int, str]) -> None:
        if partition_for(self.group, event.partitions) != event.partition:
            return
        first = self.coordinator is None and not self.steps
        self.coordinator = event.node
        if first:
            return  # the first coordinator: the spec's Init
        loaded = next((g for g in event.groups if g[0] == self.group), None)
        generation, state, pairs = loaded[1:] if loaded else (0, "Empty", ())
        self.joined, self.syncing = set(), set()
        members = tuple(sorted(self.member(m) for m, _ in pairs))
        self.committed(generation)
        self.add("CoordinatorFailover", at, generation=generation, state=state,
                 members=members, assignment=self.assignment(pairs))  # fmt: skip

    def convert(self, event: ev.TraceEvent, at: tuple[int, int, str]) -> None:
        if self.coordinator is not None and event.node != self.coordinator:
            self.add("DeposedCoordinator", at, note="a coordinator the group has left")
            return
        match event:
            case ev.JoinGroup():
                m = self.member(event.member)
                self.joined.add(m)
                self.add("JoinGroup", at, member=m, generation=event.generation,
                         state=event.state)  # fmt: skip
            case ev.RejoinGroup():
                m = self.member(event.member)
                self.joined.add(m)
                self.add("RejoinGroup", at, member=m, generation=event.generation,
                         state=event.state)  # fmt: skip
            case ev.CompleteJoin():
                members = tuple(sorted(self.member(x) for x in event.members))
                for m in members:
                    if m not in self.joined:
                        if m in self.syncing:  # its SyncGroup was answered REBALANCE_IN_PROGRESS
                            self.add("SyncGroupFailed", at, member=m)
                        self.add("Rejoin", at, member=m)
                self.joined, self.syncing = set(), set(members)
                self.add("CompleteJoin", at, generation=event.generation, state=event.state,
                         members=members)  # fmt: skip
            case ev.SyncGroupLeader():
                self.add("SyncGroupLeader", at, generation=event.generation,
                         assignment=self.assignment(event.assignment))  # fmt: skip
                for member_id, _ in event.assignment:
                    self.add("SyncGroup", at, member=self.member(member_id))
                self.syncing = set()
            case ev.MemberExpired() | ev.LeaveGroup():
                m = self.member(event.member)
                self.joined.discard(m)
                self.add(type(event).__name__, at, member=m, generation=event.generation,
                         state=event.state)  # fmt: skip
            case ev.CommitOffset() if event.generation >= 0:
                for topic, partition, _ in event.offsets:
                    if topic == self.topic:
                        self.partitions.add(partition)
                        self.add("CommitOffset", at, member=self.member(event.member),
                                 generation=event.generation, partition=partition)  # fmt: skip


_GROUP_EVENTS = (ev.JoinGroup, ev.RejoinGroup, ev.CompleteJoin, ev.SyncGroupLeader,
                 ev.MemberExpired, ev.LeaveGroup, ev.CommitOffset)  # fmt: skip


def group_steps(events: Iterable[ev.TraceEvent], topic: str = "sim",
                group: str = "sim-group") -> GroupTrace:  # fmt: skip
    """The steps of consumer group ``group`` (its commits of ``topic``), in trace order."""
    conv = _Converter(group, topic)
    for line, event in enumerate(events, start=1):
        if isinstance(event, ev.LoadGroups):
            conv.load(event, (event.node, line, repr(event)))
        elif isinstance(event, _GROUP_EVENTS) and event.group == group:
            conv.convert(event, (event.node, line, repr(event)))
    if not conv.steps:
        raise TraceError(f"no event of consumer group {group!r} in the trace")
    return GroupTrace(len(conv.ids), tuple(sorted(conv.partitions)), tuple(conv.steps))


def tla_module(trace: GroupTrace, stop_at: int = 0) -> str:
    """The ``TraceData`` module; ``stop_at`` > 0 makes TLC stop before that event."""
    body = ",\n    ".join(s.tla() for s in trace.steps)
    return "\n".join([
        "---- MODULE TraceData ----",
        "EXTENDS Integers, Sequences, TLC",
        f"TraceMembers == 1..{trace.members}",
        f"TracePartitions == {_set(trace.partitions or (0,))}",
        f"TraceMaxGeneration == {trace.max_generation}",
        f"TraceStopAt == {stop_at}",
        f"Trace == <<\n    {body}\n  >>",
        "====",
        "",
    ])  # fmt: skip
