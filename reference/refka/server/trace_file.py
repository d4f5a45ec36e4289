"""``refka.trace.file``: the server writes its cores' trace events (``refka.core.trace``) to a
file, one ``repr(event)`` a line after the node id (``1 LeaderAppend(node=1, ...)``), for trace
validation. Lines are written as they happen (line buffered), so a running node's file can be
read; ``refka.core.trace.parse`` reads an event back from the part after the node id.
``{node}`` in the path is the node id, so that the nodes of a cluster given one config each
write their own file (``refka spec validate --merge`` merges them; nodes that share a file
append whole lines, and the merge separates them again). Each start of the node writes
``<node> # start`` first: the merge orders a restarted broker's events after the controller's
``RegisterBroker`` of that start (a broker acts on partitions only once it has caught up past
its own registration).
"""

from __future__ import annotations

from typing import TextIO

from refka.core.trace import TraceEvent

START = "# start"  # the line (after the node id) that opens each start's events


class TraceFile:
    """A ``Tracer`` that appends to one file; ``close`` when the server stops."""

    def __init__(self, path: str, node_id: int) -> None:
        self.node_id = node_id
        own = path.replace("{node}", str(node_id))
        self._file: TextIO = open(own, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._file.write(f"{node_id} {START}\n")

    def __call__(self, event: TraceEvent) -> None:
        self._file.write(f"{self.node_id} {event!r}\n")

    def close(self) -> None:
        self._file.close()
