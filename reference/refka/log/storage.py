"""The only door to the disk: a small file API with paths relative to one log directory.

``FileStorage`` keeps real files (the server sends fetch data from them with ``sendfile``);
``MemoryStorage`` simulates a page cache for the fault simulator. Its fault model: every write
lands in the page cache and is visible to reads at once; only ``fsync`` makes a file's bytes
durable; ``crash()`` throws the page cache away, so each file falls back to its last fsynced
contents, except that the most recent write may survive in part (a torn write). Directory
operations (mkdir, rename, delete) are durable at once, as on a journaling file system.
A full disk (``full = True``) fails every write (``append``, and ``open`` of a new file) with
``OSError(ENOSPC)``, as ``write(2)`` does; reads, fsyncs and deletes still work.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import Protocol


class Storage(Protocol):
    """Files under one root, named by ``/``-separated relative paths."""

    def mkdir(self, path: str) -> None: ...
    def list_dir(self, path: str) -> list[str]: ...
    def exists(self, path: str) -> bool: ...
    def size(self, path: str) -> int: ...
    def open(self, path: str) -> None:
        """Create the file if missing and keep a handle to it for appends."""
        ...

    def close(self, path: str) -> None: ...
    def append(self, path: str, data: bytes | bytearray) -> None: ...
    def read(self, path: str, position: int, size: int) -> bytes: ...
    def truncate(self, path: str, size: int) -> None: ...
    def fsync(self, path: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def delete(self, path: str) -> None:
        """Remove a file, or a directory with everything in it."""
        ...

    def volume(self) -> Volume:
        """The root's absolute path and its volume's size (DescribeLogDirs, KIP-827)."""
        ...


@dataclass(frozen=True, slots=True)
class Volume:
    """A log directory and the file system it is on; -1 bytes where unknown."""

    path: str
    total_bytes: int = -1
    usable_bytes: int = -1


def write_atomically(storage: Storage, path: str, data: bytes) -> None:
    """Write ``path`` via ``path.tmp``, fsync and rename, as Kafka's checkpoint files do."""
    tmp = path + ".tmp"
    if storage.exists(tmp):
        storage.delete(tmp)
    storage.open(tmp)
    storage.append(tmp, data)
    storage.fsync(tmp)
    storage.close(tmp)
    storage.rename(tmp, path)


