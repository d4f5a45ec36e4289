"""What Kafka's ``OffsetIndex`` and ``TimeIndex`` share (``AbstractIndex``): the file.

An index file is a run of fixed-size entries of two big-endian fields, kept in memory as two
columns (lists of the same length). Entries are appended in memory and written to the file on
flush, roll and close (Kafka mmaps instead); ``load`` reads a whole file back, refusing one
whose size is not a multiple of the entry size. What the columns mean, and how they are looked
up, is each subclass's.
"""

from __future__ import annotations

import struct
from typing import ClassVar

from refka.log.storage import Storage


class IndexFile:
    """Two columns of ints, and how many of their entries are already in the file."""

    ENTRY: ClassVar[struct.Struct]

    def __init__(self, storage: Storage, path: str, base_offset: int, max_entries: int) -> None:
        self.storage = storage
        self.path = path
        self.base_offset = base_offset
        self.max_entries = max_entries
        self._written = 0  # entries already in the file
        self._dirty = False  # file changed since its last fsync

    def columns(self) -> tuple[list[int], list[int]]:
        """The two fields of every entry, in file order."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.columns()[0])

    @property
    def is_full(self) -> bool:
        return len(self) >= self.max_entries

    def read_entries(self) -> tuple[list[int], list[int]] | None:
        """The file's two columns; None if it is missing or torn (size not whole entries)."""
        if not self.storage.exists(self.path):
            return None
        data = self.storage.read(self.path, 0, self.storage.size(self.path))
        if len(data) % self.ENTRY.size:
            return None
        entries = list(self.ENTRY.iter_unpack(data))
        return [e[0] for e in entries], [e[1] for e in entries]

    def loaded(self) -> None:
        """The columns now hold exactly the file's entries."""
        self._written = len(self)

    def truncate_file(self, keep: int) -> None:
        """Cut the file to its first ``keep`` entries (the columns already are)."""
        if self._written > keep:
            self.storage.truncate(self.path, keep * self.ENTRY.size)
            self._written, self._dirty = keep, True

    def reset(self) -> None:
        for column in self.columns():
            column.clear()
        self._written = 0
        self.storage.open(self.path)
        self.storage.truncate(self.path, 0)
        self._dirty = True

    def write(self) -> None:
        """Append the entries not yet in the file."""
        pending = range(self._written, len(self))
        if pending:
            first, second = self.columns()
            packed = b"".join(self.ENTRY.pack(first[i], second[i]) for i in pending)
            self.storage.append(self.path, packed)
            self._written = len(self)
            self._dirty = True

    def flush(self) -> None:
        self.storage.open(self.path)
        self.write()
        if self._dirty:
            self.storage.fsync(self.path)
            self._dirty = False
