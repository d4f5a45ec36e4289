"""The socket target of ``refka fuzz``: any broker at ``HOST:PORT``, Apache Kafka included.

Each input goes out on a fresh TCP connection; the target then reads until every whole frame
that expects an answer (all but a Produce with acks=0) has one, the broker closes the
connection, or ``timeout_s`` passes; the answers must match the requests (``check_answers``).
A timeout is a ``hang`` unless a request asks to wait longer (``parked``). A broker's internal
errors cannot be seen from outside: a crash shows as a broker that stops answering, which the
canary (``refka.fuzz.canary``) finds between rounds.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid
from typing import Any

from refka.fuzz.canary import Canary, create_topics_request
from refka.fuzz.frames import check_answers, declared_wait_ms, expects_answer, split
from refka.fuzz.target import Outcome
from refka.protocol import codec

MAX_FRAME_BYTES = 100 * 1024 * 1024  # socket.request.max.bytes' default, Kafka's and refka's
API_VERSIONS = 18
_SIZE = struct.Struct(">i")


class SocketTarget:
    def __init__(self, host: str, port: int, timeout_s: float = 5.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._correlation_id = 0
        self._canary = Canary(f"fuzz-canary-{uuid.uuid4().hex[:8]}")
        self.apis = self._api_versions()
        self._call(create_topics_request((self._canary.topic, "fuzz", "fuzz-2")))

    def _api_versions(self) -> list[tuple[int, int, int]]:
        """The broker's ApiVersions ranges, cut to the versions kio can write."""
        request = codec.build(
            codec.request_class(API_VERSIONS, 3),
            client_software_name="refka-fuzz",
            client_software_version="1",
        )
        response = self._call(request)
        apis = []
        for api in response.api_keys:
            versions = [v for v in range(api.min_version, api.max_version + 1) if _known(api, v)]
            if versions:
                apis.append((int(api.api_key), min(versions), max(versions)))
        return apis

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _call(self, request: Any) -> Any:
        self._correlation_id += 1
        frame = codec.request_frame(request, self._correlation_id, "fuzz-canary")
        with self._connect() as sock:
            sock.sendall(_SIZE.pack(len(frame)) + frame)
            answer = _read_frame(sock)
        if answer is None:
            raise ConnectionError(f"no answer to {type(request).__name__}")
        key, version = request.__api_key__, request.__version__
        return codec.decode_response(codec.response_class(key, version), answer)

    def canary(self, value: bytes) -> str | None:
        try:
            return self._canary.check(self._call, value)
        except OSError as error:
            return f"the canary was not served: {error}"

    def send(self, data: bytes) -> Outcome:
        frames, too_large = split(data, MAX_FRAME_BYTES)
        owed = sum(map(expects_answer, frames))
        try:
            sock = self._connect()
        except OSError as error:
            return Outcome("crash", f"cannot connect: {error}")
        with sock:
            try:
                sock.sendall(data)
            except OSError:
                return Outcome("closed", "while sending")
            deadline = time.monotonic() + self.timeout_s
            answers: list[bytes] = []
            closed: str | None = None
            while len(answers) < owed or too_large:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    answer = _read_frame(sock)
                except TimeoutError:
                    break
                except OSError as error:
                    closed = str(error)
                    break
                if answer is None:
                    closed = "by the broker"
                    break
                answers.append(answer)
        problem = check_answers(frames, answers)
        if problem is not None:
            return Outcome("bad-answer", problem)
        if closed is not None:
            return Outcome("closed", closed)
        if len(answers) >= owed and not too_large:
            return Outcome("answered")
        wait_ms = max((declared_wait_ms(f) for f in frames), default=0)
        if wait_ms >= self.timeout_s * 1000:
            return Outcome("parked", f"asks to wait {wait_ms} ms")
        return Outcome("hang", f"{len(answers)} of {owed} answers after {self.timeout_s} s")


def _known(api: Any, version: int) -> bool:
    try:
        codec.request_class(int(api.api_key), version)
    except Exception:
        return False
    return True


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _read_frame(sock: socket.socket) -> bytes | None:
    head = _read_exactly(sock, 4)
    if head is None:
        return None
    return _read_exactly(sock, _SIZE.unpack(head)[0])
