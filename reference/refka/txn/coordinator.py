"""The transaction coordinator as a sans-I/O state machine (Kafka's ``TransactionCoordinator``):
the transaction APIs over the ``TransactionStateManager`` (``state``), requests in, results and
effects out.

Every change of a transaction is written to its ``__transaction_state`` partition (an
``AppendTxnLog`` effect, Kafka's record format in ``refka.txn.records``); the driver answers
the request only once that write is replicated. Ending a transaction moves it to PrepareCommit
/ PrepareAbort and returns a ``WriteTxnMarkers`` effect naming the partitions, to be carried
out after the prepare record is written (a control batch appended where the broker leads the
partition, a WriteTxnMarkers request elsewhere); then ``complete_markers`` moves it to
CompleteCommit / CompleteAbort and writes that too (Transactions.tla ``EndTxn`` then
``WriteMarker``). A transaction loaded in a prepare state gets its markers again. Time comes in
as ``now_ms``; ``on_tick`` aborts transactions older than their timeout
(``transaction.timeout.ms``), fencing the producer with an epoch bump, and expires idle ids.

Known limit: the state changes in memory before its record is written; a failed write is not
rolled back until the partition is loaded again (as the group coordinator's metadata).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from kio.schema.errors import ErrorCode

from refka.txn.effects import Effect, ProducerIdResult, WriteTxnMarkers
from refka.txn.metadata import NO_EPOCH, NO_PRODUCER_ID, TopicPartition, TransactionMetadata
from refka.txn.state import PENDING_STATES, TransactionResult, TransactionState
from refka.txn.state_manager import TransactionConfig, TransactionStateManager

if TYPE_CHECKING:
    from refka.core.trace import Tracer

E = ErrorCode
S = TransactionState


Outcome = tuple[ProducerIdResult, list[Effect]]


@dataclass(slots=True)
class TransactionCoordinator:
    """The transaction APIs over the ``TransactionStateManager`` of this node."""

    state: TransactionStateManager
    tracer: Tracer | None = None  # Transactions.tla steps (refka.core.trace)
    node: int = -1  # this broker's id, for the trace events

    @classmethod
    def build(cls, config: TransactionConfig, owned: frozenset[int] | None = None) -> Self:
        """A coordinator with no transactions; ``owned`` None: it owns every partition."""
        return cls(TransactionStateManager(config, owned_partitions=owned))

    @property
    def config(self) -> TransactionConfig:
        return self.state.config

    # ------------------------------------------------------------ InitProducerId

    def needs_producer_id(self, transactional_id: str) -> bool:
        """Whether InitProducerId for this id will take a fresh producer id."""
        txn = self.state.transactions.get(transactional_id)
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
        txn = self.state.transactions.get(transactional_id)
        if txn is None:
            if fresh_producer_id is None:
                return ProducerIdResult(E.coordinator_not_available), []
            txn = TransactionMetadata(transactional_id, fresh_producer_id, NO_EPOCH, txn_timeout_ms)
            self.state.transactions[transactional_id] = txn
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
        return result, [self.state.persist(txn, now_ms)]

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
        transaction_version: int = 0,
    ) -> tuple[ErrorCode, list[Effect]]:
        """AddPartitionsToTxn / AddOffsetsToTxn: the transaction becomes Ongoing with these
        partitions. ``verify_only`` (v4+, KIP-890 part 1): only check that they are in the
        ongoing transaction (INVALID_TXN_STATE if not). ``transaction_version`` 2: a partition
        leader adds them for a Produce v12+ or TxnOffsetCommit v5+ (KIP-890 part 2); a new
        transaction then ends with an epoch bump."""
        txn = self.state.transactions.get(transactional_id)
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
        previous = txn.state
        if txn.state is not S.ONGOING:
            txn.client_transaction_version = transaction_version
        txn.transition_to(S.ONGOING, now_ms)
        added = wanted - txn.partitions
        txn.partitions |= wanted
        if self.tracer is not None:
            from refka.core import trace

            event = trace.AddPartitionsToTxn(self.node, txn.transactional_id, txn.producer_id,
                                             txn.producer_epoch, tuple(sorted(added)),
                                             _name(previous))  # fmt: skip
            self.tracer(event)
        return E.none, [self.state.persist(txn, now_ms)]

    # ------------------------------------------------------------ EndTxn

    def end_transaction(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        result: TransactionResult,
        now_ms: int,
        transaction_version: int = 0,
        fresh_producer_id: int | None = None,
    ) -> Outcome:
        """EndTxn: Ongoing -> PrepareCommit / PrepareAbort, and the markers to write. A retry
        of a transaction already completed the same way succeeds; the other way, or with no
        transaction, is INVALID_TXN_STATE; one whose markers are still being written is
        CONCURRENT_TRANSACTIONS.

        ``transaction_version`` 2 (EndTxn v5+, KIP-890 part 2): the epoch is bumped as the
        transaction ends, the markers carry the new epoch and the answer names it; a retry
        comes with the epoch before that bump; an empty transaction may be aborted (the
        client's way to get a new epoch). At an exhausted epoch the transaction ends with the
        last epoch and the producer continues with ``fresh_producer_id`` at epoch 0 (named in
        the answer, taken when the markers are written)."""
        txn = self.state.transactions.get(transactional_id)
        tv2 = transaction_version >= 2
        retry = (  # the bump of this EndTxn already happened (TV2 retry)
            tv2
            and txn is not None
            and txn.state is not S.ONGOING
            and producer_id == txn.producer_id
            and producer_epoch == txn.producer_epoch - 1 == txn.last_producer_epoch
        )
        error = E.none if retry else _check_producer(txn, producer_id, producer_epoch)
        if error is not E.none or txn is None:
            return ProducerIdResult(error), []
        same = ProducerIdResult(E.none, txn.producer_id, txn.producer_epoch)
        commit = result is TransactionResult.COMMIT
        state = txn.state
        if state is S.ONGOING and not retry:
            return self._end_ongoing(txn, result, tv2, now_ms, fresh_producer_id)
        if state is (S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT) and (retry or not tv2):
            return same, []
        if state is (S.PREPARE_COMMIT if commit else S.PREPARE_ABORT):
            return ProducerIdResult(E.concurrent_transactions), []
        empty = state in (S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT)
        if tv2 and not commit and not retry and empty:  # KIP-890: abort an empty transaction
            return self._end_ongoing(txn, result, tv2, now_ms, fresh_producer_id)
        return ProducerIdResult(E.invalid_txn_state), []

    def _end_ongoing(
        self,
        txn: TransactionMetadata,
        result: TransactionResult,
        tv2: bool,
        now_ms: int,
        fresh_producer_id: int | None,
    ) -> Outcome:
        """Prepare the end; with TV2 bump the epoch first (the markers fence the old one)."""
        if tv2:
            if txn.epoch_exhausted:
                if fresh_producer_id is None:
                    return ProducerIdResult(E.coordinator_not_available), []
                txn.next_producer_id = fresh_producer_id
            txn.client_transaction_version = 2
            txn.bump_epoch()
        effects = self._prepare_end(txn, result, now_ms)
        if txn.next_producer_id != NO_PRODUCER_ID:
            return ProducerIdResult(E.none, txn.next_producer_id, 0), effects
        return ProducerIdResult(E.none, txn.producer_id, txn.producer_epoch), effects

    def _prepare_end(
        self, txn: TransactionMetadata, result: TransactionResult, now_ms: int
    ) -> list[Effect]:
        commit = result is TransactionResult.COMMIT
        txn.transition_to(S.PREPARE_COMMIT if commit else S.PREPARE_ABORT, now_ms)
        if self.tracer is not None:
            from refka.core import trace

            self.tracer(trace.EndTxn(self.node, txn.transactional_id, txn.producer_id,
                                     txn.producer_epoch, _name(txn.state),
                                     tuple(sorted(txn.partitions))))  # fmt: skip
        return [self.state.persist(txn, now_ms), self._markers(txn)]

    def _markers(self, txn: TransactionMetadata) -> WriteTxnMarkers:
        commit = txn.state is S.PREPARE_COMMIT
        return WriteTxnMarkers(
            txn.transactional_id,
            txn.producer_id,
            txn.producer_epoch,
            self.state.coordinator_epoch(txn.transactional_id),
            TransactionResult.COMMIT if commit else TransactionResult.ABORT,
            tuple(sorted(txn.partitions)),
            txn.client_transaction_version,
        )

    def complete_markers(self, transactional_id: str, now_ms: int) -> list[Effect]:
        """Every marker is written: PrepareCommit -> CompleteCommit, PrepareAbort ->
        CompleteAbort; the transaction's partitions are forgotten."""
        txn = self.state.transactions.get(transactional_id)
        if txn is None or txn.state not in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return []
        done = S.COMPLETE_COMMIT if txn.state is S.PREPARE_COMMIT else S.COMPLETE_ABORT
        txn.transition_to(done, now_ms)
        txn.partitions.clear()
        if self.tracer is not None:
            from refka.core import trace

            self.tracer(trace.CompleteTxn(self.node, transactional_id, txn.producer_id,
                                          txn.producer_epoch, _name(done)))  # fmt: skip
        if txn.next_producer_id != NO_PRODUCER_ID:  # TV2, exhausted epoch: the new id
            txn.previous_producer_id, txn.producer_id = txn.producer_id, txn.next_producer_id
            txn.next_producer_id = NO_PRODUCER_ID
            txn.last_producer_epoch, txn.producer_epoch = NO_EPOCH, 0
        return [self.state.persist(txn, now_ms)]

    # ------------------------------------------------------------ loading

    def load(
        self,
        partition: int,
        records: Iterable[tuple[bytes | None, bytes | None]],
        coordinator_epoch: int,
    ) -> list[Effect]:
        """Replay a ``__transaction_state`` partition and own its ids; a transaction found in a
        prepare state gets its markers written again."""
        prepared = self.state.load(partition, records, coordinator_epoch)
        return [self._markers(txn) for txn in prepared]

    # ------------------------------------------------------------ timers

    def on_tick(self, now_ms: int) -> list[Effect]:
        """Abort every transaction ongoing for longer than its timeout, fencing its producer
        (Kafka's ``abortTimedOutTransactions``); every
        ``transaction.remove.expired.transaction.cleanup.interval.ms``, expire the ids idle for
        ``transactional.id.expiration.ms``."""
        effects: list[Effect] = []
        for txn in list(self.state.transactions.values()):
            if txn.state is S.ONGOING and now_ms >= txn.txn_start_timestamp_ms + txn.txn_timeout_ms:
                effects += self._fence_and_abort(txn, now_ms)
        return effects + self.state.maybe_expire(now_ms)

    def next_deadline_ms(self) -> int | None:
        """When the first ongoing transaction times out, or the next expiration check."""
        deadlines = [
            txn.txn_start_timestamp_ms + txn.txn_timeout_ms
            for txn in self.state.transactions.values()
            if txn.state is S.ONGOING
        ]
        expiration = self.state.next_expiration_ms()
        if expiration is not None:
            deadlines.append(expiration)
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


def _name(state: TransactionState) -> str:
    """Kafka's name of a state: ``PrepareCommit``."""
    return "".join(word.capitalize() for word in state.name.split("_"))
