"""One transactional id's state (Kafka's ``TransactionMetadata``): its producer id and epoch,
timeout, state and the partitions of the ongoing transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from refka.txn.state import TransactionState, check_transition

NO_PRODUCER_ID = -1
NO_EPOCH = -1
MAX_EPOCH = 32767  # Short.MAX_VALUE: an exhausted epoch gets a new producer id (KIP-360)

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class TransactionMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    txn_timeout_ms: int
    state: TransactionState = TransactionState.EMPTY
    last_producer_epoch: int = NO_EPOCH  # the epoch before the last bump (KIP-360 retries)
    previous_producer_id: int = NO_PRODUCER_ID
    next_producer_id: int = NO_PRODUCER_ID  # TV2: the id taken at an exhausted epoch's end
    partitions: set[TopicPartition] = field(default_factory=set)
    txn_start_timestamp_ms: int = -1
    txn_last_update_timestamp_ms: int = -1
    client_transaction_version: int = 0  # 2: EndTxn v5+, an epoch bump per transaction

    def transition_to(self, target: TransactionState, now_ms: int) -> None:
        """Move to ``target`` (IllegalTransactionTransition if the table forbids it)."""
        check_transition(self.state, target)
        if target is TransactionState.ONGOING and self.state is not TransactionState.ONGOING:
            self.txn_start_timestamp_ms = now_ms
        self.state = target
        self.txn_last_update_timestamp_ms = now_ms

    def bump_epoch(self) -> None:
        self.last_producer_epoch = self.producer_epoch
        self.producer_epoch += 1

    @property
    def epoch_exhausted(self) -> bool:
        """The next bump would pass the largest epoch: a new producer id is needed."""
        return self.producer_epoch >= MAX_EPOCH - 1
