"""Merge the per-node trace files of one real run into one trace, in an order consistent with
the messages the nodes exchanged (issue 14: trace validation of real runs).

Each node of a run records its own events (``refka.trace.file``, one ``<node> repr(event)``
a line); a node's events are in the order it took them. Wall clocks do not order two nodes'
events soundly, so the merge orders them by what the events themselves show a node learned
from another, for each partition:

- *controller -> broker* (metadata): a broker's first event at leader epoch ``e`` comes after
  the controller's event that started ``e`` (``ElectLeader``, or a ``FenceBroker`` /
  ``RegisterBroker`` that moved the leader);
- *leader -> follower* (Fetch response): a follower's ``FollowerFetch`` of records up to ``end``
  with high watermark ``h`` in epoch ``e`` comes after the leader's first event of ``e`` at
  which its log end offset was ``>= end`` and its high watermark ``>= h``; a ``BecomeFollower``
  of ``e`` (KIP-279's OffsetsForLeaderEpoch) after the leader's ``BecomeLeader`` of ``e``;
- *follower -> leader* (Fetch request): the leader's ``AdvanceHighWatermark`` comes after each
  other commit-ISR member's first event of ``e`` at which its log end offset reached the one
  the leader knew of it (the event's ``log_end_offsets``: the fetch offset it reported).

The specs make a fetch or an OffsetsForLeaderEpoch round trip one atomic step, so the order
also places such a step while what it read still holds, which the messages allow (the two
events are concurrent): a step that read a node's epoch-``e`` state comes before that node
leaves ``e``; a ``BecomeLeader``/``BecomeFollower``/``ReadHighWatermark`` of ``e`` before the
controller starts the next epoch; and an ``AdvanceHighWatermark`` before the record that takes
a follower past the log end offset the leader knew of it (its next fetch offset had not reached
the leader, so no message orders the two).

Replication.tla's HW waits for every replica, Kafka's only for the ISR: where the messages allow
it (the edge closes no cycle), a replica outside the commit ISR that already holds the records
(a restarted leader that kept its log) has rejoined the leader's epoch before the HW moves. A
replica that has not is left where it is, and the HW step is rejected (with a note).

A restarted broker's events also come after the controller's ``RegisterBroker`` of its
restart (it acts on partitions only once caught up past its own registration): each start of a
node opens with a ``# start`` line (``refka.server.trace_file``), and the i-th start with events
follows the i-th registration of that broker (its own, or an earlier one if a start registered
and died without an event).

The result is a topological order of these edges and each node's own order; ties go to the
event further back in its own file. A cycle (no order satisfies them) raises ``MergeError``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from refka.core import trace as ev
from refka.server.trace_file import START

EventId = tuple[int, int]  # (node, index in the node's own sequence)
_CONTROLLER_STATES = (ev.FenceBroker, ev.RegisterBroker)
_READS_CONTROLLER = (ev.BecomeLeader, ev.BecomeFollower, ev.ReadHighWatermark)


class MergeError(ValueError):
    """The node traces cannot be merged (unreadable, or no order satisfies the messages)."""


@dataclass(frozen=True, slots=True)
class _Point:
    """A node's state for one partition right after its event ``index``."""

    index: int
    event: ev.TraceEvent
    epoch: int
    log_end: int
    hw: int


@dataclass(slots=True)
class NodeTraces:
    """Each node's events in its own order, and where each came from (for ties)."""

    events: dict[int, list[ev.TraceEvent]] = field(default_factory=dict)
    rank: dict[EventId, float] = field(default_factory=dict)
    starts: dict[int, list[int]] = field(default_factory=dict)  # index of each start's 1st event


def _parse_line(line: str) -> ev.TraceEvent | int:
    """``<node> repr`` (the server's file) or a bare ``repr`` (the simulator's); for a
    ``<node> # start`` line, the node."""
    head, _, rest = line.partition(" ")
    if head.isdigit() and rest == START:
        return int(head)
    return ev.parse(rest if head.isdigit() else line)


