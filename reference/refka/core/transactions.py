"""The transaction coordinator as the core owns it: ``__transaction_state`` and the markers.

The coordinator (``refka.txn``) is a state machine; this service carries out its effects. A
transactional id belongs to the leader of its ``__transaction_state`` partition (``abs(hashCode)
% transaction.state.log.num.partitions``, Kafka's ``TransactionStateManager.partitionFor``); the
topic is created on first use (compacted, ``transaction.state.log.replication.factor`` capped at
the live brokers, ``transaction.state.log.min.isr``), as ``__consumer_offsets`` is. A newly led
partition is replayed in bounded steps (``CoordinatorLoader``, as for groups), and the
coordinator gives it up when another broker leads it.

Effects, in order: an ``AppendTxnLog`` is a leader append to ``__transaction_state``; the answer
to the request and the markers wait until the high watermark passes it (at most
``offsets.commit.timeout.ms``, as for groups; a failed write answers the coordinator's error).
A ``WriteTxnMarkers`` goes to the ``TxnMarkerSender`` (``refka.core.txn_markers``): a control
batch appended here for the partitions this broker leads, WriteTxnMarkers requests to the
leaders of the others; once every marker is replicated the coordinator completes the
transaction. ``on_marker`` tells the group coordinator of each marker written here
(transactional offsets); this broker also writes the markers other coordinators send it
(``write_marker``, the WriteTxnMarkers handler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.bugs import Bug
from refka.config import inter_broker_listener
from refka.core.context import PENDING, RequestContext
from refka.core.coordinator_loader import CoordinatorLoader, PartitionLoad
from refka.core.coordinator_write import DelayedCoordinatorWrite, coordinator_error
from refka.core.network_client import NetworkClient, NodeAddress
from refka.core.partitions import Partitions
from refka.core.topics import Node, Topics
from refka.metadata.image import MetadataImage

if TYPE_CHECKING:
    from refka.core.trace import Tracer
    from refka.core.txn_markers import TxnMarkerSender
    from refka.core.txn_verification import AddPartitionsToTxnManager
    from refka.txn.coordinator import TransactionCoordinator
    from refka.txn.effects import Effect, WriteTxnMarkers

TRANSACTION_STATE_TOPIC = "__transaction_state"
E = ErrorCode
Done = Callable[[ErrorCode], None]


class TransactionService:
    """The transaction coordinator of this node, with the partitions it writes to."""

    def __init__(
        self,
        topics: Topics,
        partitions: Partitions,
        reply: Callable[[RequestContext, Any], None],
        client: NetworkClient,
        on_marker: Callable[[str, int, int, bool], None] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        """``client``: the connections to the other brokers (markers for the partitions they
        lead). ``on_marker(topic, partition, producer_id, committed)``: a marker was written
        here (the group coordinator completes the transaction's offsets). ``tracer``: the
        coordinator's Transactions.tla steps (``refka.core.trace``)."""
        self._tracer = tracer
        self._topics = topics
        self._partitions = partitions
        self._reply = reply
        self._on_marker = on_marker
        self._coordinator: TransactionCoordinator | None = None
        self._now_ms = 0  # the latest time seen (for writes completed by the purgatory)
        config = topics.config
        self._commit_timeout_ms = config.offsets_commit_timeout_ms
        self._listener = inter_broker_listener(config)
        # bug switch: Bug.LATE_WRITE_AFTER_ABORT (spec/bugs/Transactions_LateWriteAfterAbort.cfg)
        self.verify_writes = Bug.LATE_WRITE_AFTER_ABORT not in getattr(config, "bugs", ())
        self._client = client
        self._markers: TxnMarkerSender | None = None
        self._verification: AddPartitionsToTxnManager | None = None
        self.loader = CoordinatorLoader(
            lambda p: partitions.replica(TRANSACTION_STATE_TOPIC, p),
            partitions.read_bytes,
            config.transaction_state_log_load_buffer_size,
        )

    @property
    def coordinator(self) -> TransactionCoordinator:
        """Built on first use, so that the broker's start does not import ``refka.txn``."""
        if self._coordinator is None:
            from refka.txn.coordinator import TransactionCoordinator
            from refka.txn.state_manager import TransactionConfig

            config = self._topics.config
            self._coordinator = TransactionCoordinator.build(
                TransactionConfig(
                    config.transaction_max_timeout_ms,
                    config.transaction_state_log_num_partitions,
                    config.transactional_id_expiration_ms,
                    config.transaction_remove_expired_transaction_cleanup_interval_ms,
                ),
                owned=frozenset(),
            )
            self._coordinator.tracer = self._tracer
            self._coordinator.node = self._topics.node.node_id
        return self._coordinator

    @property
    def markers(self) -> TxnMarkerSender:
        """Built with the first marker to write, so that the broker's start does not import
        ``refka.core.txn_markers``."""
        if self._markers is None:
            from refka.core.txn_markers import TxnMarkerSender

            self._markers = TxnMarkerSender(
                self._topics.node.node_id,
                self._partitions,
                lambda: self._topics.image,
                self._broker_address,
                self._client,
                self._marker_written,
                self._markers_complete,
                self._commit_timeout_ms,
            )
        return self._markers

    @property
    def topics(self) -> Topics:
        return self._topics

    @property
    def verification(self) -> AddPartitionsToTxnManager:
        """Verifies (KIP-890 part 1) or adds (part 2) a transaction's first write to a
        partition, asking the coordinator here or on its broker."""
        if self._verification is None:
            from refka.core.txn_verification import AddPartitionsToTxnManager

            self._verification = AddPartitionsToTxnManager(
                self, self._client, self._coordinator_address
            )
        return self._verification

    def coordinates(self, transactional_id: str) -> bool:
        """Whether this broker coordinates the id now (its partition is led and loaded here)."""
        if self._coordinator is None:
            return False
        return self._coordinator.state.coordinator_error(transactional_id) is E.none

    def _coordinator_address(self, transactional_id: str, now_ms: int) -> NodeAddress | None:
        topic = self._topics.image.topics_by_name.get(TRANSACTION_STATE_TOPIC)
        if topic is None:
            return None
        registration = topic.partitions.get(self.coordinator.state.partition_for(transactional_id))
        if registration is None or registration.leader < 0:
            return None
        return self._broker_address(registration.leader)

    def carry_out(self, effects: list[Effect], now_ms: int, done: Done) -> None:
        """Carry out a coordinator's ``effects``; ``done(error)`` once its writes are
        replicated (or failed)."""
        self._carry_out(effects, now_ms, done)

    def reply(self, ctx: RequestContext, response: Any) -> None:
        """Answer a request that waited (PENDING)."""
        self._reply(ctx, response)

    # ------------------------------------------------------------ routing

    def coordinator_for(
        self, transactional_id: str, now_ms: int, listener: str = ""
    ) -> Node | None:
        """The leader of the id's ``__transaction_state`` partition, or None while there is
        none (the topic is asked for on first use)."""
        topic = self._topics.image.topics_by_name.get(TRANSACTION_STATE_TOPIC)
        if topic is None:
            self._ensure_topic(now_ms)
            return None
        registration = topic.partitions.get(self.coordinator.state.partition_for(transactional_id))
        if registration is None or registration.leader < 0:
            return None
        return self._topics.broker(registration.leader, listener)

    def check_coordinator(self, transactional_id: str, now_ms: int) -> ErrorCode:
        """NONE if this node coordinates the id now; else COORDINATOR_NOT_AVAILABLE (no topic
        yet), COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR."""
        self._now_ms = max(self._now_ms, now_ms)
        if TRANSACTION_STATE_TOPIC not in self._topics.image.topics_by_name:
            self._ensure_topic(now_ms)
            return E.coordinator_not_available
        return self.coordinator.state.coordinator_error(transactional_id)

    def _ensure_topic(self, now_ms: int) -> None:
        config = self._topics.config
        alive = max(1, self._topics.alive_broker_count())
        factor = min(config.transaction_state_log_replication_factor, alive)
        configs = {
            "cleanup.policy": "compact",
            "min.insync.replicas": str(min(config.transaction_state_log_min_isr, factor)),
        }
        partitions = config.transaction_state_log_num_partitions
        self._topics.create_in_background(
            TRANSACTION_STATE_TOPIC, partitions, factor, configs, now_ms
        )

    # ------------------------------------------------------------ effects

    def run(
        self, ctx: RequestContext, effects: list[Effect], respond: Callable[[ErrorCode], Any]
    ) -> Any:
        """Carry out ``effects``; the answer (``respond(error)``, NONE when every write
        succeeded) is returned now if nothing had to be replicated, else sent later (PENDING)."""
        own: Any = PENDING
        now = True

        def done(error: ErrorCode) -> None:
            nonlocal own
            if now:
                own = respond(error)
            else:
                self._reply(ctx, respond(error))

        self._carry_out(effects, ctx.now_ms, done)
        now = False
        return own

    def _carry_out(self, effects: list[Effect], now_ms: int, done: Done | None) -> None:
        """Append the records, then (once replicated) answer and write the markers."""
        from refka.txn.effects import AppendTxnLog, WriteTxnMarkers

        self._now_ms = max(self._now_ms, now_ms)
        markers = [e for e in effects if isinstance(e, WriteTxnMarkers)]
        required: dict[tuple[str, int], int] = {}
        error = E.none
        for effect in effects:
            if not isinstance(effect, AppendTxnLog):
                continue
            result = self._partitions.append_as_coordinator(
                TRANSACTION_STATE_TOPIC, effect.partition, effect.records, now_ms
            )
            if result.error_code != E.none:
                error = error if error != E.none else result.error_code
            else:
                required[(TRANSACTION_STATE_TOPIC, effect.partition)] = result.last_offset + 1

        def finish(failed: ErrorCode) -> None:
            if done is not None:
                done(failed)
            if failed == E.none:
                self._write_markers(markers, self._now_ms)

        if error != E.none or not required:
            finish(coordinator_error(error))
            return
        write = DelayedCoordinatorWrite(
            now_ms + self._commit_timeout_ms,
            required,
            lambda tp: self._partitions.replica(*tp),
            finish,
        )
        if write.try_complete(now_ms, force=False) is None:
            self._partitions.watch(write)

    def _write_markers(self, effects: list[WriteTxnMarkers], now_ms: int) -> None:
        """Hand each marker effect to the sender (Transactions.tla ``WriteMarker``)."""
        for effect in effects:
            self.markers.send(effect, now_ms)

    def _markers_complete(self, transactional_id: str, now_ms: int) -> None:
        """Every marker of the transaction is written: complete it (and write that)."""
        if self._coordinator is not None:
            completed = self._coordinator.complete_markers(transactional_id, now_ms)
            self._carry_out(completed, now_ms, None)

    def _marker_written(self, topic: str, partition: int, producer_id: int, commit: bool) -> None:
        if self._on_marker is not None:
            self._on_marker(topic, partition, producer_id, commit)

    def _broker_address(self, node_id: int) -> NodeAddress | None:
        broker = self._topics.image.brokers.get(node_id)
        address = None if broker is None else broker.address(self._listener)
        return None if address is None else NodeAddress(node_id, address[0], address[1])

    def write_marker(
        self,
        tp: tuple[str, int],
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        commit: bool,
        now_ms: int,
        done: Callable[[ErrorCode], None],
    ) -> None:
        """A marker another coordinator asked for (WriteTxnMarkers): append it to the leader
        log here; ``done(error)`` once replicated."""
        from refka.core.txn_markers import append_marker
        from refka.protocol.txn_markers import ABORT, COMMIT, marker_batch

        self._now_ms = max(self._now_ms, now_ms)
        kind = COMMIT if commit else ABORT
        batch = marker_batch(producer_id, producer_epoch, coordinator_epoch, kind, now_ms)

        def written(error: ErrorCode) -> None:
            if error == E.none:
                self._marker_written(tp[0], tp[1], producer_id, commit)
            done(error)

        append_marker(self._partitions, tp, batch, now_ms, self._commit_timeout_ms, written)

    # ------------------------------------------------------------ events

    def on_metadata(self, image: MetadataImage, now_ms: int) -> None:
        """Coordinate exactly the ids whose ``__transaction_state`` partition this broker
        leads: load a newly led partition, forget one led elsewhere now."""
        topic = image.topics_by_name.get(TRANSACTION_STATE_TOPIC)
        me = self._topics.node.node_id
        led = frozenset(p for p, r in (topic.partitions.items() if topic else ()) if r.leader == me)
        if self._coordinator is None and not led:
            return
        state = self.coordinator.state
        owned = state.owned_partitions or frozenset()
        for partition in sorted((owned | self.loader.loading) - led):
            self.loader.cancel(partition)
            state.unload(partition)
        for partition in sorted(led - owned - self.loader.loading):
            self.loader.start(partition, now_ms)
        state.owned_partitions = owned & led
        state.loading_partitions = self.loader.loading
        for load in self.loader.step(now_ms, chunks=0):  # nothing to replay: active at once
            self._loaded(load, now_ms)

    def _loaded(self, load: PartitionLoad, now_ms: int) -> None:
        coordinator = self.coordinator
        replica = self._partitions.replica(TRANSACTION_STATE_TOPIC, load.partition)
        epoch = 0 if replica is None else replica.leader_epoch
        effects = coordinator.load(load.partition, load.records, epoch)
        state = coordinator.state
        state.owned_partitions = (state.owned_partitions or frozenset()) | {load.partition}
        state.loading_partitions = self.loader.loading
        self._carry_out(effects, now_ms, None)

    def on_tick(self, now_ms: int) -> None:
        """Load a chunk of every loading partition; abort the transactions that timed out."""
        self._now_ms = max(self._now_ms, now_ms)
        for load in self.loader.step(now_ms):
            self._loaded(load, now_ms)
        if self._markers is not None:
            self._markers.on_tick(now_ms)
        if self._coordinator is not None:
            self._carry_out(self._coordinator.on_tick(now_ms), now_ms, None)

    def next_deadline_ms(self) -> int | None:
        own = None if self._coordinator is None else self._coordinator.next_deadline_ms()
        markers = None if self._markers is None else self._markers.next_deadline_ms()
        deadlines = (own, self.loader.next_deadline_ms(), markers)
        return min((d for d in deadlines if d is not None), default=None)
