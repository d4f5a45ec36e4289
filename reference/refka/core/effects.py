"""Effects the core asks its driver to carry out, and the events a driver feeds it.

The core never touches a socket, a clock or a random source. A driver (the asyncio server, the
simulator, or a test) calls ``Broker.on_request`` / ``Broker.on_tick`` / ``Broker.on_disconnect``
with the current time and performs the effects it gets back, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from refka.log.file_slice import FileSlice

Chunk = bytes | FileSlice


@dataclass(frozen=True, slots=True)
class Send:
    """Write one complete response frame (size prefix included) to a connection.

    ``chunks`` are written back to back; a ``FileSlice`` is read from its file by the driver.
    Sends for one connection are emitted in request order.
    """

    connection_id: int
    chunks: tuple[Chunk, ...]

    @property
    def size(self) -> int:
        return sum(c.size if isinstance(c, FileSlice) else len(c) for c in self.chunks)


@dataclass(frozen=True, slots=True)
class Close:
    """Close a connection, as Kafka does on a request it cannot parse."""

    connection_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Wakeup:
    """Call ``Broker.on_tick`` again at or after ``at_ms`` (a timer)."""

    at_ms: int


Effect = Send | Close | Wakeup

__all__ = ["Chunk", "Close", "Effect", "FileSlice", "Send", "Wakeup"]
