"""The asyncio driver around the sans-I/O core: Kafka's ``SocketServer`` on one event loop.

Kafka's network model (``kafka.network.SocketServer``) has an acceptor per listener, processor
threads that read and write sockets, and request handler threads; here the acceptor is an
asyncio server, each connection is a :class:`~refka.server.connection.Connection` protocol, and
the request handler is the core itself, called synchronously for each complete frame.

The driver is the only place that reads the clock: every event carries
``now_ms = time.time_ns() // 1_000_000`` (wall-clock milliseconds, as Kafka's timestamps).
It carries out the core's effects in order: ``Send`` to the connection it names (which need not
be the one whose request is being handled: a produce may complete a long-poll fetch elsewhere),
``Close``, and ``Wakeup`` (a timer calling ``on_tick``; only the earliest one is kept).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterable
from typing import Protocol

from refka.core.effects import Close, Effect, Send, Wakeup
from refka.server.connection import Connection
from refka.server.files import SegmentFiles

log = logging.getLogger(__name__)


class Core(Protocol):
    """What the driver needs from the core (``refka.core.broker.Broker``)."""

    def on_connect(self, connection_id: int, now_ms: int) -> list[Effect]: ...
    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]: ...
    def on_tick(self, now_ms: int) -> list[Effect]: ...
    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]: ...
    def shutdown(self, now_ms: int) -> None: ...


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch, the unit of Kafka's timestamps."""
    return time.time_ns() // 1_000_000


class BrokerServer:
    """Accepts connections on one listener and runs the core's effects.

    ``core`` may be set after :meth:`listen` and before :meth:`start_serving`, so a core that
    advertises its address can be built once the port (possibly ephemeral) is known.
    """

    def __init__(
        self,
        core: Core | None,
        files: SegmentFiles,
        max_frame_bytes: int,
        send_buffer_bytes: int = -1,
        receive_buffer_bytes: int = -1,
        connections_max_idle_ms: int = -1,
    ) -> None:
        self.core = core
        self.files = files
        self.max_frame_bytes = max_frame_bytes
        self.send_buffer_bytes = send_buffer_bytes
        self.receive_buffer_bytes = receive_buffer_bytes
        self.connections_max_idle_ms = connections_max_idle_ms
        self._idle_sweeper: asyncio.TimerHandle | None = None
        self.connections: dict[int, Connection] = {}
        self._next_connection_id = 1
        self._server: asyncio.Server | None = None
        self._wakeup_ms: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --------------------------------------------------------------- life cycle

    async def listen(self, host: str, port: int, backlog: int = 1024) -> tuple[str, int]:
        """Bind the listener (not yet accepting); return the bound ``(host, port)``."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            lambda: Connection(self),
            host,
            port,
            reuse_address=True,
            backlog=backlog,
            start_serving=False,
        )
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def start_serving(self) -> None:
        assert self._server is not None and self.core is not None
        await self._server.start_serving()
        if self.connections_max_idle_ms > 0:
            self._sweep_idle()

    async def close(self) -> None:
        """Stop accepting, drop every connection, then let the core flush (``shutdown``)."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections.values()):
            connection.abort()
        await asyncio.sleep(0)  # let the transports report connection_lost
        for timer in (self._timer, self._idle_sweeper):
            if timer is not None:
                timer.cancel()
        self._timer = self._idle_sweeper = None
        if self.core is not None:
            self.core.shutdown(now_ms())
        self.files.close()

    # ------------------------------------------------------ events from sockets

    def configure_socket(self, sock: socket.socket) -> None:
        """Kafka's ``socket.send.buffer.bytes``/``socket.receive.buffer.bytes`` (-1: OS default)."""
        try:
            if self.send_buffer_bytes > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
            if self.receive_buffer_bytes > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer_bytes)
        except OSError as error:
            log.debug("cannot set socket buffer sizes: %s", error)

    def connected(self, connection: Connection) -> None:
        connection_id = self._next_connection_id
        self._next_connection_id += 1
        connection.connection_id = connection_id
        self.connections[connection_id] = connection
        assert self.core is not None
        self._perform(self.core.on_connect(connection_id, now_ms()))

    def request(self, connection: Connection, frame: bytes | memoryview) -> None:
        """One complete request frame (size prefix removed) from ``connection``."""
        assert self.core is not None
        try:
            effects = self.core.on_request(connection.connection_id, frame, now_ms())
        except Exception:
            log.exception("connection %d: the core failed on a request", connection.connection_id)
            connection.close()
            return
        self._perform(effects)

    def disconnected(self, connection: Connection) -> None:
        if self.connections.pop(connection.connection_id, None) is None:
            return
        if self.core is not None:
            self._perform(self.core.on_disconnect(connection.connection_id, now_ms()))

    def _sweep_idle(self) -> None:
        """Close connections silent for ``connections.max.idle.ms`` (Kafka's ``Selector``)."""
        idle_s = self.connections_max_idle_ms / 1000
        loop = self._loop or asyncio.get_running_loop()
        oldest_allowed_s = time.monotonic() - idle_s
        for connection in list(self.connections.values()):
            if connection.last_active_s < oldest_allowed_s and connection.idle:
                log.info("closing connection %d: idle", connection.connection_id)
                connection.close()
        self._idle_sweeper = loop.call_later(min(idle_s / 4, 5.0), self._sweep_idle)

    # ------------------------------------------------------------------ effects

    def _perform(self, effects: Iterable[Effect]) -> None:
        connections = self.connections
        for effect in effects:
            if isinstance(effect, Send):
                connection = connections.get(effect.connection_id)
                if connection is not None:
                    connection.send(effect.chunks)
            elif isinstance(effect, Wakeup):
                self._wake_at(effect.at_ms)
            elif isinstance(effect, Close):
                connection = connections.get(effect.connection_id)
                if connection is not None:
                    log.info("closing connection %d: %s", effect.connection_id, effect.reason)
                    connection.close()
            else:
                raise TypeError(f"unknown effect {effect!r}")

    def _wake_at(self, at_ms: int) -> None:
        if self._wakeup_ms is not None and self._wakeup_ms <= at_ms:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._wakeup_ms = at_ms
        loop = self._loop or asyncio.get_running_loop()
        self._timer = loop.call_later(max(0, at_ms - now_ms()) / 1000, self._tick)

    def _tick(self) -> None:
        at_ms = self._wakeup_ms
        self._timer = None
        self._wakeup_ms = None
        current_ms = now_ms()
        if (
            at_ms is not None and current_ms < at_ms
        ):  # the monotonic timer ran ahead of the wall clock
            self._wake_at(at_ms)
            return
        assert self.core is not None
        try:
            effects = self.core.on_tick(current_ms)
        except Exception:
            log.exception("the core failed on a tick")
            return
        self._perform(effects)
