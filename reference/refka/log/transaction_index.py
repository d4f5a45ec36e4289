"""The aborted transactions of a partition (Kafka's ``TransactionIndex``, ``.txnindex``).

Each entry is what a read_committed Fetch returns in ``aborted_transactions``: the producer id
and the first offset of a transaction that ended with an ABORT marker at ``last_offset``; the
consumer drops that producer's records from ``first_offset`` until it sees the marker. The
on-disk entry is Kafka's 34 bytes::

    version: int16 = 0  producerId: int64  firstOffset: int64  lastOffset: int64
    lastStableOffset: int64

Entries are kept in the order of their markers (ascending ``last_offset``) and rebuilt from the
log's markers when the partition is opened or truncated.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass

ENTRY = struct.Struct(">hqqqq")
assert ENTRY.size == 34


@dataclass(frozen=True, slots=True)
class AbortedTxn:
    """An aborted transaction in a segment's ``.txnindex`` (Kafka's ``AbortedTxn``)."""

    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int

    def encode(self) -> bytes:
        return ENTRY.pack(
            0, self.producer_id, self.first_offset, self.last_offset, self.last_stable_offset
        )

    @classmethod
    def decode(cls, data: bytes, position: int = 0) -> AbortedTxn:
        _, producer_id, first, last, lso = ENTRY.unpack_from(data, position)
        return cls(producer_id, first, last, lso)


class TransactionIndex:
    """A partition's aborted transactions, in marker order."""

    def __init__(self) -> None:
        self.entries: list[AbortedTxn] = []
        self._last_offsets: list[int] = []

    def append(self, aborted: AbortedTxn) -> None:
        self.entries.append(aborted)
        self._last_offsets.append(aborted.last_offset)

    def clear(self) -> None:
        self.entries.clear()
        self._last_offsets.clear()

    def collect(self, fetch_offset: int, upper_bound_offset: int) -> list[AbortedTxn]:
        """The aborted transactions that overlap ``[fetch_offset, upper_bound_offset)``
        (Kafka's ``collectAbortedTxns``): marker at or after the fetch offset, first offset
        before the bound."""
        start = bisect.bisect_left(self._last_offsets, fetch_offset)
        return [a for a in self.entries[start:] if a.first_offset < upper_bound_offset]
