"""Several log dirs as one Storage (refka.log.multi_dir): placement, moves, and a move cut
short by a crash, which the next start completes or rolls back."""

from __future__ import annotations

from pathlib import Path

from refka.log.log_manager import LogManager
from refka.log.multi_dir import MultiDirStorage
from refka.log.storage import FileStorage


def storage(tmp_path: Path) -> MultiDirStorage:
    return MultiDirStorage([FileStorage(str(tmp_path / "d0")), FileStorage(str(tmp_path / "d1"))])


def write(s: MultiDirStorage, path: str, data: bytes) -> None:
    s.open(path)
    s.append(path, data)
    s.close(path)


def test_new_partitions_go_to_the_dir_with_the_fewest(tmp_path: Path) -> None:
    s = storage(tmp_path)
    for name in ("a-0", "a-1", "b-0"):
        s.mkdir(name)
    write(s, "recovery-point-offset-checkpoint", b"0\n0\n")
    s.mkdir("__cluster_metadata-0")
    assert sorted((tmp_path / "d0").iterdir()) == [
        tmp_path / "d0" / n
        for n in ("__cluster_metadata-0", "a-0", "b-0", "recovery-point-offset-checkpoint")
    ]
    assert [p.name for p in (tmp_path / "d1").iterdir()] == ["a-1"]
    assert storage(tmp_path).dir_of("a-1") == 1  # found again on start


def test_a_move_keeps_open_files_writable(tmp_path: Path) -> None:
    s = storage(tmp_path)
    s.mkdir("t-0")
    s.open("t-0/0.log")
    s.append("t-0/0.log", b"before")
    s.move("t-0", 1, "t-0.x-future", "t-0.x-delete")
    s.append("t-0/0.log", b"+after")
    assert s.read("t-0/0.log", 0, 100) == b"before+after"
    assert (tmp_path / "d1" / "t-0" / "0.log").read_bytes() == b"before+after"
    assert (tmp_path / "d0" / "t-0.x-delete" / "0.log").read_bytes() == b"before"
    assert not (tmp_path / "d0" / "t-0").exists()


def test_a_finished_copy_is_swapped_in_on_start(tmp_path: Path) -> None:
    s = storage(tmp_path)
    s.place("t-0.x-future", 1)
    s.mkdir("t-0.x-future")
    write(s, "t-0.x-future/0.log", b"copied")  # the crash came after the original's rename
    s = storage(tmp_path)
    assert s.dir_of("t-0") == 1 and s.read("t-0/0.log", 0, 10) == b"copied"
    assert not s.exists("t-0.x-future")


def test_a_copy_cut_short_is_dropped_on_start(tmp_path: Path) -> None:
    s = storage(tmp_path)
    s.mkdir("t-0")
    write(s, "t-0/0.log", b"original")
    s.place("t-0.x-future", 1)
    s.mkdir("t-0.x-future")
    write(s, "t-0.x-future/0.log", b"orig")
    s = storage(tmp_path)
    assert s.dir_of("t-0") == 0 and s.read("t-0/0.log", 0, 10) == b"original"
    assert list((tmp_path / "d1").iterdir()) == []


def test_log_manager_moves_a_partition_and_reopens_it_there(tmp_path: Path) -> None:
    from refka.log.config import LogConfig

    logs = LogManager(storage(tmp_path), 0, file_delete_delay_ms=0)
    logs.get_or_create("t", 0, LogConfig())
    assert logs.dir_index("t", 0) == 0
    logs.move("t", 0, 1)
    assert logs.dir_index("t", 0) == 1
    logs.on_tick(1)  # a delete delay of 0: the old folder goes at the next tick
    assert [p.name for p in (tmp_path / "d0").iterdir()] == []
    logs.close()
    reopened = LogManager(storage(tmp_path), 2)
    assert reopened.dir_index("t", 0) == 1 and reopened.get("t", 0) is not None


def test_a_preferred_dir_places_a_partition_created_later(tmp_path: Path) -> None:
    from refka.log.config import LogConfig

    logs = LogManager(storage(tmp_path), 0)
    logs.prefer_dir("t", 0, 1)  # AlterReplicaLogDirs before the replica came here
    logs.get_or_create("t", 0, LogConfig())
    logs.get_or_create("t", 1, LogConfig())
    assert (logs.dir_index("t", 0), logs.dir_index("t", 1)) == (1, 0)
    logs.close()
