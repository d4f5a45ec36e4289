"""The fixed 61-byte header of a record batch, magic v2 (KIP-98), read straight from bytes.

Layout (big-endian), as in Kafka's ``DefaultRecordBatch``::

    baseOffset: int64            @0   not covered by the CRC
    batchLength: int32           @8   bytes after this field
    partitionLeaderEpoch: int32  @12  not covered by the CRC
    magic: int8                  @16  2
    crc: uint32                  @17  CRC-32C of everything from attributes to the end
    attributes: int16            @21  bits 0-2 compression, 3 timestamp type,
                                      4 transactional, 5 control, 6 delete horizon
    lastOffsetDelta: int32       @23
    baseTimestamp: int64         @27
    maxTimestamp: int64          @35
    producerId: int64            @43
    producerEpoch: int16         @51
    baseSequence: int32          @53
    recordsCount: int32          @57
    records                      @61

The hot paths (produce, fetch, log recovery, indexes) work on these fields only and never
build per-record objects.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

BASE_OFFSET = 0
BATCH_LENGTH = 8
PARTITION_LEADER_EPOCH = 12
MAGIC = 16
CRC = 17
ATTRIBUTES = 21
LAST_OFFSET_DELTA = 23
BASE_TIMESTAMP = 27
MAX_TIMESTAMP = 35
PRODUCER_ID = 43
PRODUCER_EPOCH = 51
BASE_SEQUENCE = 53
RECORDS_COUNT = 57
HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the bytes not counted by batchLength

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08  # 0 = CreateTime, 1 = LogAppendTime
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20

NO_PRODUCER_ID = -1
NO_SEQUENCE = -1

_HEADER = struct.Struct(">qiibIhiqqqhii")
assert _HEADER.size == HEADER_SIZE


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """The header fields of one batch, plus where it sits in its buffer or file."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.last_offset + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_log_append_time(self) -> bool:
        return bool(self.attributes & TIMESTAMP_TYPE_MASK)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_MASK)

    @property
    def has_producer_id(self) -> bool:
        return self.producer_id != NO_PRODUCER_ID

    @property
    def last_sequence(self) -> int:
        """Sequence of the last record, wrapping at 2**31 as Kafka's producer does."""
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) % (1 << 31)


def read_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Decode the header of the batch that starts at ``pos``; the caller checks the length."""
    return BatchHeader(*_HEADER.unpack_from(buf, pos))


def peek_size(buf: bytes | bytearray | memoryview, pos: int = 0) -> int:
    """Total size of the batch at ``pos`` (header included), from its batchLength field."""
    (length,) = struct.unpack_from(">i", buf, pos + BATCH_LENGTH)
    return int(length) + LOG_OVERHEAD


def iter_headers(buf: bytes | bytearray | memoryview) -> Iterator[BatchHeader]:
    """The headers of consecutive, already validated batches in ``buf`` (e.g. read from a log)."""
    pos, end = 0, len(buf)
    while pos + HEADER_SIZE <= end:
        header = read_header(buf, pos)
        pos += header.size
        yield header
