"""The asyncio driver around sans-I/O cores: Kafka's ``SocketServer`` on one event loop.

Kafka's network model (``kafka.network.SocketServer``) has an acceptor per listener, processor
threads that read and write sockets, and request handler threads; here each listener is an
asyncio server bound to one core, each connection is a
:class:`~refka.server.connection.Connection` protocol, and the request handler is the core
itself, called synchronously for each complete frame. A process with the roles
``broker,controller`` runs two cores: the broker on its PLAINTEXT listener, the controller on
its CONTROLLER listener (:class:`NodeServer`), and a broker with several listeners (a client one
and an inter-broker one) serves them all from one core, telling it which listener each
connection arrived on; :class:`BrokerServer` is the one-listener case.

The driver is the only place that reads the clock: every event carries
``now_ms = time.time_ns() // 1_000_000`` (wall-clock milliseconds, as Kafka's timestamps).
A :class:`CoreRunner` carries out one core's effects in order: ``Send`` to the connection it
names (which need not be the one whose request is being handled: a produce may complete a
long-poll fetch elsewhere), ``Close``, ``Wakeup`` (the core's timer calling ``on_tick``; only
the earliest one is kept), ``SendRequest`` (on the core's connection to that node id and channel,
opened on first use: :class:`~refka.server.outbound.OutboundConnection`; a broker has a channel
each for its heartbeats, AlterPartition, forwarding and metadata fetches, as Kafka's
``BrokerServer``) and ``Disconnect``. Responses read from a node go to ``core.on_response``
with their channel; a failed connect or a lost connection to ``core.on_unreachable``.

Security and limits (issue 13): a listener may carry a ``ListenerSecurity`` (TLS context and
principal mapping, :mod:`refka.server.tls`); ``quotas`` (:mod:`refka.security.connection_quotas`)
admit or refuse each new connection; ``pool`` (:mod:`refka.security.memory_pool`,
``queued.max.request.bytes``) bounds the bytes of requests being received; the sweep of
``connections.max.idle.ms`` also closes a connection whose request frame stays unfinished
that long. A runner's ``client_tls`` gives the TLS context of its outbound connections by
channel (``"*"``: any other channel).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from refka.core.context import ANONYMOUS
from refka.core.effects import Close, Core, Disconnect, Effect, Halt, Send, SendRequest, Wakeup
from refka.server.connection import Connection
from refka.server.files import SegmentFiles
from refka.server.outbound import OutboundConnection

if TYPE_CHECKING:  # annotations: each loads when its setting asks (``refka.server.main``)
    import ssl

    from refka.security.connection_quotas import ConnectionQuotas, OverLimit
    from refka.security.memory_pool import MemoryPool
    from refka.server.outbound_sasl import OutboundSasl
    from refka.server.tls import ListenerSecurity

log = logging.getLogger(__name__)

__all__ = ["BrokerServer", "Core", "CoreRunner", "Listener", "NodeServer", "now_ms"]


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch, the unit of Kafka's timestamps."""
    return time.time_ns() // 1_000_000


def halt(reason: str) -> None:
    """Stop the process at once with status 1, no clean shutdown (Kafka's ``Exit.halt(1)``
    after ``handleLogDirFailure`` finds no log directory online)."""
    log.error("halting: %s", reason)
    logging.shutdown()
    os._exit(1)


