"""The broker's sans-I/O core: one node's services and the events that drive them.

Drivers (the asyncio server, the simulator, tests) feed it events with the current time and
carry out the effects it returns (``refka.core.effects``):

- ``on_connect(connection_id, now_ms)`` / ``on_disconnect(connection_id, now_ms)``;
- ``on_request(connection_id, frame, now_ms)``: one request frame, size prefix removed;
- ``on_tick(now_ms)``: time passed (long-poll deadlines, retention, flush, group timers);
- ``on_response(node_id, frame, now_ms)`` / ``on_unreachable(node_id, now_ms)``: what became of
  a request this node sent to another (``SendRequest``) through its ``NetworkClient``.

The broker is a composition: ``NetworkClient`` (requests to other nodes), ``Partitions``
(replicas, logs, purgatory), ``Topics`` (metadata and admin operations), ``GroupService`` (the
group coordinator), the API table bound to them (``refka.handlers.registry``) and the
``Dispatcher`` that routes frames and orders answers.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from refka.config import BrokerConfig, advertised_address
from refka.core.context import RequestContext
from refka.core.dispatch import Dispatcher
from refka.core.effects import Close, Effect, Send, Wakeup
from refka.core.groups import make_group_service
from refka.core.metadata import load_metadata
from refka.core.network_client import NetworkClient
from refka.core.partitions import Partitions
from refka.core.seeded import SeededRandom
from refka.core.topics import Node, Topics
from refka.handlers import registry
from refka.log.storage import Storage

log = logging.getLogger(__name__)


class Broker:
    """One Kafka node: its partitions, its metadata, its groups and its connections.

    ``host_name`` replaces a wildcard advertised host (the driver looks it up; the core does
    not touch the network).
    """

    def __init__(
        self,
        config: BrokerConfig,
        storage: Storage,
        now_ms: int,
        seed: int,
        host_name: str = "localhost",
    ) -> None:
        self.config = config
        self.storage = storage
        self.random = SeededRandom(seed)
        host, port = advertised_address(config, host_name)
        self.node = Node(config.node_id, host, port, config.broker_rack)
        self.metadata = load_metadata(storage, config.node_id, _cluster_id(self.random))
        self.partitions = Partitions(
            config, storage, config.node_id, now_ms, self._topic_configs, self._reply
        )
        self.topics = Topics(
            config, self.node, storage, self.metadata, self.partitions, self.random
        )
        self.topics.open_all(now_ms)
        self.groups = make_group_service(
            self.topics, self.partitions, self.random, self._reply, registry.GROUP_RESPONDERS
        )
        services = registry.BrokerServices(self.partitions, self.topics, self.groups)
        self.apis = registry.broker_apis(services)
        self.dispatch = Dispatcher(
            self.apis,
            registry.unsupported_api_versions(self.apis),
            self.partitions.cancel_connection,
        )
        self.network = NetworkClient(
            f"broker-{config.node_id}",
            config.request_timeout_ms,
            config.reconnect_backoff_ms,
            config.reconnect_backoff_max_ms,
            SeededRandom(self.random.next_u64()),
        )
        self._wakeup_ms: int | None = None

    # ----------------------------------------------------------------- events

    def on_connect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.dispatch.on_connect(connection_id)
        return []

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.dispatch.on_disconnect(connection_id)
        self.partitions.cancel_connection(connection_id)
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        closed = self.dispatch.on_request(connection_id, frame, now_ms)
        return self._collect(now_ms) + closed

    def on_response(self, node_id: int, frame: bytes | memoryview, now_ms: int) -> list[Effect]:
        self.network.on_response(node_id, frame, now_ms)
        return self._collect(now_ms)

    def on_unreachable(self, node_id: int, now_ms: int) -> list[Effect]:
        self.network.on_unreachable(node_id, now_ms)
        return self._collect(now_ms)

    def on_tick(self, now_ms: int) -> list[Effect]:
        self._wakeup_ms = None
        self.network.on_tick(now_ms)
        self.partitions.on_tick(now_ms)
        self.groups.on_tick(now_ms)
        return self._collect(now_ms)

    def shutdown(self, now_ms: int) -> None:
        self.partitions.close()

    # -------------------------------------------------------------- internals

    def _reply(self, ctx: RequestContext, response: Any) -> None:
        self.dispatch.reply(ctx, response)

    def _topic_configs(self, topic: str) -> dict[str, str]:
        known = self.metadata.topics.get(topic)
        return known.configs if known is not None else {}

    def _collect(self, now_ms: int) -> list[Effect]:
        effects = self.dispatch.drain()
        effects += self.network.drain()
        deadline = _earliest(
            self.partitions.next_deadline_ms(),
            self.groups.next_deadline_ms(),
            self.network.next_deadline_ms(),
        )
        if deadline is not None and deadline != self._wakeup_ms:
            self._wakeup_ms = deadline
            effects.append(Wakeup(deadline))
        return effects


def _earliest(*deadlines: int | None) -> int | None:
    return min((d for d in deadlines if d is not None), default=None)


def _cluster_id(random: SeededRandom) -> str:
    """A new cluster id: 16 random bytes, base64url without padding, as Kafka's ``Uuid``."""
    return base64.urlsafe_b64encode(random.uuid4().bytes).decode().rstrip("=")


__all__ = ["Broker", "Close", "Node", "Send"]
