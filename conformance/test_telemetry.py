"""Client telemetry (KIP-714) on a broker with no metrics plugin: GetTelemetrySubscriptions and
PushTelemetry are not advertised (so clients do not send them), yet answered when sent: a new
client instance id, no requested metrics, pushes throttled to the push interval."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target
from conformance.wire import Connection, build

GET, PUSH = 71, 72
ZERO = uuid.UUID(int=0)
ZSTD, LZ4, GZIP, SNAPPY = 4, 3, 1, 2


def get(conn: Connection, instance: uuid.UUID = ZERO) -> Any:
    return conn.request(build(GET, 0, client_instance_id=instance))


def push(conn: Connection, instance: uuid.UUID, subscription: int, **fields: Any) -> ErrorCode:
    values = {"terminating": False, "compression_type": 0, "metrics": b"", **fields}
    answer = conn.request(
        build(PUSH, 0, client_instance_id=instance, subscription_id=subscription, **values)
    )
    return ErrorCode(answer.error_code)


@pytest.mark.api("GetTelemetrySubscriptions", behaviour="not advertised without a metrics plugin")
def test_not_advertised(target: Target) -> None:
    assert GET not in target.api_ranges and PUSH not in target.api_ranges


@pytest.mark.api("GetTelemetrySubscriptions", behaviour="a new client instance, no metrics")
def test_new_instance(conn: Connection) -> None:
    answer = get(conn)
    assert answer.error_code == ErrorCode.none
    assert answer.client_instance_id not in (None, ZERO)
    assert tuple(answer.accepted_compression_types) == (ZSTD, LZ4, GZIP, SNAPPY)
    assert answer.push_interval == datetime.timedelta(minutes=5)
    assert (answer.telemetry_max_bytes, answer.delta_temporality) == (1024 * 1024, True)
    assert answer.requested_metrics == ()


@pytest.mark.api("GetTelemetrySubscriptions", behaviour="the client's own instance id is kept")
def test_given_instance(conn: Connection) -> None:
    mine = uuid.uuid4()
    answer = get(conn, mine)
    assert (answer.error_code, answer.client_instance_id) == (ErrorCode.none, mine)


@pytest.mark.api("GetTelemetrySubscriptions", behaviour="again within the push interval: throttled")
def test_again_is_throttled(conn: Connection) -> None:
    first = get(conn)
    again = get(conn, first.client_instance_id)
    assert again.error_code == ErrorCode.throttling_quota_exceeded


@pytest.mark.api("PushTelemetry", behaviour="after a subscription: one push, then throttled")
def test_push_then_throttled(conn: Connection) -> None:
    s = get(conn)
    instance, subscription = s.client_instance_id, s.subscription_id
    assert push(conn, instance, subscription) == ErrorCode.none
    assert push(conn, instance, subscription) == ErrorCode.throttling_quota_exceeded
    assert push(conn, instance, subscription, terminating=True) == ErrorCode.none
    assert push(conn, instance, subscription, terminating=True) == ErrorCode.invalid_request


@pytest.mark.api("PushTelemetry", behaviour="another subscription id: UNKNOWN_SUBSCRIPTION_ID")
def test_unknown_subscription(conn: Connection) -> None:
    s = get(conn)
    wrong = s.subscription_id + 1
    assert push(conn, s.client_instance_id, wrong) == ErrorCode.unknown_subscription_id
    assert push(conn, uuid.uuid4(), 5) == ErrorCode.unknown_subscription_id


@pytest.mark.api("PushTelemetry", behaviour="the null instance id: INVALID_REQUEST")
def test_null_instance(conn: Connection) -> None:
    assert push(conn, ZERO, 5) == ErrorCode.invalid_request