class CoreRunner:
    """One core's connections (inbound and outbound), its timer, and its effects."""

    def __init__(self, server: NodeServer, core: Core | None) -> None:
        self.server = server
        self.core = core
        self.connections: dict[int, Connection] = {}
        self.outbound: dict[tuple[int, str], OutboundConnection] = {}  # by (node id, channel)
        self._wakeup_ms: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.outbound_sasl: OutboundSasl | None = None  # SASL for the core's own connections
        self.client_tls: dict[str, ssl.SSLContext | None] = {}  # by channel; "*": the others
        self.held: set[int] = set()  # connections at queued.max.requests unanswered requests
        self.after_effects: Callable[[], None] | None = None  # the start's readiness check

    # What a Connection needs of its owner.
    @property
    def files(self) -> SegmentFiles:
        return self.server.files

    @property
    def pool(self) -> MemoryPool | None:
        return self.server.pool

    @property
    def handshake_timeout_s(self) -> float:
        return self.server.handshake_timeout_s

    def admit(self, connection: Connection) -> OverLimit | None:
        return self.server.admit(connection)

    def release(self, connection: Connection) -> None:
        self.server.release(connection)

    def wait_for_memory(self, connection: Connection) -> None:
        self.server.memory_waiters.append(connection)

    def release_memory(self, size: int) -> None:
        self.server.release_memory(size)

    @property
    def max_frame_bytes(self) -> int:
        return self.server.max_frame_bytes

    def configure_socket(self, sock: socket.socket) -> None:
        self.server.configure_socket(sock)

    # ------------------------------------------------------ events from sockets

    def connected(self, connection: Connection) -> None:
        connection_id = self.server.new_connection_id()
        connection.connection_id = connection_id
        self.connections[connection_id] = connection
        assert self.core is not None
        if connection.principal != ANONYMOUS:
            effects = self.core.on_connect(
                connection_id,
                now_ms(),
                connection.listener,
                connection.client_host,
                principal=connection.principal,
            )
        else:
            effects = self.core.on_connect(
                connection_id, now_ms(), connection.listener, connection.client_host
            )
        self.perform(effects)

    def request(self, connection: Connection, frame: bytes | memoryview) -> None:
        """One complete request frame (size prefix removed) from ``connection``."""
        assert self.core is not None
        try:
            effects = self.core.on_request(connection.connection_id, frame, now_ms())
        except Exception:
            log.exception("connection %d: the core failed on a request", connection.connection_id)
            connection.close()
            return
        self.perform(effects)
        limit = self.server.max_in_flight
        if limit and not connection.closed:
            in_flight = getattr(self.core, "in_flight", None)
            if in_flight is not None and in_flight(connection.connection_id) >= limit:
                self.held.add(connection.connection_id)
                connection.hold()

    def disconnected(self, connection: Connection) -> None:
        if self.connections.pop(connection.connection_id, None) is None:
            return
        if self.core is not None:
            self.perform(self.core.on_disconnect(connection.connection_id, now_ms()))

    def response(self, connection: OutboundConnection, frame: bytes | memoryview) -> None:
        """A response frame from the node at the other end of ``connection``."""
        if self.outbound.get(connection.key) is not connection or self.core is None:
            return
        try:
            effects = self.core.on_response(connection.node_id, frame, now_ms(), connection.channel)
        except Exception:
            log.exception("node %d: the core failed on a response", connection.node_id)
            return
        self.perform(effects)

    def lost(self, connection: OutboundConnection, reason: str) -> None:
        """The connection to a node failed or closed (not on the core's request)."""
        if self.outbound.get(connection.key) is not connection:
            return
        del self.outbound[connection.key]
        log.info("node %d unreachable (%r): %s", connection.node_id, connection.channel, reason)
        if self.core is not None and not self.server.closing:
            self.perform(self.core.on_unreachable(connection.node_id, now_ms(), connection.channel))

    # ------------------------------------------------------------------ effects

    def perform(self, effects: Iterable[Effect]) -> None:
        connections = self.connections
        for effect in effects:
            if isinstance(effect, Send):
                connection = connections.get(effect.connection_id)
                if connection is not None:
                    connection.send(effect.chunks)
            elif isinstance(effect, Wakeup):
                self._wake_at(effect.at_ms)
            elif isinstance(effect, SendRequest):
                self._send_request(effect)
            elif isinstance(effect, Close):
                connection = connections.get(effect.connection_id)
                if connection is not None:
                    log.info("closing connection %d: %s", effect.connection_id, effect.reason)
                    connection.close()
            elif isinstance(effect, Disconnect):
                outbound = self.outbound.pop((effect.node_id, effect.channel), None)
                if outbound is not None:
                    log.info("dropping connection to node %d: %s", effect.node_id, effect.reason)
                    outbound.drop()
            elif isinstance(effect, Halt):
                halt(effect.reason)
            else:
                raise TypeError(f"unknown effect {effect!r}")
        if self.held:
            self._unhold()
        if self.after_effects is not None:
            self.after_effects()

    def _unhold(self) -> None:
        """Read on from the held connections whose answers have left."""
        limit = self.server.max_in_flight
        in_flight = getattr(self.core, "in_flight", None)
        for connection_id in list(self.held):
            connection = self.connections.get(connection_id)
            if connection is None or in_flight is None or in_flight(connection_id) < limit:
                self.held.discard(connection_id)
                if connection is not None:
                    self.server.loop.call_soon(connection.unhold)

    def _send_request(self, effect: SendRequest) -> None:
        key = (effect.node_id, effect.channel)
        connection = self.outbound.get(key)
        if connection is not None and connection.address != (effect.host, effect.port):
            connection.drop()  # the node moved: its answers on the old address are lost
            connection = None
        if connection is None:
            sasl = None if self.outbound_sasl is None else self.outbound_sasl(effect.channel)
            context = self.client_tls.get(effect.channel, self.client_tls.get("*"))
            connection = OutboundConnection(
                self, effect.node_id, effect.host, effect.port, effect.channel, sasl, context
            )
            self.outbound[key] = connection
            connection.open(self.server.loop)
        connection.send(effect.frame)

    def _wake_at(self, at_ms: int) -> None:
        if self._wakeup_ms is not None and self._wakeup_ms <= at_ms:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._wakeup_ms = at_ms
        self._timer = self.server.loop.call_later(max(0, at_ms - now_ms()) / 1000, self._tick)

    def _tick(self) -> None:
        at_ms = self._wakeup_ms
        self._timer = None
        self._wakeup_ms = None
        current_ms = now_ms()
        if at_ms is not None and current_ms < at_ms:  # the monotonic timer ran ahead
            self._wake_at(at_ms)
            return
        assert self.core is not None
        try:
            effects = self.core.on_tick(current_ms)
        except Exception:
            log.exception("the core failed on a tick")
            return
        self.perform(effects)

    def stop(self) -> None:
        """Drop every connection and timer (server shutdown)."""
        for connection in list(self.connections.values()):
            connection.abort()
        for outbound in list(self.outbound.values()):
            outbound.drop()
        self.outbound.clear()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None


