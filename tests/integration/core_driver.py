"""A driver for refka's cores in one process: a fake clock, ``MemoryStorage``, no sockets.

It feeds ``Broker.on_request`` and ``on_tick`` and decodes the ``Send`` effects' bytes with kio,
exactly as a client would read them off a socket.
"""

from __future__ import annotations

import datetime
from typing import Any

from refka.config import BrokerConfig
from refka.core.effects import Close, Effect, FileSlice, Send
from refka.core.network_client import NodeAddress
from refka.log.storage import MemoryStorage
from refka.node import make_broker, make_controller
from refka.sim.router import LINK_CONNECTION_ID_BASE, Router

from conformance.wire import decode_response, encode_request, frame

START_MS = 1_700_000_000_000
BROKER = 1
CONTROLLER = 1_000  # the combined node's controller core, as the router addresses it


def ms(value: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=value)


class Recorder:
    """Wraps a core for the router and keeps the effects it returns for client connections."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.effects: list[Effect] = []

    def _keep(self, effects: list[Effect]) -> list[Effect]:
        self.effects += [
            e
            for e in effects
            if isinstance(e, Send | Close) and e.connection_id < LINK_CONNECTION_ID_BASE
        ]
        return effects

    def on_connect(
        self, connection_id: int, now_ms: int, listener: str = "", client_host: str = ""
    ) -> list[Effect]:
        return self._keep(self.core.on_connect(connection_id, now_ms))

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        return self._keep(self.core.on_disconnect(connection_id, now_ms))

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        return self._keep(self.core.on_request(connection_id, frame, now_ms))

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        return self._keep(self.core.on_response(node_id, frame, now_ms, channel))

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        return self._keep(self.core.on_unreachable(node_id, now_ms, channel))

    def on_tick(self, now_ms: int) -> list[Effect]:
        return self._keep(self.core.on_tick(now_ms))

    def shutdown(self, now_ms: int) -> None:
        self.core.shutdown(now_ms)


class Driver:
    """A combined node (controller and broker cores on one storage) on the in-process router,
    with a fake clock; the test is the broker's client."""

    def __init__(self, seed: int = 7, **configs: str) -> None:
        self.storage = MemoryStorage()
        config = BrokerConfig.model_validate({"log.dirs": "data", **configs})
        self.router = Router(START_MS)
        controller = make_controller(config, self.storage, START_MS, seed)
        address = NodeAddress(CONTROLLER, "controller", 0)
        self.broker = make_broker(config, self.storage, START_MS, seed + 1, controller=address)
        self.recorder = Recorder(self.broker)
        read = self.read_slice
        self.router.add_node(CONTROLLER, controller, read)
        self.router.add_node(BROKER, self.recorder, read)
        self.router.tick(CONTROLLER)
        self.router.tick(BROKER)
        for _ in range(100):
            if self.broker.ready:
                break
            self.router.advance(100)
        assert self.broker.ready, "the broker did not register and catch up"
        self.correlation_id = 0
        self.timeline: list[Effect] = []

    @property
    def now_ms(self) -> int:
        return self.router.now_ms

    def read_slice(self, piece: FileSlice) -> bytes:
        return self.storage.read(piece.path, piece.position, piece.size)

    def request(self, connection_id: int, request: Any, allow_close: bool = False) -> list[Effect]:
        self.correlation_id += 1
        payload = encode_request(request, self.correlation_id)
        self.router.client_request(BROKER, connection_id, payload)
        return self.record(allow_close)

    def tick(self, advance_ms: int, allow_close: bool = False) -> list[Effect]:
        self.router.advance(advance_ms)
        return self.record(allow_close)

    def record(self, allow_close: bool = False) -> list[Effect]:
        effects, self.recorder.effects = self.recorder.effects, []
        assert allow_close or not [e for e in effects if isinstance(e, Close)], effects
        self.timeline += effects
        return effects

    def frame_bytes(self, send: Send) -> bytes:
        """The bytes a socket driver would write: file slices read through the storage."""
        return b"".join(
            self.storage.read(c.path, c.position, c.size) if isinstance(c, FileSlice) else c
            for c in send.chunks
        )

    def answers(
        self, effects: list[Effect], connection_id: int, response_type: type[Any]
    ) -> list[Any]:
        """Decode every Send to ``connection_id`` as ``response_type``."""
        decoded = []
        for effect in effects:
            if isinstance(effect, Send) and effect.connection_id == connection_id:
                data = self.frame_bytes(effect)
                assert data == frame(data[4:]), "the size prefix disagrees with the frame"
                assert len(data) == effect.size
                response, unread = decode_response(data[4:], response_type)
                assert unread == 0, f"{unread} trailing bytes"
                decoded.append(response)
        return decoded

    def call(self, connection_id: int, request: Any, response_type: type[Any]) -> Any:
        [response] = self.answers(
            self.request(connection_id, request), connection_id, response_type
        )
        return response
