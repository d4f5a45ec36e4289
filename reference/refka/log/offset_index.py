"""The sparse offset index of one segment (``.index``), as Kafka's ``OffsetIndex``.

File format: entries of 8 bytes, a 4-byte offset relative to the segment's base offset and the
4-byte position of that batch in the ``.log`` file (big-endian). Entries are appended in
memory, one per ``index.interval.bytes`` of log, with the batch's LAST offset, and written to
the file on flush, roll and close (``IndexFile``). ``lookup`` answers with the largest
entry at or below the target; recovery rebuilds an index that is missing or short.
"""

from __future__ import annotations

import itertools
import struct

from refka.log.index_file import IndexFile
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


class OffsetIndex(IndexFile):
    """Relative offsets and positions, ascending, for one segment."""

    ENTRY = _ENTRY

    def __init__(self, storage: Storage, path: str, base_offset: int, max_entries: int) -> None:
        super().__init__(storage, path, base_offset, max_entries)
        self.relative_offsets: list[int] = []
        self.positions: list[int] = []

    def columns(self) -> tuple[list[int], list[int]]:
        return self.relative_offsets, self.positions

    def load(self) -> bool:
        """Read the file; False if it is missing or fails Kafka's sanity check."""
        entries = self.read_entries()
        if entries is None:
            return False
        offsets, positions = entries
        if any(a >= b for a, b in itertools.pairwise(offsets)):
            return False
        if any(a > b for a, b in itertools.pairwise(positions)):
            return False
        if offsets and offsets[0] < 0:
            return False
        self.relative_offsets, self.positions = offsets, positions
        self.loaded()
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
        self.truncate_file(keep)