def read_node_traces(paths: Sequence[str | Path]) -> NodeTraces:
    """The events of every node in ``paths`` (several nodes may share a file, but a node's
    events are in one file). A line cut short by a killed node (the file's last, or the one
    its restart's ``# start`` continues) is dropped."""
    out = NodeTraces()
    owner: dict[int, str] = {}
    for path in paths:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
        for number, line in enumerate(lines):
            event = _read_line(line, number == len(lines) - 1, f"{path}:{number + 1}")
            if event is None:
                break
            node = event if isinstance(event, int) else event.node
            if owner.setdefault(node, str(path)) != str(path):
                raise MergeError(f"node {node}'s events are in {owner[node]} and {path}")
            own = out.events.setdefault(node, [])
            if isinstance(event, int):
                out.starts.setdefault(node, []).append(len(own))
            else:
                out.rank[(node, len(own))] = number / len(lines)
                own.append(event)
    return out


def _read_line(line: str, last: bool, where: str) -> ev.TraceEvent | int | None:
    """The line's event (a node id: its ``# start``); None: a cut last line."""
    try:
        return _parse_line(line)
    except (SyntaxError, ValueError, TypeError, NameError) as exc:
        head = line.split(" ", 1)[0]
        if line.endswith(START) and head.isdigit():
            return int(head)  # cut, then the node's next start
        if last:
            return None
        raise MergeError(f"{where}: not a trace event ({exc})") from exc


def _points(events: list[ev.TraceEvent], topic: str, partition: int) -> list[_Point]:
    """A node's states for one partition, one after each of its events of that partition."""
    epoch = log_end = hw = -1
    points = []
    for index, event in enumerate(events):
        if getattr(event, "topic", None) != topic or getattr(event, "partition", None) != partition:
            continue
        match event:
            case ev.BecomeLeader():
                epoch, log_end, hw = event.leader_epoch, event.log_end_offset, event.high_watermark
            case ev.BecomeFollower():
                epoch, log_end = event.leader_epoch, event.truncation_offset
                hw = event.high_watermark
            case ev.LeaderAppend():
                log_end = event.log_end_offset
            case ev.FollowerFetch():
                log_end, hw = event.log_end_offset, event.high_watermark
            case ev.AdvanceHighWatermark():
                hw = event.high_watermark
            case _:
                pass
        points.append(_Point(index, event, epoch, log_end, hw))
    return points


