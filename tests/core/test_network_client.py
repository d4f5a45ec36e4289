"""NetworkClient: in-order responses, request.timeout.ms, reconnect backoff, broken connections."""

from __future__ import annotations

from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.api_versions.v3.response import ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.static.primitive import i16
from refka.core.effects import Disconnect, SendRequest
from refka.core.network_client import (
    ClientResponse,
    NetworkClient,
    NodeAddress,
    reconnect_backoff_ms,
)
from refka.core.seeded import SeededRandom
from refka.protocol import codec, framing

NODE = NodeAddress(2, "node-2", 9092)
TIMEOUT_MS = 30_000
BACKOFF_MS, BACKOFF_MAX_MS = 50, 1_000


def client(seed: int = 1) -> NetworkClient:
    return NetworkClient("test", TIMEOUT_MS, BACKOFF_MS, BACKOFF_MAX_MS, SeededRandom(seed))


def request() -> ApiVersionsRequest:
    return ApiVersionsRequest(client_software_name="t", client_software_version="1")


def answer(correlation_id: int, error: ErrorCode = ErrorCode.none) -> bytes:
    """An ApiVersions v3 response frame (no size prefix), as the node would send it."""
    body = codec.encode(
        codec.build(
            ApiVersionsResponse,
            error_code=error,
            api_keys=(),
            throttle_time=codec.millis(0),
            supported_features=(),
            finalized_features_epoch=-1,
            finalized_features=(),
            zk_migration_ready=False,
        )
    )
    return codec.response_header(correlation_id, False, len(body))[4:] + body


def sent_correlation_ids(
    effects: list[SendRequest | Disconnect], client_id: str = "test"
) -> list[int]:
    ids = []
    for effect in effects:
        assert isinstance(effect, SendRequest)
        header, _ = framing.parse_request_header(effect.frame)
        assert (header.api_key, header.api_version, header.client_id) == (18, 3, client_id)
        ids.append(header.correlation_id)
    return ids


def test_responses_complete_requests_in_order() -> None:
    c = client()
    done: list[tuple[str, ClientResponse]] = []
    for name in ("first", "second"):
        assert c.send(NODE, request(), 0, lambda r, name=name: done.append((name, r)))
    effects = c.drain()
    assert [(e.node_id, e.host, e.port) for e in effects if isinstance(e, SendRequest)] == [
        (2, "node-2", 9092)
    ] * 2
    first, second = sent_correlation_ids(effects)
    assert second == first + 1
    c.on_response(2, answer(first), 10)
    c.on_response(2, answer(second, ErrorCode.unsupported_version), 11)
    assert [(n, r.response.error_code, r.disconnected) for n, r in done] == [  # type: ignore[union-attr]
        ("first", ErrorCode.none, False),
        ("second", ErrorCode.unsupported_version, False),
    ]
    assert c.in_flight(2) == 0 and c.next_deadline_ms() is None


def test_a_request_times_out_after_request_timeout_ms() -> None:
    c = client()
    done: list[ClientResponse] = []
    c.send(NODE, request(), 0, done.append)
    c.send(NODE, request(), 5_000, done.append)
    c.drain()
    assert c.next_deadline_ms() == TIMEOUT_MS
    c.on_tick(TIMEOUT_MS - 1)
    assert done == [] and c.drain() == []
    c.on_tick(TIMEOUT_MS)
    assert [(r.disconnected, r.timed_out) for r in done] == [(True, True), (True, False)]
    assert c.drain() == [Disconnect(2, f"request timed out after {TIMEOUT_MS} ms")]
    assert not c.ready(2, TIMEOUT_MS)


def test_a_request_may_carry_its_own_timeout() -> None:
    """A JoinGroup waits for the rebalance: its deadline is its own, not request.timeout.ms."""
    c = client()
    done: list[ClientResponse] = []
    c.send(NODE, request(), 0, done.append, timeout_ms=3 * TIMEOUT_MS)
    c.drain()
    assert c.next_deadline_ms() == 3 * TIMEOUT_MS
    c.on_tick(TIMEOUT_MS)
    assert done == []
    c.on_tick(3 * TIMEOUT_MS)
    assert [(r.disconnected, r.timed_out) for r in done] == [(True, True)]


def test_unreachable_completes_every_request_in_flight_and_backs_off() -> None:
    c = client()
    done: list[ClientResponse] = []
    for _ in range(3):
        c.send(NODE, request(), 0, done.append)
    c.on_unreachable(2, 100)
    assert [(r.node_id, r.api_key, r.response, r.disconnected) for r in done] == [
        (2, 18, None, True)
    ] * 3
    assert [e for e in c.drain() if isinstance(e, Disconnect)] == []  # the driver knows
    assert not c.ready(2, 100)
    assert not c.send(NODE, request(), 100, done.append)
    wait_ms = c.next_deadline_ms()
    assert wait_ms is not None and 100 + 40 <= wait_ms < 100 + 60  # 50 ms, 20% jitter
    c.on_tick(wait_ms)
    assert c.ready(2, wait_ms) and c.next_deadline_ms() is None
    assert c.send(NODE, request(), wait_ms, done.append)


