"""The transaction coordinator as a sans-I/O state machine (Kafka's ``TransactionCoordinator``
over a ``TransactionStateManager``): requests in, results and effects out.

It answers for the transactional ids of the ``__transaction_state`` partitions it owns
(``partition_for``, as groups map to ``__consumer_offsets``): NOT_COORDINATOR for the others,
COORDINATOR_LOAD_IN_PROGRESS while a partition is replayed (``load``). Every change of a
transaction is written to its partition (an ``AppendTxnLog`` effect, Kafka's record format in
``refka.txn.records``); the driver answers the request only once that write is replicated.
Ending a transaction moves it to PrepareCommit / PrepareAbort and returns a ``WriteTxnMarkers``
effect naming the partitions, to be carried out after the prepare record is written (the broker
appends the control batches on one node; on a cluster they become WriteTxnMarkers requests);
then ``complete_markers`` moves it to CompleteCommit / CompleteAbort and writes that too
(Transactions.tla ``EndTxn`` then ``WriteMarker``). A transaction loaded in a prepare state gets
its markers again. Time comes in as ``now_ms``; ``on_tick`` aborts transactions older than
their timeout (``transaction.timeout.ms``), fencing the producer with an epoch bump.

Known limit: the state changes in memory before its record is written; a failed write is not
rolled back until the partition is loaded again (as the group coordinator's metadata).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode

from refka.group.partitioner import partition_for
from refka.txn.metadata import NO_EPOCH, NO_PRODUCER_ID, TopicPartition, TransactionMetadata
from refka.txn.state import (
    PENDING_STATES,
    VALID_PREVIOUS_STATES,
    TransactionResult,
    TransactionState,
)

E = ErrorCode
S = TransactionState
TRANSACTION_STATE_TOPIC = "__transaction_state"


@dataclass(frozen=True, slots=True)
class WriteTxnMarkers:
    """Effect: write ``result``'s control batch for ``producer_id``/``producer_epoch`` to each
    partition, then call ``complete_markers(transactional_id)`` (Transactions.tla
    ``WriteMarker``)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    coordinator_epoch: int
    result: TransactionResult
    partitions: tuple[TopicPartition, ...]


@dataclass(frozen=True, slots=True)
class AppendTxnLog:
    """Effect: append ``records`` (one batch) to ``__transaction_state`` partition
    ``partition``; what follows it in the same effect list waits until it is replicated."""

    partition: int
    records: bytes


Effect = WriteTxnMarkers | AppendTxnLog


@dataclass(frozen=True, slots=True)
class ProducerIdResult:
    """The answer to InitProducerId and (v5+) EndTxn."""

    error: ErrorCode
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_EPOCH


@dataclass(frozen=True, slots=True)
class TransactionConfig:
    transaction_max_timeout_ms: int = 900_000
    transaction_state_log_num_partitions: int = 50
    transactional_id_expiration_ms: int = 604_800_000
    transaction_remove_expired_transaction_cleanup_interval_ms: int = 3_600_000


Outcome = tuple[ProducerIdResult, list[Effect]]
_NEXT = {s: {t for t, before in VALID_PREVIOUS_STATES.items() if s in before} for s in S}


