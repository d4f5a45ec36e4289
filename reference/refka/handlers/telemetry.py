"""GetTelemetrySubscriptions (key 71) and PushTelemetry (key 72), v0 (KIP-714).

As Apache Kafka 4.4 with no metrics plugin: neither is listed in ApiVersions (a client only
sends them when listed), but each is answered when sent, from ``refka.core.client_metrics``:
the empty subscription (no requested metrics, Kafka's push interval, compression types and
``telemetry.max.bytes``); pushes are paced and dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.client_metrics import ACCEPTED_COMPRESSION_TYPES, PUSH_INTERVAL_MS
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.client_metrics import ClientMetrics
    from refka.core.context import RequestContext

GET_KEY, PUSH_KEY = 71, 72


def handle_get_telemetry_subscriptions(
    metrics: ClientMetrics, ctx: RequestContext, request: Any
) -> Any:
    m = codec.response_module(GET_KEY, ctx.api_version)
    error, instance_id, found = metrics.get_subscription(request.client_instance_id, ctx.now_ms)
    if found is None or error != ErrorCode.none:
        return codec.build(
            m.GetTelemetrySubscriptionsResponse,
            throttle_time=codec.millis(0),
            error_code=error,
            client_instance_id=None,
            subscription_id=0,
            push_interval=codec.millis(0),
            telemetry_max_bytes=0,
            delta_temporality=False,
        )
    return codec.build(
        m.GetTelemetrySubscriptionsResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        client_instance_id=instance_id,
        subscription_id=found.subscription_id,
        accepted_compression_types=ACCEPTED_COMPRESSION_TYPES,
        push_interval=codec.millis(PUSH_INTERVAL_MS),
        telemetry_max_bytes=metrics.telemetry_max_bytes,
        delta_temporality=True,
        requested_metrics=(),
    )


def handle_push_telemetry(metrics: ClientMetrics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(PUSH_KEY, ctx.api_version)
    error = metrics.push(
        request.client_instance_id,
        request.subscription_id,
        request.terminating,
        request.compression_type,
        len(request.metrics or b""),
        ctx.now_ms,
    )
    return codec.build(m.PushTelemetryResponse, throttle_time=codec.millis(0), error_code=error)
