"""One client connection: Kafka's ``Processor`` for a single socket, as an ``asyncio.Protocol``.

Reading: ``data_received`` feeds the sans-I/O ``FrameDecoder`` and hands every complete frame to
the server at once, in the same callback (no task, no queue). A size prefix over
``socket.request.max.bytes`` closes the connection, as Kafka's ``InvalidReceiveException`` does.

Writing: responses leave in the order the core emits them. A response made only of bytes is
joined and written to the transport. Record data (``FileSlice``) goes from the segment file to
the socket with ``os.sendfile`` (zero copy): at once when the transport has nothing buffered and
the socket takes it all, else by a writer task that sends the rest with ``loop.sendfile`` after
the transport drains, while later responses wait behind it in ``pending``.

Back-pressure: while the transport's buffer is over its high-water mark, or too many responses
wait behind a ``sendfile``, the connection stops reading, so a slow consumer slows its own
requests down instead of growing the broker's memory. With ``queued.max.request.bytes`` set,
each frame's size is reserved from the server's memory pool when its size prefix arrives; a
connection that cannot reserve it stops reading until memory is released.

Limits: a connection over ``max.connections.per.ip`` is closed as soon as it is accepted
(before any TLS handshake, as Kafka's acceptor counts it); one at ``max.connections`` (the
broker's or its listener's) is not read until a slot frees, as Kafka's acceptor leaves it in
the backlog.

TLS (an SSL or SASL_SSL listener): once admitted, the connection upgrades itself with
``loop.start_tls``; a failed handshake is logged as Kafka logs it ("Failed authentication with
<host> (SSL handshake failed)") and closes the connection. After the handshake the client
certificate gives the connection's principal (``ListenerSecurity.principal``), the core hears
of the connection, and record data is copied through the TLS transport, never
``os.sendfile``-d to the socket (which would bypass the encryption).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from time import monotonic
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from refka.core.context import ANONYMOUS
from refka.core.effects import Chunk
from refka.log.file_slice import FileSlice
from refka.protocol.framing import NEED_DATA, FrameDecoder, FrameTooLarge

if TYPE_CHECKING:
    from refka.server.driver import CoreRunner
    from refka.server.tls import ListenerSecurity

log = logging.getLogger(__name__)

MAX_PENDING_SENDS = 32
"""Responses that may wait behind a ``sendfile`` before the connection stops reading."""

COPY_CHUNK_BYTES = 256 * 1024
"""Read size when the event loop cannot ``sendfile`` and the bytes go through the transport."""

_WRITE_BUFFER_FULL = 1
_PENDING_FULL = 2
_NO_MEMORY = 4  # waiting for the memory pool (queued.max.request.bytes)
_IN_FLIGHT = 8  # queued.max.requests unanswered requests
_HANDSHAKE = 16  # the TLS handshake and the principal come first
_NO_SLOT = 32  # waiting for a connection slot (max.connections)
_HELD = _NO_MEMORY | _IN_FLIGHT | _HANDSHAKE | _NO_SLOT  # the frames already read wait too
_CLOSE = object()  # in ``pending``: close once everything before it is written


class ShortFile(OSError):
    """A segment file ended before the bytes a ``FileSlice`` promised."""


class Connection(asyncio.Protocol):
    """A client connection; ``connection_id`` is the core's name for it."""

    def __init__(
        self, server: CoreRunner, listener: str = "", security: ListenerSecurity | None = None
    ) -> None:
        self.server = server
        self.listener = listener  # the name of the listener it arrived on
        self.security = security  # None: PLAINTEXT
        self.client_host = ""  # the peer's address
        self.principal = ANONYMOUS  # from the client certificate on an SSL listener
        self.admitted = False  # counted by the connection quotas
        self.reserved = 0  # bytes of the memory pool held for the frame being received
        self.frame_started_s: float | None = None  # when the unfinished frame began
        self.connection_id = 0
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._decoder = FrameDecoder(server.max_frame_bytes)
        self._socket_fd = -1
        self._pending: deque[Any] | None = None  # responses waiting behind a sendfile
        self._writer: asyncio.Task[None] | None = None
        self._read_paused = 0  # bit set of reasons: _WRITE_BUFFER_FULL | _PENDING_FULL
        self._drained: asyncio.Future[None] | None = None
        self._handshake: asyncio.Task[None] | None = None  # the TLS upgrade under way
        self.last_active_s = monotonic()  # when the last bytes were read

    # ------------------------------------------------------------------ reading

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # not a subclass under uvloop
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client_host = str(peer[0])
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._socket_fd = sock.fileno()
            self.server.configure_socket(sock)
        over = self.server.admit(self)
        if over is None:
            self._admitted()
        elif over.wait:
            log.info("a connection from %s waits for a slot: %s", self.client_host, over.reason)
            self._pause_reading(_NO_SLOT)
        else:
            self.refuse(over.reason)

    def refuse(self, reason: str) -> None:
        """Close a connection never admitted: over a limit, or waiting for a slot at shutdown."""
        if self.closed:
            return
        log.info("closing a connection from %s: %s", self.client_host, reason)
        self.closed = True
        assert self.transport is not None
        self.transport.close()

    def slot_free(self) -> None:
        """A connection slot is this connection's now (it was waiting): go on as admitted."""
        if self.closed:
            return
        self._admitted()
        self._resume_reading(_NO_SLOT)

    def _admitted(self) -> None:
        if self.security is not None and self.security.context is not None:
            self._socket_fd = -1  # sendfile would bypass TLS: record data is copied
            self._pause_reading(_HANDSHAKE)  # the handshake's bytes are start_tls's to read
            self._handshake = asyncio.get_running_loop().create_task(self._start_tls())
            return
        self.server.connected(self)

    async def _start_tls(self) -> None:
        """The TLS handshake; then the principal, then the core hears of the connection."""
        assert self.security is not None and self.security.context is not None
        raw = self.transport
        try:
            upgraded = await asyncio.get_running_loop().start_tls(
                raw,  # type: ignore[arg-type]
                self,
                self.security.context,
                server_side=True,
                ssl_handshake_timeout=self.server.handshake_timeout_s,
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.info(
                "Failed authentication with %s (SSL handshake failed: %s)", self.client_host, error
            )
            self.closed = True
            if raw is not None:
                raw.abort()
            return
        if self.closed or upgraded is None:
            return
        self.transport = cast(asyncio.Transport, upgraded)
        if not self._authenticate(upgraded.get_extra_info("ssl_object")):
            return
        self.server.connected(self)
        self._resume_reading(_HANDSHAKE)  # the requests that came with the handshake first
        if not self._read_paused & _HELD and self._decoder.buffered_bytes:
            if self.server.pool is None:
                self._read_frames()
            else:
                self._read_frames_pooled()

    def _authenticate(self, ssl_object: object) -> bool:
        """The principal of the client certificate; a failed mapping closes the connection
        (Kafka fails the SSL authentication)."""
        assert self.security is not None
        try:
            self.principal = self.security.principal(ssl_object)
        except ValueError as error:
            log.info("closing a connection from %s: %s", self.client_host, error)
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
            return False
        if self.principal != ANONYMOUS:
            log.info("SSL client %s authenticated as %s", self.client_host, self.principal)
        return True

    def data_received(self, data: bytes) -> None:
        self.last_active_s = monotonic()
        self._decoder.feed(data)
        if self._read_paused & _HELD or self.closed:
            return  # the frames wait until the pool has memory or answers have left
        if self.server.pool is None:
            self._read_frames()
        else:
            self._read_frames_pooled()

    def hold(self) -> None:
        """Read no further frame: ``queued.max.requests`` requests wait for their answers."""
        self._pause_reading(_IN_FLIGHT)

    def unhold(self) -> None:
        """Answers have left: read on, the frames already received first."""
        if self.closed or not self._read_paused & _IN_FLIGHT:
            return
        self._resume_reading(_IN_FLIGHT)
        if not self._read_paused & _HELD:
            if self.server.pool is None:
                self._read_frames()
            else:
                self._read_frames_pooled()

    def _read_frames(self) -> None:
        decoder = self._decoder
        request = self.server.request
        handled = False
        try:
            frame = decoder.next_frame()
            while frame is not NEED_DATA and frame is not None:
                request(self, frame)
                if self.closed:
                    return
                handled = True
                if self._read_paused & _IN_FLIGHT:
                    break
                frame = decoder.next_frame()
        except FrameTooLarge as error:
            log.info("connection %d: %s; closing it", self.connection_id, error)
            self.close()
            return
        self._mark_unfinished(handled)

    def _read_frames_pooled(self) -> None:
        """``_read_frames`` reserving each frame's size from the pool before its body."""
        decoder = self._decoder
        request = self.server.request
        pool = self.server.pool
        assert pool is not None
        handled = False
        try:
            while True:
                if not self.reserved:
                    size = decoder.next_size()
                    if size is not None:
                        if not pool.try_reserve(size):
                            self._pause_reading(_NO_MEMORY)
                            self.server.wait_for_memory(self)
                            return
                        self.reserved = size
                frame = decoder.next_frame()
                if frame is NEED_DATA or frame is None:
                    break
                request(self, frame)
                self._release_memory()
                if self.closed:
                    return
                handled = True
                if self._read_paused & _IN_FLIGHT:
                    break
        except FrameTooLarge as error:
            log.info("connection %d: %s; closing it", self.connection_id, error)
            self.close()
            return
        self._mark_unfinished(handled)

    def memory_available(self) -> None:
        """The pool has memory again: read on (``NodeServer.memory_released``)."""
        if self.closed or not self._read_paused & _NO_MEMORY:
            return
        self._resume_reading(_NO_MEMORY)
        if not self._read_paused & _HELD:
            self._read_frames_pooled()

    def _release_memory(self) -> None:
        if self.reserved:
            reserved, self.reserved = self.reserved, 0
            self.server.release_memory(reserved)

    def _mark_unfinished(self, handled: bool) -> None:
        """Note when the frame left unfinished began (``connections.max.idle.ms`` ends it)."""
        if not self._decoder.buffered_bytes:
            self.frame_started_s = None
        elif handled or self.frame_started_s is None:
            self.frame_started_s = self.last_active_s

    @property
    def frame_overdue_since(self) -> float | None:
        """When the unfinished frame began, if the peer (not refka) is to blame for it."""
        return None if self._read_paused else self.frame_started_s

    def eof_received(self) -> bool:
        return False  # the client is done: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._release_memory()
        if self.admitted:
            self.admitted = False
            self.server.release(self)
        if self._writer is not None:
            self._writer.cancel()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self.server.disconnected(self)

    @property
    def idle(self) -> bool:
        """Nothing waiting to be written (a slow reader of big responses is not idle)."""
        transport = self.transport
        return self._pending is None and (
            transport is None or transport.get_write_buffer_size() == 0
        )

    # ------------------------------------------------------------------ writing

    def send(self, chunks: tuple[Chunk, ...]) -> None:
        """Write one response frame after the ones before it."""
        if self.closed:
            return
        if self._pending is not None:
            self._pending.append(chunks)
            if len(self._pending) >= MAX_PENDING_SENDS:
                self._pause_reading(_PENDING_FULL)
            return
        if len(chunks) == 1 and type(chunks[0]) is bytes:
            self.transport.write(chunks[0])  # type: ignore[union-attr]
            return
        self._write_now(chunks)

    def close(self) -> None:
        """Close after the responses already emitted (Kafka closes on a bad request)."""
        if self.closed:
            return
        self.closed = True
        transport = self.transport
        assert transport is not None
        transport.pause_reading()
        if self._pending is not None:
            self._pending.append(_CLOSE)
        else:
            transport.close()

    def abort(self) -> None:
        """Drop the connection now, unsent responses included (broker shutdown)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _write_now(self, chunks: tuple[Chunk, ...]) -> None:
        transport = self.transport
        assert transport is not None
        joined: list[bytes] = []
        for index, chunk in enumerate(chunks):
            if type(chunk) is not FileSlice:
                joined.append(chunk)  # type: ignore[arg-type]
                continue
            if joined:
                transport.write(joined[0] if len(joined) == 1 else b"".join(joined))
                joined = []
            try:
                rest = self._sendfile_now(chunk)
            except OSError as error:
                self._fail(error)
                return
            if rest is not None:
                self._pending = deque([(rest, *chunks[index + 1 :])])
                self._writer = asyncio.get_running_loop().create_task(self._write_pending())
                return
        if joined:
            transport.write(joined[0] if len(joined) == 1 else b"".join(joined))

    def _sendfile_now(self, piece: FileSlice) -> FileSlice | None:
        """Send what the socket takes now, straight from the file; return what is left."""
        transport = self.transport
        assert transport is not None
        if piece.size == 0:
            return None
        if self._socket_fd < 0 or transport.get_write_buffer_size():
            return piece  # earlier bytes still buffered: they go first
        files = self.server.files
        file = files.acquire(piece.path)
        position, left = piece.position, piece.size
        try:
            while left:
                try:
                    sent = os.sendfile(self._socket_fd, file.fileno(), position, left)
                except BlockingIOError:
                    break
                if sent == 0:
                    raise ShortFile(f"{piece.path} ends before byte {position}")
                position += sent
                left -= sent
        finally:
            files.release(file)
        return None if left == 0 else FileSlice(piece.path, position, left)

    async def _write_pending(self) -> None:
        """Write the waiting responses in order, waiting for the socket between them."""
        pending = self._pending
        transport = self.transport
        assert pending is not None and transport is not None
        loop = asyncio.get_running_loop()
        try:
            while pending:
                item = pending.popleft()
                if len(pending) < MAX_PENDING_SENDS // 2:
                    self._resume_reading(_PENDING_FULL)
                if item is _CLOSE:
                    transport.close()
                    return
                await self._write_waiting(loop, transport, item)
                if self._read_paused & _WRITE_BUFFER_FULL:
                    await self._drain()
        except asyncio.CancelledError:
            raise
        except (OSError, RuntimeError) as error:
            self._fail(error)
        finally:
            self._pending = None
            self._writer = None
            self._resume_reading(_PENDING_FULL)

    async def _write_waiting(
        self,
        loop: asyncio.AbstractEventLoop,
        transport: asyncio.Transport,
        chunks: tuple[Chunk, ...],
    ) -> None:
        joined: list[bytes] = []
        for chunk in chunks:
            if type(chunk) is not FileSlice:
                joined.append(chunk)  # type: ignore[arg-type]
                continue
            if joined:
                transport.write(b"".join(joined))
                joined = []
            if transport.is_closing():
                raise ConnectionResetError("connection closed")
            files = self.server.files
            file = files.acquire(chunk.path)
            try:
                try:
                    sent = await loop.sendfile(transport, file, chunk.position, chunk.size)
                except NotImplementedError:  # a loop without sendfile (uvloop): copy
                    sent = await self._copy_file(transport, file, chunk.position, chunk.size)
            finally:
                files.release(file)
            if sent != chunk.size:
                raise ShortFile(f"{chunk.path} ends before byte {chunk.position + sent}")
        if joined:
            transport.write(b"".join(joined))

    async def _copy_file(
        self, transport: asyncio.Transport, file: BinaryIO, position: int, size: int
    ) -> int:
        """Send ``size`` bytes of ``file`` through the transport's buffer, drained as it fills."""
        sent = 0
        while sent < size:
            data = os.pread(file.fileno(), min(size - sent, COPY_CHUNK_BYTES), position + sent)
            if not data:
                break
            transport.write(data)
            sent += len(data)
            if self._read_paused & _WRITE_BUFFER_FULL:
                await self._drain()
        return sent

    def _fail(self, error: BaseException) -> None:
        gone = isinstance(error, ConnectionError) or self.closed
        log.log(
            logging.DEBUG if gone else logging.WARNING,
            "connection %d: cannot send a response (%s); closing it",
            self.connection_id,
            error,
        )
        self.abort()

    # ------------------------------------------------------------- back-pressure

    def pause_writing(self) -> None:
        self._pause_reading(_WRITE_BUFFER_FULL)

    def resume_writing(self) -> None:
        self._resume_reading(_WRITE_BUFFER_FULL)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def _drain(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()
        await self._drained
        self._drained = None

    def _pause_reading(self, reason: int) -> None:
        if not self._read_paused and not self.closed and self.transport is not None:
            self.transport.pause_reading()
        self._read_paused |= reason

    def _resume_reading(self, reason: int) -> None:
        if not self._read_paused & reason:
            return
        self._read_paused &= ~reason
        if not self._read_paused and not self.closed and self.transport is not None:
            self.transport.resume_reading()
