"""The broker's sans-I/O core: one node's services and the events that drive them.

Drivers (the asyncio server, the in-process router, tests) feed it events with the current time
and carry out the effects it returns (``refka.core.effects``):

- ``on_connect(connection_id, now_ms, listener, client_host)`` /
  ``on_disconnect(connection_id, now_ms)``;
- ``on_request(connection_id, frame, now_ms)``: one request frame, size prefix removed;
- ``on_response(node_id, frame, now_ms, channel)`` / ``on_unreachable(node_id, now_ms,
  channel)``: the answers to the requests this broker sent (``SendRequest``) to the controller
  and to other brokers, on one of its channels (``refka.core.channels``: ``heartbeat``,
  ``alter-partition``, ``forwarding``, ``raft``, and ``""`` for the replica fetchers);
- ``on_tick(now_ms)``: time passed (long-poll deadlines, heartbeats, ISR checks, group timers).

The broker is a composition (KIP-500, KIP-631): a ``BrokerLifecycleManager`` registers with the
controller and heartbeats; a ``MetadataLoader`` fetches the controller's metadata log and
applies it to the ``MetadataImage``; each applied delta is published to the
``ReplicaManager`` (leader or follower roles, fetchers, ISR changes), to the group coordinator
(which ``__consumer_offsets`` partitions it leads) and to the lifecycle (the applied offset).
Requests reach narrow services (``Partitions``, ``Topics``, ``GroupService``) through the API
table (``refka.handlers.registry``) and the ``Dispatcher``, which orders the answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from refka.broker.clean_shutdown import mark_clean_shutdown, take_previous_broker_epoch
from refka.broker.forwarding import ForwardingManager
from refka.broker.lifecycle import BrokerLifecycleManager, BrokerState, Registration
from refka.broker.meta_properties import MetaProperties
from refka.broker.metadata_loader import MetadataLoader
from refka.broker.producer_ids import ProducerIdManager
from refka.bugs import Bug
from refka.config import (
    BrokerConfig,
    advertised_listeners,
    broker_listeners,
    inter_broker_listener,
    quorum_voter,
)
from refka.core import channels
from refka.core.channels import Channels
from refka.core.client_metrics import ClientMetrics
from refka.core.context import ANONYMOUS, RequestContext
from refka.core.dispatch import Dispatcher
from refka.core.dynamic_config import CLUSTER, effective_config
from refka.core.effects import Close, Effect, Halt, Send, Wakeup
from refka.core.groups import make_group_service
from refka.core.network_client import NetworkClient, NodeAddress
from refka.core.partitions import Partitions
from refka.core.seeded import SeededRandom
from refka.core.topics import Node, Topics
from refka.core.transactions import TransactionService
from refka.handlers import registry
from refka.log.storage import Storage
from refka.metadata.image import MetadataDelta, MetadataImage, whole_image_delta
from refka.metadata.records import BROKER_RESOURCE, TOPIC_RESOURCE
from refka.quotas.throttler import RequestThrottler
from refka.replication.fetcher_config import FetcherConfig, TruncationMode
from refka.replication.replica_manager import ReplicaManager, ReplicationConfig
from refka.security.authenticator import SaslAuthenticator
from refka.security.authorizer import make_authorizer
from refka.security.settings import sasl_listeners

if TYPE_CHECKING:
    from refka.core.trace import Tracer
    from refka.security.scram import ScramCredential, ScramMechanism

log = logging.getLogger(__name__)
TELEMETRY_SEED = 0x714  # the client instance ids' source: the seed's own stream (KIP-714)
SASL_SEED = 0x5A5 << 16  # the SCRAM server nonces' source: the seed's own stream (KIP-84)


class Broker:
    """One Kafka broker: its partitions, its view of the cluster, its groups, its connections.

    ``host_name`` replaces a wildcard advertised host (the driver looks it up; the core does
    not touch the network). ``controller`` overrides the address of ``controller.quorum.voters``
    (a combined node passes its own controller listener).
    """

    def __init__(
        self,
        config: BrokerConfig,
        storage: Storage,
        now_ms: int,
        seed: int,
        host_name: str = "localhost",
        controller: NodeAddress | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.config = config
        self.tracer = tracer
        self.storage = storage
        self.random = SeededRandom(seed)
        endpoints = advertised_listeners(config, host_name)
        listener, host, port = endpoints[0]
        self.node = Node(config.node_id, host, port, config.broker_rack)
        self.controller = controller or _controller_address(config)
        self.meta = MetaProperties.read(storage)
        if self.meta is None:
            raise ValueError(
                "log.dirs has no meta.properties: format it first with `refka storage format "
                "--cluster-id ID` (as kafka-storage format); refka cluster and a combined node "
                "format themselves"
            )
        self.image = MetadataImage.empty(self.meta.cluster_id)
        self.channels = Channels(
            lambda channel: NetworkClient(
                f"broker-{config.node_id}",
                config.request_timeout_ms,
                config.reconnect_backoff_ms,
                config.reconnect_backoff_max_ms,
                SeededRandom(self.random.next_u64()),
                channel,
            )
        )
        self.network = self.channels[channels.DEFAULT]
        self.partitions = Partitions(
            config, storage, config.node_id, now_ms, self._topic_configs, self._reply
        )
        self.lifecycle = BrokerLifecycleManager(
            Registration(
                config.node_id,
                self.meta.cluster_id,
                self.random.uuid4(),
                tuple(endpoints),
                config.broker_rack,
                take_previous_broker_epoch(storage),
            ),
            self.controller,
            self.channels[channels.HEARTBEAT],
            config.broker_heartbeat_interval_ms,
            now_ms,
        )
        self.replicas = ReplicaManager(
            config.node_id,
            self.partitions.logs,
            lambda topic: self.partitions.log_config(self._topic_configs(topic)),
            self.partitions.purgatory,
            self.network,
            lambda: self.lifecycle.broker_epoch,
            lambda: self.controller,
            _replication_config(config),
            on_partitions_changed=self.partitions.partitions_changed,
            replicas=self.partitions.replicas,
            tracer=tracer,
            alter_partition_client=self.channels[channels.ALTER_PARTITION],
        )
        self._publishing = False  # replicas and groups follow the image (after catch-up)
        self.loader = MetadataLoader(
            config.node_id,
            self.controller,
            self.channels[channels.RAFT],
            self.image,
            self._publish,
            config.reconnect_backoff_ms,
            now_ms,
        )
        to_controller = self.channels[channels.FORWARDING]
        forwarding = ForwardingManager(self.controller, to_controller, self._reply)
        producer_ids = ProducerIdManager(
            config.node_id, lambda: self.lifecycle.broker_epoch, self.controller, to_controller
        )
        self.topics = Topics(
            config,
            self.node,
            self.partitions,
            lambda: self.image,
            forwarding,
            producer_ids,
            listener,
        )
        self.groups = make_group_service(
            self.topics,
            self.partitions,
            self.random,
            self._reply,
            registry.GROUP_RESPONDERS,
            tracer,
        )
        self.transactions = TransactionService(
            self.topics,
            self.partitions,
            self._reply,
            self.network,
            self.groups.on_txn_marker,
            tracer,
        )
        telemetry = ClientMetrics(SeededRandom(seed ^ TELEMETRY_SEED), config.telemetry_max_bytes)
        services = registry.BrokerServices(
            self.partitions, self.topics, self.groups, self.replicas, self.transactions, telemetry
        )
        self.apis = registry.broker_apis(services)
        self.sasl = _sasl_authenticator(config, seed ^ SASL_SEED, lambda: self.image)
        self.apis.update(registry.sasl_apis(self.sasl))
        self.dispatch = Dispatcher(
            self.apis,
            registry.unsupported_api_versions(self.apis),
            self.partitions.cancel_connection,
            self.sasl,
        )
        self.dispatch.authorizer = make_authorizer(
            config.authorizer_class_name,
            lambda: self.image.acls,
            config.super_users,
            config.allow_everyone_if_no_acl_found,
        )
        self.sasl.on_authenticated = self.dispatch.authenticate
        self._now_ms = now_ms  # the current event's time, for answers made during it
        self.dispatch.throttle = RequestThrottler(
            lambda: self.image.client_quotas,
            lambda: self._now_ms,
            config.quota_window_num,
            config.quota_window_size_seconds * 1000,
        )
        self._wakeup_ms: int | None = None

    @property
    def ready(self) -> bool:
        """Registered, caught up with the metadata log and unfenced: serving (RUNNING)."""
        return self.lifecycle.state is BrokerState.RUNNING

    @property
    def listed(self) -> bool:
        """Unfenced in its own metadata image, so its Metadata answers list it: the
        controller's heartbeat answer (RUNNING) can come a fetch before the record does."""
        registration = self.image.brokers.get(self.config.node_id)
        return registration is not None and not registration.fenced

    # ----------------------------------------------------------------- events

    def on_connect(
        self,
        connection_id: int,
        now_ms: int,
        listener: str = "",
        client_host: str = "",
        principal: str = ANONYMOUS,
    ) -> list[Effect]:
        """A connection from ``client_host`` accepted on ``listener`` (a name of ``listeners``;
        "" for the first): Metadata and FindCoordinator on it answer with that listener's
        endpoints. ``principal``: who the transport authenticated (an SSL client's
        certificate), else ANONYMOUS until SASL says."""
        self.dispatch.on_connect(connection_id, listener or self.topics.listener, client_host)
        if principal != ANONYMOUS:
            self.dispatch.authenticate(connection_id, principal)
        return []

    def in_flight(self, connection_id: int) -> int:
        """Requests on ``connection_id`` not yet answered (the driver's ``queued.max.requests``)."""
        return self.dispatch.in_flight(connection_id)

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.dispatch.on_disconnect(connection_id)
        self.partitions.cancel_connection(connection_id)
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        self._now_ms = now_ms

        def handle() -> list[Effect]:
            closed = self.dispatch.on_request(connection_id, frame, now_ms)
            return self._collect(now_ms) + closed

        return self._guard(handle)

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        self._now_ms = now_ms

        def handle() -> list[Effect]:
            self.channels.on_response(node_id, frame, now_ms, channel)
            return self._collect(now_ms)

        return self._guard(handle)

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        self._now_ms = now_ms

        def handle() -> list[Effect]:
            self.channels.on_unreachable(node_id, now_ms, channel)
            return self._collect(now_ms)

        return self._guard(handle)

    def on_tick(self, now_ms: int) -> list[Effect]:
        self._now_ms = now_ms

        def handle() -> list[Effect]:
            self._wakeup_ms = None
            self.channels.on_tick(now_ms)
            self.partitions.on_tick(now_ms)
            self.replicas.on_tick(now_ms)
            self.groups.on_tick(now_ms)
            self.transactions.on_tick(now_ms)
            closes: list[Effect] = [Close(c, reason) for c, reason in self.sasl.due_closes(now_ms)]
            closes += self.dispatch.release(now_ms)  # muted connections whose throttle ended
            return self._collect(now_ms) + closes

        return self._guard(handle)

    def _guard(self, handle: Callable[[], list[Effect]]) -> list[Effect]:
        """Run an event; an I/O error on the log directory takes it offline, and with no log
        directory left the broker halts (Kafka: ``LogDirFailureChannel`` ->
        ``ReplicaManager.handleLogDirFailure`` -> ``LogManager.handleLogDirFailure``, which
        logs "Shutdown broker because all log dirs in ... have failed" and calls
        ``Exit.halt(1)``). The answers already made (a Produce's KAFKA_STORAGE_ERROR) go out
        first."""
        try:
            effects = handle()
        except OSError as error:
            self.replicas.handle_log_dir_failure(error)
            effects = self.dispatch.drain()
        if self.replicas.offline_log_dir is None:
            return effects
        reason = self.replicas.offline_log_dir
        message = f"all log dirs in {self.config.log_dirs} have failed: {reason}"
        return [*effects, Halt(message)]

    def begin_controlled_shutdown(self, now_ms: int) -> list[Effect]:
        """Ask the controller to move leadership away; ``shutdown_complete`` tells when done."""
        self.lifecycle.begin_controlled_shutdown(now_ms)
        return self._collect(now_ms)

    @property
    def shutdown_complete(self) -> bool:
        return self.lifecycle.state is BrokerState.SHUTTING_DOWN

    def shutdown(self, now_ms: int) -> None:
        """Flush and close the logs; after a completed controlled shutdown, leave the
        clean-shutdown file (KIP-966) so that the next start registers as clean. The high
        watermarks are checkpointed first (``replication-offset-checkpoint``), as Kafka's
        ``ReplicaManager.shutdown``. An I/O error (a full disk) takes the log directory
        offline instead, as in ``_guard``: Kafka's ``LogManager.shutdown`` closes only the live
        log directories, so no clean-shutdown file is left and the next start is unclean."""
        try:
            self.replicas.checkpoint_high_watermarks()
            self.partitions.close()
            if self.shutdown_complete:
                mark_clean_shutdown(self.storage, self.lifecycle.broker_epoch)
        except OSError as error:
            self.replicas.handle_log_dir_failure(error)

    # -------------------------------------------------------------- internals

    def _publish(self, image: MetadataImage, delta: MetadataDelta, now_ms: int) -> None:
        """A metadata delta was applied: roles, groups and the lifecycle follow the image.

        Replica roles and group coordination wait until the controller has acknowledged that
        this broker caught up with the metadata log past its own registration (Kafka's
        ``BrokerServer`` installs its metadata publisher only after the lifecycle manager's
        ``initialCatchUpFuture``). Before that the image may still name this broker the
        leader of an epoch that ended when it crashed: the registration that fences it and
        moves its leadership (KIP-966 unclean shutdown) is not applied yet. Acting on it would
        lead a partition again with a log that lost its unflushed tail, and the followers
        would truncate committed records to match it."""
        self.image = image
        self.lifecycle.on_metadata_applied(image.offset)
        if not self._publishing:
            return
        self._apply(image, delta, now_ms)

    def _maybe_start_publishing(self, now_ms: int) -> None:
        """The controller said this broker caught up: hand the replicas and groups the whole
        image once, then every delta."""
        if self._publishing or not self.lifecycle.caught_up:
            return
        self._publishing = True
        self._apply(self.image, whole_image_delta(self.image), now_ms)

    def _apply(self, image: MetadataImage, delta: MetadataDelta, now_ms: int) -> None:
        self.replicas.apply_delta(image, delta, self.config.node_id, now_ms)
        if any(kind == BROKER_RESOURCE for kind, _ in delta.changed_configs):
            self.partitions.reconfigure_broker(self._effective_config(image))
        for topic in delta.changed_configs:
            if topic[0] == TOPIC_RESOURCE and topic[1] in image.topics_by_name:
                self.partitions.reconfigure_topic(topic[1])
        self.groups.on_metadata(image, now_ms)
        self.transactions.on_metadata(image, now_ms)

    def _reply(self, ctx: RequestContext, response: Any) -> None:
        self.dispatch.reply(ctx, response)

    def _effective_config(self, image: MetadataImage) -> BrokerConfig:
        cluster = image.configs.get((BROKER_RESOURCE, CLUSTER), {})
        node = image.configs.get((BROKER_RESOURCE, str(self.config.node_id)), {})
        return effective_config(self.config, cluster, node)

    def _topic_configs(self, topic: str) -> dict[str, str]:
        return dict(self.image.configs.get((TOPIC_RESOURCE, topic), {}))

    def _collect(self, now_ms: int) -> list[Effect]:
        self._maybe_start_publishing(now_ms)
        self.lifecycle.on_tick(now_ms)
        self.loader.on_tick(now_ms)
        self.replicas.poll(now_ms)
        effects: list[Effect] = self.dispatch.drain()
        effects += self.channels.drain()
        deadline = _earliest(
            self.partitions.next_deadline_ms(),
            self.groups.next_deadline_ms(),
            self.transactions.next_deadline_ms(),
            self.channels.next_deadline_ms(),
            self.replicas.next_deadline_ms(),
            self.lifecycle.next_deadline_ms(),
            self.loader.next_deadline_ms(),
            self.sasl.next_deadline_ms(),
            self.dispatch.next_deadline_ms(),
        )
        if deadline is not None and deadline != self._wakeup_ms:
            self._wakeup_ms = deadline
            effects.append(Wakeup(deadline))
        return effects


