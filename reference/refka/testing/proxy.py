"""A TCP proxy for fault tests: forwards connections to one target, and on request delays
every chunk (``slow``) or cuts every connection and refuses new ones (``isolate``).

With ``identify_clients=True`` it reads the ``client_id`` of each connection's first request
header (every Kafka request header from v1 on carries one; a broker's own requests say
``broker-<node id>``) before forwarding anything, so that ``isolate_client`` and
``slow_client`` can act on one sender's connections only: a cluster cuts one broker's fetches
from a leader while the other followers keep theirs.

It runs its own asyncio loop on a daemon thread, so it works in front of a broker process and
an in-process broker alike. Its port is bound at construction, so a broker can advertise it
before the target's port is known (``target`` may be set later).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

CHUNK_BYTES = 65536
HEADER_PREFIX = struct.Struct(">ihhih")  # size, api_key, api_version, correlation_id, id length


class TcpProxy:
    """Listens on ``host:port`` (port 0: the kernel picks) and forwards to ``target``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, identify_clients: bool = False
    ) -> None:
        self._listener = socket.create_server((host, port), reuse_port=False)
        self.host, self.port = host, int(self._listener.getsockname()[1])
        self.target: tuple[str, int] | None = None
        self.latency_s = 0.0
        self.isolated = False
        self.identify_clients = identify_clients
        self.blocked_clients: set[str] = set()
        self.client_latency_s: dict[str, float] = {}
        self._writers: dict[asyncio.StreamWriter, str] = {}  # -> the client id ("" unknown)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"refka-proxy-{self.port}")
        self._thread.daemon = True
        self._thread.start()
        self._ready.wait()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._listener)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.isolated or self.target is None:
            writer.close()
            return
        _no_delay(writer)
        client, first = "", b""
        if self.identify_clients:
            try:
                client, first = await _first_client_id(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer.close()
                return
        if self.isolated or client in self.blocked_clients:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers[writer] = self._writers[up_writer] = client
        up_writer.write(first)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, client), self._pump(up_reader, writer, client)
            )
        finally:
            for w in (writer, up_writer):
                self._writers.pop(w, None)
                w.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: str
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(CHUNK_BYTES):
                latency_s = max(self.latency_s, self.client_latency_s.get(client, 0.0))
                if latency_s:
                    await asyncio.sleep(latency_s)
                if self.isolated or client in self.blocked_clients:
                    break
                writer.write(chunk)
                await writer.drain()
        writer.close()

    def _cut(self, client: str | None = None) -> None:
        """Abort every connection (``client`` None), or those of one client id."""
        for writer, owner in list(self._writers.items()):
            if client is None or owner == client:
                writer.transport.abort()

    def slow(self, latency_ms: float) -> None:
        """Delay every chunk, both ways, by ``latency_ms`` (0 restores full speed)."""
        self.latency_s = latency_ms / 1000

    def isolate(self) -> None:
        """Cut every open connection (RST) and refuse new ones until :meth:`heal`."""
        self.isolated = True
        self._loop.call_soon_threadsafe(self._cut)

    def isolate_client(self, client_id: str) -> None:
        """Cut the connections whose first request named ``client_id`` and refuse that client
        until :meth:`heal` (needs ``identify_clients``); others are forwarded as before."""
        self._require_identified()
        self.blocked_clients.add(client_id)
        self._loop.call_soon_threadsafe(self._cut, client_id)

    def slow_client(self, client_id: str, latency_ms: float) -> None:
        """Delay every chunk of ``client_id``'s connections, both ways, by ``latency_ms``."""
        self._require_identified()
        self.client_latency_s[client_id] = latency_ms / 1000

    def _require_identified(self) -> None:
        if not self.identify_clients:
            raise RuntimeError("this proxy does not identify clients: identify_clients=True")

    def heal(self) -> None:
        """Accept and forward again, at full speed, for every client."""
        self.isolated = False
        self.latency_s = 0.0
        self.blocked_clients.clear()
        self.client_latency_s.clear()

    async def _shutdown(self) -> None:
        self._server.close()
        self._cut()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:  # aborted transports end them; cancel only what still waits (a slow chunk)
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._loop.stop()

    def close(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
        self._listener.close()


def _no_delay(writer: asyncio.StreamWriter) -> None:
    """TCP_NODELAY on an accepted connection: asyncio sets it only on sockets whose protocol is
    IPPROTO_TCP, and ``socket.create_server``'s (so its accepted ones) say 0. Without it
    Nagle's algorithm holds each small answer back until the peer's delayed ACK (~40 ms)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _first_client_id(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    """Read the first request up to the end of its header's ``client_id`` (request header v1+:
    size, api_key, api_version, correlation_id, then the id as an int16-prefixed string);
    returns the id ("" when null) and the bytes read, to be forwarded first."""
    prefix = await reader.readexactly(HEADER_PREFIX.size)
    size, _, _, _, length = HEADER_PREFIX.unpack(prefix)
    if size < HEADER_PREFIX.size - 4 + max(length, 0):
        raise ValueError(f"a request of {size} bytes cannot hold its header")
    if length <= 0:
        return "", prefix
    client_id = await reader.readexactly(length)
    return client_id.decode("utf-8", errors="replace"), prefix + client_id


class Proxied:
    """Fault handles of a broker whose clients connect through a :class:`TcpProxy` (the
    broker advertises the proxy's address, so clients come back through it)."""

    proxy: TcpProxy | None = None

    def _proxy(self) -> TcpProxy:
        if self.proxy is None:
            raise RuntimeError("this broker has no proxy: start it with proxy=True")
        return self.proxy

    def slow(self, latency_ms: float) -> None:
        """Delay everything between clients and the broker by ``latency_ms`` each way."""
        self._proxy().slow(latency_ms)

    def isolate(self) -> None:
        """Cut the clients' connections and refuse new ones (the broker itself keeps running)."""
        self._proxy().isolate()

    def heal(self) -> None:
        """Undo :meth:`isolate` and :meth:`slow`."""
        self._proxy().heal()
