"""The anomalies the history checker (``refka.sim.checker``) reports, named as Jepsen's Kafka
workload (``jepsen.tests.kafka``) names them. Each carries the op indexes involved and describes
itself in one line; reprs are valid Python."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class LostWrite:
    """``lost-write``: send op ``send_op`` was acknowledged at ``offset`` (-1: unknown, acks=0)."""

    name: ClassVar[str] = "lost-write"
    topic: str
    partition: int
    value: int
    offset: int
    send_op: int
    read_op: int | None = None  # without a final log: the op that read furthest in the partition

    def describe(self) -> str:
        why = (
            "missing from the final log"
            if self.read_op is None
            else f"never read, though op {self.read_op} read at or past offset {self.offset}"
        )
        where = f"{self.topic}-{self.partition}@{self.offset}"
        return f"lost-write: value {self.value} acked at {where} by op {self.send_op}, {why}"


@dataclass(frozen=True, slots=True)
class Duplicate:
    """``duplicate``: ``value`` stored at every one of ``places`` (topic, partition, offset)."""

    name: ClassVar[str] = "duplicate"
    value: int
    places: tuple[tuple[str, int, int], ...]
    ops: tuple[int, ...]  # the reads and acks that saw it (the final log is no op)

    def describe(self) -> str:
        places = ", ".join(f"{t}-{p}@{o}" for t, p, o in self.places)
        return f"duplicate: value {self.value} at {places} (ops {_ops(self.ops)})"


@dataclass(frozen=True, slots=True)
class PollSkip:
    """``poll-skip``: ``process`` read ``to_offset`` (op ``op``) right after ``from_offset``."""

    name: ClassVar[str] = "poll-skip"
    process: int
    topic: str
    partition: int
    previous_op: int  # the poll (or assign) that reached from_offset
    op: int
    from_offset: int
    to_offset: int
    skipped: tuple[int, ...]

    def describe(self) -> str:
        return (
            f"poll-skip: process {self.process} read {self.topic}-{self.partition}"
            f"@{self.to_offset} in op {self.op} after offset {self.from_offset} (op "
            f"{self.previous_op}), skipping offsets {_offsets(self.skipped)}"
        )


@dataclass(frozen=True, slots=True)
class NonmonotonicPoll:
    """``nonmonotonic-poll``: ``process`` read ``to_offset`` after reaching ``from_offset``."""

    name: ClassVar[str] = "nonmonotonic-poll"
    process: int
    topic: str
    partition: int
    previous_op: int
    op: int
    from_offset: int
    to_offset: int

    def describe(self) -> str:
        return (
            f"nonmonotonic-poll: process {self.process} read {self.topic}-{self.partition}"
            f"@{self.to_offset} in op {self.op} after offset {self.from_offset} (op "
            f"{self.previous_op})"
        )


@dataclass(frozen=True, slots=True)
class NonmonotonicSend:
    """``nonmonotonic-send``: a later-invoked send of ``process`` acked below an earlier one."""

    name: ClassVar[str] = "nonmonotonic-send"
    process: int
    topic: str
    partition: int
    previous_op: int
    op: int
    from_offset: int
    to_offset: int

    def describe(self) -> str:
        return (
            f"nonmonotonic-send: process {self.process} got {self.topic}-{self.partition}"
            f"@{self.to_offset} in op {self.op} after @{self.from_offset} in op "
            f"{self.previous_op}"
        )


@dataclass(frozen=True, slots=True)
class InconsistentOffsets:
    """``inconsistent-offsets``: ``offset`` seen holding each of ``values``."""

    name: ClassVar[str] = "inconsistent-offsets"
    topic: str
    partition: int
    offset: int
    values: tuple[int, ...]
    log_values: tuple[int, ...]  # the values seen in reads or the final log (not only acked)
    ops: tuple[int, ...]

    def describe(self) -> str:
        return (
            f"inconsistent-offsets: {self.topic}-{self.partition}@{self.offset} holds values "
            f"{_offsets(self.values)} (ops {_ops(self.ops)}; read or final: "
            f"{_offsets(self.log_values)})"
        )


Anomaly = (
    LostWrite | Duplicate | PollSkip | NonmonotonicPoll | NonmonotonicSend | InconsistentOffsets
)


def _ops(indexes: Iterable[int]) -> str:
    return ", ".join(map(str, indexes)) or "none"


def _offsets(offsets: Sequence[int], most: int = 8) -> str:
    shown = ", ".join(map(str, offsets[:most]))
    return shown + (f" ... ({len(offsets)} in all)" if len(offsets) > most else "")
