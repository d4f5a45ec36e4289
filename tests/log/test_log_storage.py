"""Storage: the same behaviour from FileStorage and MemoryStorage; MemoryStorage crashes."""

from __future__ import annotations

import pytest
from log_batches import make_storage
from refka.log.storage import MemoryStorage, Storage, write_atomically


@pytest.fixture(params=["file", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> Storage:
    return make_storage(request.param, tmp_path)


def test_append_read_truncate_rename_delete(storage: Storage) -> None:
    storage.mkdir("t-0")
    storage.open("t-0/a.log")
    storage.append("t-0/a.log", b"hello ")
    storage.append("t-0/a.log", b"world")
    assert storage.size("t-0/a.log") == 11
    assert storage.read("t-0/a.log", 6, 100) == b"world"
    storage.truncate("t-0/a.log", 5)
    assert storage.read("t-0/a.log", 0, 100) == b"hello"
    storage.rename("t-0/a.log", "t-0/b.log")
    assert storage.list_dir("t-0") == ["b.log"]
    assert not storage.exists("t-0/a.log")
    storage.append("t-0/b.log", b"!")
    assert storage.read("t-0/b.log", 0, 100) == b"hello!"
    storage.mkdir("u-1")
    assert storage.list_dir("") == ["t-0", "u-1"]
    storage.delete("t-0")
    assert storage.list_dir("") == ["u-1"]


def test_write_atomically_replaces_and_leaves_no_tmp(storage: Storage) -> None:
    write_atomically(storage, "cp", b"one")
    write_atomically(storage, "cp", b"two")
    assert storage.read("cp", 0, 10) == b"two"
    assert storage.list_dir("") == ["cp"]


def test_crash_loses_unflushed_bytes() -> None:
    s = MemoryStorage()
    s.mkdir("d")
    s.append("d/f", b"durable")
    s.fsync("d/f")
    s.append("d/f", b"-volatile")
    assert s.unflushed_bytes() == 9
    s.crash()
    assert s.read("d/f", 0, 100) == b"durable"
    assert s.unflushed_bytes() == 0


def test_crash_can_tear_the_last_write() -> None:
    s = MemoryStorage()
    s.mkdir("d")
    s.append("d/f", b"abc")
    s.fsync("d/f")
    s.append("d/f", b"first")
    s.append("d/f", b"second")
    s.crash(torn_bytes=3)
    # The earlier unflushed write is lost, so the torn tail is not reattached after a gap.
    assert s.read("d/f", 0, 100) == b"abc"
    s.append("d/f", b"defgh")
    s.crash(torn_bytes=2)
    assert s.read("d/f", 0, 100) == b"abcde"


def test_memory_storage_missing_file_raises() -> None:
    s = MemoryStorage()
    with pytest.raises(FileNotFoundError):
        s.size("nope")
    with pytest.raises(FileNotFoundError):
        s.open("no-dir/file")
