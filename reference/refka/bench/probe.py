"""The start-time probe: a Metadata v1 request over a raw socket, retried every few
milliseconds until a broker answers with itself in the broker list.

A raw socket rather than a client: no client start-up or back-off sits between the broker
becoming ready and the probe seeing it. The framing is `refka.peers.readiness`'s.
"""

from __future__ import annotations

import socket
import subprocess
import time

from kio.schema.metadata.v1.request import MetadataRequest
from kio.schema.metadata.v1.response import MetadataResponse

from refka.peers.readiness import read_response, request_frame

POLL_INTERVAL_S = 0.002


def metadata_frame() -> bytes:
    """A length-prefixed Metadata v1 request for no topics."""
    return request_frame(MetadataRequest(topics=()), client_id="refka-bench")


def metadata_answers(host: str, port: int, frame: bytes) -> bool:
    """One attempt: True when Metadata answers and lists at least one broker."""
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(frame)
            response = read_response(sock, MetadataResponse)
    except Exception:  # refused, closed, or a half-started broker's odd answer: keep polling
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
