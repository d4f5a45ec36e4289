"""The asyncio driver over real sockets, around a small fake core.

The fake core answers each frame by its first word:
``ECHO ...`` -> the frame back; ``FILE path pos size`` -> b"<" + the file slice + b">"
(sendfile); ``TO id ...`` -> the frame to connection ``id``; ``WAKE ms`` -> a Wakeup in ``ms``,
whose tick answers ``TICK``; ``CLOSE`` -> a Close.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from refka.core.effects import Close, Effect, FileSlice, Send, Wakeup
from refka.server.driver import BrokerServer, address_family, now_ms
from refka.server.files import SegmentFiles

MAX_FRAME_BYTES = 1 << 20
DEADLINE_S = 10.0


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


class FakeCore:
    """An echo core that records what the driver told it."""

    def __init__(self) -> None:
        self.connected: list[int] = []
        self.disconnected: list[int] = []
        self.ticks: list[tuple[int, int]] = []  # (now_ms, wakeup at_ms)
        self.wake_requests: dict[int, int] = {}  # at_ms -> connection id
        self.shut_down = False

    def on_connect(
        self, connection_id: int, now_ms: int, listener: str = "", client_host: str = ""
    ) -> list[Effect]:
        self.connected.append(connection_id)
        return []

    def on_request(self, connection_id: int, payload: bytes, now_ms: int) -> list[Effect]:
        word, _, rest = payload.partition(b" ")
        if word == b"FILE":
            path, position, size = rest.split()
            piece = FileSlice(path.decode(), int(position), int(size))
            head = struct.pack(">i", 2 + piece.size) + b"<"
            return [Send(connection_id, (head, piece, b">"))]
        if word == b"TO":
            target, _, _ = rest.partition(b" ")
            return [Send(int(target), (frame(payload),))]
        if word == b"WAKE":
            at_ms = now_ms + int(rest)
            self.wake_requests[at_ms] = connection_id
            return [Wakeup(at_ms + 60_000), Wakeup(at_ms)]  # the earliest one wins
        if word == b"CLOSE":
            return [Close(connection_id, "asked to")]
        return [Send(connection_id, (struct.pack(">i", len(payload)), payload))]

    def on_tick(self, now_ms: int) -> list[Effect]:
        due = sorted(at for at in self.wake_requests if at <= now_ms)
        self.ticks.extend((now_ms, at) for at in due)
        return [Send(self.wake_requests.pop(at), (frame(b"TICK"),)) for at in due]

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.disconnected.append(connection_id)
        return []

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        raise AssertionError("this core sends no requests")

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        raise AssertionError("this core sends no requests")

    def shutdown(self, now_ms: int) -> None:
        self.shut_down = True


class Running:
    """A BrokerServer on an event loop in a background thread."""

    def __init__(self, root: Path, connections_max_idle_ms: int = -1) -> None:
        self.core = FakeCore()
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        files = SegmentFiles(lambda path: str(root / path))
        self.server = BrokerServer(
            self.core, files, MAX_FRAME_BYTES, connections_max_idle_ms=connections_max_idle_ms
        )
        self.host, self.port = self.call(self.server.listen("127.0.0.1", 0))
        self.call(self.server.start_serving())

    def call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(DEADLINE_S)  # type: ignore[arg-type]

    def connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=DEADLINE_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def stop(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE_S)
        self.loop.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def recv_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, size)


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_many_frames_in_one_read_are_answered_in_order(running: Running) -> None:
    with running.connect() as sock:
        payloads = [b"ECHO %d " % i + b"x" * (i % 37) for i in range(300)]
        sock.sendall(b"".join(frame(p) for p in payloads))
        assert [recv_frame(sock) for _ in payloads] == payloads


def test_a_frame_split_across_reads_is_reassembled(running: Running) -> None:
    with running.connect() as sock:
        data = frame(b"ECHO split") + frame(b"ECHO " + bytes(range(256)) * 64)
        for i in range(0, len(data), 7):  # many small writes: the size prefix split too
            sock.sendall(data[i : i + 7])
        assert recv_frame(sock) == b"ECHO split"
        assert recv_frame(sock) == b"ECHO " + bytes(range(256)) * 64


def test_file_slices_are_sent_from_the_file_in_order(running: Running) -> None:
    big = os.urandom(6_000_000)  # more than a socket buffer: partial sendfile, writer task
    (running.root / "seg.log").write_bytes(big)
    with running.connect() as sock:
        sock.sendall(
            frame(b"ECHO before")
            + frame(b"FILE seg.log 3 1000")
            + frame(b"FILE seg.log 10 5999990")
            + frame(b"ECHO after")
        )
        assert recv_frame(sock) == b"ECHO before"
        assert recv_frame(sock) == b"<" + big[3:1003] + b">"
        time.sleep(0.2)  # a slow consumer: the server must wait, not fail or reorder
        assert recv_frame(sock) == b"<" + big[10:] + b">"
        assert recv_frame(sock) == b"ECHO after"


def test_a_slow_reader_does_not_stop_other_connections(running: Running) -> None:
    (running.root / "seg.log").write_bytes(os.urandom(4_000_000))
    with running.connect() as slow, running.connect() as fast:
        slow.sendall(frame(b"FILE seg.log 0 4000000") * 8)  # 32 MB it does not read
        fast.sendall(frame(b"ECHO still here"))
        assert recv_frame(fast) == b"ECHO still here"
        assert len(recv_frame(slow)) == 4_000_002


def test_an_oversized_frame_closes_only_its_connection(running: Running) -> None:
    with running.connect() as bad, running.connect() as good:
        good.sendall(frame(b"ECHO one"))
        assert recv_frame(good) == b"ECHO one"
        bad.sendall(struct.pack(">i", MAX_FRAME_BYTES + 1) + b"ECHO")
        assert bad.recv(1) == b""  # closed by the broker
        good.sendall(frame(b"ECHO two"))
        assert recv_frame(good) == b"ECHO two"
    wait_until(lambda: len(running.core.disconnected) == 2, "both disconnects")


def test_a_negative_size_closes_the_connection(running: Running) -> None:
    with running.connect() as bad:
        bad.sendall(struct.pack(">i", -5))
        assert bad.recv(1) == b""


def test_sends_go_to_the_connection_they_name(running: Running) -> None:
    with running.connect() as first, running.connect() as second:
        wait_until(lambda: len(running.core.connected) == 2, "two connections")
        target = running.core.connected[1]
        first.sendall(frame(b"TO %d hello" % target))
        assert recv_frame(second) == b"TO %d hello" % target


def test_wakeup_calls_on_tick_at_or_after_its_time(running: Running) -> None:
    with running.connect() as sock:
        start_ms = now_ms()
        sock.sendall(frame(b"WAKE 80"))
        assert recv_frame(sock) == b"TICK"
    assert running.core.ticks, "on_tick was not called"
    tick_ms, at_ms = running.core.ticks[0]
    assert tick_ms >= at_ms >= start_ms + 80


def test_close_effect_closes_after_earlier_responses(running: Running) -> None:
    with running.connect() as sock:
        sock.sendall(frame(b"ECHO last words") + frame(b"CLOSE") + frame(b"ECHO never"))
        assert recv_frame(sock) == b"ECHO last words"
        assert sock.recv(1) == b""
    wait_until(lambda: running.core.disconnected, "the disconnect")


def test_close_shuts_the_core_down_and_drops_connections(tmp_path: Path) -> None:
    server = Running(tmp_path)
    try:
        sock = server.connect()
        sock.sendall(frame(b"ECHO hi"))
        assert recv_frame(sock) == b"ECHO hi"
        server.call(server.server.close())
        assert server.core.shut_down
        assert sock.recv(1) == b""
        assert server.core.disconnected == server.core.connected
        sock.close()
    finally:
        server.loop.call_soon_threadsafe(server.loop.stop)
        server.thread.join(DEADLINE_S)
        server.loop.close()


def test_an_idle_connection_is_closed_after_connections_max_idle_ms(tmp_path: Path) -> None:
    server = Running(tmp_path, connections_max_idle_ms=300)
    try:
        with server.connect() as idle, server.connect() as busy:
            started = time.monotonic()
            while time.monotonic() - started < 0.6:  # busy keeps talking
                busy.sendall(frame(b"ECHO ping"))
                assert recv_frame(busy) == b"ECHO ping"
                time.sleep(0.05)  # pacing, well under the idle limit
            assert idle.recv(1) == b""  # closed by the broker
            assert time.monotonic() - started >= 0.3
            busy.sendall(frame(b"ECHO still open"))
            assert recv_frame(busy) == b"ECHO still open"
    finally:
        server.stop()


def test_a_listeners_address_family_comes_from_its_literal_or_the_resolver() -> None:
    assert address_family("127.0.0.1", 0) == socket.AF_INET
    assert address_family("::1", 0) == socket.AF_INET6
    resolved = socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)[0][0]
    assert address_family("localhost", 0) == resolved