class FileStorage:
    """Real files under ``root_dir``; append handles stay open until ``close``."""

    def __init__(self, root_dir: str) -> None:
        self.root_dir = os.path.abspath(root_dir)
        os.makedirs(self.root_dir, exist_ok=True)
        self._fds: dict[str, int] = {}

    def real_path(self, path: str) -> str:
        return os.path.join(self.root_dir, path)

    def volume(self) -> Volume:
        """As Java's ``FileStore`` total and usable space: blocks, and blocks free to users."""
        found = os.statvfs(self.root_dir)
        return Volume(
            self.root_dir, found.f_blocks * found.f_frsize, found.f_bavail * found.f_frsize
        )

    def mkdir(self, path: str) -> None:
        os.makedirs(self.real_path(path), exist_ok=True)

    def list_dir(self, path: str) -> list[str]:
        return sorted(os.listdir(self.real_path(path)))

    def exists(self, path: str) -> bool:
        return os.path.exists(self.real_path(path))

    def size(self, path: str) -> int:
        return os.path.getsize(self.real_path(path))

    def open(self, path: str) -> None:
        if path not in self._fds:
            flags = os.O_RDWR | os.O_CREAT | os.O_APPEND
            self._fds[path] = os.open(self.real_path(path), flags, 0o644)

    def close(self, path: str) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def close_all(self) -> None:
        for path in list(self._fds):
            self.close(path)

    def open_under(self, folder: str) -> list[str]:
        """The paths in ``folder`` with an append handle open."""
        return [path for path in self._fds if path.startswith(folder + "/")]

    def append(self, path: str, data: bytes | bytearray) -> None:
        self.open(path)
        fd = self._fds[path]
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def read(self, path: str, position: int, size: int) -> bytes:
        fd = self._fds.get(path)
        if fd is not None:
            return os.pread(fd, size, position)
        with open(self.real_path(path), "rb") as f:
            f.seek(position)
            return f.read(size)

    def truncate(self, path: str, size: int) -> None:
        os.truncate(self.real_path(path), size)

    def fsync(self, path: str) -> None:
        fd = self._fds.get(path)
        if fd is not None:
            os.fsync(fd)
            return
        fd = os.open(self.real_path(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        self.close(src)
        os.replace(self.real_path(src), self.real_path(dst))

    def delete(self, path: str) -> None:
        real = self.real_path(path)
        if os.path.isdir(real):
            for name in os.listdir(real):
                self.delete(f"{path}/{name}")
            os.rmdir(real)
        else:
            self.close(path)
            os.remove(real)


@dataclass
class _MemoryFile:
    """One file of the in-memory disk: the page cache and what was flushed."""

    data: bytearray = field(default_factory=bytearray)  # what reads see (page cache)
    durable: bytes = b""  # what survives a crash


class MemoryStorage:
    """An in-memory disk with a page cache: unflushed bytes are lost by ``crash()``."""

    def __init__(self) -> None:
        self.files: dict[str, _MemoryFile] = {}
        self.dirs: set[str] = {""}
        self._last_write: tuple[str, int, int] | None = None  # path, position, length
        self.full = False  # the disk is full: writes fail with ENOSPC

    def volume(self) -> Volume:
        return Volume("/memory")

    def _parent(self, path: str) -> str:
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def _file(self, path: str) -> _MemoryFile:
        try:
            return self.files[path]
        except KeyError:
            raise FileNotFoundError(path) from None

    def mkdir(self, path: str) -> None:
        while path and path not in self.dirs:
            self.dirs.add(path)
            path = self._parent(path)

    def list_dir(self, path: str) -> list[str]:
        if path not in self.dirs:
            raise FileNotFoundError(path)
        prefix = path + "/" if path else ""
        names = {
            p[len(prefix) :].split("/", 1)[0]
            for p in (*self.files, *self.dirs)
            if p.startswith(prefix) and p != path
        }
        return sorted(names)

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def size(self, path: str) -> int:
        return len(self._file(path).data)

    def open(self, path: str) -> None:
        if self._parent(path) not in self.dirs:
            raise FileNotFoundError(path)
        if path not in self.files:
            self._check_space(path)
            self.files[path] = _MemoryFile()

    def close(self, path: str) -> None:
        pass

    def _check_space(self, path: str) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    def append(self, path: str, data: bytes | bytearray) -> None:
        self.open(path)
        if data:
            self._check_space(path)
        f = self.files[path]
        self._last_write = (path, len(f.data), len(data))
        f.data += data

    def read(self, path: str, position: int, size: int) -> bytes:
        return bytes(self._file(path).data[position : position + size])

    def truncate(self, path: str, size: int) -> None:
        f = self._file(path)
        del f.data[size:]

    def fsync(self, path: str) -> None:
        if path in self.dirs:
            return
        f = self._file(path)
        f.durable = bytes(f.data)
        if self._last_write and self._last_write[0] == path:
            self._last_write = None

    def rename(self, src: str, dst: str) -> None:
        if src in self.dirs:
            moved = {p for p in (*self.files, *self.dirs) if p == src or p.startswith(src + "/")}
            for p in moved:
                new = dst + p[len(src) :]
                if p in self.dirs:
                    self.dirs.discard(p)
                    self.dirs.add(new)
                else:
                    self.files[new] = self.files.pop(p)
            return
        self.files[dst] = self.files.pop(src)
        if self._last_write and self._last_write[0] == src:
            self._last_write = (dst, *self._last_write[1:])

    def delete(self, path: str) -> None:
        if path in self.dirs:
            for p in [p for p in self.files if p.startswith(path + "/")]:
                del self.files[p]
            self.dirs -= {d for d in self.dirs if d == path or d.startswith(path + "/")}
        else:
            self._file(path)
            del self.files[path]

    def unflushed_bytes(self) -> int:
        """Bytes in the page cache that a crash would lose (or change)."""
        return sum(
            len(f.data) - len(f.durable) if f.data.startswith(f.durable) else len(f.data)
            for f in self.files.values()
        )

    def crash(self, torn_bytes: int = 0) -> None:
        """Lose the page cache; the last write, if unflushed, keeps its first ``torn_bytes``."""
        last = self._last_write
        for path, f in self.files.items():
            durable = f.durable
            if last and last[0] == path and torn_bytes > 0 and len(durable) >= last[1]:
                position, length = last[1], last[2]
                kept = bytes(f.data[position : position + min(torn_bytes, length)])
                durable = durable[:position] + kept
            f.data = bytearray(durable)
            f.durable = durable
        self._last_write = None
