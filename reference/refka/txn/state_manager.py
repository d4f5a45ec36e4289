"""The transactional ids of the ``__transaction_state`` partitions this node owns (Kafka's
``TransactionStateManager``): which partition holds an id, whether this coordinator answers for
it now, the record of each change, loading and unloading a partition, expiring idle ids, and
what DescribeTransactions and ListTransactions report.

An id belongs to partition ``abs(transactionalId.hashCode()) %
transaction.state.log.num.partitions``; while a partition is replayed its ids answer
COORDINATOR_LOAD_IN_PROGRESS, the ids of partitions led elsewhere NOT_COORDINATOR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode

from refka.group.partitioner import partition_for
from refka.txn.effects import AppendTxnLog, Effect
from refka.txn.metadata import TransactionMetadata
from refka.txn.state import VALID_PREVIOUS_STATES, TransactionState

E = ErrorCode
S = TransactionState
_NEXT = {s: {t for t, before in VALID_PREVIOUS_STATES.items() if s in before} for s in S}


@dataclass(frozen=True, slots=True)
class TransactionConfig:
    transaction_max_timeout_ms: int = 900_000
    transaction_state_log_num_partitions: int = 50
    transactional_id_expiration_ms: int = 604_800_000
    transaction_remove_expired_transaction_cleanup_interval_ms: int = 3_600_000


@dataclass(slots=True)
class TransactionStateManager:
    """The owned ids' ``TransactionMetadata``. ``owned_partitions`` None: every partition (a
    coordinator tested alone)."""

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

    def coordinator_epoch(self, transactional_id: str) -> int:
        """The leader epoch of the id's partition when it was loaded (markers carry it)."""
        return self.coordinator_epochs.get(self.partition_for(transactional_id), 0)

    def persist(self, txn: TransactionMetadata, now_ms: int) -> AppendTxnLog:
        """The record of the transaction's new state (Kafka's ``appendTransactionToLog``); a
        Dead transaction's is a tombstone."""
        from refka.protocol.records import NewRecord, build_batch
        from refka.txn import records

        value = None if txn.state is S.DEAD else records.encode_value(txn)
        record = NewRecord(records.encode_key(txn.transactional_id), value, (), now_ms)
        return AppendTxnLog(self.partition_for(txn.transactional_id), build_batch([record]))

    # ------------------------------------------------------------ loading

    def load(
        self,
        partition: int,
        records: Iterable[tuple[bytes | None, bytes | None]],
        coordinator_epoch: int,
    ) -> list[TransactionMetadata]:
        """Replay a partition (the last record of an id wins, a tombstone removes it); return
        the transactions found in a prepare state (their markers must be written again, as
        Kafka's ``loadTransactionsForTxnTopicPartition`` does)."""
        from refka.txn import records as rec

        loaded: dict[str, TransactionMetadata | None] = {}
        for key, value in records:
            txn_id = None if key is None else rec.decode_key(bytes(key))
            if txn_id is not None:
                loaded[txn_id] = None if value is None else rec.decode_value(txn_id, bytes(value))
        self.coordinator_epochs[partition] = coordinator_epoch
        prepared = []
        for txn_id, txn in loaded.items():
            if txn is None:
                continue
            self.transactions[txn_id] = txn
            if txn.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                prepared.append(txn)
        return prepared

    def unload(self, partition: int) -> None:
        """Another broker leads ``partition`` now: forget its transactional ids."""
        for txn_id in [t for t in self.transactions if self.partition_for(t) == partition]:
            del self.transactions[txn_id]
        self.coordinator_epochs.pop(partition, None)

    # ------------------------------------------------------------ expiration

    def maybe_expire(self, now_ms: int) -> list[Effect]:
        """Every ``transaction.remove.expired.transaction.cleanup.interval.ms`` (Kafka's
        ``removeExpiredTransactionalIds``): an id with no transaction in progress and no update
        for ``transactional.id.expiration.ms`` becomes Dead (a tombstone) and is forgotten;
        its next InitProducerId gets a new producer id."""
        interval = self.config.transaction_remove_expired_transaction_cleanup_interval_ms
        if self.next_expiration_check_ms is None:
            self.next_expiration_check_ms = now_ms + interval
            return []
        if now_ms < self.next_expiration_check_ms:
            return []
        self.next_expiration_check_ms = now_ms + interval
        expiration_ms = self.config.transactional_id_expiration_ms
        effects: list[Effect] = []
        for txn_id, txn in list(self.transactions.items()):
            idle = now_ms - txn.txn_last_update_timestamp_ms >= expiration_ms
            if idle and S.DEAD in _NEXT[txn.state]:
                txn.transition_to(S.DEAD, now_ms)
                effects.append(self.persist(txn, now_ms))
                del self.transactions[txn_id]
        return effects

    def next_expiration_ms(self) -> int | None:
        return self.next_expiration_check_ms if self.transactions else None

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
