"""Connection limits and hostile peers over real sockets (issue 13): over
``max.connections.per.ip`` a connection is closed, at ``max.connections`` it waits for a slot;
``connections.max.idle.ms`` closes idle connections and those whose request frame stays
unfinished; ``queued.max.request.bytes`` stops reading while the bytes of requests being
received are over the limit."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from refka.testing import InProcessBroker, in_process_broker

DEADLINE_S = 10.0
WAIT_WATCH_S = 0.5
API_VERSIONS = struct.pack(">hhih", 18, 0, 7, -1)  # ApiVersions v0, correlation id 7


def connect(broker: InProcessBroker) -> socket.socket:
    return socket.create_connection((broker.host, broker.port), timeout=DEADLINE_S)


def api_versions(sock: socket.socket) -> int:
    """Send ApiVersions v0 and read the answer's correlation id."""
    sock.sendall(struct.pack(">i", len(API_VERSIONS)) + API_VERSIONS)
    return read_response(sock)


def read_response(sock: socket.socket) -> int:
    head = recv_exactly(sock, 8)
    size, correlation_id = struct.unpack(">ii", head)
    recv_exactly(sock, size - 4)
    return correlation_id


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


def closed_by_broker(sock: socket.socket, timeout_s: float = DEADLINE_S) -> bool:
    """Whether the broker closes ``sock`` within ``timeout_s`` (reading whatever comes)."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.mark.parametrize(
    "configs",
    [{"max.connections.per.ip": 2}, {"max.connections.per.ip.overrides": "127.0.0.1:2"}],
    ids=["per-ip", "per-ip-override"],
)
def test_connection_over_the_address_limit_is_closed(
    tmp_path: Path, sockets: ExitStack, configs: dict[str, object]
) -> None:
    with in_process_broker(tmp_path, config=configs) as broker:
        first, second = (sockets.enter_context(connect(broker)) for _ in range(2))
        third = sockets.enter_context(connect(broker))
        assert closed_by_broker(third)
        assert api_versions(first) == 7 and api_versions(second) == 7
        first.close()
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:  # the slot frees once the broker saw the close
            fourth = sockets.enter_context(connect(broker))
            try:
                assert api_versions(fourth) == 7
                break
            except ConnectionError:
                continue
        else:
            pytest.fail("no connection admitted after one closed")


@pytest.mark.parametrize(
    "configs",
    [{"max.connections": 2}, {"listener.name.plaintext.max.connections": 2}],
    ids=["broker-wide", "per-listener"],
)
def test_connection_at_the_broker_limit_waits_for_a_slot(
    tmp_path: Path, sockets: ExitStack, configs: dict[str, object]
) -> None:
    """Kafka's acceptor stops accepting at ``max.connections``: the new connection waits,
    unanswered, and is served once a connection ends."""
    with in_process_broker(tmp_path, config=configs) as broker:
        first, second = (sockets.enter_context(connect(broker)) for _ in range(2))
        assert api_versions(first) == 7 and api_versions(second) == 7
        third = sockets.enter_context(connect(broker))
        third.sendall(struct.pack(">i", len(API_VERSIONS)) + API_VERSIONS)
        third.settimeout(WAIT_WATCH_S)
        with pytest.raises(TimeoutError):
            third.recv(1)  # neither answered nor closed
        first.close()
        third.settimeout(DEADLINE_S)
        assert read_response(third) == 7  # its request, read once it has the slot
        assert api_versions(second) == 7


def test_a_connection_waiting_for_a_slot_is_closed_at_shutdown(
    tmp_path: Path, sockets: ExitStack
) -> None:
    with in_process_broker(tmp_path, config={"max.connections": 1}) as broker:
        first = sockets.enter_context(connect(broker))
        assert api_versions(first) == 7
        waiting = sockets.enter_context(connect(broker))
    assert closed_by_broker(waiting)


def test_idle_connection_is_closed(tmp_path: Path, sockets: ExitStack) -> None:
    with in_process_broker(tmp_path, connections_max_idle_ms=300) as broker:
        idle = sockets.enter_context(connect(broker))
        assert api_versions(idle) == 7
        began = time.monotonic()
        assert closed_by_broker(idle)
        assert time.monotonic() - began >= 0.25


def test_unfinished_frame_is_closed_though_bytes_trickle(
    tmp_path: Path, sockets: ExitStack
) -> None:
    """A peer that opens a frame and feeds it a byte at a time is never idle, yet closed."""
    with in_process_broker(tmp_path, connections_max_idle_ms=400) as broker:
        slow = sockets.enter_context(connect(broker))
        busy = sockets.enter_context(connect(broker))
        slow.sendall(struct.pack(">i", 1000) + b"\x00" * 10)
        slow.settimeout(0.1)
        deadline = time.monotonic() + DEADLINE_S
        closed = False
        while time.monotonic() < deadline and not closed:
            assert api_versions(busy) == 7  # a well-behaved client stays served
            try:
                slow.sendall(b"\x00")
                closed = slow.recv(1) == b""
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
        assert closed
        assert "a request unfinished for 400 ms" in broker.log_text()


def test_queued_max_request_bytes_stops_reading_until_memory_is_released(
    tmp_path: Path, sockets: ExitStack
) -> None:
    with in_process_broker(tmp_path, queued_max_request_bytes=10_000) as broker:
        big = sockets.enter_context(connect(broker))
        small = sockets.enter_context(connect(broker))
        frame = struct.pack(">hhih", 18, 0, 9, -1) + b"\x00" * 49_992  # a 50 kB ApiVersions
        big.sendall(struct.pack(">i", len(frame)) + frame[:1000])  # reserves 50 kB
        small.sendall(struct.pack(">i", len(API_VERSIONS)) + API_VERSIONS)
        small.settimeout(0.5)
        with pytest.raises(TimeoutError):  # not read: the pool is spent
            small.recv(1)
        big.sendall(frame[1000:])  # the big frame completes, is answered, its memory freed
        assert read_response(big) == 9
        small.settimeout(DEADLINE_S)
        assert read_response(small) == 7


def fetch_frame(topic: str, correlation_id: int) -> bytes:
    """A long-poll Fetch v11 of an empty partition: it waits ``max_wait`` for data."""
    from kio.schema.fetch.v11.request import FetchPartition, FetchRequest, FetchTopic
    from kio.schema.types import TopicName
    from kio.static.primitive import i32, i32Timedelta, i64
    from refka.protocol.codec import request_frame

    partition = FetchPartition(partition=i32(0), fetch_offset=i64(0), partition_max_bytes=i32(1024))
    request = FetchRequest(
        max_wait=i32Timedelta.parse(timedelta(seconds=1)),
        min_bytes=i32(1),
        topics=(FetchTopic(topic=TopicName(topic), partitions=(partition,)),),
        forgotten_topics_data=(),
    )
    payload = request_frame(request, correlation_id, "pipeliner")
    return struct.pack(">i", len(payload)) + payload


def test_queued_max_requests_stops_reading_a_pipelining_connection(
    tmp_path: Path, sockets: ExitStack
) -> None:
    """With one request allowed in flight, two pipelined long-poll Fetches are read one after
    the other (each waits its ``max_wait`` of 1 s), and the invalid size prefix behind them
    (which closes the connection) only once both are answered."""
    with in_process_broker(tmp_path, queued_max_requests=1) as broker:
        broker.create_topic("empty")
        pipeliner = sockets.enter_context(connect(broker))
        began = time.monotonic()
        pipeliner.sendall(fetch_frame("empty", 1) + fetch_frame("empty", 2) + b"\xff" * 4)
        assert [read_response(pipeliner), read_response(pipeliner)] == [1, 2]
        assert time.monotonic() - began >= 1.9  # one after the other
        assert closed_by_broker(pipeliner)
