"""Producer state snapshots (``<offset>.snapshot``, Kafka's ``ProducerStateManager``): written at
roll and clean shutdown, loaded on open so that only the tail is replayed, the same state as a
full rebuild (sequences, open transactions, the last stable offset, aborted transactions), a
corrupt one skipped, and removed with truncation and segment deletion."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from kio.schema.errors import ErrorCode
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.producer_snapshot import (
    CorruptSnapshot,
    SnapshotEntry,
    decode,
    encode,
    snapshot_name,
)
from refka.log.storage import FileStorage, MemoryStorage, Storage
from refka.protocol.records import NewRecord, build_batch
from refka.protocol.txn_markers import ABORT, COMMIT, marker_batch
from refka.replica import Replica

TOPIC, DIR = "snap", "snap-0"


def open_replica(storage: Storage, recovery_point: int = 0, **config: int) -> Replica:
    """The high watermark checkpointed at the recovery point."""
    log = PartitionLog.open(storage, DIR, TOPIC, 0, LogConfig(**config), 0, recovery_point)
    return Replica(log, 1, 0, high_watermark=recovery_point or log.log_end_offset)


def batch(pid: int, seq: int, txn: bool = False, count: int = 1) -> bytes:
    records = [NewRecord(None, b"v" * 100, (), 0) for _ in range(count)]
    return build_batch(records, producer_id=pid, producer_epoch=0, base_sequence=seq,
                       is_transactional=txn)  # fmt: skip


def append(replica: Replica, data: bytes, from_client: bool = True) -> int:
    result = replica.append_as_leader(data, 0, 1, 1, from_client=from_client)
    assert result.error_code == ErrorCode.none, result
    return result.base_offset


def marker(pid: int, kind: int) -> bytes:
    return marker_batch(pid, 0, 3, kind, 0)


def fill(replica: Replica) -> None:
    """Three idempotent producers, an aborted and a committed transaction, one left open."""
    for seq in range(6):
        append(replica, batch(1, seq))
        append(replica, batch(2, seq * 2, count=2))
    append(replica, batch(7, 0, txn=True))
    append(replica, marker(7, ABORT), from_client=False)
    append(replica, batch(8, 0, txn=True))
    append(replica, marker(8, COMMIT), from_client=False)
    append(replica, batch(9, 0, txn=True, count=3))  # open
    append(replica, batch(1, 6))


def state_of(replica: Replica) -> tuple[object, ...]:
    return (
        replica.producer_state.snapshot_entries(),
        replica.last_stable_offset,
        replica.producer_state.first_unstable_offset(),
        list(replica.txn_index.entries),
    )


def full_rebuild(storage: MemoryStorage, recovery_point: int) -> Replica:
    for name in storage.list_dir(DIR):
        if name.endswith(".snapshot"):
            storage.delete(f"{DIR}/{name}")
    return open_replica(storage, recovery_point, segment_bytes=1000)


def test_the_format_is_kafkas_version_1_with_a_crc32c() -> None:
    entry = SnapshotEntry(7, 2, 41, 1234, 3, 1_700_000_000_000, 5, 1200)
    data = encode([entry])
    assert len(data) == 2 + 4 + 4 + 46
    version, _, count = struct.unpack_from(">hIi", data)
    assert (version, count) == (1, 1)
    assert struct.unpack_from(">qhiqiqiq", data, 10) == (7, 2, 41, 1234, 3, 1_700_000_000_000,
                                                          5, 1200)  # fmt: skip
    assert decode(data) == [entry]
    assert decode(encode([])) == []
    assert snapshot_name(1234) == "00000000000000001234.snapshot"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:-1],  # torn
        lambda d: d[:12] + bytes([d[12] ^ 1]) + d[13:],  # a flipped bit: the CRC fails
        lambda d: b"\x00\x02" + d[2:],  # an unknown version
        lambda d: b"",
    ],
)
def test_a_damaged_snapshot_is_corrupt(damage: object) -> None:
    data = encode([SnapshotEntry(7, 2, 41, 1234, 3, 1, 5, -1)])
    with pytest.raises(CorruptSnapshot):
        decode(damage(data))  # type: ignore[operator]


def test_a_snapshot_is_written_at_each_roll_and_at_clean_shutdown() -> None:
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    log = replica.log
    bases = [s.base_offset for s in log.segments]
    assert len(bases) >= 4
    # a roll keeps the snapshots from the second newest segment's base offset on (Kafka)
    assert log.snapshot_offsets() == bases[-2:]
    newest = decode(log.read_snapshot(bases[-1]))
    assert {e.producer_id for e in newest} == {1, 2, 7, 8, 9}
    assert {e.producer_id: e.current_txn_first_offset for e in newest}[9] >= bases[-2]
    log.close()
    end = replica.log_end_offset
    assert log.snapshot_offsets() == [*bases[-2:], end]
    assert f"{end:020d}.snapshot" in storage.list_dir(DIR)
    entries = decode(log.read_snapshot(end))
    assert entries == replica.producer_state.snapshot_entries()
    by_pid = {e.producer_id: e for e in entries}
    assert by_pid[1].last_sequence == 6 and by_pid[2].last_sequence == 11
    assert by_pid[2].offset_delta == 1
    assert by_pid[9].current_txn_first_offset == replica.last_stable_offset
    assert by_pid[7].current_txn_first_offset == by_pid[8].current_txn_first_offset == -1
    assert by_pid[7].coordinator_epoch == 3


def test_after_a_clean_restart_nothing_is_replayed_and_the_state_is_the_same() -> None:
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    replica.log.close()
    end = replica.log_end_offset
    again = open_replica(storage, end, segment_bytes=1000)
    assert again.replayed_batches == 0
    assert state_of(again) == state_of(replica)
    again.log.close()
    rebuilt = full_rebuild(storage, end)
    assert rebuilt.replayed_batches == 12 + 6
    assert state_of(rebuilt) == state_of(again)


def test_after_a_crash_only_the_active_segment_is_replayed() -> None:
    """kill -9: no snapshot at the log end; the newest is the active segment's base offset."""
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    replica.log.flush()
    storage.crash()
    active = replica.log.active_segment.base_offset
    tail = sum(1 for _ in replica.log.active_segment.batches(0))
    again = open_replica(storage, 0, segment_bytes=1000)
    assert again.log_end_offset == replica.log_end_offset
    assert 0 < again.replayed_batches == tail
    assert again.log.snapshot_offsets()[-1] == active
    assert state_of(again) == state_of(replica)
    assert state_of(full_rebuild(storage, 0)) == state_of(again)


