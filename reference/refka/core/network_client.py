"""Kafka's ``NetworkClient``, sans-I/O: a core's requests to other nodes.

A component (a replica fetcher, the broker's lifecycle manager, the alter-partition manager)
calls :meth:`NetworkClient.send` with a kio request entity at the version to use and a callback;
the client encodes it under the next correlation id, keeps it in flight, and hands the driver a
``SendRequest`` (:meth:`drain`). The driver reports back with ``on_response`` (a frame read from
that node's connection) or ``on_unreachable``; the core's ``on_tick`` calls :meth:`on_tick`.

Kafka's client semantics:

- Correlation ids are per client and increasing; responses on one node's connection arrive in
  request order, so each response must carry the id of the oldest request in flight to that
  node. One that does not (or cannot be parsed) breaks the connection: every request in flight
  to the node completes with ``disconnected=True`` and the driver drops the connection
  (``Disconnect``), as Kafka's ``NetworkClient`` does on a correlation id mismatch.
- ``request.timeout.ms``: a request unanswered that long completes with ``timed_out=True``;
  its node is disconnected, so every other request in flight to it completes as disconnected.
- Reconnect backoff (``reconnect.backoff.ms``, ``reconnect.backoff.max.ms``): after a node is
  unreachable or disconnected, :meth:`ready` is False for ``backoff(failures - 1)`` ms, where
  ``backoff(n) = reconnect.backoff.ms * 2**n`` with ``n`` capped so the term stays within the
  maximum, times a random factor in [0.8, 1.2) from the core's seeded source (Kafka's
  ``ExponentialBackoff`` with 20% jitter). A response read from the node resets the failures.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from refka.core.effects import Disconnect, SendRequest
from refka.core.seeded import SeededRandom
from refka.protocol import codec

log = logging.getLogger(__name__)

BACKOFF_MULTIPLIER = 2
BACKOFF_JITTER = 0.2
MAX_CORRELATION_ID = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """Where another node listens."""

    node_id: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class ClientResponse:
    """How one request ended: its decoded response, or why there is none."""

    node_id: int
    api_key: int
    response: Any | None  # decoded kio response entity, None on failure
    disconnected: bool = False  # the node was unreachable or the connection dropped
    timed_out: bool = False  # request.timeout.ms passed
    now_ms: int = -1  # when it ended (callbacks schedule from it; they never read a clock)


class Client(Protocol):
    """What the components that send requests need of ``NetworkClient`` (tests use fakes)."""

    def ready(self, node_id: int, now_ms: int) -> bool:
        """False while the node is in reconnect backoff."""
        ...

    def send(
        self,
        node: NodeAddress,
        request: Any,
        now_ms: int,
        on_complete: Callable[[ClientResponse], None],
    ) -> bool:
        """Queue ``request`` (a kio entity at the version to use); False = not sent."""
        ...


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A request sent to a node, awaiting its response."""

    correlation_id: int
    api_key: int
    response_class: Any
    deadline_ms: int
    on_complete: Callable[[ClientResponse], None]


@dataclass(slots=True)
class _Node:
    """A node's requests in flight and its reconnect backoff."""

    in_flight: deque[_InFlight] = field(default_factory=deque)
    failures: int = 0  # consecutive failures since the last response
    backoff_until_ms: int | None = None


def reconnect_backoff_ms(
    failures: int, backoff_ms: int, backoff_max_ms: int, random: SeededRandom
) -> int:
    """The wait before reconnecting after ``failures`` (>= 1) consecutive failures."""
    if backoff_max_ms > backoff_ms > 0:
        exponent_max = math.log(backoff_max_ms / backoff_ms, BACKOFF_MULTIPLIER)
    else:
        exponent_max = 0.0
    term = backoff_ms * BACKOFF_MULTIPLIER ** min(failures - 1, exponent_max)
    factor = 1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random.fraction()
    return int(term * factor)


