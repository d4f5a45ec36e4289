"""Outbound requests over real sockets: a core asks another node through the asyncio driver.

The probe core owns a ``NetworkClient``. A test tells it (with an ``ASK <node> <port>`` frame
on its own listener) to send ApiVersions to a node; the driver opens the connection, and the
decoded answer comes back through ``on_response``, or ``on_unreachable`` when nobody listens.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.errors import ErrorCode
from refka.broker.meta_properties import format_directory
from refka.config import BrokerConfig
from refka.core.broker import Broker
from refka.core.effects import Effect, Send
from refka.core.network_client import ClientResponse, NetworkClient, NodeAddress
from refka.core.seeded import SeededRandom
from refka.log.storage import FileStorage
from refka.server.driver import Core, NodeServer, now_ms
from refka.server.files import SegmentFiles
from refka.testing import running_broker

DEADLINE_S = 15.0
MAX_FRAME_BYTES = 1 << 20


class ProbeCore:
    """A core that sends ApiVersions to a node when told to, and keeps what became of it."""

    def __init__(self, request_timeout_ms: int = 30_000) -> None:
        self.network = NetworkClient("probe", request_timeout_ms, 50, 1_000)
        self.completed: list[ClientResponse] = []
        self.unreachable: list[int] = []

    def on_connect(
        self, connection_id: int, now_ms: int, listener: str = "", client_host: str = ""
    ) -> list[Effect]:
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        word, node_id, port = bytes(frame).split()
        assert word == b"ASK"
        node = NodeAddress(int(node_id), "127.0.0.1", int(port))
        request = ApiVersionsRequest(client_software_name="probe", client_software_version="1")
        sent = self.network.send(node, request, now_ms, self.completed.append)
        return [Send(connection_id, (_frame(b"SENT" if sent else b"BACKOFF"),)), *self._effects()]

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        self.network.on_response(node_id, frame, now_ms)
        return self._effects()

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        self.unreachable.append(node_id)
        self.network.on_unreachable(node_id, now_ms)
        return self._effects()

    def on_tick(self, now_ms: int) -> list[Effect]:
        self.network.on_tick(now_ms)
        return self._effects()

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        return []

    def shutdown(self, now_ms: int) -> None:
        pass

    def _effects(self) -> list[Effect]:
        from refka.core.effects import Wakeup

        effects: list[Effect] = list(self.network.drain())
        deadline = self.network.next_deadline_ms()
        return effects + ([Wakeup(deadline)] if deadline is not None else [])


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


class Loop:
    """An event loop in a background thread, running a NodeServer."""

    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = NodeServer(SegmentFiles(lambda path: str(root / path)), MAX_FRAME_BYTES)

    def call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(DEADLINE_S)  # type: ignore[arg-type]

    def listen(self, core: Core | None) -> int:
        listener = self.call(self.server.add_listener("127.0.0.1", 0, core))
        return listener.port  # type: ignore[attr-defined, no-any-return]

    def stop(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE_S)
        self.loop.close()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    running = Loop(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def ask(port: int, node_id: int, target_port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
        sock.sendall(_frame(b"ASK %d %d" % (node_id, target_port)))
        (size,) = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))
        return sock.recv(size, socket.MSG_WAITALL)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_core_asks_a_refka_broker_process_and_gets_the_decoded_answer(loop: Loop) -> None:
    probe = ProbeCore()
    port = loop.listen(probe)
    loop.call(loop.server.start_serving())
    with running_broker() as broker:
        assert ask(port, 7, broker.port) == b"SENT"
        wait_until(lambda: len(probe.completed) == 1, "the ApiVersions answer")
        connection = loop.server.runners[0].outbound[(7, "")]
        assert ask(port, 7, broker.port) == b"SENT"
        wait_until(lambda: len(probe.completed) == 2, "the second answer")
        assert loop.server.runners[0].outbound == {(7, ""): connection}  # opened once, reused
        assert probe.unreachable == []
    wait_until(lambda: probe.unreachable == [7], "the broker's exit reported")  # EOF
    first, second = probe.completed
    assert (first.node_id, first.api_key, first.disconnected) == (7, 18, False)
    assert first.response is not None and first.response.error_code == ErrorCode.none
    assert 1 in {int(k.api_key) for k in first.response.api_keys}  # Fetch
    assert second.response == first.response


def test_an_unreachable_node_is_reported_and_its_request_fails(loop: Loop) -> None:
    probe = ProbeCore()
    port = loop.listen(probe)
    loop.call(loop.server.start_serving())
    assert ask(port, 9, free_port()) == b"SENT"
    wait_until(lambda: len(probe.completed) == 1, "the failed request")
    assert probe.unreachable == [9]
    [failed] = probe.completed
    assert (failed.node_id, failed.response, failed.disconnected) == (9, None, True)
    assert ask(port, 9, free_port()) == b"BACKOFF"  # reconnect.backoff.ms


def test_a_timed_out_request_drops_the_connection(loop: Loop) -> None:
    probe = ProbeCore(request_timeout_ms=200)
    port = loop.listen(probe)
    loop.call(loop.server.start_serving())
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started_ms = now_ms()
        assert ask(port, 4, silent.getsockname()[1]) == b"SENT"
        peer, _ = silent.accept()
        with peer:
            peer.settimeout(DEADLINE_S)
            (size,) = struct.unpack(">i", peer.recv(4, socket.MSG_WAITALL))
            assert len(peer.recv(size, socket.MSG_WAITALL)) == size  # the request arrived
            assert peer.recv(1) == b""  # then the driver dropped the connection
    wait_until(lambda: len(probe.completed) == 1, "the timed-out request")
    [failed] = probe.completed
    assert (failed.disconnected, failed.timed_out) == (True, True)
    assert now_ms() - started_ms >= 200
    assert probe.unreachable == []  # the core asked for it: not reported back


def test_two_listeners_two_cores_in_one_process(loop: Loop, tmp_path: Path) -> None:
    """A broker core on one listener, a probe core on another; the probe asks the broker."""
    probe = ProbeCore()
    probe_port = loop.listen(probe)
    broker_port = loop.listen(None)
    config = BrokerConfig.model_validate(
        {
            "log.dirs": str(tmp_path / "data"),
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.quorum.voters": "9@127.0.0.1:1",  # no controller: the broker stays fenced
        }
    )
    storage = FileStorage(str(tmp_path / "data"))
    format_directory(storage, 1, SeededRandom(1))
    broker = Broker(config, storage, now_ms(), seed=1)
    loop.server.listeners[1].core = broker
    loop.call(loop.server.start_serving())
    assert len(loop.server.runners) == 2
    assert ask(probe_port, 1, broker_port) == b"SENT"
    wait_until(lambda: len(probe.completed) == 1, "the broker core's answer")
    [answer] = probe.completed
    assert answer.response is not None and answer.response.error_code == ErrorCode.none