class _Edges:
    """The cross-node edges of one run, built partition by partition."""

    def __init__(self, nodes: dict[int, list[ev.TraceEvent]]) -> None:
        self.nodes = nodes
        self.after: dict[EventId, list[EventId]] = defaultdict(list)
        self.before: dict[EventId, int] = defaultdict(int)
        self.soft: list[tuple[EventId, EventId | None]] = []  # kept unless they close a cycle

    def add(self, first: EventId | None, then: EventId | None) -> None:
        if first is None or then is None or first[0] == then[0]:
            return  # a node's own order needs no edge
        self.after[first].append(then)
        self.before[then] += 1

    def partition(self, topic: str, partition: int) -> None:
        points = {n: _points(events, topic, partition) for n, events in self.nodes.items()}
        starts = _epoch_starts(self.nodes, topic, partition)
        epochs = sorted(starts)
        for node, own in points.items():
            seen: set[int] = set()
            for point in own:
                if isinstance(point.event, ev.ElectLeader):
                    continue
                if point.epoch in starts and point.epoch not in seen:
                    seen.add(point.epoch)
                    self.add(starts[point.epoch], (node, point.index))
                if isinstance(point.event, _READS_CONTROLLER):
                    later = [e for e in epochs if e > point.event.leader_epoch]
                    self.add((node, point.index), starts[later[0]] if later else None)
                self._messages(node, point, points)

    def registrations(self, starts: dict[int, list[int]]) -> None:
        """Each start of a broker (with events) after its registration (see above)."""
        registered: dict[int, list[EventId]] = defaultdict(list)
        for node, events in sorted(self.nodes.items()):
            for index, event in enumerate(events):
                if isinstance(event, ev.RegisterBroker):
                    registered[event.broker].append((node, index))
        for broker, own in starts.items():
            ends = [*own[1:], len(self.nodes[broker])]
            lives = [start for start, end in zip(own, ends, strict=True) if start < end]
            for life, registration in zip(lives, registered[broker], strict=False):
                self.add(registration, (broker, life))

    def _messages(self, node: int, point: _Point, points: dict[int, list[_Point]]) -> None:
        here = (node, point.index)
        match point.event:
            case ev.FollowerFetch(leader=leader, leader_epoch=epoch):
                source = _first(points.get(leader, []), epoch, point.log_end, point.hw)
                self._read(here, leader, source, points)
            case ev.BecomeFollower(leader=leader, leader_epoch=epoch) if leader >= 0:
                source = _first(points.get(leader, []), epoch, -1, -1)
                self._read(here, leader, source, points)
            case ev.AdvanceHighWatermark():
                self._advance(here, point.event, points)

    def _advance(self, here: EventId, event: ev.AdvanceHighWatermark,
                 points: dict[int, list[_Point]]) -> None:  # fmt: skip
        """Fetch requests: each follower reached the log end offset the leader knew of it
        (``log_end_offsets``; a trace without them: the new HW) before the HW moved, and went
        past it only after (its next fetch offset had not reached the leader)."""
        known = dict(zip(event.isr, event.log_end_offsets, strict=False))
        epoch, hw, waited = event.leader_epoch, event.high_watermark, []
        for member in sorted(set(event.isr) - {here[0]}):
            reported = known.get(member, hw)
            source = _first(points.get(member, []), epoch, reported, -1)
            self.add(_id(member, source), here)
            self._before_leaving(here, member, source, points)
            if source is None or source.log_end != reported:
                continue
            if member in known:
                self.add(here, _id(member, _growth(points[member], source)))
            else:
                waited.append((member, source))
        self._hold_back(here, hw, waited, points)
        for outsider in sorted(self._replicas(points) - set(event.isr) - {here[0]}):
            source = _first(points[outsider], epoch, hw, -1)
            if source is not None:
                self.soft.append(((outsider, source.index), here))
                self.soft.append((here, _id(outsider, _leaves(points[outsider], source))))

    def _read(self, here: EventId, node: int, source: _Point | None,
              points: dict[int, list[_Point]]) -> None:  # fmt: skip
        """``here`` read ``node``'s state as of ``source``: after it, before ``node`` moves on."""
        self.add(_id(node, source), here)
        self._before_leaving(here, node, source, points)

    def _before_leaving(self, here: EventId, node: int, source: _Point | None,
                        points: dict[int, list[_Point]]) -> None:  # fmt: skip
        if source is not None:
            self.add(here, _id(node, _leaves(points[node], source)))

    @staticmethod
    def _replicas(points: dict[int, list[_Point]]) -> set[int]:
        return {n for n, own in points.items()
                if any(not isinstance(p.event, ev.ElectLeader) for p in own)}  # fmt: skip

    def soften(self) -> None:
        """Add the preferred edges that no order contradicts (each one unless it closes a
        cycle with the edges already there)."""
        for first, then in self.soft:
            if then is not None and first[0] != then[0] and not self._reaches(then, first):
                self.add(first, then)

    def _reaches(self, start: EventId, goal: EventId) -> bool:
        seen: set[EventId] = set()
        stack = [start]
        while stack:
            node, index = stack.pop()
            if node == goal[0] and index <= goal[1]:
                return True
            if (node, index) in seen or index >= len(self.nodes[node]):
                continue
            seen.add((node, index))
            stack.append((node, index + 1))
            stack.extend(self.after.get((node, index), []))
        return False

    def _hold_back(self, here: EventId, hw: int, waited: list[tuple[int, _Point]],
                   points: dict[int, list[_Point]]) -> None:  # fmt: skip
        """A trace without ``log_end_offsets``: the HW moved to exactly ``hw``, so some
        follower that sat at ``hw`` is still there (its next record comes after), unless one
        stays there anyway or already shows this HW."""
        growths = []
        for member, source in waited:
            growth = _growth(points[member], source)
            if growth is None or growth.hw >= hw:
                return
            growths.append((member, growth))
        if growths:
            member, growth = growths[0]
            self.add(here, (member, growth.index))