def test_dedupe_and_an_open_transaction_survive_a_restart_via_the_snapshot() -> None:
    storage = MemoryStorage()
    replica = open_replica(storage)
    first = append(replica, batch(1, 0))
    retried = batch(1, 1)
    offset = append(replica, retried)
    txn_start = append(replica, batch(9, 0, txn=True))
    replica.log.close()
    again = open_replica(storage, replica.log_end_offset)
    assert again.replayed_batches == 0
    result = again.append_as_leader(retried, 0, 1, 1)
    assert (result.error_code, result.base_offset) == (ErrorCode.none, offset)  # a duplicate
    assert again.log_end_offset == replica.log_end_offset
    bad = again.append_as_leader(batch(1, 5), 0, 1, 1)
    assert bad.error_code == ErrorCode.out_of_order_sequence_number
    assert first == 0
    assert again.last_stable_offset == txn_start
    append(again, marker(9, ABORT), from_client=False)
    assert [(a.producer_id, a.first_offset) for a in again.txn_index.entries] == [(9, txn_start)]
    assert again.last_stable_offset == again.high_watermark


def test_a_corrupt_snapshot_is_deleted_and_an_older_one_used() -> None:
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    replica.log.close()
    end = replica.log_end_offset
    path = replica.log.snapshot_path(end)
    data = storage.read(path, 0, storage.size(path))
    storage.delete(path)
    storage.open(path)
    storage.append(path, data[:20] + b"\xff" + data[21:])
    storage.fsync(path)
    again = open_replica(storage, end, segment_bytes=1000)
    assert end not in again.log.snapshot_offsets()
    assert again.replayed_batches == sum(1 for _ in again.log.active_segment.batches(0))
    assert state_of(again) == state_of(replica)


