"""The replicas of one broker, driven by the KRaft metadata image (Kafka's ``ReplicaManager``).

``apply_delta`` makes each local replica leader (BecomeLeader) or follower (BecomeFollower) as
the PartitionRegistrations say, starting and stopping one ``ReplicaFetcher`` per leader node,
and stops replicas whose partition was deleted or moved away (deleting their logs). The
handlers call the entry points:

- Produce: ``append_records`` (LeaderAppend; NOT_ENOUGH_REPLICAS below min ISR for acks=all),
  then ``delay_produce`` for acks=all (``DelayedProduce``);
- Fetch from a consumer: ``read_for_consumer`` (below the HW; KIP-320 fencing; KIP-951 leader);
- Fetch from a follower: ``fetch_for_follower`` (FollowerFetch on the leader: the follower's
  LEO, an ISR expansion (SendAlterPartition), AdvanceHighWatermark, reads up to the LEO,
  diverging epochs);
- OffsetsForLeaderEpoch: ``offset_for_leader_epoch``.

Time passes through ``on_tick`` (ISR shrinks after ``replica.lag.time.max.ms``, fetcher backoffs)
and ``poll`` (send what the fetchers and the AlterPartition manager have queued; call it after
every event). The broker's purgatory holds the waiting requests; the broker expires it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from kio.schema.errors import ErrorCode

from refka.core.context import PENDING, RequestContext
from refka.core.network_client import Client, NodeAddress
from refka.core.purgatory import Purgatory
from refka.log.config import LogConfig
from refka.log.leader_epoch_cache import UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
from refka.log.log_manager import LogManager
from refka.log.partition_log import OffsetOutOfRange
from refka.replica import AppendResult, ReadResult, Replica, ReplicaRole
from refka.replication.alter_partition_manager import AlterPartitionManager, IsrChange
from refka.replication.delayed_produce import DelayedProduce, check_enough_replicas_reach_offset
from refka.replication.fetcher_config import FetcherConfig
from refka.replication.high_watermark_checkpoint import HighWatermarkCheckpoint

if TYPE_CHECKING:
    from refka.core.trace import Tracer
    from refka.replication.replica_fetcher import ReplicaFetcher

TopicPartition = tuple[str, int]
NO_LEADER = -1
_SERVING = (ReplicaRole.LEADER, ReplicaRole.FOLLOWER)


class PartitionRegistrationLike(Protocol):
    """What ``apply_delta`` reads of ``refka.metadata.image.PartitionRegistration``."""

    @property
    def replicas(self) -> tuple[int, ...]: ...
    @property
    def isr(self) -> tuple[int, ...]: ...
    @property
    def leader(self) -> int: ...
    @property
    def leader_epoch(self) -> int: ...
    @property
    def partition_epoch(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ReplicationConfig:
    """Kafka's broker configs for replication (defaults as Kafka's)."""

    inter_broker_listener: str = "PLAINTEXT"  # followers fetch from the leader's endpoint of it
    replica_lag_time_max_ms: int = 30_000
    replica_high_watermark_checkpoint_interval_ms: int = 5_000
    fetcher: FetcherConfig = field(default_factory=FetcherConfig)
    # Kafka's rules that bug switches (``refka.bugs``) turn off; see ``refka.bugs``
    fence_leader_epochs: bool = True  # KIP-320: Bug.STALE_EPOCH_FETCH
    ack_before_isr: bool = False  # Bug.ACK_BEFORE_ISR
    hide_lagging_high_watermark: bool = True  # KIP-207: Bug.HIGH_WATERMARK_REGRESSION
    deduplicate_producer_batches: bool = True  # KIP-98: Bug.NO_IDEMPOTENCE_WINDOW
    read_committed_below_lso: bool = True  # KIP-98: Bug.READ_UNCOMMITTED


class PartitionRead(NamedTuple):
    """One partition of a Fetch: an error, or what was read. ``leader_id``/``leader_epoch``
    name the current leader for NOT_LEADER_OR_FOLLOWER / FENCED answers (KIP-951). A tuple,
    as ``ReadResult``: one per partition of every fetch."""

    error_code: ErrorCode
    read: ReadResult | None = None
    leader_id: int = NO_LEADER
    leader_epoch: int = -1
    diverging_epoch: tuple[int, int] | None = None  # (epoch, end offset), follower fetches


class ReplicaManager:
    """Owns this broker's replicas, fetchers and ISR changes."""

    def __init__(
        self,
        local_id: int,
        logs: LogManager,
        log_config_for: Callable[[str], LogConfig],
        purgatory: Purgatory,
        client: Client,
        broker_epoch: Callable[[], int],
        controller: Callable[[], NodeAddress | None],
        config: ReplicationConfig | None = None,
        on_partitions_changed: Callable[[Iterable[TopicPartition], int], None] | None = None,
        replicas: dict[TopicPartition, Replica] | None = None,
        tracer: Tracer | None = None,
        alter_partition_client: Client | None = None,
    ) -> None:
        """``tracer`` goes to every replica this manager opens (``refka.core.trace``); the
        fetchers and the AlterPartition manager use their replicas'. AlterPartition goes on
        ``alter_partition_client`` (Kafka's "alter-partition" channel: its own connection to
        the controller), the fetches on ``client``."""
        self.local_id = local_id
        self.tracer = tracer
        self.logs = logs
        self.log_config_for = log_config_for
        self.purgatory = purgatory
        self.client = client
        self.broker_epoch = broker_epoch
        self.config = config or ReplicationConfig()
        self.on_partitions_changed = on_partitions_changed
        # shared with the broker's ``Partitions`` when it passes its dict
        self.replicas: dict[TopicPartition, Replica] = {} if replicas is None else replicas
        self.topic_ids: dict[str, uuid.UUID | None] = {}
        self.fetchers: dict[int, ReplicaFetcher] = {}
        self.image: Any = None
        self.alter_partition = AlterPartitionManager(
            local_id,
            broker_epoch,
            controller,
            self.replicas.get,
            client if alter_partition_client is None else alter_partition_client,
            self._isr_changed,
        )
        self.completed: list[tuple[RequestContext, object]] = []  # without on_partitions_changed
        self._changed: set[TopicPartition] = set()
        self._now_ms = 0
        self.offline_log_dir: str | None = None  # the I/O error that took the log dir offline
        self._next_isr_check_ms = 0
        self.hw_checkpoint = HighWatermarkCheckpoint(
            logs.storage, self.config.replica_high_watermark_checkpoint_interval_ms
        )

    # ------------------------------------------------------------ metadata

    def apply_delta(self, image: Any, delta: Any, local_node_id: int, now_ms: int) -> None:
        """KRaft's ``ReplicaManager.applyDelta``: roles, fetchers and deletions from a delta."""
        self.image, self._now_ms = image, now_ms
        touched: list[TopicPartition] = []
        for tp in [tp for tp in self.replicas if tp[0] in delta.deleted_topics]:
            self._stop_replica(tp, delete=True)
            touched.append(tp)
        for tp, registration in delta.changed_partitions.items():
            topic = image.topics_by_name.get(tp[0])
            self.topic_ids[tp[0]] = None if topic is None else topic.topic_id
            if local_node_id not in registration.replicas:
                if tp in self.replicas:
                    self._stop_replica(tp, delete=True)
                    touched.append(tp)
                continue
            if registration.leader == local_node_id:
                self._make_leader(tp, registration, now_ms)
            else:
                self._make_follower(tp, registration, now_ms)
            touched.append(tp)
        self._notify(touched, now_ms)

    def _open(self, tp: TopicPartition, now_ms: int) -> Replica:
        replica = self.replicas.get(tp)
        if replica is None:
            log = self.logs.get_or_create(tp[0], tp[1], self.log_config_for(tp[0]), now_ms)
            hw = self.hw_checkpoint.take(tp)
            replica = self.replicas[tp] = Replica(
                log,
                self.local_id,
                0,
                high_watermark=hw,
                hide_lagging_high_watermark=self.config.hide_lagging_high_watermark,
                deduplicate_batches=self.config.deduplicate_producer_batches,
                read_committed_below_lso=self.config.read_committed_below_lso,
                tracer=self.tracer,
            )
        return replica

    def _make_leader(self, tp: TopicPartition, reg: PartitionRegistrationLike, now_ms: int) -> None:
        replica = self._open(tp, now_ms)
        if replica.role is ReplicaRole.LEADER and (
            reg.leader_epoch < replica.leader_epoch
            or (
                reg.leader_epoch == replica.leader_epoch
                and reg.partition_epoch <= replica.partition_epoch
            )
        ):
            return  # nothing newer
        if replica.role is not ReplicaRole.NONE and reg.leader_epoch < replica.leader_epoch:
            return  # a stale registration
        self._remove_from_fetchers(tp)
        replica.become_leader(
            reg.leader_epoch, reg.partition_epoch, tuple(reg.isr), tuple(reg.replicas), now_ms
        )

    def _make_follower(
        self, tp: TopicPartition, reg: PartitionRegistrationLike, now_ms: int
    ) -> None:
        replica = self._open(tp, now_ms)
        if replica.role is not ReplicaRole.NONE and reg.leader_epoch < replica.leader_epoch:
            return
        restart = replica.become_follower(
            reg.leader_epoch, reg.partition_epoch, reg.leader, tuple(reg.replicas), now_ms
        )
        if not restart:
            return
        self._remove_from_fetchers(tp)
        leader = self._address(reg.leader)
        if leader is not None:
            fetcher = self.fetchers.get(leader.node_id)
            if fetcher is None or fetcher.leader != leader:
                from refka.replication.replica_fetcher import ReplicaFetcher  # the first follower

                fetcher = self.fetchers[leader.node_id] = ReplicaFetcher(
                    leader,
                    self.local_id,
                    self.broker_epoch,
                    self.replicas.get,
                    self.client,
                    self.config.fetcher,
                )
            fetcher.add_partition(tp, self.topic_ids.get(tp[0]), reg.leader_epoch)

    def _address(self, node_id: int) -> NodeAddress | None:
        if node_id < 0 or self.image is None:
            return None
        broker = self.image.brokers.get(node_id)
        address = None if broker is None else broker.address(self.config.inter_broker_listener)
        return None if address is None else NodeAddress(node_id, address[0], address[1])

    def _remove_from_fetchers(self, tp: TopicPartition) -> None:
        for node_id, fetcher in list(self.fetchers.items()):
            fetcher.remove_partition(tp)
            if not fetcher.partitions and not fetcher.in_flight:
                del self.fetchers[node_id]

    def _stop_replica(self, tp: TopicPartition, delete: bool) -> None:
        self._remove_from_fetchers(tp)
        replica = self.replicas.pop(tp)
        replica.stop()
        if delete:
            self.logs.delete(tp[0], tp[1])

    # ----------------------------------------------------------------- produce

    def replica(self, topic: str, partition: int) -> Replica | None:
        return self.replicas.get((topic, partition))

    def leader_and_epoch(self, topic: str, partition: int) -> tuple[int, int]:
        """KIP-951: the leader this node knows of, for NOT_LEADER_OR_FOLLOWER answers (from
        the replica, or from the metadata image when this node hosts no replica)."""
        replica = self.replicas.get((topic, partition))
        if replica is not None:
            return replica.leader_id, replica.leader_epoch
        registration = self._registration(topic, partition)
        if registration is None:
            return NO_LEADER, -1
        return registration.leader, registration.leader_epoch

    def _registration(self, topic: str, partition: int) -> PartitionRegistrationLike | None:
        found = None if self.image is None else self.image.topics_by_name.get(topic)
        return None if found is None else found.partitions.get(partition)

    def not_hosted_for_log_dirs(self, topic: str, partition: int) -> ErrorCode:
        """AlterReplicaLogDirs keeps REPLICA_NOT_AVAILABLE where others say
        NOT_LEADER_OR_FOLLOWER, as Kafka does for compatibility."""
        if self._registration(topic, partition) is None:
            return ErrorCode.unknown_topic_or_partition
        return ErrorCode.replica_not_available

    def _not_hosted(self, topic: str, partition: int) -> ErrorCode:
        """A partition this node has no replica of: NOT_LEADER_OR_FOLLOWER if it exists in the
        cluster (as Kafka answers for a non-replica), else UNKNOWN_TOPIC_OR_PARTITION."""
        if self._registration(topic, partition) is None:
            return ErrorCode.unknown_topic_or_partition
        return ErrorCode.not_leader_or_follower

    def append_records(
        self,
        topic: str,
        partition: int,
        records: bytes,
        required_acks: int,
        now_ms: int,
        produce_version: int | None = None,
    ) -> AppendResult:
        """LeaderAppend for one partition of a Produce request."""
        replica = self.replicas.get((topic, partition))
        if replica is None:
            return AppendResult(self._not_hosted(topic, partition))
        if not replica.is_leader:
            return AppendResult(ErrorCode.not_leader_or_follower)
        min_isr = replica.min_insync_replicas
        try:
            return replica.append_as_leader(
                records, now_ms, min_isr, required_acks, produce_version
            )
        except OSError as error:  # Kafka: KafkaStorageException -> KAFKA_STORAGE_ERROR
            self.handle_log_dir_failure(error)
            return AppendResult(ErrorCode.kafka_storage_error, error_message=str(error))

    def handle_log_dir_failure(self, error: OSError) -> None:
        """An I/O error in the log directory (Kafka's ``LogDirFailureChannel``): the directory
        is offline. refka has one log directory, so the broker must halt, as Kafka's
        ``LogManager.handleLogDirFailure`` does once no log directory is left online; the
        ``Broker`` turns ``offline_log_dir`` into a ``Halt`` effect."""
        if self.offline_log_dir is None:
            self.offline_log_dir = str(error)

    def delay_produce(
        self,
        ctx: RequestContext,
        timeout_ms: int,
        results: Mapping[TopicPartition, AppendResult],
        respond: Callable[[dict[TopicPartition, AppendResult]], object],
    ) -> object:
        """acks=all: the response now if every appended partition is already replicated (or
        failed), else ``PENDING`` with a ``DelayedProduce`` in the purgatory."""
        operation = DelayedProduce(
            ctx,
            ctx.now_ms + timeout_ms,
            results,
            self.replicas.get,
            respond,
            ack_on_append=self.config.ack_before_isr,
        )
        response = operation.try_complete(ctx.now_ms, force=False)
        if response is not None:
            return response
        self.purgatory.watch(operation)
        return PENDING

    def check_enough_replicas_reach_offset(
        self, topic: str, partition: int, required_offset: int
    ) -> tuple[bool, ErrorCode]:
        return check_enough_replicas_reach_offset(
            self.replicas.get((topic, partition)), required_offset
        )

    # ------------------------------------------------------------------- fetch

    # bug switch: Bug.STALE_EPOCH_FETCH (spec/bugs/Replication_StaleEpochFetch.cfg)
    def _check_epoch(self, replica: Replica, current_leader_epoch: int) -> ErrorCode:
        """KIP-320: FENCED_LEADER_EPOCH below our epoch, UNKNOWN_LEADER_EPOCH above it. Under
        the bug switch any epoch is accepted, as before KIP-320."""
        if not self.config.fence_leader_epochs:
            return ErrorCode.none
        if current_leader_epoch == -1 or current_leader_epoch == replica.leader_epoch:
            return ErrorCode.none
        if current_leader_epoch < replica.leader_epoch:
            return ErrorCode.fenced_leader_epoch
        return ErrorCode.unknown_leader_epoch

    def _leader_or_error(
        self, topic: str, partition: int, current_leader_epoch: int, only_leader: bool = True
    ) -> Replica | PartitionRead:
        replica = self.replicas.get((topic, partition))
        if replica is None:
            return PartitionRead(
                self._not_hosted(topic, partition), None, *self.leader_and_epoch(topic, partition)
            )
        error = self._check_epoch(replica, current_leader_epoch)
        if error == ErrorCode.none and replica.role not in _SERVING:
            error = ErrorCode.not_leader_or_follower
        if error == ErrorCode.none and only_leader and not replica.is_leader:
            error = ErrorCode.not_leader_or_follower
        if error != ErrorCode.none:
            return PartitionRead(error, None, replica.leader_id, replica.leader_epoch)
        return replica

    def read_for_consumer(
        self,
        topic: str,
        partition: int,
        current_leader_epoch: int,
        fetch_offset: int,
        max_bytes: int,
        min_one_batch: bool,
        committed_only: bool,
        fetch_only_from_leader: bool = True,
    ) -> PartitionRead:
        """A consumer's Fetch of one partition, below the high watermark. Kafka lets a consumer
        that sends client metadata (Fetch v11+, KIP-392) read from a follower too, up to the
        follower's HW: pass ``fetch_only_from_leader=ctx.api_version < 11``."""
        found = self._leader_or_error(
            topic, partition, current_leader_epoch, fetch_only_from_leader
        )
        if isinstance(found, PartitionRead):
            return found
        try:
            read = found.read(fetch_offset, max_bytes, min_one_batch, committed_only)
        except OffsetOutOfRange:
            return PartitionRead(ErrorCode.offset_out_of_range)
        return PartitionRead(ErrorCode.none, read, found.leader_id, found.leader_epoch)

    def fetch_for_follower(
        self,
        topic: str,
        partition: int,
        follower_id: int,
        current_leader_epoch: int,
        fetch_offset: int,
        last_fetched_epoch: int,
        max_bytes: int,
        min_one_batch: bool,
        now_ms: int,
        broker_epoch: int = -1,
        log_start_offset: int = -1,
    ) -> PartitionRead:
        """FollowerFetch on the leader: read up to the LEO, then record that the follower holds
        everything below ``fetch_offset`` (which may expand the ISR and AdvanceHighWatermark, and
        so complete DelayedProduce). A fetch whose ``last_fetched_epoch`` disagrees with our
        log gets ``diverging_epoch`` instead of records (KIP-595 style, Kafka 2.7+)."""
        self._now_ms = now_ms
        replica = self.replicas.get((topic, partition))
        if (
            replica is None
            or replica.role is not ReplicaRole.LEADER
            or (current_leader_epoch != -1 and current_leader_epoch != replica.leader_epoch)
        ):  # not plainly this epoch's leader: the checks in full, and their error if any
            found = self._leader_or_error(topic, partition, current_leader_epoch)
            if isinstance(found, PartitionRead):
                return found
            replica = found
        state = replica.followers.get(follower_id)
        if follower_id not in replica.replicas or (
            state is not None and broker_epoch != -1 and broker_epoch < state.broker_epoch
        ):
            return PartitionRead(
                ErrorCode.not_leader_or_follower, None, replica.leader_id, replica.leader_epoch
            )
        if last_fetched_epoch >= 0:
            epoch, end = replica.end_offset_for_epoch(last_fetched_epoch)
            if epoch < last_fetched_epoch or end < fetch_offset:
                empty = replica.read_for_follower(replica.log_end_offset, 0, False)
                return PartitionRead(
                    ErrorCode.none, empty, replica.leader_id, replica.leader_epoch, (epoch, end)
                )
        try:
            read = replica.read_for_follower(fetch_offset, max_bytes, min_one_batch)
        except OffsetOutOfRange:
            return PartitionRead(ErrorCode.offset_out_of_range)
        advanced = replica.update_follower_fetch_state(
            follower_id, fetch_offset, now_ms, broker_epoch
        )
        follower = replica.followers[follower_id]
        if log_start_offset != follower.log_start_offset:  # may complete a DeleteRecords
            follower.log_start_offset, advanced = log_start_offset, True
        if follower_id not in replica.isr:  # (an ISR member is never added again)
            self._maybe_expand_isr(replica, follower_id)
        if advanced:
            self._notify([(topic, partition)], now_ms)
        return PartitionRead(ErrorCode.none, read, replica.leader_id, replica.leader_epoch)

    # ------------------------------------------------------ OffsetsForLeaderEpoch

    def offset_for_leader_epoch(
        self,
        topic: str,
        partition: int,
        current_leader_epoch: int,
        leader_epoch: int,
        fetch_only_from_leader: bool = True,
    ) -> tuple[ErrorCode, int, int]:
        """(error, epoch, end offset): the largest epoch <= ``leader_epoch`` in the log and the
        offset where it ends (Replication.tla LeaderEndOffsetFor); (-1, -1) when unknown.
        Only the leader answers, unless the request is a debugging one (replica id -2)."""
        replica = self.replicas.get((topic, partition))
        if replica is None:
            return self._not_hosted(topic, partition), UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        error = self._check_epoch(replica, current_leader_epoch)
        if error == ErrorCode.none and fetch_only_from_leader and not replica.is_leader:
            error = ErrorCode.not_leader_or_follower
        if error != ErrorCode.none:
            return error, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        epoch, end = replica.end_offset_for_epoch(leader_epoch)
        if epoch == UNDEFINED_EPOCH:
            return ErrorCode.none, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        return ErrorCode.none, epoch, end

    # --------------------------------------------------------------------- ISR

    def _broker_epoch_of(self, replica: Replica, broker_id: int) -> int:
        if broker_id == self.local_id:
            return self.broker_epoch()
        state = replica.followers.get(broker_id)
        if state is not None and state.broker_epoch != -1:
            return state.broker_epoch
        broker = None if self.image is None else self.image.brokers.get(broker_id)
        return -1 if broker is None else int(broker.broker_epoch)

    def low_watermark(self, replica: Replica) -> int:
        """DeleteRecords (KIP-107): the lowest log start offset among the leader and its
        followers on live brokers whose log start offset it knows (Kafka's
        ``lowWatermarkIfLeader``)."""
        known = [
            state.log_start_offset
            for follower_id, state in replica.followers.items()
            if state.log_start_offset >= 0 and self._alive(follower_id)
        ]
        return min([replica.log_start_offset, *known])

    def _alive(self, broker_id: int) -> bool:
        broker = None if self.image is None else self.image.brokers.get(broker_id)
        return broker is not None and not broker.fenced

    def _eligible(self, broker_id: int) -> bool:
        """KIP-903/KIP-841: a fenced broker or one shutting down does not join the ISR."""
        broker = None if self.image is None else self.image.brokers.get(broker_id)
        if broker is None:
            return self.image is None
        return not broker.fenced and not broker.in_controlled_shutdown

    def _submit_isr(self, replica: Replica, new_isr: Iterable[int]) -> bool:
        members = sorted(set(new_isr))
        change = IsrChange(
            replica.topic,
            self.topic_ids.get(replica.topic),
            replica.partition,
            replica.leader_epoch,
            replica.partition_epoch,
            tuple((b, self._broker_epoch_of(replica, b)) for b in members),
        )
        return self.alter_partition.submit(replica, change)

    def _maybe_expand_isr(self, replica: Replica, follower_id: int) -> None:
        """SendAlterPartition, expand (Kafka's maybeExpandIsr): a follower outside the ISR
        caught up to the HW and this epoch's start."""
        if (
            replica.pending_isr is None
            and replica.is_follower_in_sync(follower_id)
            and self._eligible(follower_id)
        ):
            self._submit_isr(replica, replica.isr | {follower_id})

    def maybe_shrink_isr(self, now_ms: int) -> None:
        """SendAlterPartition, shrink (Kafka's maybeShrinkIsr): drop followers that lagged for
        ``replica.lag.time.max.ms``."""
        lag_ms = self.config.replica_lag_time_max_ms
        for replica in self.replicas.values():
            if not replica.is_leader or replica.pending_isr is not None:
                continue
            out = replica.out_of_sync_replicas(now_ms, lag_ms)
            if out:
                self._submit_isr(replica, replica.isr - out)

    def _isr_changed(self, tp: TopicPartition) -> None:
        replica = self.replicas.get(tp)
        if replica is not None:
            replica.maybe_increment_high_watermark()
        self._notify([tp], self._now_ms)

    # -------------------------------------------------------------------- time

    def on_tick(self, now_ms: int) -> None:
        """Shrink ISRs every ``replica.lag.time.max.ms / 2`` (as Kafka's scheduler), checkpoint
        the HWs every ``replica.high.watermark.checkpoint.interval.ms``, then poll."""
        self._now_ms = now_ms
        if now_ms >= self._next_isr_check_ms:
            self.maybe_shrink_isr(now_ms)
            self._next_isr_check_ms = now_ms + max(1, self.config.replica_lag_time_max_ms // 2)
        self.hw_checkpoint.on_tick(now_ms, self.replicas, self.logs.logs)
        self.poll(now_ms)

    def checkpoint_high_watermarks(self) -> None:
        """Write ``replication-offset-checkpoint`` now (Kafka: on a clean shutdown, before the
        logs close)."""
        self.hw_checkpoint.write(self.replicas, self.logs.logs)

    def poll(self, now_ms: int) -> None:
        """Retry requests waiting on changed partitions; send what the fetchers and the
        AlterPartition manager have ready. Call after every event the broker handles."""
        self._now_ms = now_ms
        self.flush_changes(now_ms)
        for fetcher in list(self.fetchers.values()):
            fetcher.poll(now_ms)
        self.alter_partition.poll(now_ms)

    def next_deadline_ms(self) -> int | None:
        deadlines = [f.next_deadline_ms() for f in self.fetchers.values()]
        leader = ReplicaRole.LEADER  # (``is_leader``, without a property call per replica)
        if any(r.role is leader and len(r.replicas) > 1 for r in self.replicas.values()):
            deadlines.append(self._next_isr_check_ms)
        deadlines.append(self.hw_checkpoint.next_due_ms)
        known = [d for d in deadlines if d is not None]
        return min(known, default=None)

    def _notify(self, touched: Iterable[TopicPartition], now_ms: int) -> None:
        """Remember partitions whose HW, ISR or role changed; ``poll`` retries the requests
        waiting on them. Deferred so that a purgatory check is never re-entered (a follower
        fetch retried from the purgatory may advance the HW)."""
        self._changed.update(touched)

    def flush_changes(self, now_ms: int) -> None:
        """Retry the waiting requests (DelayedProduce, DelayedFetch) of changed partitions."""
        while self._changed:
            keys, self._changed = sorted(self._changed), set()
            if self.on_partitions_changed is not None:
                self.on_partitions_changed(keys, now_ms)
            else:
                self.completed.extend(self.purgatory.check(keys, now_ms))
