"""The log side of transactions: open transactions bound the last stable offset, ABORT markers
fill the aborted-transaction index, a fenced producer's late write is refused, and all of it
is rebuilt from the log when the partition is opened again (Transactions.tla
``LastStableOffset``, ``ReadCommittedSeesNoAborted``)."""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from refka.log.storage import MemoryStorage
from refka.log.transaction_index import AbortedTxn
from refka.protocol.records import NewRecord, build_batch
from refka.protocol.txn_markers import ABORT, COMMIT, marker_batch
from refka.replica import Replica

from tests.replication.replication_helpers import make_replica


def txn_batch(pid: int, epoch: int, seq: int, count: int = 1) -> bytes:
    records = [NewRecord(None, b"v", (), 0) for _ in range(count)]
    return build_batch(
        records, producer_id=pid, producer_epoch=epoch, base_sequence=seq, is_transactional=True
    )


def plain_batch() -> bytes:
    return build_batch([NewRecord(None, b"p", (), 0)])


def append(replica: Replica, data: bytes, from_client: bool = True) -> ErrorCode:
    return replica.append_as_leader(data, 0, 1, 1, from_client=from_client).error_code


def marker(pid: int, epoch: int, kind: int) -> bytes:
    return marker_batch(pid, epoch, 0, kind, 0)


def test_open_transaction_holds_the_lso_until_its_marker() -> None:
    replica = make_replica()
    append(replica, plain_batch())  # 0
    append(replica, txn_batch(7, 0, 0, 2))  # 1, 2
    append(replica, plain_batch())  # 3
    assert (replica.high_watermark, replica.last_stable_offset) == (4, 1)
    append(replica, marker(7, 0, COMMIT), from_client=False)  # 4
    assert replica.last_stable_offset == replica.high_watermark == 5
    assert replica.txn_index.entries == []


def test_the_oldest_open_transaction_bounds_the_lso() -> None:
    replica = make_replica()
    append(replica, txn_batch(7, 0, 0))  # 0
    append(replica, txn_batch(8, 0, 0))  # 1
    append(replica, marker(7, 0, ABORT), from_client=False)  # 2
    assert replica.last_stable_offset == 1
    assert replica.txn_index.entries == [AbortedTxn(7, 0, 2, 1)]


def test_read_committed_returns_aborted_transactions_below_the_lso() -> None:
    replica = make_replica()
    append(replica, txn_batch(7, 0, 0, 3))  # 0-2
    append(replica, marker(7, 0, ABORT), from_client=False)  # 3
    append(replica, txn_batch(7, 0, 3))  # 4, a new transaction, open
    committed = replica.read(0, 1 << 20, True, committed_only=True)
    assert committed.last_stable_offset == 4
    assert committed.aborted == ((7, 0),)
    assert replica.read(0, 1 << 20, True, committed_only=False).aborted == ()
    assert replica.read(4, 1 << 20, True, committed_only=True).aborted == ()


def test_a_late_write_of_a_fenced_epoch_is_refused() -> None:
    """The coordinator aborted with a bumped epoch (KIP-890): the old epoch's write fails."""
    replica = make_replica()
    append(replica, txn_batch(7, 0, 0))
    append(replica, marker(7, 1, ABORT), from_client=False)
    assert append(replica, txn_batch(7, 0, 1)) == ErrorCode.invalid_producer_epoch
    assert append(replica, marker(7, 0, ABORT), from_client=False) == (
        ErrorCode.invalid_producer_epoch
    )


def test_reopening_rebuilds_open_transactions_and_the_aborted_index() -> None:
    storage = MemoryStorage()
    replica = make_replica(storage=storage)
    append(replica, txn_batch(7, 0, 0))  # 0
    append(replica, marker(7, 0, ABORT), from_client=False)  # 1
    append(replica, txn_batch(8, 0, 0))  # 2, open
    replica.log.flush()
    again = Replica(replica.log, 1, 0, high_watermark=3)
    assert again.last_stable_offset == 2
    assert again.txn_index.entries == [AbortedTxn(7, 0, 1, 2)]


