"""The transaction coordinator's effects and results (frozen: they are values)."""

from __future__ import annotations

from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from refka.txn.metadata import NO_EPOCH, NO_PRODUCER_ID, TopicPartition
from refka.txn.state import TransactionResult


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
    transaction_version: int = 0  # WriteTxnMarkers v2 tells the leaders (KIP-890 part 2)


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