def _sasl_authenticator(
    config: BrokerConfig, seed: int, image: Callable[[], MetadataImage]
) -> SaslAuthenticator:
    """SASL on the broker's SASL listeners (KIP-43); SCRAM credentials from the image."""
    names = [name for name, _, _ in broker_listeners(config)]
    nonce_source = SeededRandom(seed)

    def nonce() -> str:
        return f"{nonce_source.next_u64():x}{nonce_source.next_u64():x}"

    def credential(user: str, mechanism: ScramMechanism) -> ScramCredential | None:
        return image().scram_credential(user, mechanism)

    secret = config.delegation_token_secret_key
    return SaslAuthenticator(
        sasl_listeners(config, names),
        credential,
        nonce,
        config.connection_failed_authentication_delay_ms,
        None if not secret else partial(_live_token, image, secret),
    )


def _live_token(
    image: Callable[[], MetadataImage],
    secret: str,
    token_id: str,
    mechanism: ScramMechanism,
    now_ms: int,
) -> tuple[str, ScramCredential] | None:
    """The owner and SCRAM credential of a delegation token that has not expired (KIP-48)."""
    from refka.security import delegation_token as dt
    from refka.security.scram import token_credential

    token = image().tokens.get(token_id)
    if token is None or dt.expired(token, now_ms):
        return None
    return token.owner, token_credential(mechanism, token_id, dt.password(secret, token_id))


