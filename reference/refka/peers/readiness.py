"""Is a Kafka-protocol broker ready? Ask it, with kio entities over a plain socket.

A peer is ready when ApiVersions v0 answers without error and Metadata v1 lists at least one
broker (Apache Kafka answers ApiVersions a moment before its broker registers with the
controller; a client that connects in that gap gets no brokers and no leaders).
"""

from __future__ import annotations

import io
import socket
import struct
import time
from typing import Any

from kio.schema.api_versions.v0.request import ApiVersionsRequest
from kio.schema.api_versions.v0.response import ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v1.request import MetadataRequest
from kio.schema.metadata.v1.response import MetadataResponse
from kio.schema.request_header.v1.header import RequestHeader
from kio.schema.response_header.v0.header import ResponseHeader
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_frame(request: Any, client_id: str, correlation_id: int = 7) -> bytes:
    """`request` size-prefixed, after a v1 request header (non-flexible versions only)."""
    body = io.BytesIO()
    header = RequestHeader(
        request_api_key=request.__api_key__,
        request_api_version=request.__version__,
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    entity_writer(RequestHeader)(body, header)
    entity_writer(type(request))(body, request)
    return struct.pack(">i", body.tell()) + body.getvalue()


def recv_exact(sock: socket.socket, size: int) -> bytes:
    """Exactly `size` bytes; ConnectionError if the broker closes first."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def read_response(sock: socket.socket, response_type: type[Any]) -> Any:
    """One size-prefixed response (v0 response header) decoded as `response_type`."""
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    payload = recv_exact(sock, size)
    _, offset = entity_reader(ResponseHeader)(payload, 0)
    response, _ = entity_reader(response_type)(payload, offset)
    return response


def _exchange(sock: socket.socket, request: Any, response_type: type[Any]) -> Any:
    sock.sendall(request_frame(request, "refka-peer-probe"))
    return read_response(sock, response_type)


def is_ready(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """One probe: ApiVersions answers and Metadata lists a broker."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            versions = _exchange(sock, ApiVersionsRequest(), ApiVersionsResponse)
            if versions.error_code != ErrorCode.none:
                return False
            metadata = _exchange(sock, MetadataRequest(topics=()), MetadataResponse)
            return len(metadata.brokers) > 0
    except (OSError, ConnectionError, ValueError):
        return False


def wait_ready(host: str, port: int, deadline_s: float, alive: Any = None) -> None:
    """Poll `is_ready` until it holds; raise TimeoutError at the deadline.

    `alive`, when given, is called between probes; it raises if the peer process died.
    """
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if alive is not None:
            alive()
        if is_ready(host, port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"no Kafka-protocol broker answered on {host}:{port} in {deadline_s}s")
