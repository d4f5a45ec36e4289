"""Build (through ``conformance.records``) and decode uncompressed v2 batches for log tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from refka.log.storage import FileStorage, MemoryStorage

from conformance.records import LOG_APPEND_TIME_FLAG, Record, parse_batches
from conformance.records import build_batch as records_batch


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
    value: bytes | None


def iter_records(batch: bytes) -> Iterator[Rec]:
    """Records of the first batch in ``batch``, decoded by ``conformance.records`` (not refka)."""
    for record in parse_batches(batch)[0].records:
        assert record.headers == ()
        assert record.offset is not None and record.timestamp_ms is not None
        yield Rec(record.offset, record.timestamp_ms, record.value)


def make_storage(kind: str, tmp_path: object) -> FileStorage | MemoryStorage:
    """A FileStorage under ``tmp_path`` or a MemoryStorage, for parametrized fixtures."""
    return FileStorage(str(tmp_path)) if kind == "file" else MemoryStorage()
