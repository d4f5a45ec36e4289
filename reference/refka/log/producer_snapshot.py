"""Producer state snapshots: Kafka's ``<20-digit offset>.snapshot`` files (KIP-98).

A snapshot holds the producer state of a partition as of an offset (exclusive): the state
after every batch below it. Kafka's ``ProducerStateManager`` writes one at each segment roll
(named after the new segment's base offset) and at clean shutdown (named after the log end
offset); recovery loads the newest one at or below the log end offset and replays only the
batches after it. The format, version 1, big-endian::

    version: int16 = 1
    crc: uint32               CRC-32C of every byte after this field
    entries: int32 count, then per producer (46 bytes):
        producer_id: int64  epoch: int16  last_sequence: int32  last_offset: int64
        offset_delta: int32  timestamp: int64  coordinator_epoch: int32
        current_txn_first_offset: int64   (-1: no open transaction)

``offset_delta`` is last minus first sequence (= last minus first offset) of the producer's
last batch; ``last_offset`` is -1 when its only batch here was a marker. A file that does not
parse, has another version or a bad CRC is corrupt (``CorruptSnapshot``): Kafka deletes it and
falls back to an older one, or to a full rebuild.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from refka.protocol.crc import crc32c

VERSION = 1
SUFFIX = ".snapshot"
_HEADER = struct.Struct(">hIi")  # version, crc, entry count
_ENTRY = struct.Struct(">qhiqiqiq")
_CRC_START = 6  # the CRC covers the entry count and the entries
assert _ENTRY.size == 46


class CorruptSnapshot(ValueError):
    """A ``.snapshot`` file that cannot be trusted (Kafka's ``CorruptSnapshotException``)."""


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """One producer's state in a snapshot (Kafka's ``ProducerStateEntry`` as written)."""

    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_offset: int
    offset_delta: int
    timestamp_ms: int
    coordinator_epoch: int
    current_txn_first_offset: int


def snapshot_name(offset: int) -> str:
    return f"{offset:020d}{SUFFIX}"


def snapshot_offset(name: str) -> int | None:
    """The offset a file name stands for, or None if it is no snapshot's name."""
    stem = name.removesuffix(SUFFIX)
    return int(stem) if name.endswith(SUFFIX) and stem.isdigit() else None


def encode(entries: list[SnapshotEntry]) -> bytes:
    body = bytearray(struct.pack(">i", len(entries)))
    for e in entries:
        body += _ENTRY.pack(
            e.producer_id,
            e.producer_epoch,
            e.last_sequence,
            e.last_offset,
            e.offset_delta,
            e.timestamp_ms,
            e.coordinator_epoch,
            e.current_txn_first_offset,
        )
    return struct.pack(">hI", VERSION, crc32c(bytes(body))) + bytes(body)


def decode(data: bytes) -> list[SnapshotEntry]:
    """The entries of a snapshot file's bytes; ``CorruptSnapshot`` if they cannot be trusted."""
    if len(data) < _HEADER.size:
        raise CorruptSnapshot(f"snapshot of {len(data)} bytes is shorter than its header")
    version, crc, count = _HEADER.unpack_from(data)
    if version != VERSION:
        raise CorruptSnapshot(f"snapshot contained an unknown file version {version}")
    computed = crc32c(data[_CRC_START:])
    if crc != computed:
        raise CorruptSnapshot(f"snapshot is corrupt: stored crc {crc}, computed crc {computed}")
    if count < 0 or len(data) != _HEADER.size + count * _ENTRY.size:
        raise CorruptSnapshot(f"snapshot of {len(data)} bytes cannot hold {count} entries")
    return [
        SnapshotEntry(*_ENTRY.unpack_from(data, _HEADER.size + i * _ENTRY.size))
        for i in range(count)
    ]
