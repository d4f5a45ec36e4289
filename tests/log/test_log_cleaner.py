"""The log cleaner (refka.log.cleaner): compaction of ``cleanup.policy=compact`` logs.

Each test writes keyed batches into a PartitionLog on MemoryStorage, rolls segments by hand
and drives ``LogCleaner.on_tick`` with explicit times.
"""

from __future__ import annotations

import contextlib

import pytest
from refka.log.cleaner import CLEANER_CHECKPOINT, CleanerConfig, LogCleaner
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.storage import MemoryStorage
from refka.protocol.batch_header import iter_headers
from refka.protocol.records import build_batch, iter_batch_records

TP = ("t", 0)
COMPACT = LogConfig(cleanup_policy="compact", min_cleanable_dirty_ratio=0.0)
Write = tuple[bytes, bytes | None]  # key, value (None: tombstone)


def open_log(storage: MemoryStorage, config: LogConfig = COMPACT) -> PartitionLog:
    return PartitionLog.open(storage, "t-0", "t", 0, config, 0)


def write(log: PartitionLog, rounds: list[list[Write]], ts: int = 1000, **batch: int) -> None:
    """One batch per round, each round in its own segment (rolled after it)."""
    for writes in rounds:
        records = [(k, v, (), ts) for k, v in writes]
        log.append(build_batch(records, base_offset=log.log_end_offset, **batch), ts)
        log.roll(ts)


def contents(log: PartitionLog) -> list[tuple[int, bytes | None, bytes | None]]:
    slices = log.read(log.log_start_offset, 1 << 30, log.log_end_offset, True)
    data = log.read_bytes(slices)
    return [(r.offset, r.key, r.value) for _, recs in iter_batch_records(data) for r in recs]


def latest(rounds: list[list[Write]]) -> dict[bytes, bytes | None]:
    out: dict[bytes, bytes | None] = {}
    for writes in rounds:
        for k, v in writes:
            out[k] = v
    return out


ROUNDS: list[list[Write]] = [
    [(b"a", b"a1"), (b"b", b"b1"), (b"c", b"c1")],
    [(b"a", b"a2"), (b"b", None)],
    [(b"a", b"a3"), (b"d", b"d1")],
]


def clean(log: PartitionLog, now_ms: int, cleaner: LogCleaner | None = None) -> LogCleaner:
    cleaner = cleaner or LogCleaner(log.storage, CleanerConfig(), 0)
    cleaner.next_run_ms = 0
    cleaner.on_tick(now_ms, {TP: log})
    return cleaner


def test_last_value_per_key_kept_offsets_preserved() -> None:
    log = open_log(MemoryStorage())
    write(log, ROUNDS)
    before_end = log.log_end_offset
    cleaner = clean(log, 2000)
    assert cleaner.passes == 1
    assert contents(log) == [(2, b"c", b"c1"), (4, b"b", None), (5, b"a", b"a3"), (6, b"d", b"d1")]
    assert log.log_end_offset == before_end
    assert log.storage.exists(CLEANER_CHECKPOINT)


def test_consumers_read_contiguous_offsets_from_any_offset() -> None:
    log = open_log(MemoryStorage())
    write(log, ROUNDS)
    clean(log, 2000)
    for start in range(log.log_end_offset):
        slices = log.read(start, 1 << 20, log.log_end_offset, True)
        offsets = [o for o, _, _ in _records(log, slices)]
        assert offsets == sorted(offsets) and all(o >= start or o < start for o in offsets)
        assert [o for o in offsets if o >= start] == [o for o in (2, 4, 5, 6) if o >= start]


def _records(log: PartitionLog, slices: list) -> list[tuple[int, bytes | None, bytes | None]]:  # type: ignore[type-arg]
    data = log.read_bytes(slices)
    return [(r.offset, r.key, r.value) for _, recs in iter_batch_records(data) for r in recs]


def test_tombstones_removed_after_delete_retention_ms() -> None:
    config = LogConfig(
        cleanup_policy="compact", min_cleanable_dirty_ratio=0.0, delete_retention_ms=500
    )
    log = open_log(MemoryStorage(), config)
    write(log, ROUNDS)
    cleaner = clean(log, 2000)  # the first pass keeps the tombstone and sets its horizon
    assert (4, b"b", None) in contents(log)
    assert cleaner.tombstone_horizons[TP] == 2500
    clean(log, 2400, cleaner)  # not yet
    assert (4, b"b", None) in contents(log)
    clean(log, 2500, cleaner)
    assert [k for _, k, _ in contents(log)] == [b"c", b"a", b"d"]
    assert TP not in cleaner.tombstone_horizons


