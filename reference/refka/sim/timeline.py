"""The timeline of a simulated run: one ``Step`` per thing that happened, in order.

``refka simulate`` and ``refka replay`` print it (one line per step; the same seed and schedule
print the same bytes), and ``refka replay --draw`` draws it as a space-time diagram: nodes as
columns, a message as an arrow from its ``send`` step to its ``receive`` (or ``drop``) step,
faults marked, the violation highlighted.

Kinds of step:

- ``send`` / ``receive`` / ``drop``: a message on a link; ``message`` pairs them, ``peer`` is
  the other end, ``action`` names the API and whether it is a request or a response;
- ``fault``: a fault of the schedule (crash, restart, partition, heal, pause, skew, disk full);
  ``node`` is -1 when it is not one node's;
- ``client``: a client operation of the schedule (produce, consume, commit);
- ``trace``: a trace event of a core (``action`` is the TLA+ action, ``state`` its fields);
- ``violation``: an invariant that failed (``action`` is its name as in spec/).
"""

from __future__ import annotations

from dataclasses import dataclass

WORLD = -1
"""``Step.node`` of a step that belongs to no single node (a partition, a heal)."""

KINDS = ("send", "receive", "drop", "fault", "client", "trace", "violation")


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the timeline."""

    index: int  # position in the run, from 0
    at_ms: int  # the simulated clock (the world's, before any node's skew)
    node: int  # where it happened; WORLD for the whole cluster
    kind: str  # one of KINDS
    action: str  # "Fetch v17 request", "crash", "LeaderAppend", "LogMatching", ...
    peer: int | None = None  # the other end of a message
    message: int | None = None  # pairs a send with its receive or drop
    state: str = ""  # key state after the step: "LEO=3 HW=2 epoch=4 ISR=[1,2]", or details

    def line(self) -> str:
        """The step as one line of ``refka replay``'s output (fixed-width columns)."""
        node = "*" if self.node == WORLD else str(self.node)
        arrow = ""
        if self.peer is not None:
            arrow = f" -> {self.peer}" if self.kind == "send" else f" <- {self.peer}"
        message = f" #{self.message}" if self.message is not None else ""
        head = f"{self.index:>6} {self.at_ms:>9} {node:>4} {self.kind:<9} {self.action}"
        tail = f"{arrow}{message}"
        return f"{head}{tail}  {self.state}".rstrip()


HEADER = f"{'step':>6} {'ms':>9} {'node':>4} {'kind':<9} action  state"


def format_timeline(steps: list[Step]) -> str:
    """The whole timeline as text, with its header."""
    return "\n".join([HEADER, *(s.line() for s in steps)]) + "\n"
