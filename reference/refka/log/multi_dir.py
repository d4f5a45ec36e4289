"""Several ``log.dirs`` seen as one ``Storage`` (KIP-112, KIP-113).

Each path's first component (a partition folder such as ``my-topic-0``, or a root file) lives in
one directory. A folder found on start stays where it is; a new partition folder goes to the
directory holding the fewest partitions, the first on a tie, as Kafka's
``LogManager.nextLogDirs``; anything else (checkpoints, ``meta.properties``, the metadata log)
goes to the first directory. ``place`` pins a name to a directory before it is created: the
``-future`` folder of a replica moving to another directory (AlterReplicaLogDirs). A rename
keeps the source's directory, so a future folder renamed to the partition's name moves the
partition there.
"""

from __future__ import annotations

from collections.abc import Sequence

from refka.log.storage import FileStorage, Volume

METADATA_PREFIX = "__cluster_metadata-"
FUTURE_SUFFIX = "-future"
COPY_CHUNK_BYTES = 1 << 20


def _copy(source: FileStorage, src: str, target: FileStorage, dst: str) -> None:
    target.open(dst)
    size = source.size(src)
    position = 0
    while position < size:
        chunk = source.read(src, position, min(COPY_CHUNK_BYTES, size - position))
        if not chunk:
            break
        target.append(dst, chunk)
        position += len(chunk)
    target.fsync(dst)
    target.close(dst)


def _top(path: str) -> str:
    return path.split("/", 1)[0]


def _is_partition_folder(name: str) -> bool:
    topic, sep, partition = name.rpartition("-")
    return bool(sep and topic and partition.isdigit()) and not name.startswith(METADATA_PREFIX)


class MultiDirStorage:
    """A ``Storage`` over the ``FileStorage`` of each log directory, in ``log.dirs`` order."""

    def __init__(self, dirs: Sequence[FileStorage]) -> None:
        self.dirs = list(dirs)
        self._home: dict[str, int] = {}
        for index, storage in enumerate(self.dirs):
            for name in storage.list_dir(""):
                self._home.setdefault(name, index)
        self._recover_moves()

    def _recover_moves(self) -> None:
        """A ``-future`` folder whose partition folder is gone finished its copy: it becomes
        the partition (the swap completes); beside a live folder it is a move cut short."""
        for name in list(self._home):
            if not name.endswith(FUTURE_SUFFIX):
                continue
            live = name[: name.rfind(".")]
            if live in self._home:
                self.delete(name)
            else:
                self.rename(name, live)

    def move(self, name: str, index: int, future: str, doomed: str) -> None:
        """Copy folder ``name`` to ``future`` in directory ``index``, rename the original to
        ``doomed`` and the copy to ``name``; files open for appends stay open, in the copy."""
        source = self.dirs[self.dir_of(name)]
        target = self.dirs[index]
        reopen = source.open_under(name)
        for path in reopen:
            source.fsync(path)
            source.close(path)
        self.place(future, index)
        target.mkdir(future)
        for file in source.list_dir(name):
            _copy(source, f"{name}/{file}", target, f"{future}/{file}")
        target.fsync(future)
        self.rename(name, doomed)
        self.rename(future, name)
        for path in reopen:
            target.open(path)

    @property
    def paths(self) -> list[str]:
        return [storage.root_dir for storage in self.dirs]

    def dir_of(self, name: str) -> int:
        """The directory index holding top-level ``name`` (placing it if new)."""
        home = self._home.get(name)
        if home is None:
            home = self._new_home(name)
            self._home[name] = home
        return home

    def place(self, name: str, index: int) -> None:
        self._home[name] = index

    def _new_home(self, name: str) -> int:
        if not _is_partition_folder(name):
            return 0
        counts = [0] * len(self.dirs)
        for other, index in self._home.items():
            if _is_partition_folder(other):
                counts[index] += 1
        return min(range(len(self.dirs)), key=lambda i: (counts[i], i))

    def _route(self, path: str) -> FileStorage:
        return self.dirs[self.dir_of(_top(path))]

    def real_path(self, path: str) -> str:
        return self._route(path).real_path(path)

    def volume(self) -> Volume:
        return self.dirs[0].volume()

    def volumes(self) -> list[Volume]:
        return [storage.volume() for storage in self.dirs]

    def mkdir(self, path: str) -> None:
        self._route(path).mkdir(path)

    def list_dir(self, path: str) -> list[str]:
        if path in ("", "."):
            names: list[str] = []
            for storage in self.dirs:
                names.extend(storage.list_dir(path))
            return sorted(set(names))
        return self._route(path).list_dir(path)

    def exists(self, path: str) -> bool:
        top = _top(path)
        if top not in self._home:
            return False
        return self._route(path).exists(path)

    def size(self, path: str) -> int:
        return self._route(path).size(path)

    def open(self, path: str) -> None:
        self._route(path).open(path)

    def close(self, path: str) -> None:
        self._route(path).close(path)

    def close_all(self) -> None:
        for storage in self.dirs:
            storage.close_all()

    def append(self, path: str, data: bytes | bytearray) -> None:
        self._route(path).append(path, data)

    def read(self, path: str, position: int, size: int) -> bytes:
        return self._route(path).read(path, position, size)

    def truncate(self, path: str, size: int) -> None:
        self._route(path).truncate(path, size)

    def fsync(self, path: str) -> None:
        self._route(path).fsync(path)

    def rename(self, src: str, dst: str) -> None:
        """Within the source's directory; a renamed top-level name moves its home along."""
        index = self.dir_of(_top(src))
        if "/" not in dst:
            self._home[dst] = index
        self.dirs[index].rename(src, dst)
        if "/" not in src and src != dst:
            self._home.pop(src, None)

    def delete(self, path: str) -> None:
        self._route(path).delete(path)
        if "/" not in path:
            self._home.pop(path, None)


def log_storage(paths: Sequence[str]) -> FileStorage | MultiDirStorage:
    """One ``FileStorage`` for a single log dir, a ``MultiDirStorage`` for several."""
    if len(paths) == 1:
        return FileStorage(paths[0])
    return MultiDirStorage([FileStorage(path) for path in paths])
