"""A minimal blocking Kafka client for the tests that need requests no library sends
(a zombie's commit with an old generation): kio entities over a plain socket, non-flexible
versions only (request header v1, response header v0)."""

from __future__ import annotations

import socket
import struct
from typing import Any

from kio.schema.request_header.v1.header import RequestHeader
from kio.static.primitive import i16, i32
from refka.protocol import codec


class WireClient:
    def __init__(self, bootstrap: str, client_id: str = "wire") -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.client_id = client_id
        self.correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Any) -> None:
        """Send without waiting (a JoinGroup that will only be answered later)."""
        self.correlation_id += 1
        assert not request.__flexible__, "WireClient speaks non-flexible versions only"
        header = RequestHeader(
            request_api_key=i16(request.__api_key__),
            request_api_version=i16(request.__version__),
            correlation_id=i32(self.correlation_id),
            client_id=self.client_id,
        )
        body = codec.encode(header) + codec.encode(request)
        self.sock.sendall(struct.pack(">i", len(body)) + body)

    def receive(self, response_cls: type) -> Any:
        (size,) = struct.unpack(">i", self._read(4))
        frame = self._read(size)
        response, _ = codec.decode(response_cls, frame, 4)  # skip the correlation id
        return response

    def call(self, request: Any) -> Any:
        self.send(request)
        return self.receive(codec.response_class(request.__api_key__, request.__version__))

    def _read(self, n: int) -> bytes:
        chunks = b""
        while len(chunks) < n:
            chunk = self.sock.recv(n - len(chunks))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            chunks += chunk
        return chunks


def request(api_key: int, version: int, **fields: Any) -> Any:
    """A kio request entity of ``api_key`` v``version`` from keyword fields."""
    return codec.build(codec.request_class(api_key, version), **fields)


def nested(api_key: int, version: int, entity: str, **fields: Any) -> Any:
    return codec.build(getattr(codec.request_module(api_key, version), entity), **fields)