def _controller_address(config: BrokerConfig) -> NodeAddress:
    voter = quorum_voter(config)
    if voter is None:
        raise ValueError(
            "a broker needs controller.quorum.voters (or controller.quorum.bootstrap.servers)"
        )
    return NodeAddress(*voter)


def _replication_config(config: BrokerConfig) -> ReplicationConfig:
    """Kafka's replication configs, and the replication bug switches (``refka.bugs``)."""
    bugs = config.bugs
    truncation = TruncationMode.KIP279
    if Bug.FAST_LEADER_CHANGE in bugs:
        truncation = TruncationMode.KIP101
    if Bug.TRUNCATE_TO_HIGH_WATERMARK in bugs:
        truncation = TruncationMode.HIGH_WATERMARK
    return ReplicationConfig(
        inter_broker_listener=inter_broker_listener(config),
        replica_lag_time_max_ms=config.replica_lag_time_max_ms,
        replica_high_watermark_checkpoint_interval_ms=(
            config.replica_high_watermark_checkpoint_interval_ms
        ),
        fetcher=FetcherConfig(
            replica_fetch_wait_max_ms=config.replica_fetch_wait_max_ms,
            replica_fetch_min_bytes=config.replica_fetch_min_bytes,
            replica_fetch_max_bytes=config.replica_fetch_max_bytes,
            replica_fetch_response_max_bytes=config.replica_fetch_response_max_bytes,
            replica_fetch_backoff_ms=config.replica_fetch_backoff_ms,
            truncation=truncation,
            fence_epochs=Bug.STALE_EPOCH_FETCH not in bugs,
        ),
        fence_leader_epochs=Bug.STALE_EPOCH_FETCH not in bugs,
        ack_before_isr=Bug.ACK_BEFORE_ISR in bugs,
        hide_lagging_high_watermark=Bug.HIGH_WATERMARK_REGRESSION not in bugs,
        deduplicate_producer_batches=Bug.NO_IDEMPOTENCE_WINDOW not in bugs,
        read_committed_below_lso=Bug.READ_UNCOMMITTED not in bugs,
    )


def _earliest(*deadlines: int | None) -> int | None:
    return min((d for d in deadlines if d is not None), default=None)


__all__ = ["Broker", "Close", "Node", "Send"]
