"""The start-time probe: a Metadata v1 request over a raw socket, retried every few
milliseconds until a broker answers with itself in the broker list.

A raw socket rather than a client: no client start-up or back-off sits between the broker
becoming ready and the probe seeing it.
"""

from __future__ import annotations

import io
import socket
import struct
import subprocess
import time

from kio.schema.metadata.v1.request import MetadataRequest
from kio.schema.metadata.v1.response import MetadataResponse
from kio.schema.request_header.v1.header import RequestHeader
from kio.schema.response_header.v0.header import ResponseHeader
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32

POLL_INTERVAL_S = 0.002


def metadata_frame() -> bytes:
    """A length-prefixed Metadata v1 request for no topics."""
    body = io.BytesIO()
    header = RequestHeader(
        request_api_key=MetadataRequest.__api_key__,
        request_api_version=MetadataRequest.__version__,
        correlation_id=i32(1),
        client_id="refka-bench",
    )
    entity_writer(RequestHeader)(body, header)
    entity_writer(MetadataRequest)(body, MetadataRequest(topics=()))
    return struct.pack(">i", body.tell()) + body.getvalue()


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return bytes(data)


def metadata_answers(host: str, port: int, frame: bytes) -> bool:
    """One attempt: True when Metadata answers and lists at least one broker."""
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(frame)
            size = struct.unpack(">i", _recv_exact(sock, 4))[0]
            payload = _recv_exact(sock, size)
    except OSError:
        return False
    try:
        _, offset = entity_reader(ResponseHeader)(payload, 0)
        response, _ = entity_reader(MetadataResponse)(payload, offset)
    except Exception:  # a half-started broker may answer with anything; keep polling
        return False
    return len(response.brokers) > 0


def wait_first_metadata(
    host: str, port: int, process: subprocess.Popen[bytes], deadline_s: float
) -> float:
    """Poll until Metadata answers; return the `time.perf_counter()` of that answer.

    Raises RuntimeError if the process exits and TimeoutError at the deadline.
    """
    frame = metadata_frame()
    end = time.perf_counter() + deadline_s
    while True:
        if metadata_answers(host, port, frame):
            return time.perf_counter()
        if process.poll() is not None:
            raise RuntimeError(f"broker exited with {process.returncode} before it answered")
        if time.perf_counter() > end:
            raise TimeoutError(f"no Metadata answer on {host}:{port} in {deadline_s} s")
        time.sleep(POLL_INTERVAL_S)
