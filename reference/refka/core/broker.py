"""The broker's sans-I/O core: one node's state and the routing of requests to it.

Drivers (the asyncio server, the simulator, tests) feed it events with the current time and
carry out the effects it returns (``refka.core.effects``):

- ``on_request(connection_id, frame, now_ms)``: one request frame, size prefix removed;
- ``on_tick(now_ms)``: time passed (long-poll deadlines, retention, flush, group timers);
- ``on_disconnect(connection_id, now_ms)``.

It parses the request header, answers unsupported versions as Kafka does (an ApiVersions v0
answer listing the supported ranges; a closed connection for any other API), dispatches to the
handler of the API (``refka.handlers``), and keeps each connection's responses in order.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from kio.schema.errors import ErrorCode

from refka.config import BrokerConfig, advertised_address
from refka.core.connections import ResponseQueue
from refka.core.context import CLOSE_CONNECTION, NO_RESPONSE, PENDING, Encoded, RequestContext
from refka.core.effects import Close, Effect, Send, Wakeup
from refka.core.metadata import ClusterMetadata, TopicMetadata, load_metadata, save_metadata
from refka.core.purgatory import Purgatory, TopicPartition
from refka.core.seeded import SeededRandom
from refka.core.topic_defaults import topic_defaults
from refka.log.cleaner import CleanerConfig
from refka.log.config import LogConfig
from refka.log.log_manager import LogManager
from refka.log.storage import Storage
from refka.protocol import codec, framing
from refka.replica import Replica

log = logging.getLogger(__name__)

API_VERSIONS_KEY = 18


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    node_id: int
    host: str
    port: int
    rack: str | None = None


class Broker:
    """One Kafka node: its replicas, its metadata, its waiting requests and its connections."""

    def __init__(self, config: BrokerConfig, storage: Storage, now_ms: int, seed: int) -> None:
        from refka.handlers import registry  # handlers import the broker's types

        self.config = config
        self.storage = storage
        self._default_log_config: LogConfig | None = None
        self.random = SeededRandom(seed)
        host, port = advertised_address(config)
        self.node = Node(config.node_id, host, port, config.broker_rack)
        self.apis = registry.APIS
        self.metadata: ClusterMetadata = load_metadata(
            storage, config.node_id, _cluster_id(self.random)
        )
        self.logs = LogManager(
            storage,
            now_ms,
            config_for=self._topic_log_config,
            retention_check_interval_ms=config.log_retention_check_interval_ms,
            cleaner=CleanerConfig(
                enable=config.log_cleaner_enable,
                backoff_ms=config.log_cleaner_backoff_ms,
                dedupe_buffer_size=config.log_cleaner_dedupe_buffer_size,
                io_buffer_load_factor=config.log_cleaner_io_buffer_load_factor,
            ),
        )
        self._logs_due_ms = now_ms
        self.replicas: dict[TopicPartition, Replica] = {}
        self.purgatory = Purgatory()
        self.queues: dict[int, ResponseQueue] = {}
        self._wakeup_ms: int | None = None
        for topic in self.metadata.topics.values():
            for partition in range(topic.partitions):
                self._open_replica(topic, partition, now_ms)
        self.groups = registry.make_group_coordinator(self, now_ms)

    # ----------------------------------------------------------------- events

    def on_connect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.queues[connection_id] = ResponseQueue(connection_id)
        return []

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.queues.pop(connection_id, None)
        self.purgatory.cancel_connection(connection_id)
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        queue = self.queues.get(connection_id)
        if queue is None:
            queue = self.queues[connection_id] = ResponseQueue(connection_id)
        try:
            header, body_offset = framing.parse_request_header(frame)
        except Exception as error:
            return [Close(connection_id, f"malformed request header: {error}")]
        api = self.apis.get(header.api_key)
        if api is None:
            return [Close(connection_id, f"unknown API key {header.api_key}")]
        if not api.supports(header.api_version):
            if header.api_key != API_VERSIONS_KEY:
                return [
                    Close(connection_id, f"unsupported version {header.api_version} of {api.name}")
                ]
            return self._answer_unsupported_api_versions(queue, header.correlation_id)
        try:
            request: Any
            request, _ = codec.decode(api.request_class(header.api_version), frame, body_offset)
        except Exception as error:
            return [Close(connection_id, f"cannot parse {api.name} v{header.api_version}: {error}")]
        ctx = RequestContext(
            connection_id=connection_id,
            correlation_id=header.correlation_id,
            api_key=header.api_key,
            api_version=header.api_version,
            client_id=header.client_id,
            now_ms=now_ms,
            sequence=queue.open_slot(),
        )
        try:
            result = api.handle(self, ctx, request)
        except Exception:
            log.exception("%s v%d failed", api.name, header.api_version)
            self.queues.pop(connection_id, None)
            return [Close(connection_id, f"internal error in {api.name}")]
        if result is CLOSE_CONNECTION:
            self.on_disconnect(connection_id, now_ms)
            return [*self._collect(now_ms), Close(connection_id, f"{api.name} failed with acks=0")]
        if result is not PENDING:
            self._fill(ctx, result)
        return self._collect(now_ms)

    def on_tick(self, now_ms: int) -> list[Effect]:
        self._wakeup_ms = None
        for ctx, response in self.purgatory.expire(now_ms):
            self._fill(ctx, response)
        if now_ms >= self._logs_due_ms:
            self._logs_due_ms = self.logs.on_tick(now_ms)
        for ctx, response in self.groups.on_tick(now_ms):
            self._fill(ctx, response)
        return self._collect(now_ms)

    def shutdown(self, now_ms: int) -> None:
        self.logs.close()

    # ------------------------------------------------------ used by handlers

    def reply(self, ctx: RequestContext, response: object) -> None:
        """Answer a request that was left pending."""
        self._fill(ctx, response)

    def partitions_changed(self, keys: Iterable[TopicPartition], now_ms: int) -> None:
        """Data arrived: retry the requests waiting on these partitions."""
        for ctx, response in self.purgatory.check(keys, now_ms):
            self._fill(ctx, response)

    def replica(self, topic: str, partition: int) -> Replica | None:
        return self.replicas.get((topic, partition))

    def log_config(self, configs: dict[str, str]) -> LogConfig:
        return LogConfig.from_topic_configs(configs, self.default_log_config())

    def _topic_log_config(self, topic: str) -> LogConfig:
        known = self.metadata.topics.get(topic)
        return self.log_config(known.configs if known is not None else {})

    def default_log_config(self) -> LogConfig:
        """The broker-level defaults of every topic config (``log.*`` keys and synonyms)."""
        if self._default_log_config is None:
            defaults = {k: d.value for k, d in topic_defaults(self.config).items()}
            self._default_log_config = LogConfig.from_topic_configs(defaults, validate=False)
        return self._default_log_config

    def alter_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        """Replace a topic's overrides (the caller validated them): persist, then apply."""
        topic = self.metadata.topics[name]
        topic.configs = dict(configs)
        save_metadata(self.storage, self.metadata)
        config = self.log_config(topic.configs)
        for partition in range(topic.partitions):
            replica = self.replicas.get((name, partition))
            if replica is not None:
                replica.log.config = config

    def create_topic(
        self,
        name: str,
        partitions: int,
        configs: dict[str, str],
        now_ms: int,
        internal: bool = False,
    ) -> TopicMetadata:
        """Create a topic (the caller validated it): persist the metadata, then open its logs."""
        self.log_config(configs)  # raises ValueError on a bad config
        topic = TopicMetadata(
            name=name,
            topic_id=self.random.uuid4(),
            partitions=partitions,
            configs=dict(configs),
            leader_epochs=[0] * partitions,
            is_internal=internal,
        )
        self.metadata.topics[name] = topic
        save_metadata(self.storage, self.metadata)
        for partition in range(partitions):
            self._open_replica(topic, partition, now_ms)
        return topic

    def delete_topic(self, name: str, now_ms: int) -> None:
        topic = self.metadata.topics.pop(name)
        save_metadata(self.storage, self.metadata)
        for partition in range(topic.partitions):
            self.replicas.pop((name, partition), None)
            self.logs.delete(name, partition)

    def add_partitions(self, name: str, total: int, now_ms: int) -> None:
        topic = self.metadata.topics[name]
        first_new = topic.partitions
        topic.partitions = total
        topic.leader_epochs.extend([0] * (total - first_new))
        save_metadata(self.storage, self.metadata)
        for partition in range(first_new, total):
            self._open_replica(topic, partition, now_ms)

    def allocate_producer_id(self) -> int:
        """A producer id never handed out before, on this node, across restarts."""
        producer_id = self.metadata.next_producer_id
        self.metadata.next_producer_id += 1
        save_metadata(self.storage, self.metadata)
        return producer_id

    def append_internal(self, topic: str, partition: int, records: bytes, now_ms: int) -> int:
        """Append a batch the broker wrote itself (``__consumer_offsets``); returns its offset."""
        replica = self.replicas[(topic, partition)]
        result = replica.append_as_leader(records, now_ms, 1, 1, from_client=False)
        if result.error_code != ErrorCode.none:
            raise RuntimeError(f"internal append to {topic}-{partition} failed: {result}")
        self.partitions_changed([(topic, partition)], now_ms)
        return result.base_offset

    # -------------------------------------------------------------- internals

    def _open_replica(self, topic: TopicMetadata, partition: int, now_ms: int) -> None:
        config = self.log_config(topic.configs)
        partition_log = self.logs.get_or_create(topic.name, partition, config, now_ms)
        replica = Replica(partition_log, self.node.node_id, topic.leader_epochs[partition])
        replica.become_leader(topic.leader_epochs[partition])
        self.replicas[(topic.name, partition)] = replica

    def _fill(self, ctx: RequestContext, response: Any) -> None:
        queue = self.queues.get(ctx.connection_id)
        if queue is None:
            return  # the connection went away while the request waited
        if response is NO_RESPONSE:
            queue.fill(ctx.sequence, None)
            return
        body: tuple[Any, ...] = (
            response.chunks if isinstance(response, Encoded) else (codec.encode(response),)
        )
        flexible_header = ctx.api_key != API_VERSIONS_KEY and codec.is_flexible(
            ctx.api_key, ctx.api_version
        )
        head = codec.response_header(ctx.correlation_id, flexible_header, _size(body))
        queue.fill(ctx.sequence, (head, *body))

    def _collect(self, now_ms: int) -> list[Effect]:
        effects: list[Effect] = []
        for queue in self.queues.values():
            if queue.slots and queue.slots[0].ready:
                effects.extend(queue.drain())
        deadline = _earliest(self.purgatory.next_deadline_ms(), self.groups.next_deadline_ms())
        deadline = _earliest(deadline, self._logs_due_ms)
        if deadline is not None and deadline != self._wakeup_ms:
            self._wakeup_ms = deadline
            effects.append(Wakeup(deadline))
        return effects

    def _answer_unsupported_api_versions(
        self, queue: ResponseQueue, correlation_id: int
    ) -> list[Effect]:
        """KIP-511: an ApiVersions request at a version we lack gets a v0 UNSUPPORTED_VERSION
        answer that still lists our ranges, so the client can retry at a version we speak."""
        from refka.handlers.api_versions import unsupported_version_response

        body = codec.encode(unsupported_version_response(self))
        sequence = queue.open_slot()
        queue.fill(sequence, (codec.response_header(correlation_id, False, len(body)), body))
        return list(queue.drain())


def _size(chunks: tuple[Any, ...]) -> int:
    return sum(c.size if not isinstance(c, bytes | bytearray) else len(c) for c in chunks)


def _earliest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _cluster_id(random: SeededRandom) -> str:
    """A new cluster id: 16 random bytes, base64url without padding, as Kafka's ``Uuid``."""
    import base64

    return base64.urlsafe_b64encode(random.uuid4().bytes).decode().rstrip("=")


__all__ = ["Broker", "Close", "Node", "Send"]
