"""Build (through ``conformance.records``) and decode uncompressed v2 batches for log tests."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from refka.log.storage import FileStorage, MemoryStorage

from conformance.records import LOG_APPEND_TIME_FLAG, Record
from conformance.records import build_batch as records_batch


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos


def build_batch(
    base_offset: int,
    timestamps: Sequence[int],
    value_size: int = 10,
    leader_epoch: int = 0,
    log_append_time: bool = False,
) -> bytes:
    """One batch of ``len(timestamps)`` records with values of ``value_size`` bytes."""
    records = [
        Record(bytes([delta % 256]) * value_size, timestamp_ms=ts)
        for delta, ts in enumerate(timestamps)
    ]
    return records_batch(
        records,
        base_offset=base_offset,
        partition_leader_epoch=leader_epoch,
        attributes=LOG_APPEND_TIME_FLAG if log_append_time else 0,
    )


def build_batches(
    base_offset: int, sizes: Sequence[int], timestamp: int = 1000, **kw: int
) -> bytes:
    """Consecutive batches holding ``sizes[i]`` records each, timestamps rising by 1."""
    out, offset = bytearray(), base_offset
    for n in sizes:
        out += build_batch(offset, [timestamp + offset + i for i in range(n)], **kw)  # type: ignore[arg-type]
        offset += n
    return bytes(out)


@dataclass(frozen=True)
class Rec:
    offset: int
    timestamp: int
    value: bytes


def iter_records(batch: bytes) -> Iterator[Rec]:
    """Records of an uncompressed batch (what refka.protocol.records does in general)."""
    (base_offset,) = struct.unpack_from(">q", batch, 0)
    (base_ts,) = struct.unpack_from(">q", batch, 27)
    (count,) = struct.unpack_from(">i", batch, 57)
    pos = 61
    for _ in range(count):
        _, pos = _read_varint(batch, pos)
        pos += 1
        ts_delta, pos = _read_varint(batch, pos)
        off_delta, pos = _read_varint(batch, pos)
        key_len, pos = _read_varint(batch, pos)
        pos += max(key_len, 0)
        value_len, pos = _read_varint(batch, pos)
        value = batch[pos : pos + value_len]
        pos += value_len
        headers, pos = _read_varint(batch, pos)
        assert headers == 0
        yield Rec(base_offset + off_delta, base_ts + ts_delta, value)


def make_storage(kind: str, tmp_path: object) -> FileStorage | MemoryStorage:
    """A FileStorage under ``tmp_path`` or a MemoryStorage, for parametrized fixtures."""
    return FileStorage(str(tmp_path)) if kind == "file" else MemoryStorage()