def test_backoff_grows_exponentially_up_to_the_max_with_jitter() -> None:
    random = SeededRandom(3)
    waits = [reconnect_backoff_ms(n, BACKOFF_MS, BACKOFF_MAX_MS, random) for n in range(1, 10)]
    for n, wait in enumerate(waits, start=1):
        term = min(BACKOFF_MS * 2 ** (n - 1), BACKOFF_MAX_MS)
        assert 0.8 * term <= wait < 1.2 * term, (n, wait)
    assert waits[-1] >= 0.8 * BACKOFF_MAX_MS
    same = SeededRandom(3)
    assert waits == [
        reconnect_backoff_ms(n, BACKOFF_MS, BACKOFF_MAX_MS, same) for n in range(1, 10)
    ]
    assert reconnect_backoff_ms(5, 100, 100, SeededRandom(1)) < 120  # max <= base: no growth


def test_consecutive_failures_back_off_longer_and_a_response_resets_them() -> None:
    c = client()

    def fail_at(now_ms: int) -> int:
        c.on_unreachable(2, now_ms)
        deadline = c.next_deadline_ms()
        assert deadline is not None
        c.on_tick(deadline)
        return deadline - now_ms

    waits = [fail_at(0), fail_at(10_000), fail_at(20_000), fail_at(30_000)]
    assert waits[3] >= 0.8 * 400 and waits[0] < 1.2 * 50
    done: list[ClientResponse] = []
    c.send(NODE, request(), 40_000, done.append)
    [correlation_id] = sent_correlation_ids(c.drain())
    c.on_response(2, answer(correlation_id), 40_001)
    assert fail_at(50_000) < 1.2 * 50


def test_a_correlation_id_mismatch_fails_the_requests_in_flight_and_drops_the_connection() -> None:
    c = client()
    done: list[ClientResponse] = []
    c.send(NODE, request(), 0, done.append)
    c.send(NODE, request(), 0, done.append)
    first, second = sent_correlation_ids(c.drain())
    c.on_response(2, answer(second), 5)  # out of order
    assert [r.disconnected for r in done] == [True, True]
    [effect] = c.drain()
    assert isinstance(effect, Disconnect) and effect.node_id == 2
    assert "correlation id" in effect.reason
    c.on_response(2, answer(first), 6)  # a stale answer afterwards is ignored
    assert len(done) == 2


def test_an_unparsable_response_breaks_the_connection() -> None:
    c = client()
    done: list[ClientResponse] = []
    c.send(NODE, request(), 0, done.append)
    [correlation_id] = sent_correlation_ids(c.drain())
    c.on_response(2, answer(correlation_id)[:6], 1)
    assert [(r.response, r.disconnected) for r in done] == [(None, True)]
    assert [type(e) for e in c.drain()] == [Disconnect]


def test_nodes_are_independent() -> None:
    c = client()
    done: list[ClientResponse] = []
    c.send(NODE, request(), 0, done.append)
    c.send(NodeAddress(3, "node-3", 9092), request(), 0, done.append)
    _, to_three = sent_correlation_ids(c.drain())
    c.on_unreachable(2, 1)
    assert c.ready(3, 1) and not c.ready(2, 1)
    c.on_response(3, answer(to_three), 2)
    assert [(r.node_id, r.disconnected) for r in done] == [(2, True), (3, False)]


def test_a_request_entity_goes_out_at_its_own_version() -> None:
    c = client()
    c.send(NODE, codec.build(codec.request_class(18, 0)), 0, lambda r: None)
    [effect] = c.drain()
    assert isinstance(effect, SendRequest)
    header, _ = framing.parse_request_header(effect.frame)
    assert (header.api_key, header.api_version) == (18, 0)
    assert i16(0) == header.api_version


def test_the_broker_core_carries_its_network_client_effects_and_events() -> None:
    from refka.broker.meta_properties import format_directory
    from refka.config import BrokerConfig
    from refka.core.broker import Broker
    from refka.core.effects import Wakeup
    from refka.log.storage import MemoryStorage

    config = BrokerConfig.model_validate(
        {"log.dirs": "data", "request.timeout.ms": 1_000, "controller.quorum.voters": "9@c:1"}
    )
    storage = MemoryStorage()
    format_directory(storage, 1, SeededRandom(1))
    broker = Broker(config, storage, 0, seed=1)
    done: list[ClientResponse] = []
    assert broker.network.send(NODE, request(), 0, done.append)
    effects = broker.on_tick(0)
    [send] = [e for e in effects if isinstance(e, SendRequest) and e.node_id == NODE.node_id]
    assert Wakeup(1_000) in effects  # the request's deadline
    [correlation_id] = sent_correlation_ids([send], client_id="broker-1")
    assert [
        e
        for e in broker.on_response(2, answer(correlation_id), 5)
        if isinstance(e, SendRequest) and e.node_id == NODE.node_id
    ] == []
    assert [r.response.error_code for r in done] == [ErrorCode.none]  # type: ignore[union-attr]
    broker.network.send(NODE, request(), 10, done.append)
    broker.on_tick(10)
    broker.on_unreachable(2, 20)
    assert done[-1].disconnected and not broker.network.ready(2, 20)
