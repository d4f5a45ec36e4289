"""The sparse offset index of one segment (``.index``), as Kafka's ``OffsetIndex``.

File format: entries of 8 bytes, a 4-byte offset relative to the segment's base offset and the
4-byte position of that batch in the ``.log`` file (big-endian). Entries are appended in
memory, one per ``index.interval.bytes`` of log, with the batch's LAST offset, and written to
the file on flush, roll and close (Kafka mmaps instead). ``lookup`` answers with the largest
entry at or below the target; recovery rebuilds an index that is missing or short.
"""

from __future__ import annotations

import itertools
import struct

from refka.log.storage import Storage

ENTRY_SIZE = 8
_ENTRY = struct.Struct(">ii")


def floor_entry(keys: list[int], target: int) -> int:
    """Slot of the last key <= ``target`` in ascending ``keys``, or -1 if none is.

    pre: all(keys[i] <= keys[i + 1] for i in range(len(keys) - 1))
    post: -1 <= __return__ < len(keys)
    post: __return__ == -1 or keys[__return__] <= target
    post: __return__ == len(keys) - 1 or keys[__return__ + 1] > target
    """
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] <= target:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


class OffsetIndex:
    """Relative offsets and positions, ascending, for one segment."""

    def __init__(self, storage: Storage, path: str, base_offset: int, max_entries: int) -> None:
        self.storage = storage
        self.path = path
        self.base_offset = base_offset
        self.max_entries = max_entries
        self.relative_offsets: list[int] = []
        self.positions: list[int] = []
        self._written = 0  # entries already in the file
        self._dirty = False  # file changed since its last fsync

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def is_full(self) -> bool:
        return len(self.positions) >= self.max_entries

    def load(self) -> bool:
        """Read the file; False if it is missing or fails Kafka's sanity check."""
        if not self.storage.exists(self.path):
            return False
        data = self.storage.read(self.path, 0, self.storage.size(self.path))
        if len(data) % ENTRY_SIZE:
            return False
        entries = list(_ENTRY.iter_unpack(data))
        offsets = [e[0] for e in entries]
        positions = [e[1] for e in entries]
        if any(a >= b for a, b in itertools.pairwise(offsets)):
            return False
        if any(a > b for a, b in itertools.pairwise(positions)):
            return False
        if offsets and offsets[0] < 0:
            return False
        self.relative_offsets, self.positions, self._written = offsets, positions, len(offsets)
        return True

    def append(self, offset: int, position: int) -> None:
        relative = offset - self.base_offset
        assert not self.relative_offsets or relative > self.relative_offsets[-1], (offset, self)
        self.relative_offsets.append(relative)
        self.positions.append(position)

    def lookup(self, target_offset: int) -> tuple[int, int]:
        """(offset, position) of the last entry <= target, or (base_offset, 0)."""
        slot = floor_entry(self.relative_offsets, target_offset - self.base_offset)
        if slot < 0:
            return self.base_offset, 0
        return self.base_offset + self.relative_offsets[slot], self.positions[slot]

    def lookup_position(self, position: int) -> tuple[int, int]:
        """(offset, position) of the last entry whose position is <= ``position``."""
        slot = floor_entry(self.positions, position)
        if slot < 0:
            return self.base_offset, 0
        return self.base_offset + self.relative_offsets[slot], self.positions[slot]

    def truncate_to(self, offset: int) -> None:
        """Drop every entry whose offset is >= ``offset``."""
        keep = floor_entry(self.relative_offsets, offset - self.base_offset - 1) + 1
        del self.relative_offsets[keep:], self.positions[keep:]
        if self._written > keep:
            self.storage.truncate(self.path, keep * ENTRY_SIZE)
            self._written, self._dirty = keep, True

    def reset(self) -> None:
        self.relative_offsets.clear()
        self.positions.clear()
        self._written = 0
        self.storage.open(self.path)
        self.storage.truncate(self.path, 0)
        self._dirty = True

    def write(self) -> None:
        """Append the entries not yet in the file."""
        pending = range(self._written, len(self.positions))
        if pending:
            rel, pos = self.relative_offsets, self.positions
            self.storage.append(self.path, b"".join(_ENTRY.pack(rel[i], pos[i]) for i in pending))
            self._written = len(self.positions)
            self._dirty = True

    def flush(self) -> None:
        self.storage.open(self.path)
        self.write()
        if self._dirty:
            self.storage.fsync(self.path)
            self._dirty = False
