"""One outbound connection from a core to another node: Kafka's client-side ``KafkaChannel``.

Opened by the driver on the first ``SendRequest`` for a node id and channel (a core keeps one
connection per channel to a node: ``refka.core.channels``). Request frames written before
the connection is up wait in ``pending`` and leave in order once it is; each gets its 4-byte
size prefix here. Response frames are cut by the sans-I/O ``FrameDecoder`` and handed to the
owner (``refka.server.driver.CoreRunner``), which feeds them to ``core.on_response``. A failed
connect, an end of stream or a lost connection is reported once through ``owner.lost``,
unless the core itself asked for the connection to go (``Disconnect``: ``drop``). With an
``ssl.SSLContext`` the connection speaks TLS (the other node's listener is SSL or SASL_SSL),
checking the server's certificate against the host name it was given.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING, Protocol, cast

from refka.protocol.framing import NEED_DATA, FrameDecoder, FrameTooLarge
from refka.security.mechanism import SaslFailure

if TYPE_CHECKING:
    from refka.security.client import SaslClient

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = (1 << 31) - 1
"""Kafka's clients accept any response size by default (``receive.buffer.bytes`` aside)."""

_SIZE = struct.Struct(">i")


class Owner(Protocol):
    def response(self, connection: OutboundConnection, frame: bytes | memoryview) -> None: ...
    def lost(self, connection: OutboundConnection, reason: str) -> None: ...


class OutboundConnection(asyncio.Protocol):
    """The connection to ``node_id`` at ``(host, port)`` for the core's ``channel``."""

    def __init__(
        self,
        owner: Owner,
        node_id: int,
        host: str,
        port: int,
        channel: str = "",
        sasl: SaslClient | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.owner = owner
        self.ssl_context = ssl_context
        self.node_id = node_id
        self.channel = channel
        self.key = (node_id, channel)
        self.address = (host, port)
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.finished = False  # reported lost, or dropped on the core's request
        self._decoder = FrameDecoder(MAX_RESPONSE_BYTES)
        self._connecting: asyncio.Task[None] | None = None
        self.sasl = sasl  # authenticates first; the core's frames wait in ``pending`` till done

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        self._connecting = loop.create_task(self._connect(loop))

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> None:
        host, port = self.address
        try:
            if self.ssl_context is None:
                await loop.create_connection(lambda: self, host, port)
            else:
                await loop.create_connection(
                    lambda: self, host, port, ssl=self.ssl_context, server_hostname=host
                )
        except OSError as error:
            self._lose(f"cannot connect to {host}:{port}: {error}")

    def send(self, frame: bytes) -> None:
        if self.finished:
            return
        data = _SIZE.pack(len(frame)) + frame
        if self.transport is None or (self.sasl is not None and not self.sasl.done):
            self.pending.append(data)
        else:
            self.transport.write(data)

    def drop(self) -> None:
        """Close without reporting (the core already failed what was in flight)."""
        self.finished = True
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self.transport is not None:
            self.transport.abort()

    # --------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.finished:
            self.transport.abort()
            return
        if self.sasl is not None:
            frame = self.sasl.start()
            self.transport.write(_SIZE.pack(len(frame)) + frame)
            return
        self._flush_pending()

    def _flush_pending(self) -> None:
        if self.pending and self.transport is not None:
            self.transport.write(b"".join(self.pending))
            self.pending.clear()

    def _authenticating(self, frame: bytes | memoryview) -> None:
        """A SASL response while authenticating (Kafka's ``SaslClientAuthenticator``)."""
        assert self.sasl is not None and self.transport is not None
        try:
            frames = self.sasl.on_frame(frame)
        except SaslFailure as failure:
            self._lose(f"SASL authentication failed: {failure}")
            return
        self.transport.write(b"".join(_SIZE.pack(len(f)) + f for f in frames))
        if self.sasl.done:
            self._flush_pending()

    def data_received(self, data: bytes) -> None:
        decoder = self._decoder
        try:
            decoder.feed(data)
            frame = decoder.next_frame()
            while frame is not NEED_DATA and frame is not None and not self.finished:
                if self.sasl is not None and not self.sasl.done:
                    self._authenticating(frame)
                else:
                    self.owner.response(self, frame)
                frame = decoder.next_frame()
        except FrameTooLarge as error:
            self._lose(str(error))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(f"connection lost: {exc}" if exc else "connection closed by the peer")

    def _lose(self, reason: str) -> None:
        if self.finished:
            return
        self.finished = True
        if self.transport is not None:
            self.transport.abort()
        self.owner.lost(self, reason)
