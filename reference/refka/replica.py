"""A partition replica, as Replication.tla models it: log, log end offset, high watermark,
leader epoch, leader-epoch cache, producer state, and its role (leader or follower).

Roles and their legal transitions live in ``VALID_PREVIOUS_ROLES`` (one table, as
``refka/group/state.py`` does for groups); an illegal transition, or one to an older leader
epoch, raises ``IllegalReplicaTransition`` and leaves the replica unchanged.

    NONE --BecomeLeader--> LEADER          NONE --BecomeFollower--> FOLLOWER
    LEADER | FOLLOWER --BecomeLeader (newer epoch, or an ISR change at the same one)--> LEADER
    LEADER | FOLLOWER --BecomeFollower (same or newer epoch)--> FOLLOWER
    any but STOPPED --replica removed or topic deleted--> STOPPED

Actions (Replication.tla / Election.tla): ``append_as_leader`` (LeaderAppend),
``append_as_follower`` (FollowerFetch: the follower copies the leader's batches),
``maybe_increment_high_watermark`` (AdvanceHighWatermark: min LEO over the maximal ISR,
KIP-497's CommitIsr, frozen below min.insync.replicas, KIP-966), ``become_leader``
(BecomeLeader: the new epoch starts at the LEO, KIP-101), ``become_follower`` (BecomeFollower;
the truncation itself is the fetcher's OffsetsForLeaderEpoch loop, KIP-279), ``truncate_to``
(Truncate), ``out_of_sync_replicas`` and ``is_follower_in_sync`` (when the leader sends
SendAlterPartition to shrink or expand the ISR: Kafka's maybeShrinkIsr / maybeExpandIsr).

Consumers never read at or past the high watermark (``read``); only follower fetches read up to
the log end offset (``read_for_follower``), as Kafka's ``FetchIsolation``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from kio.schema.errors import ErrorCode

from refka.log.file_slice import FileSlice
from refka.log.leader_epoch_cache import LeaderEpochCache
from refka.log.partition_log import PartitionLog
from refka.protocol import compression
from refka.protocol import records as batches
from refka.protocol.batch_header import BatchHeader, iter_headers, read_header

if TYPE_CHECKING:
    from refka.core.trace import Tracer
    from refka.log.transaction_index import AbortedTxn, TransactionIndex

TARGET_CODECS = {
    "uncompressed": compression.NONE,
    "gzip": compression.GZIP,
    "snappy": compression.SNAPPY,
    "lz4": compression.LZ4,
    "zstd": compression.ZSTD,
}

UNKNOWN_OFFSET = -1


class ReplicaRole(enum.Enum):
    NONE = "None"  # opened, no role received yet
    LEADER = "Leader"
    FOLLOWER = "Follower"
    STOPPED = "Stopped"  # no longer a replica here (reassigned away or topic deleted)


VALID_PREVIOUS_ROLES: dict[ReplicaRole, frozenset[ReplicaRole]] = {
    ReplicaRole.NONE: frozenset(),
    ReplicaRole.LEADER: frozenset({ReplicaRole.NONE, ReplicaRole.LEADER, ReplicaRole.FOLLOWER}),
    ReplicaRole.FOLLOWER: frozenset({ReplicaRole.NONE, ReplicaRole.LEADER, ReplicaRole.FOLLOWER}),
    ReplicaRole.STOPPED: frozenset({ReplicaRole.NONE, ReplicaRole.LEADER, ReplicaRole.FOLLOWER}),
}


class IllegalReplicaTransition(Exception):
    """A role change the table does not allow, or one to an older leader epoch."""


class FetchIsolation(enum.Enum):
    """How far a read may go (Kafka's ``FetchIsolation``)."""

    LOG_END = "LogEnd"  # follower fetches
    HIGH_WATERMARK = "HighWatermark"  # read_uncommitted consumers
    TXN_COMMITTED = "TxnCommitted"  # read_committed consumers: the last stable offset


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The answer for one partition of a Produce request."""

    error_code: ErrorCode = ErrorCode.none
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    record_errors: tuple[tuple[int, str], ...] = ()  # KIP-467: (batch index, message)
    last_offset: int = -1  # the last offset appended (acks=all waits for the HW to pass it)


class ReadResult(NamedTuple):
    """What a Fetch gets from one replica (a tuple: one per partition of every fetch, and
    cheaper to build than a frozen dataclass)."""

    slices: list[FileSlice]
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    size: int
    aborted: tuple[tuple[int, int], ...] = ()  # read_committed: (producer id, first offset)


@dataclass(slots=True)
class FollowerState:
    """The leader's view of one follower (Kafka's ``Replica`` / ``ReplicaState``)."""

    log_end_offset: int = UNKNOWN_OFFSET
    last_fetch_time_ms: int = 0
    last_caught_up_time_ms: int = 0
    last_fetch_leader_log_end_offset: int = UNKNOWN_OFFSET
    broker_epoch: int = -1
    log_start_offset: int = UNKNOWN_OFFSET  # from its fetches (DeleteRecords' low watermark)

    def update_fetch_state(
        self, fetch_offset: int, leader_log_end_offset: int, now_ms: int, broker_epoch: int
    ) -> None:
        """A fetch at ``fetch_offset``: the follower has everything below it. It is caught up
        when it reached the leader's LEO now, or the LEO the leader had at its previous fetch."""
        if fetch_offset >= leader_log_end_offset:
            self.last_caught_up_time_ms = max(self.last_caught_up_time_ms, now_ms)
        elif fetch_offset >= self.last_fetch_leader_log_end_offset:
            self.last_caught_up_time_ms = max(self.last_caught_up_time_ms, self.last_fetch_time_ms)
        self.log_end_offset = fetch_offset
        self.last_fetch_leader_log_end_offset = leader_log_end_offset
        self.last_fetch_time_ms = now_ms
        self.broker_epoch = broker_epoch

    def is_caught_up(self, leader_log_end_offset: int, now_ms: int, lag_time_max_ms: int) -> bool:
        return (
            self.log_end_offset == leader_log_end_offset
            or now_ms - self.last_caught_up_time_ms <= lag_time_max_ms
        )


