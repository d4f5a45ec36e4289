"""Responses leave each connection in request order (Kafka's network model).

Kafka mutes a channel while a request is in flight; refka lets clients pipeline but keeps the
same guarantee: a response that is ready waits behind an earlier one still pending (a long-poll
Fetch, a JoinGroup), then both leave in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from refka.core.context import ANONYMOUS
from refka.core.effects import Chunk, Send


@dataclass(slots=True)
class _Slot:
    """A request's place in its connection's response order."""

    sequence: int
    ready: bool = False
    chunks: tuple[Chunk, ...] | None = None  # None once ready: the request gets no answer


@dataclass(slots=True)
class ResponseQueue:
    """The responses owed on one connection, oldest first."""

    connection_id: int
    listener: str = ""  # the listener the connection arrived on
    client_host: str = ""  # the peer's address
    principal: str = ANONYMOUS  # who authenticated on it (``Dispatcher.authenticate``)
    token_authenticated: bool = False  # with a delegation token (KIP-48)
    slots: deque[_Slot] = field(default_factory=deque)
    next_sequence: int = 0

    def open_slot(self) -> int:
        sequence = self.next_sequence
        self.next_sequence += 1
        self.slots.append(_Slot(sequence))
        return sequence

    def fill(self, sequence: int, chunks: tuple[Chunk, ...] | None) -> None:
        """Give slot ``sequence`` its response; ``None`` means the request gets no answer."""
        for slot in self.slots:
            if slot.sequence == sequence:
                slot.ready, slot.chunks = True, chunks
                return
        raise KeyError(f"no open response slot {sequence} on connection {self.connection_id}")

    def drain(self) -> list[Send]:
        """Sends for every ready response at the head of the queue."""
        sends: list[Send] = []
        while self.slots and self.slots[0].ready:
            slot = self.slots.popleft()
            if slot.chunks is not None:
                sends.append(Send(self.connection_id, slot.chunks))
        return sends
