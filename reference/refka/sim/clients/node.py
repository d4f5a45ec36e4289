"""What every simulated client shares: the Core protocol, requests, and topic metadata.

A client is a node of the simulated world like a broker: the world calls ``on_response``,
``on_unreachable`` and ``on_tick`` and performs the effects returned (``SendRequest`` to a
broker id, ``Disconnect``, ``Wakeup``); it accepts no connections. Requests go through
``refka.core.network_client.NetworkClient`` (correlation ids, in-flight order per broker,
``request.timeout.ms``, reconnect backoff), so every response is decoded by kio from the
frame the broker's core wrote.

Metadata (Metadata v12) tells the leader and leader epoch of each partition of the client's
one topic. A client asks again when a response says its view is stale; an answer with an older
leader epoch than one already known does not replace it (KIP-320).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.types import TopicName

from refka.core.effects import Close, Effect, SendRequest, Wakeup
from refka.core.network_client import ClientResponse, NetworkClient, NodeAddress
from refka.core.seeded import SeededRandom
from refka.sim.history import History

Callback = Callable[[ClientResponse], None]


@dataclass(frozen=True, slots=True)
class Leader:
    """A partition's leader as the client last learned it."""

    node: int
    epoch: int


class ClientNode:
    """Core-protocol plumbing and the metadata of one topic; subclasses do the work in
    :meth:`_pump` (called after every event) and name their timers in :meth:`_timers`."""

    kind = "client"

    def __init__(
        self,
        client_id: int,
        brokers: Sequence[int],
        topic: str,
        history: History,
        *,
        seed: int = 0,
        request_timeout_ms: int = 30_000,
        retry_backoff_ms: int = 100,
        reconnect_backoff_ms: int = 50,
        reconnect_backoff_max_ms: int = 1_000,
    ) -> None:
        self.client_id = client_id  # the history's process: the node id the world gives it
        self.bootstrap = tuple(brokers)
        self.brokers: tuple[int, ...] = tuple(brokers)
        self.topic = topic
        self.history = history
        self.random = SeededRandom(seed)
        self.request_timeout_ms = request_timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.network = NetworkClient(
            f"sim-{self.kind}-{client_id}",
            request_timeout_ms,
            reconnect_backoff_ms,
            reconnect_backoff_max_ms,
            self.random,
        )
        self.decoded: Counter[int] = Counter()  # responses kio decoded, per api key
        self.failed_requests = 0  # requests that ended disconnected or timed out
        self.unreachable = 0  # connections to a broker that broke or could not be opened
        self.errors: Counter[str] = Counter()  # error codes brokers answered, by name
        self.leaders: dict[int, Leader] = {}
        self.partition_count = 0
        self.metadata_needed = True
        self._metadata_in_flight = False
        self._metadata_retry_ms = 0
        self._outbox: list[Effect] = []

    # ------------------------------------------------------------------ Core protocol

    def on_connect(self, connection_id: int, now_ms: int, listener: str = "") -> list[Effect]:
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        return [Close(connection_id, "a client accepts no requests")]

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        return []

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        self.network.on_response(node_id, frame, now_ms)
        return self._step(now_ms)

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        self.unreachable += 1
        self.network.on_unreachable(node_id, now_ms)
        return self._step(now_ms)

    def on_tick(self, now_ms: int) -> list[Effect]:
        self.network.on_tick(now_ms)
        return self._step(now_ms)

    def shutdown(self, now_ms: int) -> None:
        pass

    # ------------------------------------------------------------------ for subclasses

    def _pump(self, now_ms: int) -> None:
        """Start whatever work is due now."""

    def _timers(self) -> list[int]:
        """When :meth:`_pump` has work next (besides requests' deadlines and backoffs)."""
        return []

    def _step(self, now_ms: int) -> list[Effect]:
        self._pump(now_ms)
        effects: list[Effect] = [*self.network.drain(), *self._outbox]
        self._outbox = []
        timers = self._timers()
        deadline = self.network.next_deadline_ms()
        if deadline is not None:
            timers.append(deadline)
        if self.metadata_needed and not self._metadata_in_flight:
            timers.append(self._metadata_retry_ms)
        timers = [t for t in timers if t > now_ms]  # what is due now was tried just now
        if timers:
            effects.append(Wakeup(min(timers)))
        return effects

    def _send(
        self,
        node_id: int,
        request: Any,
        now_ms: int,
        on_done: Callback,
        timeout_ms: int | None = None,
    ) -> bool:
        """Send ``request`` (a kio entity) to broker ``node_id``; False while it is in backoff.
        ``timeout_ms`` overrides ``request.timeout.ms`` (a JoinGroup waits for the rebalance)."""

        def done(response: ClientResponse) -> None:
            if response.response is None:
                self.failed_requests += 1
            else:
                self.decoded[response.api_key] += 1
            on_done(response)

        address = NodeAddress(node_id, f"broker-{node_id}", 0)
        return self.network.send(address, request, now_ms, done, timeout_ms)

    def _send_unanswered(self, node_id: int, frame: bytes) -> None:
        """A request the broker will not answer (Produce with acks=0): not kept in flight."""
        self._outbox.append(SendRequest(node_id, f"broker-{node_id}", 0, frame))

    def _ready_broker(self, now_ms: int) -> int | None:
        """A broker to ask (Metadata, FindCoordinator, ...): a seeded choice among the ones
        not in reconnect backoff, preferring those with nothing in flight."""
        ready = [b for b in self.brokers if self.network.ready(b, now_ms)]
        idle = [b for b in ready if self.network.in_flight(b) == 0]
        choices = idle or ready
        return choices[self.random.below(len(choices))] if choices else None

    # ------------------------------------------------------------------ metadata

    def _refresh_metadata(self, now_ms: int) -> None:
        """Ask for metadata if it is needed and none is in flight."""
        if not self.metadata_needed or self._metadata_in_flight or now_ms < self._metadata_retry_ms:
            return
        broker = self._ready_broker(now_ms)
        if broker is None:
            return
        request = MetadataRequest(
            topics=(MetadataRequestTopic(topic_id=None, name=TopicName(self.topic)),),
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        )
        self._metadata_in_flight = self._send(broker, request, now_ms, self._on_metadata)

    def _on_metadata(self, done: ClientResponse) -> None:
        self._metadata_in_flight = False
        self._metadata_retry_ms = done.now_ms + self.retry_backoff_ms
        response = done.response
        if response is None:
            return
        self.brokers = tuple(sorted({*self.bootstrap, *(int(b.node_id) for b in response.brokers)}))
        topic = next((t for t in response.topics if t.name == self.topic), None)
        if topic is None or topic.error_code != ErrorCode.none:
            return
        complete = True
        for partition in topic.partitions:
            index, leader = int(partition.partition_index), int(partition.leader_id)
            epoch = int(partition.leader_epoch)
            known = self.leaders.get(index)
            if known is not None and epoch < known.epoch:
                continue  # a stale answer (KIP-320): keep the newer leader
            if partition.error_code != ErrorCode.none or leader < 0:
                self.leaders.pop(index, None)
                complete = False
            else:
                self.leaders[index] = Leader(leader, epoch)
        self.partition_count = len(topic.partitions)
        self.metadata_needed = not complete

    def _leader_lost(self, partition: int) -> None:
        """A response says the leader we know is not (or no longer) the one: ask again."""
        self.leaders.pop(partition, None)
        self.metadata_needed = True