class Replica:
    """One replica of one partition on this node, leader or follower."""

    def __init__(
        self,
        log: PartitionLog,
        replica_id: int,
        leader_epoch: int,
        high_watermark: int | None = None,
        hide_lagging_high_watermark: bool = True,
        deduplicate_batches: bool = True,
        read_committed_below_lso: bool = True,
        tracer: Tracer | None = None,
    ) -> None:
        """``high_watermark``: the checkpointed one (``replication-offset-checkpoint``), bounded
        by the log; without it the HW starts at the log start offset and is relearned.
        ``hide_lagging_high_watermark`` (KIP-207), ``deduplicate_batches`` and
        ``read_committed_below_lso`` (KIP-98) are off only under bug switches
        (``refka.bugs``). ``tracer``: where the replica's steps go (``refka.core.trace``), or
        None."""
        self.log = log
        self.tracer = tracer
        if tracer is not None:
            log.on_flush = self._trace_flush
        self.epoch_cache: LeaderEpochCache = log.leader_epoch_cache
        self.replica_id = replica_id
        self.role = ReplicaRole.NONE
        self.leader_epoch = leader_epoch
        self.partition_epoch = -1
        self.leader_id = -1
        self.replicas: tuple[int, ...] = (replica_id,)
        self.isr: frozenset[int] = frozenset({replica_id})
        self.pending_isr: frozenset[int] | None = None  # an AlterPartition in flight (KIP-497)
        self.followers: dict[int, FollowerState] = {}
        self.hide_lagging_high_watermark = hide_lagging_high_watermark
        self.read_committed_below_lso = read_committed_below_lso
        from refka.log.transaction_index import TransactionIndex  # with the first partition
        from refka.producer_state import ProducerStateManager

        self.producer_state = ProducerStateManager(deduplicate=deduplicate_batches)
        self.txn_index: TransactionIndex = TransactionIndex()
        self._fetched: tuple[int, list[BatchHeader]] | None = None  # FollowerFetch, traced
        # A flush inside an append is traced after the append's event (Election.tla's Flush
        # follows the LeaderAppend / FollowerFetch that wrote the records): held here.
        self._holding_flush = False
        self._held_flush = -1
        self.high_watermark = self._bounded(
            log.log_start_offset if high_watermark is None else high_watermark
        )
        self.replayed_batches = 0  # by the last rebuild of the producer state
        self._rebuild_producer_state()
        log.producer_snapshot = self._snapshot_bytes

    # ------------------------------------------------------------------ views

    @property
    def topic(self) -> str:
        return self.log.topic

    @property
    def partition(self) -> int:
        return self.log.partition

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def last_stable_offset(self) -> int:
        """The LSO (Transactions.tla ``LastStableOffset``): the first offset of the oldest open
        transaction, or the high watermark if that is lower (Kafka's ``UnifiedLog``)."""
        unstable = self.producer_state.first_unstable_offset()
        hw = self.high_watermark
        return hw if unstable is None or unstable > hw else unstable

    def aborted_transactions(self, fetch_offset: int) -> list[AbortedTxn]:
        """What a read_committed Fetch from ``fetch_offset`` returns in
        ``aborted_transactions``: the aborted transactions below the LSO it may read."""
        return self.txn_index.collect(fetch_offset, self.last_stable_offset)

    @property
    def is_leader(self) -> bool:
        return self.role is ReplicaRole.LEADER

    @property
    def maximal_isr(self) -> frozenset[int]:
        """KIP-497 (Election.tla CommitIsr): the ISR plus replicas a pending expansion adds;
        during a pending shrink, the ISR before it."""
        return self.isr if self.pending_isr is None else self.isr | self.pending_isr

    @property
    def min_insync_replicas(self) -> int:
        """Kafka's ``effectiveMinIsr`` (4.0+, KIP-966): ``min.insync.replicas`` capped at the
        number of replicas, so a setting above the replication factor does not refuse every
        acks=all produce."""
        return min(self.log.config.min_insync_replicas, len(self.replicas))

    @property
    def replica_log_end_offsets(self) -> dict[int, int]:
        """Every replica's LEO as this leader knows it (its own is exact)."""
        known = {r: s.log_end_offset for r, s in self.followers.items()}
        known[self.replica_id] = self.log_end_offset
        return known

    @property
    def epoch_start_offset(self) -> int:
        """EpochStartOffset (KIP-207): where this leader's epoch starts in its log."""
        for epoch, start in self.epoch_cache.entries:
            if epoch == self.leader_epoch:
                return start
        return self.log_end_offset

    # bug switch: Bug.HIGH_WATERMARK_REGRESSION (spec/bugs/Replication_HighWatermarkRegression.cfg)
    @property
    def is_high_watermark_exposable(self) -> bool:
        """KIP-207 (Replication.tla ConsumerReadHighWatermark with Kip207): a new leader's HW
        may lag the old leader's; it is shown to consumers (ListOffsets latest) only once it
        reaches the start of this leader's epoch, so it never moves backwards for them."""
        if not self.hide_lagging_high_watermark:
            return True
        return self.high_watermark >= self.epoch_start_offset

    # ------------------------------------------------------------ transitions

    def _check_transition(self, target: ReplicaRole, leader_epoch: int) -> None:
        if self.role not in VALID_PREVIOUS_ROLES[target]:
            raise IllegalReplicaTransition(
                f"{self.topic}-{self.partition}: {self.role.value} -> {target.value}"
            )
        if self.role is not ReplicaRole.NONE and leader_epoch < self.leader_epoch:
            raise IllegalReplicaTransition(
                f"{self.topic}-{self.partition}: leader epoch {leader_epoch} is older than"
                f" {self.leader_epoch}"
            )

    def become_leader(
        self,
        leader_epoch: int,
        partition_epoch: int = 0,
        isr: tuple[int, ...] | None = None,
        replicas: tuple[int, ...] | None = None,
        now_ms: int = 0,
    ) -> bool:
        """BecomeLeader: a newer epoch starts at the current log end offset (KIP-101); at the
        same epoch only the ISR and partition epoch change. Returns True for a new epoch."""
        self._check_transition(ReplicaRole.LEADER, leader_epoch)
        is_new_leader = self.role is not ReplicaRole.LEADER or leader_epoch > self.leader_epoch
        self.role = ReplicaRole.LEADER
        self.leader_id = self.replica_id
        self.leader_epoch = leader_epoch
        self.partition_epoch = partition_epoch
        self.replicas = tuple(replicas) if replicas is not None else (self.replica_id,)
        self.isr = frozenset(isr) if isr is not None else frozenset({self.replica_id})
        self.pending_isr = None
        if is_new_leader:
            self.epoch_cache.assign(leader_epoch, self.log_end_offset)
            self._reset_followers(now_ms)
            if self.tracer is not None:
                from refka.core import trace  # only a traced core loads the events (issue 15)

                self.tracer(
                    trace.BecomeLeader(
                        self.replica_id,
                        self.topic,
                        self.partition,
                        leader_epoch,
                        partition_epoch,
                        tuple(sorted(self.isr)),
                        self.log_end_offset,
                        self.high_watermark,
                    )
                )
        else:
            self._track_followers()
        self.maybe_increment_high_watermark()
        return is_new_leader

    def become_follower(
        self,
        leader_epoch: int,
        partition_epoch: int,
        leader_id: int,
        replicas: tuple[int, ...],
        now_ms: int = 0,
    ) -> bool:
        """BecomeFollower: follow ``leader_id`` in ``leader_epoch``. The log is truncated by the
        fetcher's OffsetsForLeaderEpoch loop (KIP-279), not here. Returns True when the fetcher
        must (re)start: a new epoch, a new leader, or a leader that stepped down."""
        self._check_transition(ReplicaRole.FOLLOWER, leader_epoch)
        changed = (
            self.role is not ReplicaRole.FOLLOWER
            or leader_epoch > self.leader_epoch
            or leader_id != self.leader_id
        )
        self.role = ReplicaRole.FOLLOWER
        self.leader_id = leader_id
        self.leader_epoch = leader_epoch
        self.partition_epoch = partition_epoch
        self.replicas = tuple(replicas)
        self.isr = frozenset()
        self.pending_isr = None
        self.followers = {}
        return changed

    def stop(self) -> None:
        """This node no longer hosts the replica; the manager deletes or closes its log."""
        self._check_transition(ReplicaRole.STOPPED, self.leader_epoch)
        self.role = ReplicaRole.STOPPED
        self.followers = {}

    def _reset_followers(self, now_ms: int) -> None:
        """A new leader knows no follower's LEO; ISR members count as caught up now, so they
        are not shrunk before they can fetch."""
        self.followers = {}
        for r in self.replicas:
            if r != self.replica_id:
                state = FollowerState(last_fetch_leader_log_end_offset=self.log_end_offset)
                if r in self.isr:
                    state.last_caught_up_time_ms = now_ms
                self.followers[r] = state

    def _track_followers(self) -> None:
        for r in self.replicas:
            if r != self.replica_id:
                self.followers.setdefault(r, FollowerState())
        for r in list(self.followers):
            if r not in self.replicas:
                del self.followers[r]

    # ------------------------------------------------------------------ leader

    def append_as_leader(
        self,
        records: bytes,
        now_ms: int,
        min_insync_replicas: int,
        required_acks: int,
        produce_version: int | None = None,
        from_client: bool = True,
    ) -> AppendResult:
        """LeaderAppend: validate one producer batch, assign offsets, append to the log."""
        config = self.log.config
        log_append_time = config.message_timestamp_type == "LogAppendTime"
        window = None
        if from_client and not log_append_time:
            window = (
                now_ms - config.message_timestamp_before_max_ms,
                now_ms + config.message_timestamp_after_max_ms,
            )
        try:
            headers = batches.validate_batches(
                records,
                config.max_message_bytes,
                from_client=from_client,
                produce_version=produce_version,
                log_append_time=log_append_time,
                timestamp_window_ms=window,
                compacted_partition=f"{self.topic}-{self.partition}" if config.compacts else None,
                max_decompressed_bytes=config.max_decompressed_message_bytes,
            )
        except batches.InvalidRecordError as error:
            return AppendResult(
                error.error_code,
                error_message=error.client_message,
                record_errors=error.record_errors,
            )
        header = headers[0]
        if required_acks == -1 and len(self.isr) < min_insync_replicas:
            return AppendResult(ErrorCode.not_enough_replicas)
        if header.has_producer_id and (header.is_control or not from_client):
            # a marker, or the group coordinator's transactional offsets: no sequence
            from refka.protocol.txn_markers import read_marker

            marker = read_marker(header, records) if header.is_control else None
            coordinator_epoch = -1 if marker is None else marker[1]
            refused = self.producer_state.check_epoch(header, coordinator_epoch)
            if refused is not None:
                return AppendResult(refused.error_code, error_message=refused.message)
        elif header.has_producer_id:
            from refka.producer_state import SequenceDuplicate, SequenceError, SequenceOk

            check = self.producer_state.check_sequence(header)
            if self.tracer is not None and not isinstance(check, SequenceOk):
                self._trace_handle_produce(self.tracer, header, check)
            if isinstance(check, SequenceError):
                return AppendResult(check.error_code, error_message=check.message)
            if isinstance(check, SequenceDuplicate):
                return AppendResult(
                    base_offset=check.batch.first_offset,
                    log_start_offset=self.log_start_offset,
                    last_offset=check.batch.last_offset,
                )
        if from_client:
            records, headers = self._recompress(records, headers)
        return self._append(records, headers, now_ms)

    def _trace_handle_produce(self, tracer: Tracer, header: BatchHeader, check: object) -> None:
        """Delivery.tla's HandleProduce that appends nothing: a duplicate or a refusal."""
        from refka.core import trace
        from refka.producer_state import SequenceDuplicate, SequenceError

        if isinstance(check, SequenceDuplicate):
            verdict, offset = "duplicate", check.batch.first_offset
        else:
            assert isinstance(check, SequenceError)
            verdict, offset = check.error_code.name.upper(), -1
        tracer(trace.HandleProduce(self.replica_id, self.topic, self.partition, self.leader_epoch,
                                   header.producer_id, header.producer_epoch,
                                   header.base_sequence, verdict, offset))  # fmt: skip

    def _trace_marker(
        self, tracer: Tracer, header: BatchHeader, data: bytes | bytearray, offset: int
    ) -> None:
        """Transactions.tla's WriteMarker: a commit or abort marker landed here."""
        from refka.core import trace
        from refka.protocol.txn_markers import COMMIT, read_marker

        marker = read_marker(header, memoryview(data))
        if marker is not None:
            tracer(trace.WriteMarker(self.replica_id, self.topic, self.partition,
                                     header.producer_id, header.producer_epoch,
                                     marker[0] == COMMIT, offset))  # fmt: skip

    def _recompress(
        self, records: bytes, headers: list[BatchHeader]
    ) -> tuple[bytes, list[BatchHeader]]:
        """``compression.type`` other than ``producer``: the broker rewrites the batch with the
        topic's codec and level when the producer used another (Kafka's ``LogValidator``)."""
        config = self.log.config
        codec = TARGET_CODECS.get(config.compression_type)
        header = headers[0]
        if codec is None or codec == header.compression:
            return records, headers
        level = {
            compression.GZIP: config.compression_gzip_level,
            compression.LZ4: config.compression_lz4_level,
            compression.ZSTD: config.compression_zstd_level,
        }.get(codec)
        rebuilt = batches.recompress(memoryview(records)[: header.size], header, codec, level)
        return rebuilt, [read_header(rebuilt)]

    def _append(self, records: bytes, headers: list[BatchHeader], now_ms: int) -> AppendResult:
        base_offset = self.log_end_offset
        log_append = self.log.config.message_timestamp_type == "LogAppendTime"
        append_time_ms = now_ms if log_append else None
        data = batches.assign_offsets(
            records, headers, base_offset, self.leader_epoch, append_time_ms
        )
        if self.epoch_cache.latest_epoch != self.leader_epoch:
            self.epoch_cache.assign(self.leader_epoch, base_offset)
        self._traced_append(data, now_ms)
        header = headers[-1]
        if header.is_control:
            self._track_batches(data, persist=True)
        elif header.has_producer_id:
            timestamp_ms = now_ms if log_append else header.max_timestamp
            self.producer_state.update(header, base_offset, timestamp_ms)
        if self.tracer is not None:
            from refka.core import trace

            self.tracer(
                trace.LeaderAppend(
                    self.replica_id,
                    self.topic,
                    self.partition,
                    self.leader_epoch,
                    base_offset,
                    self.log_end_offset,
                    header.producer_id if header.has_producer_id else -1,
                    headers[0].base_sequence if header.has_producer_id else -1,
                )
            )
            if header.is_control:
                self._trace_marker(self.tracer, header, data, base_offset)
            self._release_flush()
        self.maybe_increment_high_watermark()
        return AppendResult(
            base_offset=base_offset,
            log_append_time_ms=now_ms if log_append else -1,
            log_start_offset=self.log_start_offset,
            last_offset=self.log_end_offset - 1,
        )

    def maybe_increment_high_watermark(self) -> bool:
        """AdvanceHighWatermark: the smallest LEO in the maximal ISR (KIP-497 CommitIsr), never
        going back, and not at all while the ISR is below min.insync.replicas (KIP-966)."""
        if self.role is not ReplicaRole.LEADER and self.role is not ReplicaRole.NONE:
            return False
        if self.high_watermark >= self.log.log_end_offset:
            return False  # no LEO in the ISR is above ours: nothing can move it (idle, mostly)
        if (
            self.role is ReplicaRole.LEADER
            and len(self.isr) < len(self.replicas)  # a full ISR is never below min.insync
            and len(self.isr) < self.min_insync_replicas
        ):
            return False
        candidate = self.log.log_end_offset  # the minimum of replica_log_end_offsets over it:
        for r in self.maximal_isr:
            if r != self.replica_id:
                state = self.followers.get(r)
                follower_end = UNKNOWN_OFFSET if state is None else state.log_end_offset
                if follower_end < candidate:
                    candidate = follower_end
        if candidate > self.high_watermark:
            commit_isr = self.maximal_isr | {self.replica_id}
            previous, self.high_watermark = self.high_watermark, candidate
            if self.tracer is not None:
                self._trace_advance(self.tracer, previous, tuple(sorted(commit_isr)))
            return True
        return False

    def _trace_advance(self, tracer: Tracer, previous: int, isr: tuple[int, ...]) -> None:
        """The AdvanceHighWatermark event, with the log end offset known of each member."""
        from refka.core import trace

        def known(r: int) -> int:
            if r == self.replica_id:
                return self.log.log_end_offset
            state = self.followers.get(r)
            return UNKNOWN_OFFSET if state is None else state.log_end_offset

        ends = tuple(known(r) for r in isr)
        tracer(trace.AdvanceHighWatermark(self.replica_id, self.topic, self.partition,
                                          self.leader_epoch, previous, self.high_watermark,
                                          isr, ends))  # fmt: skip

    def update_follower_fetch_state(
        self, follower_id: int, fetch_offset: int, now_ms: int, broker_epoch: int = -1
    ) -> bool:
        """FollowerFetch, the leader's side: the follower holds everything below
        ``fetch_offset``. Returns True if the high watermark advanced."""
        state = self.followers.get(follower_id)
        if state is None:
            state = self.followers[follower_id] = FollowerState()
        state.update_fetch_state(fetch_offset, self.log.log_end_offset, now_ms, broker_epoch)
        return self.maybe_increment_high_watermark()

    def out_of_sync_replicas(self, now_ms: int, lag_time_max_ms: int) -> frozenset[int]:
        """SendAlterPartition, shrink (Kafka's maybeShrinkIsr): ISR followers that have not
        caught up to the LEO for ``replica.lag.time.max.ms``."""
        leo = self.log_end_offset
        return frozenset(
            r
            for r in self.isr
            if r != self.replica_id
            and not self.followers.get(r, FollowerState()).is_caught_up(
                leo, now_ms, lag_time_max_ms
            )
        )

    def is_follower_in_sync(self, follower_id: int) -> bool:
        """SendAlterPartition, expand (Kafka's maybeExpandIsr): a follower outside the ISR that
        reached the high watermark and the start of this leader's epoch (so it holds every
        committed record of earlier epochs)."""
        state = self.followers.get(follower_id)
        if state is None or follower_id in self.isr or follower_id not in self.replicas:
            return False
        return (
            state.log_end_offset >= self.high_watermark
            and state.log_end_offset >= self.epoch_start_offset
        )

    # ---------------------------------------------------------------- follower

    def append_as_follower(self, records: bytes | memoryview, now_ms: int) -> int:
        """FollowerFetch: append the leader's batches unchanged (its offsets and partition
        leader epochs; the log updates the epoch cache from them). Returns the new LEO.
        Raises ``ValueError`` if the batches do not start at the log end offset."""
        if self.role is not ReplicaRole.FOLLOWER:
            raise IllegalReplicaTransition(f"append_as_follower on a {self.role.value} replica")
        data = bytes(records)
        headers = list(iter_headers(data))
        if not headers:
            return self.log_end_offset
        if headers[0].base_offset != self.log_end_offset:
            raise ValueError(
                f"{self.topic}-{self.partition}: batch at {headers[0].base_offset},"
                f" log end offset {self.log_end_offset}"
            )
        size = sum(h.size for h in headers)
        offset = self.log_end_offset
        self._traced_append(data[:size], now_ms)
        self._track_batches(data[:size], persist=True)
        if self.tracer is not None:
            self._fetched = (offset, headers)
        return self.log_end_offset

    def update_high_watermark_from_leader(self, leader_high_watermark: int) -> None:
        """FollowerFetch: a follower's HW is the leader's, bounded by its own LEO. With a
        tracer, this ends the FollowerFetch step: one event for the records appended (if any)
        and the new HW (if it moved)."""
        if self.tracer is None:
            self.high_watermark = self._bounded(leader_high_watermark)
            return
        previous = self.high_watermark
        self.high_watermark = self._bounded(leader_high_watermark)
        fetched, self._fetched = self._fetched, None
        if fetched is not None:
            offset, headers = fetched
            epochs = tuple(
                h.partition_leader_epoch
                for h in headers
                for _ in range(h.base_offset, h.next_offset)
            )
            self.trace_follower_fetch(offset, epochs)
        elif self.high_watermark != previous:
            self.trace_follower_fetch(self.log_end_offset, ())
        self._release_flush()

    def follow_log_start_offset(self, leader_log_start_offset: int) -> None:
        """FollowerFetch: raise the log start offset to the leader's (DeleteRecords, retention;
        KIP-107), never past this replica's high watermark, as Kafka's follower."""
        offset = min(leader_log_start_offset, self.high_watermark)
        if offset > self.log_start_offset:
            self.log.increment_log_start_offset(offset)

    def trace_follower_fetch(self, offset: int, epochs: tuple[int, ...]) -> None:
        """Emit FollowerFetch: the log is now ``log[:offset] + epochs`` (tracer set)."""
        assert self.tracer is not None
        from refka.core import trace

        self.tracer(
            trace.FollowerFetch(
                self.replica_id,
                self.topic,
                self.partition,
                self.leader_id,
                self.leader_epoch,
                offset,
                epochs,
                self.log_end_offset,
                self.high_watermark,
            )
        )

    def _traced_append(self, data: bytes | bytearray, now_ms: int) -> None:
        """``log.append``; with a tracer, a flush it does waits for ``_release_flush``."""
        if self.tracer is None:
            self.log.append(data, now_ms)
            return
        self._holding_flush = True
        try:
            self.log.append(data, now_ms)
        except BaseException:
            self._release_flush()
            raise

    def _release_flush(self) -> None:
        self._holding_flush = False
        if self._held_flush >= 0:
            offset, self._held_flush = self._held_flush, -1
            self._trace_flush(offset)

    def _trace_flush(self, offset: int) -> None:
        if self.tracer is not None:
            if self._holding_flush:
                self._held_flush = offset
                return
            from refka.core import trace

            self.tracer(trace.Flush(self.replica_id, self.topic, self.partition, offset))

    def _bounded(self, high_watermark: int) -> int:
        """Kafka's ``UnifiedLog.updateHighWatermark``: within [log start offset, LEO]."""
        return max(self.log_start_offset, min(high_watermark, self.log_end_offset))

    # ------------------------------------------------------------------ reads

    def read(
        self,
        fetch_offset: int,
        max_bytes: int,
        min_one_batch: bool,
        committed_only: bool,
    ) -> ReadResult:
        """A consumer's read: below the high watermark (read_uncommitted) or the last stable
        offset (read_committed); never at or past the high watermark."""
        isolation = (
            FetchIsolation.TXN_COMMITTED if committed_only else FetchIsolation.HIGH_WATERMARK
        )
        return self.read_records(fetch_offset, max_bytes, min_one_batch, isolation)

    def read_for_follower(
        self, fetch_offset: int, max_bytes: int, min_one_batch: bool
    ) -> ReadResult:
        """A follower's read: up to the log end offset."""
        return self.read_records(fetch_offset, max_bytes, min_one_batch, FetchIsolation.LOG_END)

    def read_records(
        self, fetch_offset: int, max_bytes: int, min_one_batch: bool, isolation: FetchIsolation
    ) -> ReadResult:
        log = self.log
        if fetch_offset == log.log_end_offset:  # caught up: nothing to read (PartitionLog.read)
            hw, lso = self.high_watermark, self.last_stable_offset
            return ReadResult([], hw, lso, log.log_start_offset, 0)
        # bug switch: Bug.READ_UNCOMMITTED (spec/bugs/Transactions_ReadUncommitted.cfg)
        committed = isolation is FetchIsolation.TXN_COMMITTED and self.read_committed_below_lso
        if isolation is FetchIsolation.LOG_END:
            max_offset = log.log_end_offset
        elif committed:
            max_offset = self.last_stable_offset
        else:
            max_offset = self.high_watermark
        slices = log.read(fetch_offset, max_bytes, max_offset, min_one_batch)
        aborted: tuple[tuple[int, int], ...] = ()
        if slices and committed and self.txn_index.entries:
            found = self.txn_index.collect(fetch_offset, max_offset)
            aborted = tuple((a.producer_id, a.first_offset) for a in found)
        if self.tracer is not None and slices and isolation is FetchIsolation.TXN_COMMITTED:
            self._trace_read_committed(self.tracer, fetch_offset, slices, aborted)
        return ReadResult(
            slices=slices,
            high_watermark=self.high_watermark,
            last_stable_offset=self.last_stable_offset,
            log_start_offset=self.log_start_offset,
            size=sum(s.size for s in slices),
            aborted=aborted,
        )

    def _trace_read_committed(self, tracer: Tracer, fetch_offset: int,
                              slices: list[FileSlice],
                              aborted: tuple[tuple[int, int], ...]) -> None:  # fmt: skip
        """Transactions.tla's ConsumerRead: what a read_committed Fetch was given."""
        from refka.core import trace

        end = fetch_offset
        for header in iter_headers(self.log.read_bytes(slices)):
            end = header.last_offset + 1
        tracer(trace.ReadCommitted(self.replica_id, self.topic, self.partition, fetch_offset,
                                   end, self.last_stable_offset, self.high_watermark,
                                   aborted))  # fmt: skip

    # -------------------------------------------------------------- truncation

    def truncate_to(self, offset: int) -> None:
        """Truncate: drop the log suffix from ``offset`` (follower truncation, KIP-101/279)."""
        self.log.truncate_to(offset)
        self.epoch_cache.truncate_from_end(offset)
        self.high_watermark = min(self.high_watermark, self.log_end_offset)
        self._rebuild_producer_state()

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """A follower behind the leader's log start: start an empty log there."""
        self.log.truncate_fully_and_start_at(offset)
        self.high_watermark = offset
        self._rebuild_producer_state()

    def end_offset_for_epoch(self, leader_epoch: int) -> tuple[int, int]:
        """(epoch, end offset) of the largest epoch <= ``leader_epoch`` in this log, or
        (-1, -1) (Kafka's ``UnifiedLog.endOffsetForEpoch``; LeaderEndOffsetFor)."""
        return self.epoch_cache.end_offset_for(leader_epoch, self.log_end_offset)

    def _rebuild_producer_state(self) -> None:
        """Load the newest good ``.snapshot`` (``_load_snapshot``), then replay the producer
        batches after it from the log's batch headers, a bounded chunk at a time, as Kafka's
        ``UnifiedLog.rebuildProducerState``. ``replayed_batches`` counts the batches read."""
        self.producer_state.truncate()
        self.txn_index.clear()
        offset = self._load_snapshot()
        for segment in self.log.segments:  # the replay writes the tail's aborted txns again
            if segment.next_offset > offset:
                segment.truncate_txn_index(offset)
        self.replayed_batches = 0
        while offset < self.log_end_offset:
            slices = self.log.read(offset, _REBUILD_CHUNK_BYTES, self.log_end_offset, True)
            if not slices:
                break
            data = self.log.read_bytes(slices)
            self.replayed_batches += sum(1 for _ in iter_headers(data))
            offset = self._track_batches(data, offset, persist=True)

    def _load_snapshot(self) -> int:
        """Restore the newest snapshot above the log start offset and at or below the log end
        offset, with the aborted transactions the ``.txnindex`` files hold below it; return
        its offset (the log start offset if there is none). A corrupt one is deleted and the
        next older one tried, as Kafka's ``ProducerStateManager.loadFromSnapshot``."""
        from refka.log.producer_snapshot import CorruptSnapshot, decode

        log = self.log
        for offset in reversed(log.snapshot_offsets()):
            if not log.log_start_offset < offset <= log.log_end_offset:
                continue
            try:
                entries = decode(log.read_snapshot(offset))
            except CorruptSnapshot:
                log.storage.delete(log.snapshot_path(offset))
                continue
            self.producer_state.load_entries(entries)
            self._load_aborted_txns(offset)
            return offset
        return self.log_start_offset

    def _load_aborted_txns(self, upper: int) -> None:
        """The ``.txnindex`` entries whose marker lies in [log start offset, ``upper``)."""
        from refka.log.transaction_index import ENTRY, AbortedTxn

        storage, start = self.log.storage, self.log_start_offset
        for segment in self.log.segments:
            if segment.base_offset >= upper or not storage.exists(segment.txn_index_path):
                continue
            path = segment.txn_index_path
            data = storage.read(path, 0, storage.size(path))
            for position in range(0, len(data) - ENTRY.size + 1, ENTRY.size):
                aborted = AbortedTxn.decode(data, position)
                if start <= aborted.last_offset < upper:
                    self.txn_index.append(aborted)

    def _snapshot_bytes(self) -> bytes:
        """The producer state as a ``.snapshot`` file holds it (written by the log)."""
        from refka.log.producer_snapshot import encode

        return encode(self.producer_state.snapshot_entries())

    def _track_batches(
        self, data: bytes | bytearray, offset: int = -1, persist: bool = False
    ) -> int:
        """Producer state from appended batches (with their offsets): sequences, open
        transactions, and the aborted ones their markers close (written to the segment's
        ``.txnindex`` when ``persist``: a new append, not a replay). Returns the next offset."""
        state = self.producer_state
        for header, batch in batches.iter_batches(data):
            offset = header.next_offset
            if not header.has_producer_id:
                continue
            if not header.is_control:
                state.update(header, header.base_offset, header.max_timestamp)
                continue
            from refka.log.transaction_index import AbortedTxn
            from refka.protocol.txn_markers import ABORT, read_marker

            marker = read_marker(header, batch)
            completed = None
            if marker is not None:
                completed = state.complete_txn(header, header.base_offset, marker[1])
            if completed is not None and marker is not None and marker[0] == ABORT:
                stable = state.first_unstable_offset()
                aborted = AbortedTxn(
                    completed.producer_id,
                    completed.first_offset,
                    completed.last_offset,
                    header.next_offset if stable is None else stable,
                )
                self.txn_index.append(aborted)
                if persist:
                    self.log.append_aborted_txn(aborted.last_offset, aborted.encode())
        return offset


_REBUILD_CHUNK_BYTES = 16 * 1024 * 1024
