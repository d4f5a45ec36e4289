"""Idempotent producer state of one partition (KIP-98): producer id, epoch and sequences.

For each producer id the partition remembers its epoch and the metadata of its last five
batches (``max.in.flight.requests.per.connection`` <= 5). ``check_sequence`` implements the
spec's idempotence rule (Delivery.tla, invariant NoDuplicateAppends), as Kafka's
``ProducerAppendInfo.checkSequence``:

- an older epoch is fenced: INVALID_PRODUCER_EPOCH;
- a retried batch equal to one of the last five gets the original offsets back (a duplicate,
  not appended again);
- otherwise the first sequence must follow the last one (wrapping at 2**31), or be 0 when the
  epoch is new: OUT_OF_ORDER_SEQUENCE_NUMBER;
- a producer id the partition has no state for is accepted at any sequence (its state may have
  been removed with old segments), as Kafka does.

Transactions (KIP-98): a producer's first transactional batch opens its transaction at that
offset (``ongoing``); its COMMIT or ABORT marker closes it (``complete_txn``). The first offset
of the oldest open transaction bounds the last stable offset (``first_unstable_offset``). A
marker's epoch may be newer than the producer's (the coordinator fenced it, KIP-890): the
producer's state moves to that epoch, so a late write of the older epoch is refused.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode

from refka.log.producer_snapshot import SnapshotEntry
from refka.protocol.batch_header import NO_SEQUENCE, BatchHeader

MAX_CACHED_BATCHES = 5
NO_EPOCH = -1
_SEQUENCE_MODULUS = 1 << 31


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    """Where one producer batch landed: its sequences and offsets."""

    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp_ms: int


@dataclass(slots=True)
class ProducerEntry:
    producer_epoch: int = NO_EPOCH
    batches: deque[BatchMetadata] = field(default_factory=lambda: deque(maxlen=MAX_CACHED_BATCHES))
    last_timestamp_ms: int = -1
    coordinator_epoch: int = -1  # of the producer's last marker here

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    def find_duplicate(self, first_seq: int, last_seq: int) -> BatchMetadata | None:
        for batch in self.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        return None


@dataclass(frozen=True, slots=True)
class CompletedTxn:
    """A transaction a marker closed: its producer, first offset and the marker's offset."""

    producer_id: int
    first_offset: int
    last_offset: int


@dataclass(frozen=True, slots=True)
class SequenceOk:
    """The batch may be appended."""


@dataclass(frozen=True, slots=True)
class SequenceDuplicate:
    """The batch was appended before: answer with its original offsets."""

    batch: BatchMetadata


@dataclass(frozen=True, slots=True)
class SequenceError:
    error_code: ErrorCode
    message: str


SequenceCheck = SequenceOk | SequenceDuplicate | SequenceError
SEQUENCE_OK = SequenceOk()


def _next_seq(seq: int) -> int:
    return (seq + 1) % _SEQUENCE_MODULUS