def _growth(points: list[_Point], source: _Point) -> _Point | None:
    """The node's first state after ``source`` with a longer log in the same epoch."""
    return next((p for p in points if p.index > source.index and p.epoch == source.epoch
                 and p.log_end > source.log_end), None)  # fmt: skip


def _leaves(points: list[_Point], source: _Point) -> _Point | None:
    """The node's first state after ``source`` in another epoch (it left ``source``'s)."""
    return next((p for p in points if p.index > source.index and p.epoch != source.epoch), None)


def _id(node: int, point: _Point | None) -> EventId | None:
    return None if point is None else (node, point.index)


def _first(points: list[_Point], epoch: int, log_end: int, hw: int) -> _Point | None:
    """The first state of ``epoch`` with at least ``log_end`` and ``hw`` (the one a message
    showed), or None when the node's trace has none."""
    return next((p for p in points if p.epoch == epoch and p.log_end >= log_end and p.hw >= hw),
                None)  # fmt: skip


def _epoch_starts(nodes: dict[int, list[ev.TraceEvent]], topic: str,
                  partition: int) -> dict[int, EventId]:  # fmt: skip
    """The controller event that started each leader epoch of the partition."""
    starts: dict[int, EventId] = {}
    for node, events in sorted(nodes.items()):
        for index, event in enumerate(events):
            states: Iterable[ev.PartitionState | ev.ElectLeader] = ()
            if isinstance(event, ev.ElectLeader):
                states = (event,)
            elif isinstance(event, _CONTROLLER_STATES):
                states = event.partitions
            for state in states:
                if state.topic == topic and state.partition == partition:
                    starts.setdefault(state.leader_epoch, (node, index))
    return starts


def _partitions(nodes: dict[int, list[ev.TraceEvent]]) -> set[tuple[str, int]]:
    out = set()
    for events in nodes.values():
        for event in events:
            topic, partition = getattr(event, "topic", None), getattr(event, "partition", None)
            if isinstance(topic, str) and isinstance(partition, int):
                out.add((topic, partition))
    return out


def merge(traces: NodeTraces) -> list[ev.TraceEvent]:
    """One trace of every node's events, in an order consistent with each node's own order
    and with the edges above (ties: the event further back in its file first)."""
    nodes = traces.events
    edges = _Edges(nodes)
    for topic, partition in sorted(_partitions(nodes)):
        edges.partition(topic, partition)
    edges.registrations(traces.starts)
    edges.soften()
    heads = dict.fromkeys(nodes, 0)
    ready: list[tuple[float, int]] = []
    for node in nodes:
        _offer(ready, traces, edges, node, heads[node])
    merged: list[ev.TraceEvent] = []
    while ready:
        _, node = heapq.heappop(ready)
        index = heads[node]
        merged.append(nodes[node][index])
        for then in edges.after.get((node, index), []):
            edges.before[then] -= 1
            if edges.before[then] == 0 and heads[then[0]] == then[1]:
                _offer(ready, traces, edges, then[0], then[1])
        heads[node] = index + 1
        _offer(ready, traces, edges, node, index + 1)
    if len(merged) < sum(len(e) for e in nodes.values()):
        raise MergeError(_stuck(nodes, heads, edges))
    return merged


def _offer(ready: list[tuple[float, int]], traces: NodeTraces, edges: _Edges, node: int,
           index: int) -> None:  # fmt: skip
    if index < len(traces.events[node]) and edges.before[(node, index)] == 0:
        heapq.heappush(ready, (traces.rank[(node, index)], node))


def _stuck(nodes: dict[int, list[ev.TraceEvent]], heads: dict[int, int], edges: _Edges) -> str:
    waiting = [f"node {n} event {i + 1}: {nodes[n][i]!r}" for n, i in heads.items()
               if i < len(nodes[n])]  # fmt: skip
    return "no order satisfies the messages (a cycle); the next event of each node:\n  " + (
        "\n  ".join(waiting)
    )
