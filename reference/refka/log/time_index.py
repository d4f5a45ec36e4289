"""The sparse time index of one segment (``.timeindex``), as Kafka's ``TimeIndex``.

File format: entries of 12 bytes, an 8-byte timestamp and the 4-byte offset (relative to the
segment's base offset) of the batch that reached it (big-endian). Timestamps strictly increase:
an entry is only appended when the segment's largest timestamp grew (``maybe_append``).
"""

from __future__ import annotations

import itertools
import struct

from refka.log.index_file import IndexFile
from refka.log.storage import Storage

ENTRY_SIZE = 12
NO_TIMESTAMP = -1
_ENTRY = struct.Struct(">qi")


def floor_timestamp(timestamps: list[int], target_ms: int) -> int:
    """Slot of the last timestamp <= ``target_ms`` in ascending ``timestamps``, or -1.

    pre: all(timestamps[i] < timestamps[i + 1] for i in range(len(timestamps) - 1))
    post: -1 <= __return__ < len(timestamps)
    post: __return__ == -1 or timestamps[__return__] <= target_ms
    post: __return__ == len(timestamps) - 1 or timestamps[__return__ + 1] > target_ms
    """
    lo, hi = 0, len(timestamps)
    while lo < hi:
        mid = (lo + hi) // 2
        if timestamps[mid] <= target_ms:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


class TimeIndex(IndexFile):
    """Timestamps and relative offsets, both ascending, for one segment."""

    ENTRY = _ENTRY

    def __init__(self, storage: Storage, path: str, base_offset: int, max_entries: int) -> None:
        super().__init__(storage, path, base_offset, max_entries)
        self.timestamps: list[int] = []
        self.relative_offsets: list[int] = []

    def columns(self) -> tuple[list[int], list[int]]:
        return self.timestamps, self.relative_offsets

    def load(self) -> bool:
        """Read the file; False if it is missing or fails Kafka's sanity check."""
        entries = self.read_entries()
        if entries is None:
            return False
        timestamps, offsets = entries
        if any(a >= b for a, b in itertools.pairwise(timestamps)):
            return False
        if any(a > b for a, b in itertools.pairwise(offsets)):
            return False
        self.timestamps, self.relative_offsets = timestamps, offsets
        self.loaded()
        return True

    def last_entry(self) -> tuple[int, int]:
        """(timestamp, offset) of the last entry, or (NO_TIMESTAMP, base_offset)."""
        if not self.timestamps:
            return NO_TIMESTAMP, self.base_offset
        return self.timestamps[-1], self.base_offset + self.relative_offsets[-1]

    def maybe_append(self, timestamp_ms: int, offset: int) -> None:
        """Append (timestamp, offset) if the timestamp is larger than the last entry's."""
        if self.timestamps and timestamp_ms <= self.timestamps[-1]:
            return
        relative = offset - self.base_offset
        if self.relative_offsets and relative < self.relative_offsets[-1]:
            return
        self.timestamps.append(timestamp_ms)
        self.relative_offsets.append(relative)

    def lookup(self, target_ms: int) -> tuple[int, int]:
        """(timestamp, offset) of the last entry with timestamp <= target, else the base."""
        slot = floor_timestamp(self.timestamps, target_ms)
        if slot < 0:
            return NO_TIMESTAMP, self.base_offset
        return self.timestamps[slot], self.base_offset + self.relative_offsets[slot]

    def truncate_to(self, offset: int) -> None:
        """Drop every entry whose offset is >= ``offset``."""
        relative = offset - self.base_offset
        keep = len(self.relative_offsets)
        while keep and self.relative_offsets[keep - 1] >= relative:
            keep -= 1
        del self.timestamps[keep:], self.relative_offsets[keep:]
        self.truncate_file(keep)
