"""Leader-epoch cache (KIP-101, KIP-279): OffsetsForLeaderEpoch answers and its checkpoint."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_batches import build_batch
from refka.log.config import LogConfig
from refka.log.leader_epoch_cache import LeaderEpochCache
from refka.log.partition_log import PartitionLog
from refka.log.storage import MemoryStorage

CHECKPOINT = "t-0/leader-epoch-checkpoint"


def _cache(*entries: tuple[int, int]) -> tuple[MemoryStorage, LeaderEpochCache]:
    storage = MemoryStorage()
    storage.mkdir("t-0")
    cache = LeaderEpochCache(storage, "t-0")
    for epoch, offset in entries:
        cache.assign(epoch, offset)
    return storage, cache


def test_end_offset_for_follows_kip_101() -> None:
    _, cache = _cache((0, 0), (1, 10), (3, 20))
    assert cache.end_offset_for(3, 30) == (3, 30)  # the latest epoch ends at the LEO
    assert cache.end_offset_for(1, 30) == (1, 20)  # ends where the next epoch starts
    assert cache.end_offset_for(2, 30) == (1, 20)  # unknown epoch: the largest below it
    assert cache.end_offset_for(0, 30) == (0, 10)
    assert cache.end_offset_for(4, 30) == (-1, -1)  # newer than any known epoch
    assert cache.end_offset_for(-1, 30) == (-1, -1)  # undefined epoch


def test_end_offset_for_an_epoch_older_than_the_cache() -> None:
    _, cache = _cache((2, 10), (3, 20))
    assert cache.end_offset_for(1, 30) == (1, 10)


def test_empty_cache() -> None:
    _, cache = _cache()
    assert cache.latest_epoch is None
    assert cache.end_offset_for(0, 5) == (-1, -1)


def test_assign_keeps_epochs_and_offsets_monotonic() -> None:
    _, cache = _cache((0, 0), (1, 10), (3, 20))
    cache.assign(3, 25)  # same epoch, later offset: nothing new
    assert cache.entries == [(0, 0), (1, 10), (3, 20)]
    cache.assign(3, 15)  # same epoch, earlier offset: replaces it
    assert cache.entries == [(0, 0), (1, 10), (3, 15)]
    cache.assign(2, 30)  # an older epoch after a newer one: the newer one is dropped
    assert cache.entries == [(0, 0), (1, 10), (2, 30)]
    with pytest.raises(ValueError):
        cache.assign(-1, 5)


def test_truncation_from_either_end() -> None:
    _, cache = _cache((0, 0), (1, 10), (3, 20))
    cache.truncate_from_end(20)
    assert cache.entries == [(0, 0), (1, 10)]
    cache.truncate_from_end(50)
    assert cache.entries == [(0, 0), (1, 10)]
    cache.truncate_from_start(12)
    assert cache.entries == [(1, 12)]
    _, cache = _cache((0, 0), (1, 10), (3, 20))
    cache.truncate_from_start(5)
    assert cache.entries == [(0, 5), (1, 10), (3, 20)]
    cache.truncate_from_start(10)
    assert cache.entries == [(1, 10), (3, 20)]


def test_checkpoint_file_is_kafkas_and_reloads() -> None:
    storage, _ = _cache((0, 0), (4, 17))
    assert storage.read(CHECKPOINT, 0, 100) == b"0\n2\n0 0\n4 17\n"
    assert LeaderEpochCache(storage, "t-0").entries == [(0, 0), (4, 17)]


def test_the_log_records_batch_epochs_and_truncates_them() -> None:
    storage = MemoryStorage()
    log = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(), 0)
    log.append(build_batch(0, [1, 2], leader_epoch=0), 0)
    log.append(build_batch(2, [3], leader_epoch=0) + build_batch(3, [4], leader_epoch=2), 0)
    log.append(build_batch(4, [5, 6], leader_epoch=5), 0)
    assert log.leader_epoch_cache.entries == [(0, 0), (2, 3), (5, 4)]
    assert log.leader_epoch_cache.end_offset_for(2, log.log_end_offset) == (2, 4)
    log.truncate_to(4)
    assert log.leader_epoch_cache.entries == [(0, 0), (2, 3)]
    log.close()
    storage.delete(CHECKPOINT)  # recovery rebuilds it from the batches
    reopened = PartitionLog.open(storage, "t-0", "t", 0, LogConfig(), 0, recovery_point=0)
    assert reopened.leader_epoch_cache.entries == [(0, 0), (2, 3)]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["assign", "end", "start"]), st.integers(0, 8), st.integers(0, 50)
        ),
        max_size=20,
    )
)
def test_entries_stay_ascending_and_persisted(ops: list[tuple[str, int, int]]) -> None:
    storage, cache = _cache()
    for op, epoch, offset in ops:
        if op == "assign":
            cache.assign(epoch, offset)
            assert cache.entries[-1] == (epoch, offset) or cache.latest_epoch == epoch
        elif op == "end":
            cache.truncate_from_end(offset)
            assert all(start < offset for _, start in cache.entries)
        else:
            cache.truncate_from_start(offset)
            assert all(start >= offset for _, start in cache.entries)
        pairs = list(zip(cache.entries, cache.entries[1:], strict=False))
        assert all(a[0] < b[0] and a[1] < b[1] for a, b in pairs)
        assert LeaderEpochCache(storage, "t-0").entries == cache.entries