class ProducerStateManager:
    """The producer ids of one partition and what each has appended."""

    def __init__(self, deduplicate: bool = True) -> None:
        """``deduplicate=False`` (a bug switch) appends a retried batch again."""
        self.producers: dict[int, ProducerEntry] = {}
        self.deduplicate = deduplicate
        self.ongoing: dict[int, int] = {}  # producer id -> first offset of its open transaction

    # bug switch: Bug.NO_IDEMPOTENCE_WINDOW (spec/bugs/Delivery_RetriesWithoutIdempotence.cfg)
    def check_sequence(self, header: BatchHeader) -> SequenceCheck:
        """Decide whether a batch from an idempotent producer may be appended (no state change)."""
        entry = self.producers.get(header.producer_id)
        if entry is None:
            return SEQUENCE_OK
        epoch, first_seq = header.producer_epoch, header.base_sequence
        if epoch < entry.producer_epoch:
            return SequenceError(
                ErrorCode.invalid_producer_epoch,
                f"epoch {epoch} is older than the current epoch {entry.producer_epoch}",
            )
        if epoch > entry.producer_epoch:
            if first_seq != 0 and entry.producer_epoch != NO_EPOCH:
                return SequenceError(
                    ErrorCode.out_of_order_sequence_number,
                    f"new epoch {epoch} must start at sequence 0, got {first_seq}",
                )
            return SEQUENCE_OK
        duplicate = entry.find_duplicate(first_seq, header.last_sequence)
        if duplicate is not None:
            # the bug switch: appended again, as before KIP-98
            return SequenceDuplicate(duplicate) if self.deduplicate else SEQUENCE_OK
        if entry.last_seq != NO_SEQUENCE and first_seq != _next_seq(entry.last_seq):
            return SequenceError(
                ErrorCode.out_of_order_sequence_number,
                f"expected sequence {_next_seq(entry.last_seq)}, got {first_seq}",
            )
        return SEQUENCE_OK

    def update(self, header: BatchHeader, first_offset: int, timestamp_ms: int) -> None:
        """Record an appended batch (called for the leader's appends and on log recovery)."""
        entry = self.producers.setdefault(header.producer_id, ProducerEntry())
        if header.producer_epoch != entry.producer_epoch:
            entry.producer_epoch = header.producer_epoch
            entry.batches.clear()
        repeated = (
            not self.deduplicate
            and entry.find_duplicate(header.base_sequence, header.last_sequence) is not None
        )
        if header.base_sequence != NO_SEQUENCE and not repeated:  # a repeat keeps the window
            last_offset = first_offset + header.last_offset_delta
            entry.batches.append(
                BatchMetadata(
                    header.base_sequence,
                    header.last_sequence,
                    first_offset,
                    last_offset,
                    timestamp_ms,
                )
            )
        entry.last_timestamp_ms = timestamp_ms
        if header.is_transactional:
            self.ongoing.setdefault(header.producer_id, first_offset)

    def check_epoch(self, header: BatchHeader, coordinator_epoch: int = -1) -> SequenceError | None:
        """A batch without sequences (a marker, a coordinator's write) older than the
        producer's epoch is refused: INVALID_PRODUCER_EPOCH; a marker from a coordinator older
        than the one of the producer's last marker: TRANSACTION_COORDINATOR_FENCED (a
        coordinator that lost its partition still sending markers)."""
        entry = self.producers.get(header.producer_id)
        if entry is None:
            return None
        if header.producer_epoch < entry.producer_epoch:
            return SequenceError(
                ErrorCode.invalid_producer_epoch,
                f"marker epoch {header.producer_epoch} is older than {entry.producer_epoch}",
            )
        if header.is_control and coordinator_epoch < entry.coordinator_epoch:
            return SequenceError(
                ErrorCode.transaction_coordinator_fenced,
                f"coordinator epoch {coordinator_epoch} is older than {entry.coordinator_epoch}",
            )
        return None

    def complete_txn(
        self, header: BatchHeader, marker_offset: int, coordinator_epoch: int = -1
    ) -> CompletedTxn | None:
        """A COMMIT or ABORT marker at ``marker_offset``: close the producer's transaction (None
        if it had none open here) and move the producer to the marker's epoch."""
        entry = self.producers.setdefault(header.producer_id, ProducerEntry())
        entry.coordinator_epoch = max(entry.coordinator_epoch, coordinator_epoch)
        if header.producer_epoch > entry.producer_epoch:
            entry.producer_epoch = header.producer_epoch
            entry.batches.clear()
        first = self.ongoing.pop(header.producer_id, None)
        return None if first is None else CompletedTxn(header.producer_id, first, marker_offset)

    def has_ongoing_transaction(self, producer_id: int, producer_epoch: int) -> bool:
        """Whether the producer has a transaction open here at this epoch (Kafka's
        ``hasOngoingTransaction``): a batch of a newer epoch (transaction version 2 bumps it
        at every end) belongs to a next transaction, whatever the open one's marker."""
        entry = self.producers.get(producer_id)
        return (
            producer_id in self.ongoing
            and entry is not None
            and (entry.producer_epoch == producer_epoch)
        )

    def first_unstable_offset(self) -> int | None:
        """The first offset of the oldest open transaction, or None."""
        return min(self.ongoing.values(), default=None)

    def snapshot_entries(self) -> list[SnapshotEntry]:
        """The state as a ``.snapshot`` file holds it (``refka.log.producer_snapshot``): per
        producer only its last batch, as Kafka's ``ProducerStateManager`` writes it."""
        entries = []
        for producer_id, entry in sorted(self.producers.items()):
            last = entry.batches[-1] if entry.batches else None
            entries.append(
                SnapshotEntry(
                    producer_id,
                    entry.producer_epoch,
                    NO_SEQUENCE if last is None else last.last_seq,
                    -1 if last is None else last.last_offset,
                    0 if last is None else last.last_offset - last.first_offset,
                    entry.last_timestamp_ms,
                    entry.coordinator_epoch,
                    self.ongoing.get(producer_id, -1),
                )
            )
        return entries

    def load_entries(self, entries: list[SnapshotEntry]) -> None:
        """Restore the state a snapshot holds (after ``truncate``): the window of each producer
        starts with its last batch, and its open transaction is open again."""
        for e in entries:
            entry = ProducerEntry(e.producer_epoch)
            if e.last_offset >= 0:
                first_seq = (e.last_sequence - e.offset_delta) % _SEQUENCE_MODULUS
                first_offset = e.last_offset - e.offset_delta
                entry.batches.append(
                    BatchMetadata(
                        first_seq, e.last_sequence, first_offset, e.last_offset, e.timestamp_ms
                    )
                )
            entry.last_timestamp_ms = e.timestamp_ms
            entry.coordinator_epoch = e.coordinator_epoch
            self.producers[e.producer_id] = entry
            if e.current_txn_first_offset >= 0:
                self.ongoing[e.producer_id] = e.current_txn_first_offset

    def truncate(self) -> None:
        """Forget all state (after a truncation the state is rebuilt from the log)."""
        self.producers.clear()
        self.ongoing.clear()