def test_an_abort_is_written_to_the_segments_txnindex_in_kafkas_format() -> None:
    """34 bytes per aborted transaction (version 0, producer id, first offset, last offset,
    last stable offset) in ``<base offset>.txnindex``; truncating below the marker removes
    the entry, as the follower's truncation does."""
    storage = MemoryStorage()
    replica = make_replica(storage=storage)
    append(replica, txn_batch(7, 0, 0, 2))  # 0, 1
    append(replica, marker(7, 0, ABORT), from_client=False)  # 2
    append(replica, txn_batch(9, 0, 0))  # 3
    append(replica, marker(9, 0, COMMIT), from_client=False)  # 4: commits leave no entry
    path = replica.log.active_segment.txn_index_path
    assert path.endswith("/00000000000000000000.txnindex")
    data = storage.read(path, 0, storage.size(path))
    version, producer_id = "0000", "0000000000000007"
    first, last, stable = "0000000000000000", "0000000000000002", "0000000000000003"
    assert data == bytes.fromhex(version + producer_id + first + last + stable)
    assert AbortedTxn.decode(data) == AbortedTxn(7, 0, 2, 3)
    replica.truncate_to(2)
    assert storage.size(path) == 0
    assert replica.txn_index.entries == []
    assert replica.last_stable_offset == 0  # the transaction is open again


def test_a_marker_from_an_older_coordinator_is_fenced() -> None:
    """A coordinator that lost its ``__transaction_state`` partition (an older coordinator
    epoch) may still send a marker: TRANSACTION_COORDINATOR_FENCED, as Kafka answers."""
    replica = make_replica()
    append(replica, txn_batch(7, 0, 0))
    assert append(replica, marker_batch(7, 0, 5, ABORT, 0), from_client=False) == ErrorCode.none
    assert replica.producer_state.producers[7].coordinator_epoch == 5
    append(replica, txn_batch(7, 0, 1))
    stale = marker_batch(7, 0, 4, COMMIT, 0)
    assert append(replica, stale, from_client=False) == ErrorCode.transaction_coordinator_fenced
    assert replica.last_stable_offset == 2  # still open


def test_the_cleaner_drops_aborted_records_and_stops_at_the_lso() -> None:
    """Compaction with transactions: an aborted transaction's record neither survives nor
    supersedes the committed one before it, and an open transaction's segment is not
    cleaned (Kafka's cleaner bounds the dirty section by the last stable offset)."""
    from refka.log.cleaner import CleanerConfig, LogCleaner
    from refka.log.config import LogConfig
    from refka.log.partition_log import PartitionLog
    from refka.protocol.records import iter_batch_records

    storage = MemoryStorage()
    config = LogConfig(cleanup_policy="compact", min_cleanable_dirty_ratio=0.0)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, 0)
    replica = Replica(log, 1, 0)

    def keyed(value: bytes, pid: int = -1, seq: int = -1) -> bytes:
        record = NewRecord(b"k", value, (), 1000)
        if pid < 0:
            return build_batch([record])
        return build_batch(
            [record], producer_id=pid, producer_epoch=0, base_sequence=seq, is_transactional=True
        )

    append(replica, keyed(b"committed"))  # 0
    log.roll(1000)
    append(replica, keyed(b"aborted", pid=7, seq=0))  # 1
    append(replica, marker(7, 0, ABORT), from_client=False)  # 2
    log.roll(1000)
    append(replica, keyed(b"open", pid=8, seq=0))  # 3: open, in its own segment
    log.roll(1000)
    append(replica, keyed(b"last"))  # 4, the active segment
    cleaner = LogCleaner(storage, CleanerConfig(), 0, lambda _tp: (
        replica.last_stable_offset, replica.txn_index.entries
    ))  # fmt: skip
    cleaner.on_tick(2000, {("t", 0): log})
    data = log.read_bytes(log.read(0, 1 << 20, log.log_end_offset, True))
    values = [
        r.value for header, rs in iter_batch_records(data) for r in rs if not header.is_control
    ]
    assert values == [b"committed", b"open", b"last"]
