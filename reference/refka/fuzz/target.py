"""The in-process target: a combined node (controller and broker cores) on the in-process
router, a fake clock, and the checks the fuzzer makes after each input.

Each input arrives on a fresh client connection, through the same ``FrameDecoder`` the asyncio
driver uses, then the connection is dropped. The verdict (``Outcome``):

- ``crash``: an exception escaped a core, a core closed a connection with "internal error"
  (``Dispatcher._handle`` caught a handler's exception: a crash path by refka's rules), or a
  core halted;
- ``hang``: a request neither answered nor its connection closed after ``HANG_MS`` of fake
  time, unless the request itself asks to wait longer (a Fetch's ``max_wait_ms``, a
  JoinGroup's rebalance timeout): those are ``parked``;
- ``bad-answer``: an answer out of order, with the wrong correlation id, or that does not
  decode as the API's response;
- otherwise ``answered`` or ``closed`` (Kafka's two answers to bad input).

``canary`` produces a record (acks=all) and reads everything back; ``reopen`` shuts the node
down and starts a new one on the same storage (log recovery), for the final comparison.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from typing import Any

from refka.config import BrokerConfig
from refka.core.effects import Close, Effect, FileSlice, Halt, Send
from refka.core.network_client import NodeAddress
from refka.fuzz.canary import Canary, create_topics_request
from refka.fuzz.frames import check_answers, declared_wait_ms, split
from refka.fuzz.schema import NAMES
from refka.log.storage import Storage
from refka.node import make_broker, make_controller
from refka.protocol import codec
from refka.sim.router import Router

START_MS = 1_700_000_000_000
BROKER, CONTROLLER = 1, 1_000
HANG_MS = 40_000  # past request.timeout.ms (30 s): every bounded wait is over by then
CANARY_CONNECTION = 999_999
FUZZ_CONNECTIONS = 100_000
CANARY_TOPIC = "canary-7f3a"  # not in schema.NAMES: fuzzed requests do not pick it
INTERNAL_ERROR = "internal error"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: str  # answered, closed, parked, crash, hang, bad-answer
    detail: str = ""


class _Recorder:
    """Wraps a core for the router; keeps what it says to clients and every exception."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.effects: list[Effect] = []

    def _keep(self, effects: list[Effect]) -> list[Effect]:
        self.effects += [e for e in effects if isinstance(e, Send | Close | Halt)]
        return effects

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.core, name)
        if not name.startswith("on_"):
            return call
        return lambda *args, **kwargs: self._keep(call(*args, **kwargs))


