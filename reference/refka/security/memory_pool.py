"""``queued.max.request.bytes``: the bytes of requests being received, bounded broker-wide.

Kafka's ``SimpleMemoryPool`` (non-strict) behind its ``Selector``: when a request's size
prefix arrives, its size is reserved before the body is read; a connection that cannot
reserve it is not read again until memory is released. A reservation succeeds while any
memory is left, so one request larger than what is left (or than the whole pool) still goes
through, alone: the pool never deadlocks, and the bytes held are at most the limit plus one
request. ``capacity`` -1 (Kafka's default) means no limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class MemoryPool:
    """The bytes reserved for requests being received, against ``capacity``."""

    capacity: int = -1
    reserved: int = 0

    @property
    def bounded(self) -> bool:
        return self.capacity >= 0

    @property
    def available(self) -> int:
        return self.capacity - self.reserved

    def try_reserve(self, size: int) -> bool:
        """Reserve ``size`` bytes if any memory is left (always, without a limit)."""
        if self.bounded and self.available <= 0:
            return False
        self.reserved += size
        return True

    def release(self, size: int) -> None:
        self.reserved -= size