class NetworkClient:
    """Requests in flight per node, their deadlines, and each node's reconnect backoff."""

    def __init__(
        self,
        client_id: str,
        request_timeout_ms: int,
        reconnect_backoff_ms: int,
        reconnect_backoff_max_ms: int,
        random: SeededRandom | None = None,
        channel: str = "",
    ) -> None:
        """``channel`` names this client's connections to the driver (``SendRequest.channel``):
        one ``NetworkClient`` per channel, as Kafka's ``NodeToControllerChannelManager``s."""
        self.client_id = client_id
        self.channel = channel
        self.request_timeout_ms = request_timeout_ms
        self.reconnect_backoff_ms = reconnect_backoff_ms
        self.reconnect_backoff_max_ms = reconnect_backoff_max_ms
        self._random = random if random is not None else SeededRandom(0)
        self._nodes: dict[int, _Node] = {}
        self._next_correlation_id = 0
        self._outbox: list[SendRequest | Disconnect] = []

    def ready(self, node_id: int, now_ms: int) -> bool:
        """False while ``node_id`` is in reconnect backoff."""
        node = self._nodes.get(node_id)
        return node is None or node.backoff_until_ms is None or now_ms >= node.backoff_until_ms

    def in_flight(self, node_id: int) -> int:
        node = self._nodes.get(node_id)
        return 0 if node is None else len(node.in_flight)

    def send(
        self,
        node: NodeAddress,
        request: Any,
        now_ms: int,
        on_complete: Callable[[ClientResponse], None],
        timeout_ms: int | None = None,
    ) -> bool:
        """Send ``request`` to ``node``; False (nothing sent) while the node is in backoff.
        ``timeout_ms`` replaces ``request.timeout.ms`` for this request (a JoinGroup waits for
        the rebalance, as the Java consumer's)."""
        if not self.ready(node.node_id, now_ms):
            return False
        correlation_id = self._next_correlation_id
        self._next_correlation_id = (correlation_id + 1) % (MAX_CORRELATION_ID + 1)
        api_key, version = int(request.__api_key__), int(request.__version__)
        entry = _InFlight(
            correlation_id,
            api_key,
            codec.response_class(api_key, version),
            now_ms + (self.request_timeout_ms if timeout_ms is None else timeout_ms),
            on_complete,
        )
        self._nodes.setdefault(node.node_id, _Node()).in_flight.append(entry)
        frame = codec.request_frame(request, correlation_id, self.client_id)
        self._outbox.append(SendRequest(node.node_id, node.host, node.port, frame, self.channel))
        return True

    def on_response(self, node_id: int, frame: bytes | memoryview, now_ms: int) -> None:
        """A response frame from ``node_id``: complete the oldest request in flight to it."""
        node = self._nodes.get(node_id)
        if node is None or not node.in_flight:
            log.warning("node %d: a response with no request in flight; ignored", node_id)
            return
        head = node.in_flight[0]
        try:
            correlation_id = codec.response_correlation_id(frame)
            if correlation_id != head.correlation_id:
                raise ValueError(
                    f"correlation id {correlation_id} does not match request {head.correlation_id}"
                )
            response = codec.decode_response(head.response_class, frame)
        except Exception as error:
            self._fail(node_id, now_ms, f"bad response: {error}", disconnect=True)
            return
        node.in_flight.popleft()
        node.failures = 0
        head.on_complete(ClientResponse(node_id, head.api_key, response, now_ms=now_ms))

    def on_unreachable(self, node_id: int, now_ms: int) -> None:
        """The driver could not connect to ``node_id``, or lost the connection."""
        self._fail(node_id, now_ms, "unreachable", disconnect=False)

    def on_tick(self, now_ms: int) -> None:
        """Fail the requests past ``request.timeout.ms`` (and their nodes' others)."""
        for node_id, node in list(self._nodes.items()):
            if node.backoff_until_ms is not None and node.backoff_until_ms <= now_ms:
                node.backoff_until_ms = None
            if node.in_flight and min(r.deadline_ms for r in node.in_flight) <= now_ms:
                reason = f"request timed out after {self.request_timeout_ms} ms"
                self._fail(node_id, now_ms, reason, disconnect=True)

    def drain(self) -> list[SendRequest | Disconnect]:
        """The effects for the driver, oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def next_deadline_ms(self) -> int | None:
        """The earliest request deadline or end of a backoff (when ``on_tick`` has work)."""
        deadlines = [r.deadline_ms for n in self._nodes.values() for r in n.in_flight]
        deadlines += [
            n.backoff_until_ms for n in self._nodes.values() if n.backoff_until_ms is not None
        ]
        return min(deadlines, default=None)

    def _fail(self, node_id: int, now_ms: int, reason: str, disconnect: bool) -> None:
        node = self._nodes.setdefault(node_id, _Node())
        node.failures += 1
        wait_ms = reconnect_backoff_ms(
            node.failures, self.reconnect_backoff_ms, self.reconnect_backoff_max_ms, self._random
        )
        node.backoff_until_ms = now_ms + wait_ms
        failed, node.in_flight = list(node.in_flight), deque()
        log.info("node %d: %s; %d request(s) failed, backoff %d ms", node_id, reason,
                 len(failed), wait_ms)  # fmt: skip
        if disconnect:
            self._outbox.append(Disconnect(node_id, reason, self.channel))
        for entry in failed:
            timed_out = entry.deadline_ms <= now_ms
            entry.on_complete(ClientResponse(node_id, entry.api_key, None, True, timed_out, now_ms))
