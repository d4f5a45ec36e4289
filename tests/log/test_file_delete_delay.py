"""``file.delete.delay.ms``: removed segments wait as ``.deleted`` files, then leave the disk."""

from __future__ import annotations

import pytest
from log_batches import build_batch, build_batches, make_storage
from refka.log.config import LogConfig
from refka.log.log_manager import LogManager, delete_dir_name
from refka.log.partition_log import OffsetOutOfRange, PartitionLog
from refka.log.storage import MemoryStorage, Storage

BATCH = len(build_batches(0, [3]))
DELAY = 500
OLD = "00000000000000000000"


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


def _log(storage: Storage, delay_ms: int = DELAY) -> PartitionLog:
    """Segments of two batches; batch i holds timestamps 1000*i ..; retention 2000 ms."""
    config = LogConfig(segment_bytes=2 * BATCH, retention_ms=2000, file_delete_delay_ms=delay_ms)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, 0)
    for i in range(7):
        log.append(build_batch(3 * i, [1000 * i, 1000 * i + 1, 1000 * i + 2]), 0)
    return log


def _deleted(storage: Storage) -> list[str]:
    return [n for n in storage.list_dir("t-0") if n.endswith(".deleted")]


def test_retention_renames_then_deletes_after_the_delay(storage: Storage) -> None:
    log = _log(storage)
    assert log.delete_expired_segments(now_ms=4000) == 1
    assert _deleted(storage) == [
        f"{OLD}.index.deleted",
        f"{OLD}.log.deleted",
        f"{OLD}.timeindex.deleted",
    ]
    assert not storage.exists(f"t-0/{OLD}.log")
    assert storage.read(f"t-0/{OLD}.log.deleted", 0, BATCH) == build_batch(0, [0, 1, 2])
    with pytest.raises(OffsetOutOfRange):  # reads never see it
        log.read(0, 1000, 21, True)
    assert log.next_file_delete_ms == 4000 + DELAY
    log.on_tick(4000 + DELAY - 1)
    assert len(_deleted(storage)) == 3
    log.on_tick(4000 + DELAY)
    assert _deleted(storage) == [] and log.next_file_delete_ms is None


def test_with_no_delay_the_files_go_at_once(storage: Storage) -> None:
    log = _log(storage, delay_ms=0)
    assert log.delete_expired_segments(now_ms=4000) == 1
    assert _deleted(storage) == [] and not storage.exists(f"t-0/{OLD}.log")


def test_a_restart_removes_leftover_deleted_files(storage: Storage) -> None:
    log = _log(storage)
    log.delete_expired_segments(now_ms=4000)
    log.close()
    assert len(_deleted(storage)) == 3
    reopened = PartitionLog.open(storage, "t-0", "t", 0, log.config, 4001, recovery_point=21)
    assert _deleted(storage) == []
    assert [s.base_offset for s in reopened.segments] == [6, 12, 18]


def test_truncation_waits_the_delay_too(storage: Storage) -> None:
    log = _log(storage)
    log.on_tick(100)
    log.truncate_to(7)  # segments 12 and 18 go
    assert sorted({n.split(".")[0] for n in _deleted(storage)}) == [f"{12:020d}", f"{18:020d}"]
    log.on_tick(100 + DELAY)
    assert _deleted(storage) == []


def test_a_base_offset_deleted_twice_keeps_the_later_deadline() -> None:
    storage = MemoryStorage()
    log = _log(storage)
    log.truncate_fully_and_start_at(50, now_ms=10)
    log.truncate_fully_and_start_at(50, now_ms=20)  # the first 50 segment goes at 20
    log.append(build_batches(50, [3]), 30)
    log.truncate_fully_and_start_at(200, now_ms=40)  # a second 50 segment goes at 40
    log.on_tick(20 + DELAY)
    assert f"{50:020d}.log.deleted" in _deleted(storage)
    log.on_tick(40 + DELAY)
    assert _deleted(storage) == []


def test_the_manager_ticks_deletions_and_wakes_for_them() -> None:
    storage = MemoryStorage()
    manager = LogManager(storage, now_ms=0, retention_check_interval_ms=4000)
    config = LogConfig(segment_bytes=2 * BATCH, retention_ms=2000, file_delete_delay_ms=DELAY)
    log = manager.get_or_create("t", 0, config)
    for i in range(7):
        log.append(build_batch(3 * i, [1000 * i, 1000 * i + 1, 1000 * i + 2]), 0)
    assert manager.on_tick(4000) == 4000 + DELAY  # retention ran; the next due is the delete
    assert len(_deleted(storage)) == 3
    manager.on_tick(4000 + DELAY)
    assert _deleted(storage) == []


def test_a_deleted_partition_folder_waits_the_delay() -> None:
    storage = MemoryStorage()
    manager = LogManager(storage, now_ms=0, file_delete_delay_ms=DELAY)
    manager.get_or_create("t", 0, LogConfig()).append(build_batches(0, [3]), 0)
    manager.on_tick(100)
    manager.delete("t", 0)
    assert not storage.exists("t-0") and manager.get("t", 0) is None
    (doomed,) = [n for n in storage.list_dir("") if n.endswith("-delete")]
    assert doomed.startswith("t-0.") and len(doomed) == len("t-0.") + 32 + len("-delete")
    assert storage.exists(f"{doomed}/{OLD}.log")
    assert manager.on_tick(100 + DELAY - 1) == 100 + DELAY
    assert storage.exists(doomed)
    manager.on_tick(100 + DELAY)
    assert not storage.exists(doomed)


def test_the_delete_folder_name_fits_255_bytes() -> None:
    name = delete_dir_name("x" * 249, 12345, "a" * 32)
    assert len(name) == 255 and name.endswith("-12345." + "a" * 32 + "-delete")