class _Traces(logging.Handler):
    """Collects the tracebacks a dispatcher logs for the handler exceptions it catches."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@dataclass
class InProcessTarget:
    """A combined node on ``storage`` (a temp dir's ``FileStorage`` in ``refka fuzz``)."""

    storage: Storage
    seed: int = 1
    configs: dict[str, str] = field(default_factory=dict)
    controller_listener: bool = False  # fuzz the controller core's listener, not the broker's
    connections: int = 0

    def __post_init__(self) -> None:
        self.traces = _Traces()
        logging.getLogger("refka").addHandler(self.traces)
        self.router = Router(START_MS)
        self._canary = Canary(CANARY_TOPIC)
        self._start(START_MS)
        self._call(create_topics_request((CANARY_TOPIC, *NAMES[:2])))

    def _start(self, now_ms: int) -> None:
        config = BrokerConfig.model_validate(
            {"log.dirs": "data", "auto.create.topics.enable": "true", **self.configs}
        )
        self.config = config
        self.controller = _Recorder(make_controller(config, self.storage, now_ms, self.seed))
        address = NodeAddress(CONTROLLER, "controller", 0)
        broker = make_broker(config, self.storage, now_ms, self.seed + 1, controller=address)
        self.broker = _Recorder(broker)
        self.router.add_node(CONTROLLER, self.controller, self._read)
        self.router.add_node(BROKER, self.broker, self._read)
        self.router.tick(CONTROLLER)
        self.router.tick(BROKER)
        for _ in range(200):
            if broker.ready:
                return
            self.router.advance(100)
        raise RuntimeError("the broker did not register and catch up")

    def _read(self, piece: FileSlice) -> bytes:
        return self.storage.read(piece.path, piece.position, piece.size)

    @property
    def _fuzzed(self) -> tuple[int, Any]:
        """The node id the inputs go to, and its dispatcher."""
        if self.controller_listener:
            return CONTROLLER, self.controller.core.dispatcher
        return BROKER, self.broker.core.dispatch

    @property
    def apis(self) -> list[tuple[int, int, int]]:
        """The APIs the fuzzed core serves, as ApiVersions lists them: (key, min, max)."""
        apis = self._fuzzed[1].apis.values()
        return sorted((a.key, a.min_version, a.max_version) for a in apis)

    # ------------------------------------------------------------------ inputs

    def send(self, data: bytes) -> Outcome:
        """Write ``data`` on a fresh connection, wait for every answer, drop the connection."""
        self.connections += 1
        connection_id = 1 + self.connections % FUZZ_CONNECTIONS
        self.router.timeline.clear()
        self._take()
        frames, _ = split(data, self.config.socket_request_max_bytes)  # then a driver closes
        try:
            for frame in frames:
                self.router.client_request(self._fuzzed[0], connection_id, frame)
                if self._closed(connection_id):
                    break
            outcome = self._settle(connection_id, frames)
        except Exception:
            return Outcome("crash", traceback.format_exc())
        self._drop(connection_id)
        return outcome

    def _settle(self, connection_id: int, frames: list[bytes]) -> Outcome:
        deadline_ms = self.router.now_ms + HANG_MS
        while self._pending(connection_id):
            wakeup = self.router.next_wakeup_ms()
            if wakeup is None or wakeup > deadline_ms:
                break
            self.router.advance(max(wakeup - self.router.now_ms, 1))
        self.router.advance(1)
        effects = self._take()
        crash = self._crash(effects)
        if crash is not None:
            return crash
        if self._pending(connection_id):
            wait_ms = max((declared_wait_ms(f) for f in frames), default=0)
            if wait_ms >= HANG_MS:
                return Outcome("parked", f"asks to wait {wait_ms} ms")
            return Outcome("hang", f"no answer after {HANG_MS} ms")
        answers = self.router.client_frames.get((self._fuzzed[0], connection_id), [])
        problem = check_answers(frames, answers)
        if problem is not None:
            return Outcome("bad-answer", problem)
        closes = [e for e in effects if isinstance(e, Close) and e.connection_id == connection_id]
        return Outcome("closed", closes[0].reason) if closes else Outcome("answered")

    def _crash(self, effects: list[Effect]) -> Outcome | None:
        halts = [e for e in effects if isinstance(e, Halt)]
        internal = [e for e in effects if isinstance(e, Close) and INTERNAL_ERROR in e.reason]
        traces, self.traces.texts = self.traces.texts, []
        if halts:
            return Outcome("crash", f"halt: {halts[0].reason}")
        if internal:
            return Outcome("crash", "\n".join([internal[0].reason, *traces]))
        return None

    def _take(self) -> list[Effect]:
        effects = self.broker.effects + self.controller.effects
        self.broker.effects, self.controller.effects = [], []
        return effects

    def _pending(self, connection_id: int) -> bool:
        queue = self._fuzzed[1].queues.get(connection_id)
        return queue is not None and any(not slot.ready for slot in queue.slots)

    def _closed(self, connection_id: int) -> bool:
        return connection_id not in self.router.nodes[self._fuzzed[0]].clients

    def _drop(self, connection_id: int) -> None:
        node = self.router.nodes[self._fuzzed[0]]
        self.router.client_frames.pop((node.node_id, connection_id), None)  # not read: kept
        if connection_id in node.clients:
            node.clients.discard(connection_id)
            self.router.client_step(
                node.node_id, lambda now: node.core.on_disconnect(connection_id, now)
            )

    # ------------------------------------------------------------- the canary

    def _call(self, request: Any) -> Any:
        """One request on the canary's connection; its decoded response."""
        frame = codec.request_frame(request, 1, "canary")
        self.router.client_request(BROKER, CANARY_CONNECTION, frame)
        for _ in range(100):
            answers = self.router.client_frames.pop((BROKER, CANARY_CONNECTION), [])
            if answers:
                response_class = codec.response_class(request.__api_key__, request.__version__)
                return codec.decode_response(response_class, answers[0])
            self.router.advance(100)
        raise AssertionError(f"the canary got no answer to {type(request).__name__}")

    def canary(self, value: bytes) -> str | None:
        return self._canary.check(self._call, value)

    def read_canary(self) -> list[bytes]:
        return self._canary.read(self._call)

    @property
    def acknowledged(self) -> list[bytes]:
        return self._canary.acknowledged

    def reopen(self) -> None:
        """Shut both cores down and start a new node on the same storage (log recovery)."""
        now_ms = self.router.now_ms
        self.broker.core.shutdown(now_ms)
        self.controller.core.shutdown(now_ms)
        self.router = Router(now_ms + 1_000)
        self._start(self.router.now_ms)

    def close(self) -> None:
        logging.getLogger("refka").removeHandler(self.traces)
        self.broker.core.shutdown(self.router.now_ms)
        self.controller.core.shutdown(self.router.now_ms)
