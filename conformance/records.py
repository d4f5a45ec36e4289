"""Record batches (magic v2) built and read for probes, independent of the target broker.

Layout (KIP-98): baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
crc uint32 (CRC-32C of everything after it), attributes int16, lastOffsetDelta int32,
baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16,
baseSequence int32, records count int32, then the records (varint-framed).
"""

from __future__ import annotations

import gzip
import struct
import time
from dataclasses import dataclass, field

import crc32c

HEADER_FORMAT = ">qiibIhiqqqhii"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)  # 61
CRC_START = 21  # offset of the attributes field: the CRC covers everything from here

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
TRANSACTIONAL_FLAG = 0x10
CONTROL_FLAG = 0x20
LOG_APPEND_TIME_FLAG = 0x08


@dataclass(frozen=True)
class Record:
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp_ms: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Batch:
    base_offset: int
    partition_leader_epoch: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: list[Record] = field(default_factory=list)
    crc_valid: bool = True

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_FLAG)


def _varint(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _bytes_field(value: bytes | None) -> bytes:
    return _varint(-1) if value is None else _varint(len(value)) + value


def _encode_record(record: Record, delta: int, timestamp_ms: int, base_timestamp: int) -> bytes:
    body = bytearray(b"\x00")
    body += _varint(timestamp_ms - base_timestamp)
    body += _varint(delta)
    body += _bytes_field(record.key) + _bytes_field(record.value)
    body += _varint(len(record.headers))
    for name, value in record.headers:
        body += _bytes_field(name.encode()) + _bytes_field(value)
    return _varint(len(body)) + bytes(body)


def compress(codec: int, data: bytes) -> bytes:
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.compress(data)
    if codec == LZ4:
        import lz4.frame

        return bytes(lz4.frame.compress(data))
    if codec == ZSTD:
        import zstandard

        return bytes(zstandard.ZstdCompressor().compress(data))
    if codec == SNAPPY:
        import cramjam

        return bytes(cramjam.snappy.compress_raw(data))
    raise ValueError(f"unknown codec {codec}")


def decompress(codec: int, data: bytes) -> bytes:
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.decompress(data)
    if codec == LZ4:
        import lz4.frame

        return bytes(lz4.frame.decompress(data))
    if codec == ZSTD:
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    if codec == SNAPPY:
        import cramjam

        if data.startswith(b"\x82SNAPPY\x00"):  # xerial framing (Java clients)
            out, pos = bytearray(), 16
            while pos < len(data):
                (size,) = struct.unpack_from(">i", data, pos)
                out += bytes(cramjam.snappy.decompress_raw(data[pos + 4 : pos + 4 + size]))
                pos += 4 + size
            return bytes(out)
        return bytes(cramjam.snappy.decompress_raw(data))
    raise ValueError(f"unknown codec {codec}")


def build_batch(
    records: list[Record] | tuple[Record, ...],
    *,
    base_offset: int = 0,
    codec: int = NONE,
    attributes: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    timestamp_ms: int | None = None,
    record_count: int | None = None,
    corrupt_crc: bool = False,
) -> bytes:
    """One v2 batch; `record_count` and `corrupt_crc` let probes lie in the header."""
    now_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    stamps = [now_ms if r.timestamp_ms is None else r.timestamp_ms for r in records] or [now_ms]
    base_timestamp, max_timestamp = stamps[0], max(stamps)
    body = b"".join(
        _encode_record(r, i, stamp, base_timestamp)
        for i, (r, stamp) in enumerate(zip(records, stamps, strict=False))
    )
    count = len(records) if record_count is None else record_count
    after_crc = struct.pack(
        ">hiqqqhii",
        attributes | codec,
        max(len(records) - 1, 0),
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        count,
    ) + compress(codec, body)
    crc = crc32c.crc32c(after_crc) ^ (0xFFFFFFFF if corrupt_crc else 0)
    batch_length = len(after_crc) + 9  # partitionLeaderEpoch, magic, crc
    head = struct.pack(">qiibI", base_offset, batch_length, partition_leader_epoch, 2, crc)
    return head + after_crc


def _decode_records(data: bytes, count: int, base_offset: int, base_ts: int) -> list[Record]:
    records, pos = [], 0
    for _ in range(count):
        _, pos = _read_varint(data, pos)  # record length
        pos += 1  # attributes
        ts_delta, pos = _read_varint(data, pos)
        offset_delta, pos = _read_varint(data, pos)
        key, pos = _read_bytes(data, pos)
        value, pos = _read_bytes(data, pos)
        header_count, pos = _read_varint(data, pos)
        headers = []
        for _ in range(header_count):
            name, pos = _read_bytes(data, pos)
            header_value, pos = _read_bytes(data, pos)
            headers.append(((name or b"").decode(), header_value))
        records.append(
            Record(value, key, tuple(headers), base_ts + ts_delta, base_offset + offset_delta)
        )
    return records


def _read_bytes(data: bytes, pos: int) -> tuple[bytes | None, int]:
    size, pos = _read_varint(data, pos)
    if size < 0:
        return None, pos
    return data[pos : pos + size], pos + size


def parse_batches(data: bytes | None) -> list[Batch]:
    """Every complete v2 batch in `data` (a partial trailing batch is ignored, as clients do)."""
    batches, pos = [], 0
    data = data or b""
    while pos + HEADER_SIZE <= len(data):
        fields = struct.unpack_from(HEADER_FORMAT, data, pos)
        (
            base_offset,
            length,
            epoch,
            _magic,
            crc,
            attributes,
            last_delta,
            base_ts,
            max_ts,
            producer_id,
            producer_epoch,
            base_sequence,
            count,
        ) = fields
        end = pos + 12 + length
        if end > len(data):
            break
        crc_valid = crc32c.crc32c(data[pos + CRC_START : end]) == crc
        payload = decompress(attributes & 0x07, data[pos + HEADER_SIZE : end])
        records = _decode_records(payload, count, base_offset, base_ts)
        batches.append(
            Batch(
                base_offset,
                epoch,
                attributes,
                last_delta,
                base_ts,
                max_ts,
                producer_id,
                producer_epoch,
                base_sequence,
                records,
                crc_valid,
            )
        )
        pos = end
    return batches