class Listener:
    """One bound listener and the runner of the core it serves (``core`` may be set late)."""

    def __init__(self, runner: CoreRunner, server: asyncio.Server, name: str = "") -> None:
        self.runner = runner
        self.server = server
        self.name = name  # the listener's name in ``listeners`` ("": unnamed)
        bound = server.sockets[0].getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])

    @property
    def core(self) -> Core | None:
        return self.runner.core

    @core.setter
    def core(self, core: Core) -> None:
        self.runner.core = core


class NodeServer:
    """Several listeners, each bound to a core, on one event loop.

    Bind with :meth:`add_listener` (a core may be given later, once the bound port is known),
    then :meth:`start_serving`. Two listeners given the same core object share its runner.
    """

    def __init__(
        self,
        files: SegmentFiles,
        max_frame_bytes: int,
        send_buffer_bytes: int = -1,
        receive_buffer_bytes: int = -1,
        connections_max_idle_ms: int = -1,
    ) -> None:
        self.files = files
        self.max_frame_bytes = max_frame_bytes
        self.send_buffer_bytes = send_buffer_bytes
        self.receive_buffer_bytes = receive_buffer_bytes
        self.connections_max_idle_ms = connections_max_idle_ms
        self.listeners: list[Listener] = []
        self.quotas: ConnectionQuotas | None = None  # None: no connection limits
        self.pool: MemoryPool | None = None  # None: queued.max.request.bytes unbounded
        self.max_in_flight = 0  # queued.max.requests per connection; 0: no limit
        self.memory_waiters: deque[Connection] = deque()
        self.slot_waiters: deque[Connection] = deque()  # at max.connections, in arrival order
        self.closing = False
        self._next_connection_id = 1
        self._idle_sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_running_loop()

    @property
    def runners(self) -> list[CoreRunner]:
        return list({id(lst.runner): lst.runner for lst in self.listeners}.values())

    def new_connection_id(self) -> int:
        connection_id = self._next_connection_id
        self._next_connection_id += 1
        return connection_id

    # --------------------------------------------------------------- life cycle

    async def add_listener(
        self,
        host: str,
        port: int,
        core: Core | None = None,
        backlog: int = 1024,
        name: str = "",
        runner: CoreRunner | None = None,
        security: ListenerSecurity | None = None,
    ) -> Listener:
        """Bind ``host:port`` (listening, not yet accepting) for ``core`` (or for the core of
        ``runner``, another listener's); the listener names the port. ``name`` is the
        listener's name in ``listeners``, given to the core with each connection; ``security``
        its TLS, if any."""
        shared = runner or next(
            (r for r in self.runners if core is not None and r.core is core), None
        )
        return await self._bind(
            host, port, shared or CoreRunner(self, core), backlog, name, security
        )

    async def _bind(
        self,
        host: str,
        port: int,
        runner: CoreRunner,
        backlog: int,
        name: str = "",
        security: ListenerSecurity | None = None,
    ) -> Listener:
        self._loop = asyncio.get_running_loop()
        server = await self._loop.create_server(
            lambda: Connection(runner, name, security),
            sock=listening_socket(host, port, backlog),
            backlog=backlog,
            start_serving=False,
        )
        listener = Listener(runner, server, name)
        self.listeners.append(listener)
        return listener

    async def start_serving(self, listeners: Iterable[Listener] | None = None) -> None:
        """Accept connections on ``listeners`` (default: all that are bound)."""
        for listener in self.listeners if listeners is None else listeners:
            assert listener.core is not None, f"no core for listener port {listener.port}"
            await listener.server.start_serving()
        if self.connections_max_idle_ms > 0 and self._idle_sweeper is None:
            self._sweep_idle()

    async def close(self) -> None:
        """Stop accepting, drop every connection, then let each core flush (``shutdown``)."""
        self.closing = True
        for listener in self.listeners:
            listener.server.close()
        runners = self.runners
        for runner in runners:
            runner.stop()
        while self.slot_waiters:  # never admitted: nothing of theirs reached a core
            self.slot_waiters.popleft().refuse("the broker is shutting down")
        await asyncio.sleep(0)  # let the transports report connection_lost
        if self._idle_sweeper is not None:
            self._idle_sweeper.cancel()
        self._idle_sweeper = None
        for runner in runners:
            if runner.core is not None:
                runner.core.shutdown(now_ms())
        self.files.close()

    # ------------------------------------------------------------------ sockets

    @property
    def handshake_timeout_s(self) -> float:
        """How long a TLS handshake may take: 60 s, or ``connections.max.idle.ms`` if less."""
        idle_ms = self.connections_max_idle_ms
        return min(60.0, idle_ms / 1000) if idle_ms > 0 else 60.0

    def configure_socket(self, sock: socket.socket) -> None:
        """Kafka's ``socket.send.buffer.bytes``/``socket.receive.buffer.bytes`` (-1: OS default)."""
        try:
            if self.send_buffer_bytes > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
            if self.receive_buffer_bytes > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer_bytes)
        except OSError as error:
            log.debug("cannot set socket buffer sizes: %s", error)

    # ------------------------------------------------------------------ limits

    def admit(self, connection: Connection) -> OverLimit | None:
        """None if the new connection may stay (it is counted), else why it may not; one
        that waits for a slot is admitted, in its turn, when an admitted connection ends."""
        if self.quotas is None:
            return None
        over = self.quotas.admit(connection.listener, connection.client_host)
        connection.admitted = over is None
        if over is not None and over.wait:
            self.slot_waiters.append(connection)
        return over

    def release(self, connection: Connection) -> None:
        if self.quotas is None:
            return
        self.quotas.release(connection.listener, connection.client_host)
        waiting = self.slot_waiters
        for _ in range(len(waiting)):  # the first in line that fits now goes in
            candidate = waiting.popleft()
            if candidate.closed:
                continue
            over = self.quotas.admit(candidate.listener, candidate.client_host)
            if over is None:
                candidate.admitted = True
                self.loop.call_soon(candidate.slot_free)
            elif over.wait:
                waiting.append(candidate)
            else:
                candidate.refuse(over.reason)

    def release_memory(self, size: int) -> None:
        """A frame's reservation is returned: wake the connections waiting for memory."""
        pool = self.pool
        assert pool is not None
        pool.release(size)
        waiters = self.memory_waiters
        if pool.available > 0:  # each tries again in turn; one that still cannot waits again
            while waiters:
                self.loop.call_soon(waiters.popleft().memory_available)

    def _sweep_idle(self) -> None:
        """Close connections silent for ``connections.max.idle.ms`` (Kafka's ``Selector``), and
        those whose request frame stayed unfinished that long (an abandoned frame)."""
        idle_s = self.connections_max_idle_ms / 1000
        oldest_allowed_s = time.monotonic() - idle_s
        for runner in self.runners:
            for connection in list(runner.connections.values()):
                if connection.last_active_s < oldest_allowed_s and connection.idle:
                    log.info("closing connection %d: idle", connection.connection_id)
                    connection.close()
                    continue
                started_s = connection.frame_overdue_since
                if started_s is not None and started_s < oldest_allowed_s:
                    log.info(
                        "closing connection %d: a request unfinished for %d ms",
                        connection.connection_id,
                        self.connections_max_idle_ms,
                    )
                    connection.close()
        self._idle_sweeper = self.loop.call_later(min(idle_s / 4, 5.0), self._sweep_idle)


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A socket bound to ``host:port`` (the first address ``host`` resolves to; "": every
    interface) and listening: until its listener serves, connections wait in the backlog, as
    with Kafka's ``Acceptor``, which opens its server socket at start-up and accepts once
    request processing is enabled."""
    if not host:
        if socket.has_dualstack_ipv6():
            return socket.create_server(
                ("", port), family=socket.AF_INET6, backlog=backlog, dualstack_ipv6=True
            )
        return socket.create_server(("", port), backlog=backlog)
    return socket.create_server((host, port), family=address_family(host, port), backlog=backlog)


def address_family(host: str, port: int) -> socket.AddressFamily:
    """The family of an address literal, without a resolver (``getaddrinfo`` encodes a name
    with the ``idna`` codec, an import on the start path); else that of the first address
    the name resolves to."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]


class BrokerServer(NodeServer):
    """A :class:`NodeServer` with one listener and one core.

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
        super().__init__(
            files, max_frame_bytes, send_buffer_bytes, receive_buffer_bytes, connections_max_idle_ms
        )
        self._runner = CoreRunner(self, core)

    async def listen(self, host: str, port: int, backlog: int = 1024) -> tuple[str, int]:
        """Bind the listener (not yet accepting); return the bound ``(host, port)``."""
        listener = await self._bind(host, port, self._runner, backlog)
        return listener.host, listener.port

    @property
    def core(self) -> Core | None:
        return self._runner.core

    @core.setter
    def core(self, core: Core) -> None:
        self._runner.core = core

    @property
    def connections(self) -> dict[int, Connection]:
        return self._runner.connections