def test_min_compaction_lag_keeps_recent_segments_dirty() -> None:
    config = LogConfig(
        cleanup_policy="compact", min_cleanable_dirty_ratio=0.0, min_compaction_lag_ms=1000
    )
    log = open_log(MemoryStorage(), config)
    write(log, ROUNDS[:1], ts=1000)
    write(log, ROUNDS[1:], ts=5000)
    clean(log, 5500)  # only the first segment is older than the lag: nothing superseded yet
    assert [o for o, _, _ in contents(log)] == list(range(7))
    clean(log, 6001)
    assert [o for o, _, _ in contents(log)] == [2, 4, 5, 6]


def test_min_cleanable_ratio_and_disabled_cleaner() -> None:
    config = LogConfig(cleanup_policy="compact", min_cleanable_dirty_ratio=0.99)
    log = open_log(MemoryStorage(), config)
    write(log, ROUNDS)
    cleaner = LogCleaner(log.storage, CleanerConfig(), 0)
    assert cleaner.on_tick(2000, {TP: log}) == 2000  # dirty ratio 1.0 > 0.99: cleaned
    assert cleaner.passes == 1
    write(log, [[(b"a", b"a4")]])  # a little dirt on a cleaned log: ratio below 0.99
    assert cleaner.on_tick(2000, {TP: log}) == 2000 + 15_000  # log.cleaner.backoff.ms
    assert cleaner.passes == 1
    off = LogCleaner(log.storage, CleanerConfig(enable=False), 0)
    assert off.on_tick(2000, {TP: log}) is None
    delete_only = open_log(MemoryStorage(), LogConfig())
    write(delete_only, ROUNDS)
    assert clean(delete_only, 2000).passes == 0


def test_max_compaction_lag_forces_a_pass() -> None:
    config = LogConfig(
        cleanup_policy="compact", min_cleanable_dirty_ratio=1.0, max_compaction_lag_ms=100
    )
    log = open_log(MemoryStorage(), config)
    write(log, ROUNDS)
    assert clean(log, 1050).passes == 0  # ratio can never exceed 1.0; not overdue yet
    assert clean(log, 1200).passes == 1


def test_producer_last_batch_survives_as_an_empty_batch() -> None:
    log = open_log(MemoryStorage())
    write(log, [[(b"a", b"1")]], producer_id=7, producer_epoch=0, base_sequence=0)
    write(log, [[(b"a", b"2")]])
    clean(log, 2000)
    data = log.read_bytes(log.read(0, 1 << 20, log.log_end_offset, True))
    headers = list(iter_headers(data))
    first = headers[0]
    assert (first.producer_id, first.base_sequence, first.records_count) == (7, 0, 0)
    assert (first.base_offset, first.last_offset_delta) == (0, 0)
    assert contents(log) == [(1, b"a", b"2")]


def test_keyless_records_are_dropped_and_codec_kept() -> None:
    log = open_log(MemoryStorage())
    write(log, [[(b"a", b"1")], [(b"a", b"2"), (b"b", b"x")]], compression=1)
    clean(log, 2000)
    data = log.read_bytes(log.read(0, 1 << 20, log.log_end_offset, True))
    assert all(h.compression == 1 for h in iter_headers(data) if h.records_count)
    assert contents(log) == [(1, b"a", b"2"), (2, b"b", b"x")]


def test_reopened_log_keeps_the_cleaned_segments() -> None:
    storage = MemoryStorage()
    log = open_log(storage)
    write(log, ROUNDS)
    clean(log, 2000)
    expected = contents(log)
    log.close()
    storage.crash()
    reopened = open_log(storage)
    assert contents(reopened) == expected


class CrashingStorage(MemoryStorage):
    """Raises on the n-th rename or delete: a crash in the middle of a swap."""

    def __init__(self) -> None:
        super().__init__()
        self.countdown: int | None = None

    def _tick(self) -> None:
        if self.countdown is not None:
            self.countdown -= 1
            if self.countdown < 0:
                raise OSError("crash")

    def rename(self, src: str, dst: str) -> None:
        self._tick()
        super().rename(src, dst)

    def delete(self, path: str) -> None:
        self._tick()
        super().delete(path)


@pytest.mark.parametrize("crash_after", range(0, 28))
def test_crash_in_the_middle_of_a_swap_recovers(crash_after: int) -> None:
    storage = CrashingStorage()
    log = open_log(storage)
    write(log, ROUNDS)
    log.flush()
    full = contents(log)
    storage.countdown = crash_after
    with contextlib.suppress(OSError):
        clean(log, 2000)
    storage.countdown = None
    storage.crash()
    reopened = open_log(storage)
    found = contents(reopened)
    assert found in (full, [r for r in full if r[0] in (2, 4, 5, 6)])
    assert {k: v for _, k, v in found} == latest(ROUNDS)
    assert reopened.log_end_offset == 7
    assert not [n for n in storage.list_dir("t-0") if n.endswith((".swap", ".cleaned", ".deleted"))]
