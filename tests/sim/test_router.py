"""The in-process router between two fake cores: an asker (a NetworkClient) and an answerer.

The asker sends ApiVersions requests to node 2 through its ``NetworkClient``; the answerer
answers each request with an ApiVersions v3 response for its correlation id, at once or (when
``hold``) only on its next tick.
"""

from __future__ import annotations

from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.api_versions.v3.response import ApiVersionsResponse
from kio.schema.errors import ErrorCode
from refka.core.effects import Effect, Send, Wakeup
from refka.core.network_client import ClientResponse, NetworkClient, NodeAddress
from refka.protocol import codec, framing
from refka.sim.router import LINK_CONNECTION_ID_BASE, Router

ASKER, ANSWERER = 1, 2
TIMEOUT_MS = 1_000


class Asker:
    def __init__(self) -> None:
        self.network = NetworkClient("asker", TIMEOUT_MS, 50, 1_000)
        self.completed: list[ClientResponse] = []
        self.unreachable: list[int] = []
        self.ticks: list[int] = []

    def ask(self, now_ms: int) -> bool:
        request = ApiVersionsRequest(client_software_name="a", client_software_version="1")
        return self.network.send(
            NodeAddress(ANSWERER, "h", 1), request, now_ms, self.completed.append
        )

    def on_connect(
        self, connection_id: int, now_ms: int, listener: str = "", client_host: str = ""
    ) -> list[Effect]:
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        """A client frame ``ASK`` makes this node ask; it answers the client ``OK``."""
        sent = self.ask(now_ms)
        return [Send(connection_id, (b"\0\0\0\2" + (b"OK" if sent else b"NO"),)), *self._effects()]

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
        self.ticks.append(now_ms)
        self.network.on_tick(now_ms)
        return self._effects()

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        return []

    def shutdown(self, now_ms: int) -> None:
        pass

    def _effects(self) -> list[Effect]:
        effects: list[Effect] = list(self.network.drain())
        deadline = self.network.next_deadline_ms()
        return effects + ([Wakeup(deadline)] if deadline is not None else [])


class Answerer:
    def __init__(self, hold_ms: int | None = None) -> None:
        self.hold_ms = hold_ms
        self.held: list[tuple[int, int]] = []  # (connection id, correlation id)
        self.connected: list[int] = []
        self.disconnected: list[int] = []
        self.requests: list[tuple[int, int]] = []

    def on_connect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.connected.append(connection_id)
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        header, _ = framing.parse_request_header(frame)
        self.requests.append((connection_id, header.correlation_id))
        if self.hold_ms is not None:
            self.held.append((connection_id, header.correlation_id))
            return [Wakeup(now_ms + self.hold_ms)]
        return [answer(connection_id, header.correlation_id)]

    def on_tick(self, now_ms: int) -> list[Effect]:
        held, self.held = self.held, []
        return [answer(c, correlation_id) for c, correlation_id in held]

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.disconnected.append(connection_id)
        return []

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        raise AssertionError("the answerer asks nothing")

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        raise AssertionError("the answerer asks nothing")

    def shutdown(self, now_ms: int) -> None:
        pass


def answer(connection_id: int, correlation_id: int) -> Send:
    body = codec.encode(
        codec.build(
            ApiVersionsResponse,
            error_code=ErrorCode.none,
            api_keys=(),
            throttle_time=codec.millis(0),
            supported_features=(),
            finalized_features_epoch=-1,
            finalized_features=(),
            zk_migration_ready=False,
        )
    )
    return Send(connection_id, (codec.response_header(correlation_id, False, len(body)), body))


def wired(answerer: Answerer | None = None) -> tuple[Router, Asker, Answerer]:
    router = Router(now_ms=1_000)
    asker, answering = Asker(), answerer or Answerer()
    router.add_node(ASKER, asker)
    router.add_node(ANSWERER, answering)
    return router, asker, answering


def test_a_request_reaches_the_target_and_its_answer_comes_back() -> None:
    router, asker, answerer = wired()
    router.client_request(ASKER, 1, b"ASK")
    router.client_request(ASKER, 1, b"ASK")
    assert router.client_frames[(ASKER, 1)] == [b"OK", b"OK"]
    assert [(r.node_id, r.api_key, r.disconnected) for r in asker.completed] == [(2, 18, False)] * 2
    assert all(r.response.error_code == ErrorCode.none for r in asker.completed)  # type: ignore[union-attr]
    link = LINK_CONNECTION_ID_BASE
    assert answerer.connected == [link]  # one stable connection for (1, 2)
    assert [c for c, _ in answerer.requests] == [link, link]


