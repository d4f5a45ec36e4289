"""A driver for refka's core in one process: a fake clock, ``MemoryStorage``, no sockets.

It feeds ``Broker.on_request`` and ``on_tick`` and decodes the ``Send`` effects' bytes with kio,
exactly as a client would read them off a socket.
"""

from __future__ import annotations

import datetime
from typing import Any

from refka.config import BrokerConfig
from refka.core.broker import Broker
from refka.core.effects import Close, Effect, FileSlice, Send
from refka.log.storage import MemoryStorage

from conformance.wire import decode_response, encode_request, frame

START_MS = 1_700_000_000_000


def ms(value: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=value)


class Driver:
    """A driver with a fake clock: it feeds the core and keeps what it asked for."""

    def __init__(self, seed: int = 7) -> None:
        self.now_ms = START_MS
        self.storage = MemoryStorage()
        config = BrokerConfig.model_validate({"log.dirs": "data"})
        self.broker = Broker(config, self.storage, self.now_ms, seed)
        self.correlation_id = 0
        self.timeline: list[Effect] = []

    def request(self, connection_id: int, request: Any) -> list[Effect]:
        self.correlation_id += 1
        payload = encode_request(request, self.correlation_id)
        return self.record(self.broker.on_request(connection_id, payload, self.now_ms))

    def tick(self, advance_ms: int) -> list[Effect]:
        self.now_ms += advance_ms
        return self.record(self.broker.on_tick(self.now_ms))

    def record(self, effects: list[Effect]) -> list[Effect]:
        assert not [e for e in effects if isinstance(e, Close)], effects
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
