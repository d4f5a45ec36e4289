"""The driver's cache of open segment files for sendfile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from refka.server.files import SegmentFiles


def read_all(file: object) -> bytes:
    return os.pread(file.fileno(), 1 << 16, 0)  # type: ignore[attr-defined]


def test_a_file_stays_open_across_uses(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"one")
    files = SegmentFiles(lambda p: str(tmp_path / p))
    first = files.acquire("a.log")
    files.release(first)
    second = files.acquire("a.log")
    files.release(second)
    assert first is second and not first.closed
    files.close()
    assert first.closed


def test_a_replaced_file_is_reopened(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"old")
    files = SegmentFiles(lambda p: str(tmp_path / p))
    old = files.acquire("a.log")
    files.release(old)
    (tmp_path / "a.new").write_bytes(b"new")
    os.replace(tmp_path / "a.new", tmp_path / "a.log")
    new = files.acquire("a.log")
    assert read_all(new) == b"new"
    assert old.closed
    files.release(new)


def test_a_deleted_file_is_still_read_from_the_open_handle(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"kept")
    files = SegmentFiles(lambda p: str(tmp_path / p))
    files.release(files.acquire("a.log"))
    (tmp_path / "a.log").unlink()
    file = files.acquire("a.log")
    assert read_all(file) == b"kept"
    files.release(file)
    with pytest.raises(FileNotFoundError):
        files.acquire("never.log")


def test_at_most_max_open_files_and_none_closed_while_in_use(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"{i}.log").write_bytes(b"%d" % i)
    files = SegmentFiles(lambda p: str(tmp_path / p), max_open=2)
    busy = files.acquire("0.log")  # in use while others push it out of the cache
    opened = []
    for i in range(1, 5):
        opened.append(files.acquire(f"{i}.log"))
        files.release(opened[-1])
    assert sum(not f.closed for f in opened) == 2
    assert not busy.closed and read_all(busy) == b"0"
    files.release(busy)
    assert busy.closed
