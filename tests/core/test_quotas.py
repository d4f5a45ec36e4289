"""Client quotas, sans-I/O: Kafka's rate window and throttle time, the order in which quota
entities apply, and the dispatcher muting a throttled connection (KIP-219)."""

from __future__ import annotations

from typing import Any

import pytest
from refka.core.context import RequestContext
from refka.core.dispatch import Api, Dispatcher
from refka.core.effects import Send
from refka.quotas.client_quota_manager import ClientQuotaManager, find_quota
from refka.quotas.entities import hash_map_order, java_hash
from refka.quotas.rate import SampledRate, throttle_time_ms

from conformance.wire import build, encode_request


def test_a_first_burst_is_measured_over_samples_minus_one_windows() -> None:
    rate = SampledRate(samples=11, window_ms=1000)
    rate.record(20_000, now_ms=0)
    assert rate.window_size_ms(0) == 10_000
    assert rate.measure(0) == 2000.0
    assert throttle_time_ms(rate, quota=1000, now_ms=0) == 10_000  # (2000-1000)/1000 * 10 s
    assert throttle_time_ms(rate, quota=2000, now_ms=0) == 0


def test_windows_age_out() -> None:
    rate = SampledRate(samples=2, window_ms=1000)
    rate.record(3000, now_ms=0)
    assert throttle_time_ms(rate, quota=1000, now_ms=0) == 2000
    rate.record(500, now_ms=1500)  # a second window, aligned at 1000
    assert rate.window_size_ms(1500) == 1500 and rate.measure(1500) == 3500 / 1.5
    assert rate.measure(2500) == 500 / 1.5  # the first window is older than 2 windows: reset
    assert rate.measure(10_000) == 0.0


QUOTAS = {
    (("client-id", "app"), ("user", "alice")): {"producer_byte_rate": 1.0},
    (("client-id", None), ("user", "alice")): {"producer_byte_rate": 2.0},
    (("user", "alice"),): {"producer_byte_rate": 3.0},
    (("client-id", "app"), ("user", None)): {"producer_byte_rate": 4.0},
    (("user", None),): {"producer_byte_rate": 6.0},
    (("client-id", "app"),): {"producer_byte_rate": 7.0},
    (("client-id", None),): {"producer_byte_rate": 8.0, "consumer_byte_rate": 9.0},
}


@pytest.mark.parametrize(
    ("user", "client_id", "expected"),
    [
        ("alice", "app", (("alice", "app"), 1.0)),
        ("alice", "other", (("alice", "other"), 2.0)),
        ("bob", "app", (("bob", "app"), 4.0)),
        ("bob", "other", (("bob", ""), 6.0)),
    ],
)
def test_quota_precedence_and_metric_tags(user: str, client_id: str, expected: Any) -> None:
    assert find_quota(QUOTAS, "producer_byte_rate", user, client_id) == expected


def test_client_id_levels_and_no_quota() -> None:
    only_clients = {k: v for k, v in QUOTAS.items() if all(t == "client-id" for t, _ in k)}
    assert find_quota(only_clients, "producer_byte_rate", "bob", "app") == (("", "app"), 7.0)
    assert find_quota(only_clients, "producer_byte_rate", "bob", "x") == (("", "x"), 8.0)
    assert find_quota({}, "producer_byte_rate", "bob", "x") is None
    manager = ClientQuotaManager("consumer_byte_rate", samples=2, window_ms=1000)
    assert manager.record({}, "bob", "x", 10**9, 0) == 0
    assert manager.record(only_clients, "bob", "x", 9, 0) == 0
    assert manager.record(only_clients, "bob", "x", 9, 0) == 1000  # 18 B in 1 s over 9 B/s
    assert manager.record(only_clients, "bob", "y", 9, 0) == 0  # another client, own window


def test_java_hash_map_order() -> None:
    assert java_hash("user") == 3599307
    assert hash_map_order(["user", "client-id"], capacity=4) == ["client-id", "user"]
    assert hash_map_order(["producer_byte_rate", "request_percentage"]) == [
        "request_percentage",
        "producer_byte_rate",
    ]


class MuteAfterEach:
    """A throttle that mutes every connection for 100 ms after each answer."""

    def __init__(self) -> None:
        self.clock = 0
        self.seen: list[int] = []

    def now(self) -> int:
        return self.clock

    def on_request(self, ctx: RequestContext, request: Any, size: int) -> Any:
        self.seen.append(ctx.correlation_id)
        return request

    def on_response(self, ctx: RequestContext, response: Any) -> tuple[Any, int]:
        return response, 100

    def on_disconnect(self, connection_id: int) -> None:
        pass


def test_a_muted_connection_holds_its_requests_until_the_throttle_time_ends() -> None:
    answer = build(18, 0, error_code=0, api_keys=[])
    api = Api(18, "ApiVersions", 0, 3, lambda ctx, request: answer)
    dispatcher = Dispatcher({18: api}, lambda: answer)
    throttle = MuteAfterEach()
    dispatcher.throttle = throttle
    dispatcher.on_connect(1)
    dispatcher.on_connect(2)

    def frame(correlation_id: int) -> bytes:
        return encode_request(build(18, 0), correlation_id)

    assert dispatcher.on_request(1, frame(1), 0) == []
    assert [type(e) for e in dispatcher.drain()] == [Send]  # the answer goes out first
    assert dispatcher.next_deadline_ms() == 100
    dispatcher.on_request(1, frame(2), 10)
    dispatcher.on_request(1, frame(3), 20)
    throttle.clock = 30
    dispatcher.on_request(2, frame(4), 30)  # another connection is not muted
    assert throttle.seen == [1, 4]
    assert dispatcher.release(99) == [] and throttle.seen == [1, 4]
    throttle.clock = 100
    dispatcher.release(100)
    assert throttle.seen == [1, 4, 2]  # one request, then muted again
    throttle.clock = 200
    dispatcher.release(200)
    assert throttle.seen == [1, 4, 2, 3]
    assert dispatcher.next_deadline_ms() == 300  # after the answer to 3
    dispatcher.on_disconnect(1)
    assert dispatcher.next_deadline_ms() is None
