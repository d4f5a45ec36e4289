"""Checkpoint files in Kafka's text format, and the LogManager that writes and reads them."""

from __future__ import annotations

import pytest
from log_batches import build_batches, make_storage
from refka.log.checkpoint import (
    CorruptCheckpointError,
    read_offsets,
    write_offsets,
)
from refka.log.config import LogConfig
from refka.log.log_manager import LogManager, parse_dir_name
from refka.log.storage import MemoryStorage, Storage

BATCH = len(build_batches(0, [3]))


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


def test_offset_checkpoint_text_is_kafkas(storage: Storage) -> None:
    write_offsets(storage, "recovery-point-offset-checkpoint", {("b-x", 1): 7, ("a", 0): 5})
    text = storage.read("recovery-point-offset-checkpoint", 0, 1000)
    assert text == b"0\n2\na 0 5\nb-x 1 7\n"
    assert read_offsets(storage, "recovery-point-offset-checkpoint") == {("a", 0): 5, ("b-x", 1): 7}
    assert storage.list_dir("") == ["recovery-point-offset-checkpoint"]  # no .tmp left over
    assert read_offsets(storage, "missing") == {}


@pytest.mark.parametrize(
    "text", [b"1\n0\n", b"0\n2\na 0 5\n", b"0\n1\na 0\n", b"0\n1\na x 5\n", b"", b"zero\n"]
)
def test_corrupt_checkpoints_are_refused(text: bytes) -> None:
    s = MemoryStorage()
    s.append("cp", text)
    with pytest.raises(CorruptCheckpointError):
        read_offsets(s, "cp")


def test_dir_names_split_on_the_last_dash() -> None:
    assert parse_dir_name("my-topic-12") == ("my-topic", 12)
    assert parse_dir_name("t-0") == ("t", 0)
    assert parse_dir_name("nodash") is None
    assert parse_dir_name("t-x") is None
    assert parse_dir_name("-3") is None


def test_log_manager_round_trip_through_close_and_reopen(storage: Storage) -> None:
    config = LogConfig(segment_bytes=2 * BATCH)
    manager = LogManager(storage, now_ms=0)
    a = manager.get_or_create("my-topic", 2, config)
    b = manager.get_or_create("other", 0, config)
    for _ in range(3):
        a.append(build_batches(a.log_end_offset, [3]), 0)
    b.append(build_batches(0, [3]), 0)
    a.increment_log_start_offset(4)
    manager.close()
    assert storage.read("recovery-point-offset-checkpoint", 0, 1000) == (
        b"0\n2\nmy-topic 2 9\nother 0 3\n"
    )
    # only logs whose start lies past their first segment are recorded, as Kafka does
    assert storage.read("log-start-offset-checkpoint", 0, 1000) == b"0\n1\nmy-topic 2 4\n"

    reopened = LogManager(storage, now_ms=0, config_for=lambda _t: config)
    assert sorted(reopened.logs) == [("my-topic", 2), ("other", 0)]
    log = reopened.logs[("my-topic", 2)]
    assert (log.log_start_offset, log.log_end_offset, log.recovery_point) == (4, 9, 9)
    assert log.read_bytes(log.read(6, 10_000, 9, False)) == build_batches(6, [3])


def test_log_manager_runs_retention_on_its_interval_and_deletes_logs() -> None:
    storage = MemoryStorage()
    config = LogConfig(segment_bytes=BATCH, retention_ms=1000)
    manager = LogManager(storage, now_ms=0, retention_check_interval_ms=5000)
    log = manager.get_or_create("t", 0, config)
    log.append(build_batches(0, [3]), 0)
    log.append(build_batches(3, [3]), 0)
    assert manager.on_tick(4000) == 5000
    assert len(log.segments) == 2
    manager.on_tick(5000)
    assert log.log_start_offset == 6
    manager.delete("t", 0)
    assert not storage.exists("t-0")
    assert manager.get("t", 0) is None


def test_log_manager_skips_and_removes_deleted_dirs() -> None:
    storage = MemoryStorage()
    storage.mkdir("t-0.abc-delete")
    storage.append("t-0.abc-delete/00000000000000000000.log", b"")
    storage.mkdir("u-1")
    manager = LogManager(storage, now_ms=0)
    assert list(manager.logs) == [("u", 1)]
    assert not storage.exists("t-0.abc-delete")


def test_after_a_crash_the_manager_recovers_from_the_checkpointed_recovery_points() -> None:
    storage = MemoryStorage()
    config = LogConfig(flush_ms=1000, segment_bytes=2 * BATCH)
    manager = LogManager(
        storage, now_ms=0, config_for=lambda _t: config, checkpoint_interval_ms=1000
    )
    log = manager.get_or_create("t", 0, config)
    for _ in range(3):
        log.append(build_batches(log.log_end_offset, [3]), 0)
    assert manager.on_tick(999) == 1000  # flush.ms and the checkpoint are both due at 1000
    assert not storage.exists("recovery-point-offset-checkpoint")
    assert manager.on_tick(1000) == 2000  # flushed, then checkpointed
    assert storage.read("recovery-point-offset-checkpoint", 0, 100) == b"0\n1\nt 0 9\n"
    log.append(build_batches(9, [3]), 1001)
    storage.crash()
    recovered = LogManager(storage, now_ms=2000, config_for=lambda _t: config).logs[("t", 0)]
    assert (recovered.log_end_offset, recovered.recovery_point) == (9, 9)
    assert recovered.read_bytes(recovered.read(6, 10_000, 9, False)) == build_batches(6, [3])
