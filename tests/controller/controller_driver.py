"""Drive a QuorumController with encoded request frames and a fake clock (no sockets): its
metadata log is a real ``MetadataLog`` on ``MemoryStorage``."""

from __future__ import annotations

from typing import Any

from refka.controller.quorum_controller import QuorumController
from refka.controller.settings import ControllerSettings
from refka.core.effects import Close, Effect, Send
from refka.log.storage import MemoryStorage
from refka.metadata.metadata_log import MetadataLog
from refka.metadata.records import decode_record
from refka.protocol.records import iter_batch_records

from conformance.wire import decode_response, encode_request

START_MS = 1_700_000_000_000
CLUSTER_ID = "q1VhYm9vbS1jbHVzdGVyMQ"


def decode_metadata(batches: bytes) -> list[tuple[int, Any]]:
    """(offset, record) for every metadata record in ``batches``."""
    return [
        (record.offset, decode_record(record.value or b""))
        for _, records in iter_batch_records(batches)
        for record in records
    ]


class ControllerDriver:
    def __init__(self, seed: int = 7, **settings: Any) -> None:
        self.now_ms = START_MS
        self.settings = ControllerSettings(node_id=3000, cluster_id=CLUSTER_ID, **settings)
        self.storage = MemoryStorage()
        self.log = MetadataLog(self.storage, self.now_ms, CLUSTER_ID)
        image = self.log.load()
        self.controller = QuorumController(self.settings, self.log, image, self.now_ms, seed)
        self.correlation_id = 0
        self.effects: list[Effect] = []

    @property
    def image(self) -> Any:
        return self.controller.image

    def send(self, connection_id: int, request: Any) -> list[Effect]:
        self.correlation_id += 1
        frame = encode_request(request, self.correlation_id)
        return self.record(self.controller.on_request(connection_id, frame, self.now_ms))

    def tick(self, advance_ms: int) -> list[Effect]:
        self.now_ms += advance_ms
        return self.record(self.controller.on_tick(self.now_ms))

    def record(self, effects: list[Effect]) -> list[Effect]:
        assert not [e for e in effects if isinstance(e, Close)], effects
        self.effects += effects
        return effects

    def answers(
        self, effects: list[Effect], connection_id: int, response_type: type[Any]
    ) -> list[Any]:
        out = []
        for effect in effects:
            if isinstance(effect, Send) and effect.connection_id == connection_id:
                data = b"".join(c for c in effect.chunks if isinstance(c, bytes))
                response, unread = decode_response(data[4:], response_type)
                assert unread == 0
                out.append(response)
        return out

    def call(self, connection_id: int, request: Any, response_type: type[Any]) -> Any:
        [response] = self.answers(self.send(connection_id, request), connection_id, response_type)
        return response
