"""The part of a trace that Replication.tla's abstraction covers (``refka spec validate --cut``).

Replication.tla keeps every replica in the ISR: its high watermark waits for all of them. A run
with faults shrinks the ISR (a crashed, paused or cut-off follower), and the leader's
high watermark then moves with fewer replicas, which Kafka allows and Replication.tla cannot
express (Election.tla can). ``cut`` keeps a trace's events up to the first such step of the
partition: an ``AdvanceHighWatermark`` whose commit ISR is not every replica. Everything before
it, faults included, is validated; the rest of the trace is Election.tla's to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from refka.core import trace as ev


@dataclass(frozen=True, slots=True)
class Cut:
    """The events kept, and the line (1-based) of the first event left out (0: none)."""

    events: tuple[ev.TraceEvent, ...]
    at_line: int


def cut(events: Sequence[ev.TraceEvent], topic: str = "sim", partition: int = 0) -> Cut:
    """The events before the first HW advance of ``topic``-``partition`` with a smaller ISR."""
    replicas: set[int] | None = None
    for line, event in enumerate(events, start=1):
        if getattr(event, "topic", None) != topic or getattr(event, "partition", None) != partition:
            continue
        if isinstance(event, ev.ElectLeader) and replicas is None:
            replicas = set(event.isr)  # the partition's creation: every replica in the ISR
        if isinstance(event, ev.AdvanceHighWatermark) and replicas and set(event.isr) != replicas:
            return Cut(tuple(events[: line - 1]), line)
    return Cut(tuple(events), 0)
