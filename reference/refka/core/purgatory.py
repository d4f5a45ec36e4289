"""Requests waiting for a condition or a deadline: Kafka's ``DelayedOperationPurgatory``.

A long-poll Fetch waits until ``fetch.min.bytes`` are there or ``max.wait.ms`` passes; later,
an acks=all Produce waits for the ISR. Each waiting operation names the partitions it watches;
an append to one of them tries it again, and ``expire`` forces the ones past their deadline.

An operation with ``ctx = None`` answers through its own callbacks (a group coordinator's write
answers every request that waited for it, whichever connections they came on); it is never
cancelled with a connection and ``try_complete`` returns a non-None marker when it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from refka.core.context import Encoded, RequestContext

TopicPartition = tuple[str, int]


class DelayedOperation(Protocol):
    @property
    def ctx(self) -> RequestContext | None: ...

    deadline_ms: int
    watched: frozenset[TopicPartition]

    def try_complete(self, now_ms: int, force: bool) -> Encoded | object | None:
        """The response if the operation can complete now (always when ``force``)."""
        ...


@dataclass(slots=True)
class Purgatory:
    """The waiting operations. A completion may append (a group coordinator's write answered,
    then markers appended) and so check again, or watch a new operation, while a pass is
    running: such a check is deferred until the pass ends (each operation is tried by one pass
    at a time, so none completes twice), and an operation watched meanwhile is kept."""

    operations: list[DelayedOperation] = field(default_factory=list)
    _busy: bool = False
    _deferred: set[TopicPartition] = field(default_factory=set)

    def watch(self, operation: DelayedOperation) -> None:
        self.operations.append(operation)

    def check(
        self, keys: Iterable[TopicPartition], now_ms: int
    ) -> list[tuple[RequestContext, object]]:
        """Try every operation watching one of ``keys``; return those that completed."""
        touched = set(keys)
        if self._busy:
            self._deferred |= touched
            return []
        if not touched or not self.operations:
            return []
        return self._complete(_watching(touched), now_ms, force=False)

    def expire(self, now_ms: int) -> list[tuple[RequestContext, object]]:
        return self._complete(lambda op: op.deadline_ms <= now_ms, now_ms, force=True)

    def cancel_connection(self, connection_id: int) -> None:
        self.operations = [
            op for op in self.operations if op.ctx is None or op.ctx.connection_id != connection_id
        ]

    def next_deadline_ms(self) -> int | None:
        return min((op.deadline_ms for op in self.operations), default=None)

    def _complete(self, selected, now_ms: int, force: bool) -> list[tuple[RequestContext, object]]:  # type: ignore[no-untyped-def]
        self._busy = True
        try:
            done = self._pass(selected, now_ms, force)
            while self._deferred:
                keys, self._deferred = self._deferred, set()
                done += self._pass(_watching(keys), now_ms, False)
        finally:
            self._busy = False
        return done

    def _pass(self, selected, now_ms: int, force: bool) -> list[tuple[RequestContext, object]]:  # type: ignore[no-untyped-def]
        done: list[tuple[RequestContext, object]] = []
        waiting: list[DelayedOperation] = []
        operations, self.operations = self.operations, []
        for op in operations:
            response = op.try_complete(now_ms, force) if selected(op) else None
            if response is None:
                waiting.append(op)
            elif op.ctx is not None:
                done.append((op.ctx, response))
        self.operations = waiting + self.operations  # with those watched during the pass
        return done


def _watching(keys: set[TopicPartition]) -> Callable[[DelayedOperation], bool]:
    return lambda op: bool(op.watched & keys)