def test_a_request_to_a_down_node_is_unreachable_until_it_is_back() -> None:
    router, asker, answerer = wired()
    router.set_down(ANSWERER)
    router.client_request(ASKER, 1, b"ASK")
    assert asker.unreachable == [ANSWERER]
    assert [r.disconnected for r in asker.completed] == [True]
    assert answerer.requests == []
    router.set_down(ANSWERER, False)
    router.client_request(ASKER, 1, b"ASK")
    assert router.client_frames[(ASKER, 1)][-1] == b"NO"  # reconnect backoff
    router.advance(100)  # past the backoff (50 ms, 20% jitter)
    router.client_request(ASKER, 1, b"ASK")
    assert [r.disconnected for r in asker.completed] == [True, False]


def test_a_node_going_down_fails_what_is_in_flight_to_it() -> None:
    router, asker, answerer = wired(Answerer(hold_ms=500))
    router.client_request(ASKER, 1, b"ASK")
    assert asker.completed == [] and len(answerer.held) == 1
    router.set_down(ANSWERER)
    assert asker.unreachable == [ANSWERER]
    assert [r.disconnected for r in asker.completed] == [True]
    router.set_down(ANSWERER, False)
    router.advance(600)  # the answerer's held answer goes nowhere: its link broke
    assert len(asker.completed) == 1


def test_held_answers_arrive_on_the_targets_tick_with_the_fake_clock() -> None:
    router, asker, _ = wired(Answerer(hold_ms=300))
    router.client_request(ASKER, 1, b"ASK")
    router.advance(299)
    assert asker.completed == []
    router.advance(1)
    assert [r.disconnected for r in asker.completed] == [False]
    assert router.now_ms == 1_300


def test_a_timeout_disconnects_the_link_and_late_answers_are_dropped() -> None:
    router, asker, answerer = wired(Answerer(hold_ms=5_000))
    router.client_request(ASKER, 1, b"ASK")
    router.advance(TIMEOUT_MS)
    assert [(r.disconnected, r.timed_out) for r in asker.completed] == [(True, True)]
    assert answerer.disconnected == [LINK_CONNECTION_ID_BASE]  # Disconnect closed the link
    assert asker.unreachable == []
    router.advance(5_000)  # the held answer is stale
    assert len(asker.completed) == 1
    assert asker.ticks[0] == 1_000 + TIMEOUT_MS


def test_the_same_script_gives_the_same_timeline() -> None:
    def script() -> list[str]:
        router, _, _ = wired(Answerer(hold_ms=200))
        router.client_request(ASKER, 1, b"ASK")
        router.advance(100)
        router.client_request(ASKER, 1, b"ASK")
        router.advance(2_000)
        router.set_down(ANSWERER)
        router.client_request(ASKER, 1, b"ASK")
        router.advance(3_000)
        return router.timeline

    timeline = script()
    assert timeline == script()
    assert "1000 1 connects 2" in timeline and "3100 down 2" in timeline


def test_a_real_broker_core_answers_through_the_router() -> None:
    from refka.config import BrokerConfig
    from refka.core.broker import Broker
    from refka.log.storage import MemoryStorage

    storage = MemoryStorage()
    router = Router(now_ms=1_000)
    asker = Asker()
    from refka.broker.meta_properties import format_directory
    from refka.core.seeded import SeededRandom

    format_directory(storage, 1, SeededRandom(3))
    config = BrokerConfig.model_validate(
        {"log.dirs": "data", "controller.quorum.voters": "9@controller:1"}  # not on the router
    )
    broker = Broker(config, storage, 1_000, seed=3)
    router.add_node(ASKER, asker)
    router.add_node(ANSWERER, broker, lambda s: storage.read(s.path, s.position, s.size))
    router.client_request(ASKER, 1, b"ASK")
    [done] = asker.completed
    assert done.response is not None and done.response.error_code == ErrorCode.none
    assert {0, 1, 18} <= {int(k.api_key) for k in done.response.api_keys}
    router.advance(600_000)  # the broker's own timers (retention, flush) run on the fake clock
    assert router.now_ms == 601_000
