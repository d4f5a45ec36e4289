"""A TCP proxy for fault tests: forwards connections to one target, and on request delays
every chunk (``slow``) or cuts every connection and refuses new ones (``isolate``).

It runs its own asyncio loop on a daemon thread, so it works in front of a broker process and
an in-process broker alike. Its port is bound at construction, so a broker can advertise it
before the target's port is known (``target`` may be set later).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

CHUNK_BYTES = 65536


class TcpProxy:
    """Listens on ``host:port`` (port 0: the kernel picks) and forwards to ``target``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port), reuse_port=False)
        self.host, self.port = host, int(self._listener.getsockname()[1])
        self.target: tuple[str, int] | None = None
        self.latency_s = 0.0
        self.isolated = False
        self._writers: set[asyncio.StreamWriter] = set()
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
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(CHUNK_BYTES):
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                if self.isolated:
                    break
                writer.write(chunk)
                await writer.drain()
        writer.close()

    def _cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def slow(self, latency_ms: float) -> None:
        """Delay every chunk, both ways, by ``latency_ms`` (0 restores full speed)."""
        self.latency_s = latency_ms / 1000

    def isolate(self) -> None:
        """Cut every open connection (RST) and refuse new ones until :meth:`heal`."""
        self.isolated = True
        self._loop.call_soon_threadsafe(self._cut)

    def heal(self) -> None:
        """Accept and forward again, at full speed."""
        self.isolated = False
        self.latency_s = 0.0

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
