"""The produce and fetch byte-rate quotas at the broker, as Kafka's ``KafkaApis`` applies them
(KIP-13, KIP-219), between the dispatcher and the handlers.

- Produce: the request's size is recorded against ``producer_byte_rate`` when its answer is
  ready (acks=0 included, which gets none); the answer carries the throttle time.
- Fetch from a consumer (not a follower): ``max_bytes`` is capped at what the quota allows in
  its measuring window (``quota * (quota.window.num - 1) * quota.window.size.seconds``, Kafka's
  ``getMaxValueInQuotaWindow``); the answer's size is recorded against
  ``consumer_byte_rate``; when that throttles, the bytes are taken back and the answer is an
  empty one carrying the throttle time (Kafka's ``getThrottledResponse``).

A throttled connection is then muted for the throttle time: the answer goes out first, the
connection's next requests wait until the time is over (KIP-219: the client backs off too, as
it reads ``throttle_time_ms``). Kafka delays the answer itself for versions before KIP-219
(Produce < 6, Fetch < 8); refka mutes for every version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.primitive import i32

from refka.core.context import Encoded, RequestContext
from refka.protocol import codec
from refka.quotas.client_quota_manager import ClientQuotaManager, find_quota
from refka.quotas.entities import CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE, Entity

PRODUCE, FETCH = 0, 1
USER_PREFIX = "User:"


def user_of(principal: str) -> str:
    """The quota ``user``: the principal's name (``ANONYMOUS`` before authentication)."""
    return principal.removeprefix(USER_PREFIX)


class RequestThrottler:
    """Byte-rate quotas for Produce and consumer Fetch; ``now()`` is the broker's event time."""

    def __init__(
        self,
        quotas: Callable[[], Mapping[Entity, Mapping[str, float]]],
        now: Callable[[], int],
        samples: int = 11,
        window_ms: int = 1000,
    ) -> None:
        self.quotas, self.now = quotas, now
        self.produce = ClientQuotaManager(PRODUCER_BYTE_RATE, samples, window_ms)
        self.fetch = ClientQuotaManager(CONSUMER_BYTE_RATE, samples, window_ms)
        self._produce_sizes: dict[tuple[int, int], int] = {}
        self._consumer_fetches: set[tuple[int, int]] = set()

    def on_request(self, ctx: RequestContext, request: Any, size: int) -> Any:
        """Remember what the answer will need; the request to handle (a consumer Fetch's
        ``max_bytes`` capped by its quota)."""
        key = (ctx.connection_id, ctx.sequence)
        if ctx.api_key == PRODUCE:
            self._produce_sizes[key] = size
        elif ctx.api_key == FETCH and _replica_id(request) < 0:
            self._consumer_fetches.add(key)
            found = find_quota(
                self.quotas(), CONSUMER_BYTE_RATE, user_of(ctx.principal), ctx.client_id or ""
            )
            if found is not None:
                window_s = (self.fetch.samples - 1) * self.fetch.window_ms / 1000
                cap = int(min(found[1] * window_s, 2**31 - 1))
                if cap < request.max_bytes:
                    request = dataclasses.replace(request, max_bytes=i32(cap))
        return request

    def on_response(self, ctx: RequestContext, response: Any) -> tuple[Any, int]:
        """The answer to send and the throttle time (0: no mute)."""
        key = (ctx.connection_id, ctx.sequence)
        user, client_id = user_of(ctx.principal), ctx.client_id or ""
        if ctx.api_key == PRODUCE and key in self._produce_sizes:
            size = self._produce_sizes.pop(key)
            throttle = self.produce.record(self.quotas(), user, client_id, size, self.now())
            if throttle and dataclasses.is_dataclass(response):
                response = _with_throttle(response, throttle)
            return response, throttle
        if ctx.api_key == FETCH and key in self._consumer_fetches:
            self._consumer_fetches.discard(key)
            size = _size(response)
            quotas, now = self.quotas(), self.now()
            throttle = self.fetch.record(quotas, user, client_id, size, now)
            if throttle:
                self.fetch.unrecord(quotas, user, client_id, size, now)
                response = _empty_fetch(ctx, throttle)
            return response, throttle
        return response, 0

    def on_disconnect(self, connection_id: int) -> None:
        self._produce_sizes = {
            k: v for k, v in self._produce_sizes.items() if k[0] != connection_id
        }
        self._consumer_fetches = {k for k in self._consumer_fetches if k[0] != connection_id}


def _replica_id(request: Any) -> int:
    state = getattr(request, "replica_state", None)
    return int(state.replica_id if state is not None else getattr(request, "replica_id", -1))


def _size(response: Any) -> int:
    """The answer's size in bytes (Fetch answers come encoded)."""
    if isinstance(response, Encoded):
        return sum(
            c.size if not isinstance(c, bytes | bytearray) else len(c) for c in response.chunks
        )
    return 0


def _with_throttle(response: Any, throttle_ms: int) -> Any:
    return dataclasses.replace(response, throttle_time=codec.millis(throttle_ms))


def _empty_fetch(ctx: RequestContext, throttle_ms: int) -> Any:
    m = codec.response_module(FETCH, ctx.api_version)
    return codec.build(
        m.FetchResponse,
        throttle_time=codec.millis(throttle_ms),
        error_code=ErrorCode.none,
        session_id=0,
        responses=(),
    )
