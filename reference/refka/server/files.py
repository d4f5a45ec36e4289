"""Open segment files for ``sendfile``, cached by path.

A fetch answer names its record data as ``FileSlice(path, position, size)``; the driver sends
those bytes straight from the file to the socket. Opening a file per fetch would cost two
syscalls per partition, so files stay open, keyed by their path relative to the log directory.

A cached file is checked against the path on each use: when the path now names another file
(a segment deleted and written again, a truncation that replaced it) the file is reopened; when
the path is gone, the open file still holds the bytes the core pointed at (as Kafka keeps a
deleted segment's channel open until ``log.segment.delete.delay.ms``), so it is still used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

MAX_OPEN_FILES = 256


class SegmentFiles:
    """Files opened for reading by relative path, at most ``max_open`` of them."""

    __slots__ = ("_files", "_in_use", "_max_open", "_real_path")

    def __init__(self, real_path: Callable[[str], str], max_open: int = MAX_OPEN_FILES) -> None:
        self._real_path = real_path
        self._max_open = max_open
        self._files: dict[str, tuple[BinaryIO, int]] = {}  # path -> (file, inode)
        self._in_use: dict[int, int] = {}  # id(file) -> number of sends using it

    def acquire(self, path: str) -> BinaryIO:
        """The open file for ``path``; pair each call with :meth:`release`.

        Raises ``OSError`` when the path names no file and none is cached.
        """
        real = self._real_path(path)
        cached = self._files.pop(path, None)
        try:
            inode = os.stat(real).st_ino
        except FileNotFoundError:
            if cached is None:
                raise
            inode = cached[1]  # gone from the directory: the open file still has its bytes
        if cached is not None and cached[1] != inode:
            self._close_if_idle(cached[0])
            cached = None
        if cached is None:
            file = open(real, "rb", buffering=0)  # noqa: SIM115 - kept open in the cache
            cached = (file, os.fstat(file.fileno()).st_ino)
        self._files[path] = cached  # most recently used last
        self._in_use[id(cached[0])] = self._in_use.get(id(cached[0]), 0) + 1
        self._evict()
        return cached[0]

    def release(self, file: BinaryIO) -> None:
        key = id(file)
        left = self._in_use.get(key, 1) - 1
        if left > 0:
            self._in_use[key] = left
            return
        self._in_use.pop(key, None)
        if not any(f is file for f, _ in self._files.values()):
            file.close()  # dropped from the cache while a send was using it

    def close(self) -> None:
        for file, _ in self._files.values():
            file.close()
        self._files.clear()
        self._in_use.clear()

    def _evict(self) -> None:
        while len(self._files) > self._max_open:
            oldest = next(iter(self._files))
            file, _ = self._files.pop(oldest)
            self._close_if_idle(file)

    def _close_if_idle(self, file: BinaryIO) -> None:
        if id(file) not in self._in_use:
            file.close()