@dataclass(slots=True)
class TransactionCoordinator:
    """The transactional ids this node coordinates, by id. ``owned_partitions`` None: every
    partition (a coordinator tested alone)."""

    config: TransactionConfig
    owned_partitions: frozenset[int] | None = None
    loading_partitions: frozenset[int] = frozenset()
    coordinator_epochs: dict[int, int] = field(default_factory=dict)  # by partition
    transactions: dict[str, TransactionMetadata] = field(default_factory=dict)
    next_expiration_check_ms: int | None = None

    def partition_for(self, transactional_id: str) -> int:
        """``abs(transactionalId.hashCode()) % transaction.state.log.num.partitions``."""
        return partition_for(transactional_id, self.config.transaction_state_log_num_partitions)

    def coordinator_error(self, transactional_id: str) -> ErrorCode:
        """NONE if this coordinator answers for the id now."""
        partition = self.partition_for(transactional_id)
        if partition in self.loading_partitions:
            return E.coordinator_load_in_progress
        owned = self.owned_partitions
        return E.none if owned is None or partition in owned else E.not_coordinator

    def _persist(self, txn: TransactionMetadata, now_ms: int) -> AppendTxnLog:
        """The record of the transaction's new state (Kafka's ``appendTransactionToLog``); a
        Dead transaction's is a tombstone."""
        from refka.protocol.records import NewRecord, build_batch
        from refka.txn import records

        value = None if txn.state is S.DEAD else records.encode_value(txn)
        record = NewRecord(records.encode_key(txn.transactional_id), value, (), now_ms)
        return AppendTxnLog(self.partition_for(txn.transactional_id), build_batch([record]))

    # ------------------------------------------------------------ InitProducerId

    def needs_producer_id(self, transactional_id: str) -> bool:
        """Whether InitProducerId for this id will take a fresh producer id."""
        txn = self.transactions.get(transactional_id)
        return txn is None or txn.epoch_exhausted

    def init_producer_id(
        self,
        transactional_id: str,
        txn_timeout_ms: int,
        expected_producer_id: int,
        expected_epoch: int,
        fresh_producer_id: int | None,
        now_ms: int,
    ) -> Outcome:
        """KIP-98 InitProducerId with a transactional id; KIP-360: a producer that names its
        current (or just bumped) id and epoch keeps its id with the next epoch. An ongoing
        transaction of an older instance is fenced and aborted (CONCURRENT_TRANSACTIONS: the
        client retries once the abort is done)."""
        if not transactional_id:
            return ProducerIdResult(E.invalid_request), []
        if not 0 < txn_timeout_ms <= self.config.transaction_max_timeout_ms:
            return ProducerIdResult(E.invalid_transaction_timeout), []
        txn = self.transactions.get(transactional_id)
        if txn is None:
            if fresh_producer_id is None:
                return ProducerIdResult(E.coordinator_not_available), []
            txn = TransactionMetadata(transactional_id, fresh_producer_id, NO_EPOCH, txn_timeout_ms)
            self.transactions[transactional_id] = txn
        if txn.state in PENDING_STATES:
            return ProducerIdResult(E.concurrent_transactions), []
        if not _valid_expected(txn, expected_producer_id, expected_epoch):
            return ProducerIdResult(E.producer_fenced), []
        if txn.state is S.ONGOING:
            return ProducerIdResult(E.concurrent_transactions), self._fence_and_abort(txn, now_ms)
        retry = (  # KIP-360: the bump this producer asked for already happened
            expected_producer_id == txn.producer_id
            and expected_epoch >= 0
            and expected_epoch == txn.last_producer_epoch != txn.producer_epoch
        )
        if not retry:
            self._bump_or_rotate(txn, fresh_producer_id)
        txn.txn_timeout_ms = txn_timeout_ms
        txn.partitions.clear()
        txn.transition_to(S.EMPTY, now_ms)
        result = ProducerIdResult(E.none, txn.producer_id, txn.producer_epoch)
        return result, [self._persist(txn, now_ms)]

    def _bump_or_rotate(self, txn: TransactionMetadata, fresh_producer_id: int | None) -> None:
        if txn.epoch_exhausted and fresh_producer_id is not None:
            txn.previous_producer_id = txn.producer_id
            txn.producer_id = fresh_producer_id
            txn.last_producer_epoch = NO_EPOCH
            txn.producer_epoch = 0
        else:
            txn.bump_epoch()

    def _fence_and_abort(self, txn: TransactionMetadata, now_ms: int) -> list[Effect]:
        """PrepareEpochFence: bump the epoch so the old instance is fenced, then abort its
        transaction with the new epoch (Kafka's ``prepareFenceProducerEpoch``)."""
        txn.transition_to(S.PREPARE_EPOCH_FENCE, now_ms)
        txn.bump_epoch()
        return self._prepare_end(txn, TransactionResult.ABORT, now_ms)

    # ------------------------------------------------------------ AddPartitionsToTxn

    def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Iterable[TopicPartition],
        now_ms: int,
        verify_only: bool = False,
    ) -> tuple[ErrorCode, list[Effect]]:
        """AddPartitionsToTxn / AddOffsetsToTxn: the transaction becomes Ongoing with these
        partitions. ``verify_only`` (v4+, KIP-890 part 1): only check that they are in the
        ongoing transaction (INVALID_TXN_STATE if not)."""
        txn = self.transactions.get(transactional_id)
        error = _check_producer(txn, producer_id, producer_epoch)
        if error is not E.none or txn is None:
            return error, []
        wanted = set(partitions)
        if verify_only:
            ok = txn.state is S.ONGOING and wanted <= txn.partitions
            return (E.none if ok else E.invalid_txn_state), []
        if txn.state in PENDING_STATES:
            return E.concurrent_transactions, []
        if txn.state is S.ONGOING and wanted <= txn.partitions:
            return E.none, []
        txn.transition_to(S.ONGOING, now_ms)
        txn.partitions |= wanted
        return E.none, [self._persist(txn, now_ms)]

    # ------------------------------------------------------------ EndTxn

    def end_transaction(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        result: TransactionResult,
        now_ms: int,
    ) -> Outcome:
        """EndTxn: Ongoing -> PrepareCommit / PrepareAbort, and the markers to write. A retry
        of a transaction already completed the same way succeeds; the other way, or with no
        transaction, is INVALID_TXN_STATE; one whose markers are still being written is
        CONCURRENT_TRANSACTIONS."""
        txn = self.transactions.get(transactional_id)
        error = _check_producer(txn, producer_id, producer_epoch)
        if error is not E.none or txn is None:
            return ProducerIdResult(error), []
        same = ProducerIdResult(E.none, txn.producer_id, txn.producer_epoch)
        commit = result is TransactionResult.COMMIT
        state = txn.state
        if state is S.ONGOING:
            return same, self._prepare_end(txn, result, now_ms)
        if state is (S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT):
            return same, []
        if state is (S.PREPARE_COMMIT if commit else S.PREPARE_ABORT):
            return ProducerIdResult(E.concurrent_transactions), []
        return ProducerIdResult(E.invalid_txn_state), []

    def _prepare_end(
        self, txn: TransactionMetadata, result: TransactionResult, now_ms: int
    ) -> list[Effect]:
        commit = result is TransactionResult.COMMIT
        txn.transition_to(S.PREPARE_COMMIT if commit else S.PREPARE_ABORT, now_ms)
        return [self._persist(txn, now_ms), self._markers(txn)]

    def _markers(self, txn: TransactionMetadata) -> WriteTxnMarkers:
        commit = txn.state is S.PREPARE_COMMIT
        return WriteTxnMarkers(
            txn.transactional_id,
            txn.producer_id,
            txn.producer_epoch,
            self.coordinator_epochs.get(self.partition_for(txn.transactional_id), 0),
            TransactionResult.COMMIT if commit else TransactionResult.ABORT,
            tuple(sorted(txn.partitions)),
        )

    def complete_markers(self, transactional_id: str, now_ms: int) -> list[Effect]:
        """Every marker is written: PrepareCommit -> CompleteCommit, PrepareAbort ->
        CompleteAbort; the transaction's partitions are forgotten."""
        txn = self.transactions.get(transactional_id)
        if txn is None or txn.state not in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return []
        done = S.COMPLETE_COMMIT if txn.state is S.PREPARE_COMMIT else S.COMPLETE_ABORT
        txn.transition_to(done, now_ms)
        txn.partitions.clear()
        return [self._persist(txn, now_ms)]

    # ------------------------------------------------------------ loading

    def load(
        self,
        partition: int,
        records: Iterable[tuple[bytes | None, bytes | None]],
        coordinator_epoch: int,
    ) -> list[Effect]:
        """Replay a ``__transaction_state`` partition (the last record of an id wins, a
        tombstone removes it) and own it; a transaction found in a prepare state gets its
        markers written again (Kafka's ``loadTransactionsForTxnTopicPartition``)."""
        from refka.txn import records as rec

        loaded: dict[str, TransactionMetadata | None] = {}
        for key, value in records:
            txn_id = None if key is None else rec.decode_key(bytes(key))
            if txn_id is not None:
                loaded[txn_id] = None if value is None else rec.decode_value(txn_id, bytes(value))
        self.coordinator_epochs[partition] = coordinator_epoch
        effects: list[Effect] = []
        for txn_id, txn in loaded.items():
            if txn is None:
                continue
            self.transactions[txn_id] = txn
            if txn.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                effects.append(self._markers(txn))
        return effects

    def unload(self, partition: int) -> None:
        """Another broker leads ``partition`` now: forget its transactional ids."""
        for txn_id in [t for t in self.transactions if self.partition_for(t) == partition]:
            del self.transactions[txn_id]
        self.coordinator_epochs.pop(partition, None)

    # ------------------------------------------------------------ admin

    def describe(self, transactional_id: str) -> tuple[ErrorCode, TransactionMetadata | None]:
        """DescribeTransactions (KIP-664): the id's state, or TRANSACTIONAL_ID_NOT_FOUND."""
        error = self.coordinator_error(transactional_id)
        if error is not E.none:
            return error, None
        txn = self.transactions.get(transactional_id)
        return (E.none, txn) if txn is not None else (E.transactional_id_not_found, None)

    def list_transactions(
        self,
        states: frozenset[TransactionState],
        producer_ids: frozenset[int],
        min_duration_ms: int,
        matches: Callable[[str], bool],
        now_ms: int,
    ) -> list[TransactionMetadata]:
        """ListTransactions (KIP-664, KIP-994, KIP-1152): the ids of the owned partitions whose
        state and producer id pass the filters (empty: any), ongoing for at least
        ``min_duration_ms`` (-1: any), with a matching transactional id."""
        return [
            txn
            for txn_id, txn in sorted(self.transactions.items())
            if self.coordinator_error(txn_id) is E.none
            and (not states or txn.state in states)
            and (not producer_ids or txn.producer_id in producer_ids)
            and (min_duration_ms < 0 or now_ms - txn.txn_start_timestamp_ms >= min_duration_ms)
            and matches(txn_id)
        ]

    # ------------------------------------------------------------ timers

    def on_tick(self, now_ms: int) -> list[Effect]:
        """Abort every transaction ongoing for longer than its timeout, fencing its producer
        (Kafka's ``abortTimedOutTransactions``); every
        ``transaction.remove.expired.transaction.cleanup.interval.ms``, expire the ids idle for
        ``transactional.id.expiration.ms``."""
        effects: list[Effect] = []
        for txn in list(self.transactions.values()):
            if txn.state is S.ONGOING and now_ms >= txn.txn_start_timestamp_ms + txn.txn_timeout_ms:
                effects += self._fence_and_abort(txn, now_ms)
        interval = self.config.transaction_remove_expired_transaction_cleanup_interval_ms
        if self.next_expiration_check_ms is None:
            self.next_expiration_check_ms = now_ms + interval
        elif now_ms >= self.next_expiration_check_ms:
            self.next_expiration_check_ms = now_ms + interval
            effects += self._expire(now_ms)
        return effects

    def _expire(self, now_ms: int) -> list[Effect]:
        """Kafka's ``removeExpiredTransactionalIds``: an id with no transaction in progress and
        no update for ``transactional.id.expiration.ms`` becomes Dead (a tombstone) and is
        forgotten; its next InitProducerId gets a new producer id."""
        expiration_ms = self.config.transactional_id_expiration_ms
        effects: list[Effect] = []
        for txn_id, txn in list(self.transactions.items()):
            idle = now_ms - txn.txn_last_update_timestamp_ms >= expiration_ms
            if idle and S.DEAD in _NEXT[txn.state]:
                txn.transition_to(S.DEAD, now_ms)
                effects.append(self._persist(txn, now_ms))
                del self.transactions[txn_id]
        return effects

    def next_deadline_ms(self) -> int | None:
        """When the first ongoing transaction times out, or the next expiration check."""
        deadlines = [
            txn.txn_start_timestamp_ms + txn.txn_timeout_ms
            for txn in self.transactions.values()
            if txn.state is S.ONGOING
        ]
        if self.transactions and self.next_expiration_check_ms is not None:
            deadlines.append(self.next_expiration_check_ms)
        return min(deadlines, default=None)


def _check_producer(
    txn: TransactionMetadata | None, producer_id: int, producer_epoch: int
) -> ErrorCode:
    """The producer must be the id's current one: INVALID_PRODUCER_ID_MAPPING for another id,
    PRODUCER_FENCED for an older epoch (a newer instance took over)."""
    if txn is None or txn.producer_id != producer_id:
        return E.invalid_producer_id_mapping
    if producer_epoch != txn.producer_epoch:
        return E.producer_fenced
    return E.none


def _valid_expected(txn: TransactionMetadata, producer_id: int, epoch: int) -> bool:
    """KIP-360: InitProducerId may name the producer's id and epoch; they must be the current
    ones (or the epoch just before the last bump: a retry), else the caller is fenced."""
    if producer_id == NO_PRODUCER_ID:
        return True
    if producer_id == txn.producer_id:
        return epoch in (txn.producer_epoch, txn.last_producer_epoch)
    return producer_id == txn.previous_producer_id
