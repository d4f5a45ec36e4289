"""Trace events: what a core did, named after the TLA+ action it performed.

A core that is given a ``Tracer`` calls it once per spec-level step (``LeaderAppend``,
``FollowerFetch``, ``BecomeLeader``, ...), with a frozen dataclass whose fields are the values
of the spec variables that the step changed. A core without one (the default, and the asyncio
server unless ``refka.trace.file`` is set) pays one ``is None`` test per step.

The events themselves are defined below, one per action; ``docs/spec.md`` maps each to its
TLA+ action. The simulator (``refka.sim``) collects them; trace validation reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """The base of every trace event: ``node`` is the node that took the step."""

    node: int


Tracer = Callable[[TraceEvent], None]
