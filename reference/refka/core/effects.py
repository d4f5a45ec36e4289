"""Effects the core asks its driver to carry out, and the events a driver feeds it.

The core never touches a socket, a clock or a random source. A driver (the asyncio server, the
in-process router, or a test) calls a core's events with the current time and performs the
effects it gets back, in order.

Events every core (broker, controller) accepts:

- inbound connections: ``on_connect``, ``on_request(connection_id, frame, now_ms)``,
  ``on_disconnect``; answered with ``Send`` and ``Close``;
- outbound requests: ``on_response(node_id, frame, now_ms, channel)`` for a response frame read
  from the connection to ``node_id`` on ``channel`` (size prefix removed),
  ``on_unreachable(node_id, now_ms, channel)`` when that connection cannot be opened or is
  lost; asked for with ``SendRequest`` and ``Disconnect``. A core may keep several
  connections to one node, one per *channel* (a broker's ``heartbeat``, ``alter-partition``,
  ``forwarding`` and ``raft`` channels to the controller, as Kafka's ``BrokerServer`` has one
  ``NodeToControllerChannelManager`` each); ``""`` is the default channel;
- time: ``on_tick(now_ms)``, asked for with ``Wakeup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send one request frame to another node (the driver owns the outbound connection).

    The driver opens one connection per ``(node_id, channel)`` on the first request for it,
    writes the frame with its size prefix, and feeds every response frame to ``on_response``
    with that channel. Channels to one node never share a connection, so a stalled one holds
    up only its own requests (Kafka: a ``NetworkClient`` per ``NodeToControllerChannelManager``).
    """

    node_id: int
    host: str
    port: int
    frame: bytes  # request header + body, no size prefix
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Drop the outbound connection to ``node_id`` (a request timed out or the peer answered
    out of order); the core already failed what was in flight, so the driver does not report
    it with ``on_unreachable``. The next ``SendRequest`` on ``channel`` opens a new connection."""

    node_id: int
    reason: str
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Halt:
    """Stop the process now, without a clean shutdown: the core cannot go on (every log
    directory failed, as Kafka's ``ReplicaManager.handleLogDirFailure`` halts the broker when
    no log directory is left online). The asyncio driver logs ``reason`` and exits with status
    1; the simulator crashes the node. Effects after it are not carried out."""

    reason: str


Effect = Send | Close | Wakeup | SendRequest | Disconnect | Halt


class Core(Protocol):
    """The events a core accepts (``refka.core.broker.Broker``, the controller); what a driver
    (the asyncio server, the in-process router) needs of it."""

    def on_connect(
        self,
        connection_id: int,
        now_ms: int,
        listener: str = "",
        client_host: str = "",
        principal: str = "User:ANONYMOUS",  # refka.core.context.ANONYMOUS; an SSL certificate's
    ) -> list[Effect]: ...
    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]: ...
    def on_tick(self, now_ms: int) -> list[Effect]: ...
    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]: ...
    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]: ...
    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]: ...
    def shutdown(self, now_ms: int) -> None: ...


__all__ = [
    "Chunk",
    "Close",
    "Core",
    "Disconnect",
    "Effect",
    "FileSlice",
    "Halt",
    "Send",
    "SendRequest",
    "Wakeup",
]
