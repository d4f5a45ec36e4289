"""Client telemetry subscriptions (KIP-714) as Kafka's ``ClientMetricsManager`` keeps them on a
broker with no metrics plugin and no client-metrics resources: every client instance gets the
empty subscription (no requested metrics), and pushes are paced, never exported.

Per client instance: its subscription id, the time of its last GetTelemetrySubscriptions and of
its last PushTelemetry, and whether it pushed a terminating push. The rules, as Kafka's:

- Get: a null instance id gets a new one (drawn from the seeded source); a known instance asking
  again within the push interval of its last request is THROTTLING_QUOTA_EXCEEDED.
- Push: a null instance id is INVALID_REQUEST, as is a push after a terminating one; an
  unknown instance or another subscription id is UNKNOWN_SUBSCRIPTION_ID; a push is accepted
  right after a Get, else once per push interval (a terminating push always);
  compression types other than the accepted ones are UNSUPPORTED_COMPRESSION_TYPE and metrics
  above ``telemetry.max.bytes`` TELEMETRY_TOO_LARGE.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from refka.core.seeded import SeededRandom

ZERO_UUID = uuid.UUID(int=0)
PUSH_INTERVAL_MS = 300_000  # a subscription's default interval.ms
ACCEPTED_COMPRESSION_TYPES = (4, 3, 1, 2)  # zstd, lz4, gzip, snappy: Kafka's order
NO_COMPRESSION = 0
MAX_INSTANCES = 16_384  # Kafka's client instance cache size


@dataclass(slots=True)
class ClientInstance:
    """A client instance's subscription and the times of its last requests."""

    subscription_id: int
    last_get_ms: int = -1
    last_push_ms: int = -1
    terminating: bool = False


class ClientMetrics:
    """The broker's client instances; ``telemetry_max_bytes`` is ``telemetry.max.bytes``."""

    def __init__(self, random: SeededRandom, telemetry_max_bytes: int = 1_048_576) -> None:
        self.random = random
        self.telemetry_max_bytes = telemetry_max_bytes
        self.instances: dict[uuid.UUID, ClientInstance] = {}

    def get_subscription(
        self, instance_id: uuid.UUID | None, now_ms: int
    ) -> tuple[ErrorCode, uuid.UUID, ClientInstance | None]:
        """GetTelemetrySubscriptions: (error, the instance id, its state)."""
        if instance_id is None or instance_id == ZERO_UUID:
            instance_id = self.random.uuid4()
        found = self.instances.get(instance_id)
        if found is None:
            found = self._add(instance_id)
        elif now_ms - max(found.last_get_ms, found.last_push_ms) <= PUSH_INTERVAL_MS:
            return ErrorCode.throttling_quota_exceeded, instance_id, None
        found.last_get_ms = now_ms
        return ErrorCode.none, instance_id, found

    def push(
        self,
        instance_id: uuid.UUID | None,
        subscription_id: int,
        terminating: bool,
        compression_type: int,
        metrics_size: int,
        now_ms: int,
    ) -> ErrorCode:
        """PushTelemetry: the answer's error code (the metrics go nowhere: no plugin)."""
        if instance_id is None or instance_id == ZERO_UUID:
            return ErrorCode.invalid_request
        found = self.instances.get(instance_id) or self._add(instance_id)
        if found.terminating:
            return ErrorCode.invalid_request
        if subscription_id != found.subscription_id:
            return ErrorCode.unknown_subscription_id
        paced = found.last_get_ms > found.last_push_ms
        if not paced and now_ms - found.last_push_ms < PUSH_INTERVAL_MS and not terminating:
            return ErrorCode.throttling_quota_exceeded
        found.last_push_ms = now_ms
        if metrics_size > 0:
            if compression_type not in (NO_COMPRESSION, *ACCEPTED_COMPRESSION_TYPES):
                return ErrorCode.unsupported_compression_type
            if metrics_size > self.telemetry_max_bytes:
                return ErrorCode.telemetry_too_large
        found.terminating = terminating
        return ErrorCode.none

    def _add(self, instance_id: uuid.UUID) -> ClientInstance:
        if len(self.instances) >= MAX_INSTANCES:
            del self.instances[next(iter(self.instances))]  # the least recently added
        subscription_id = zlib.crc32(instance_id.bytes) - (1 << 31)  # any int32 tied to it
        found = ClientInstance(subscription_id)
        self.instances[instance_id] = found
        return found
