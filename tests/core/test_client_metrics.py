"""refka.core.client_metrics: KIP-714 client instances paced as Kafka paces them."""

from __future__ import annotations

import uuid

import pytest
from kio.schema.errors import ErrorCode
from refka.core import client_metrics
from refka.core.client_metrics import PUSH_INTERVAL_MS, ClientMetrics
from refka.core.seeded import SeededRandom


def subscribed(now_ms: int = 0) -> tuple[ClientMetrics, uuid.UUID, int]:
    metrics = ClientMetrics(SeededRandom(1), telemetry_max_bytes=100)
    error, instance, found = metrics.get_subscription(None, now_ms)
    assert error == ErrorCode.none and found is not None
    return metrics, instance, found.subscription_id


def test_the_same_seed_gives_the_same_instance_ids() -> None:
    assert subscribed()[1] == subscribed()[1] != uuid.UUID(int=0)


def test_pushes_are_paced_by_the_push_interval() -> None:
    metrics, instance, sub = subscribed()
    assert metrics.push(instance, sub, False, 0, 0, 10) == ErrorCode.none
    early = PUSH_INTERVAL_MS + 9
    assert metrics.push(instance, sub, False, 0, 0, early) == ErrorCode.throttling_quota_exceeded
    assert metrics.push(instance, sub, False, 0, 0, early + 1) == ErrorCode.none
    again = early + 1 + PUSH_INTERVAL_MS
    assert metrics.get_subscription(instance, again)[0] == ErrorCode.throttling_quota_exceeded
    assert metrics.get_subscription(instance, again + 1)[0] == ErrorCode.none


def test_compression_and_size() -> None:
    metrics, instance, sub = subscribed()
    assert metrics.push(instance, sub, False, 9, 10, 0) == ErrorCode.unsupported_compression_type
    metrics.get_subscription(instance, PUSH_INTERVAL_MS + 1)
    too_big = metrics.push(instance, sub, False, 4, 101, PUSH_INTERVAL_MS + 1)
    assert too_big == ErrorCode.telemetry_too_large


def test_the_oldest_instance_goes_when_the_cache_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_metrics, "MAX_INSTANCES", 2)
    metrics = ClientMetrics(SeededRandom(1))
    first = metrics.get_subscription(None, 0)[1]
    metrics.get_subscription(None, 0)
    metrics.get_subscription(None, 0)
    assert first not in metrics.instances and len(metrics.instances) == 2