def test_truncation_removes_the_snapshots_above_it() -> None:
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    older, newer = replica.log.snapshot_offsets()
    replica.truncate_to(newer - 1)
    assert replica.log.snapshot_offsets() == [older]
    assert replica.replayed_batches > 0
    replica.truncate_to(0)
    assert replica.log.snapshot_offsets() == []


def test_a_segments_snapshot_goes_with_it() -> None:
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000, file_delete_delay_ms=0)
    fill(replica)
    replica.log.close()
    before = replica.log.snapshot_offsets()
    second = replica.log.segments[1].base_offset
    replica.log.increment_log_start_offset(replica.log.segments[-2].base_offset)
    replica.log.delete_expired_segments(0)
    assert replica.log.segments[0].base_offset > second
    remaining = replica.log.snapshot_offsets()
    gone = {s for s in before if s < replica.log.segments[0].base_offset}
    assert remaining == [s for s in before if s not in gone]
    assert not [n for n in storage.list_dir(DIR) if n.endswith(".deleted")]


def test_real_files_after_a_kill_the_newest_roll_snapshot_and_the_tail(tmp_path: Path) -> None:
    """On disk (``FileStorage``), a process killed without closing: the log reopened with no
    recovery point checkpointed is scanned again, and the producer state comes from the
    snapshot of the last roll plus the active segment's batches."""
    storage = FileStorage(str(tmp_path))
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    names = sorted(p.name for p in (tmp_path / DIR).iterdir() if p.suffix == ".snapshot")
    assert names == [snapshot_name(o) for o in replica.log.snapshot_offsets()]
    again = open_replica(storage, 0, segment_bytes=1000)
    assert again.replayed_batches == sum(1 for _ in again.log.active_segment.batches(0)) > 0
    assert state_of(again) == state_of(replica)


def test_opening_removes_stray_snapshots_but_the_clean_shutdowns() -> None:
    """Kafka's ``removeStraySnapshots``: snapshots at no segment's base offset go, except the
    newest if past the last base (the clean shutdown's); one past the log end goes too."""
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    replica.log.close()
    log, end = replica.log, replica.log_end_offset
    bases = [s.base_offset for s in log.segments]
    data = log.read_snapshot(end)
    for stray in (bases[-1] - 1, bases[-2] - 1, end + 5):
        log.write_snapshot(stray, data)
    again = open_replica(storage, end, segment_bytes=1000)
    assert again.log.snapshot_offsets() == [*bases[-2:], end]
    assert again.replayed_batches == 0


def test_the_tail_replay_writes_its_aborted_transactions_to_the_txnindex_again() -> None:
    """A crash between an ABORT marker's append and its ``.txnindex`` entry: the replay after
    the snapshot writes the entry again, so the next snapshot-based open still finds it."""
    storage = MemoryStorage()
    replica = open_replica(storage, segment_bytes=1000)
    fill(replica)
    append(replica, batch(5, 0, txn=True))
    append(replica, marker(5, ABORT), from_client=False)
    replica.log.flush()
    path = replica.log.active_segment.txn_index_path
    entries = storage.read(path, 0, storage.size(path))
    assert len(entries) == 34
    storage.truncate(path, 0)  # the entry never reached the file
    again = open_replica(storage, 0, segment_bytes=1000)
    assert storage.read(path, 0, storage.size(path)) == entries
    assert state_of(again) == state_of(replica)
