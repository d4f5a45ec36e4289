"""Record batches, magic v2 (KIP-98), as bytes: validate, assign offsets, read, build.

The produce path is ``validate_batches`` then ``assign_offsets`` then one write of the bytes
``assign_offsets`` returned: one CRC-32C pass per batch, offsets and the leader epoch patched
into the header in place (they sit outside the CRC), no per-record objects. Only compressed
batches are decompressed, to count their records, as Kafka's ``LogValidator`` does.

Which error code each defect gets follows Apache Kafka 4 (``KafkaApis.handleProduceRequest``
-> ``ProduceRequest.validateRecords``, ``UnifiedLog.analyzeAndValidateRecords``,
``LogValidator.validateBatch``/``assignOffsetsNonCompressed``, ``DefaultRecordBatch`` and
``DefaultRecord`` iterators, ``ByteBufferLogInputStream.nextBatchSize``):

- batchLength < 14 or magic outside 0..2 while splitting -> CORRUPT_MESSAGE (CorruptRecordException)
- no complete batch at all -> INVALID_RECORD ("must have at least one record batch")
- magic 0/1 in a produce request -> INVALID_RECORD ("only allowed to contain ... magic version 2")
- zstd in Produce < v7 -> UNSUPPORTED_COMPRESSION_TYPE
- more than one batch from a client -> INVALID_RECORD ("exactly one record batch")
- baseOffset != 0 from a client -> INVALID_RECORD
- batch bigger than ``max.message.bytes`` -> MESSAGE_TOO_LARGE (RecordTooLargeException)
- batch shorter than its 61-byte header, or CRC-32C mismatch -> CORRUPT_MESSAGE
- lastOffsetDelta + 1 != recordsCount, count <= 0, control batch from a client, producer id
  without a base sequence -> INVALID_RECORD (``LogValidator.validateBatch``)
- records present != recordsCount, or a record overrunning the batch -> INVALID_RECORD
  ("Incorrect declared batch size")
- producer-set LogAppendTime, or a timestamp outside the allowed window -> INVALID_TIMESTAMP

Two deliberate differences, both where Kafka leaks a generic exception as UNKNOWN_SERVER_ERROR:
a compression id 5-7 gets UNSUPPORTED_COMPRESSION_TYPE and a compressed payload that does not
decode gets CORRUPT_MESSAGE. Trailing bytes that do not form a whole batch are dropped, as
Kafka's ``UnifiedLog.trimInvalidBytes`` does: ``assign_offsets`` returns only the valid batches.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from refka.protocol import compression as codecs
from refka.protocol.batch_header import (
    ATTRIBUTES,
    BASE_OFFSET,
    BATCH_LENGTH,
    CONTROL_MASK,
    CRC,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC,
    MAX_TIMESTAMP,
    NO_PRODUCER_ID,
    PARTITION_LEADER_EPOCH,
    TIMESTAMP_TYPE_MASK,
    TRANSACTIONAL_MASK,
    BatchHeader,
    read_header,
)
from refka.protocol.crc import crc32c
from refka.protocol.varint import decode_uvarint, decode_varint, encode_varint

Buffer = bytes | bytearray | memoryview

CURRENT_MAGIC = 2
NO_TIMESTAMP = -1
_LEGACY_RECORD_OVERHEAD_V0 = 14  # LegacyRecord.RECORD_OVERHEAD_V0: the smallest batchLength
_HEADER_UP_TO_MAGIC = MAGIC + 1
_MIN_RECORD_BODY = 6  # attributes, timestampDelta, offsetDelta, key, value, header count
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_HEADER_STRUCT = struct.Struct(">qiibIhiqqqhii")


class InvalidRecordError(Exception):
    """A batch Kafka would refuse, with the error code Kafka answers.

    ``record_errors`` (KIP-467) names each refused record by its index in the batch, with
    Kafka's message; ``client_message`` is the ProduceResponse ``error_message``.
    """

    def __init__(
        self,
        error_code: ErrorCode,
        message: str,
        record_errors: tuple[tuple[int, str], ...] = (),
        client_message: str | None = "",
    ) -> None:
        super().__init__(f"{error_code.name}: {message}")
        self.error_code = error_code
        self.message = message
        self.record_errors = record_errors
        self.client_message = str(self) if client_message == "" else client_message


class _RecordCheckFailed(Exception):
    """The record walk met a refused record: collect every refused one (slow path)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record as a reader sees it: absolute offset and timestamp."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True, slots=True)
class NewRecord:
    """One record to put in a batch with ``build_batch``."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp: int = NO_TIMESTAMP


RecordTuple = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]], int]
RecordInput = NewRecord | RecordTuple  # (key, value, headers, timestamp)


def _corrupt(message: str) -> InvalidRecordError:
    return InvalidRecordError(ErrorCode.corrupt_message, message)


def _invalid(message: str) -> InvalidRecordError:
    return InvalidRecordError(ErrorCode.invalid_record, message)


# --- splitting ------------------------------------------------------------------------------


def split_batches(buf: Buffer) -> list[tuple[int, int]]:
    """``(position, size)`` of each whole batch in ``buf``, as ``ByteBufferLogInputStream`` cuts.

    A batchLength below 14 or a magic outside 0..2 is CORRUPT_MESSAGE; an incomplete batch at
    the end ends the list (Kafka's iterator stops there and the log trims those bytes).
    """
    spans = []
    pos = 0
    end = len(buf)
    while end - pos >= LOG_OVERHEAD:
        (length,) = _INT32.unpack_from(buf, pos + BATCH_LENGTH)
        if length < _LEGACY_RECORD_OVERHEAD_V0:
            raise _corrupt(f"record size {length} is less than the minimum record overhead (14)")
        if end - pos < _HEADER_UP_TO_MAGIC:
            break
        magic = struct.unpack_from(">b", buf, pos + MAGIC)[0]
        if magic < 0 or magic > CURRENT_MAGIC:
            raise _corrupt(f"invalid magic found in record: {magic}")
        size = length + LOG_OVERHEAD
        if end - pos < size:
            break
        spans.append((pos, size))
        pos += size
    return spans


# --- validation (produce path) ---------------------------------------------------------------


def validate_batches(
    records: Buffer,
    max_batch_bytes: int,
    *,
    from_client: bool = True,
    produce_version: int | None = None,
    log_append_time: bool = False,
    timestamp_window_ms: tuple[int, int] | None = None,
    compacted_partition: str | None = None,
    max_decompressed_bytes: int | None = None,
) -> list[BatchHeader]:
    """Check a partition's records as Kafka's leader does before appending; return the headers.

    ``max_batch_bytes`` is the topic's ``max.message.bytes``. ``from_client`` applies the
    checks Kafka makes for ``AppendOrigin.CLIENT`` (one batch, baseOffset 0, count and
    sequence sanity); without it several batches may follow each other (replication), but
    zero batches is still INVALID_RECORD, so the result is never empty.
    ``log_append_time`` is ``message.timestamp.type=LogAppendTime``. ``timestamp_window_ms``
    is ``(now - message.timestamp.before.max.ms, now + message.timestamp.after.max.ms)`` for
    CreateTime topics, or None for no bound. ``compacted_partition`` (``topic-partition``) is
    set for a compacted topic: a record without a key is refused. Refused records are reported
    together (KIP-467, ``LogValidator.processRecordErrors``): INVALID_TIMESTAMP if any has a
    timestamp out of range, else INVALID_RECORD, with ``record_errors`` naming each one.
    ``max_decompressed_bytes`` is ``max.decompressed.message.bytes``.
    Raises ``InvalidRecordError`` with Kafka's code (see the module docstring).
    """
    spans = split_batches(records)
    if from_client:
        _check_produce_shape(records, spans, produce_version)
    elif not spans:  # LogValidator: "Record batch has no batches at all", any origin
        raise _invalid("record batch has no batches at all")
    headers = []
    for pos, size in spans:
        limits = _Limits(timestamp_window_ms, compacted_partition, max_decompressed_bytes)
        header = _validate_batch(
            records, pos, size, max_batch_bytes, from_client, log_append_time, limits
        )
        headers.append(header)
    return headers


def _check_produce_shape(
    buf: Buffer, spans: list[tuple[int, int]], produce_version: int | None
) -> None:
    """``ProduceRequest.validateRecords`` (Produce v3+)."""
    if not spans:
        raise _invalid("produce requests must have at least one record batch per partition")
    pos = spans[0][0]
    if buf[pos + MAGIC] != CURRENT_MAGIC:
        raise _invalid("produce requests are only allowed to contain record batches with magic 2")
    if produce_version is not None and produce_version < 7 and len(buf) >= pos + ATTRIBUTES + 2:
        (attributes,) = _INT16.unpack_from(buf, pos + ATTRIBUTES)
        if attributes & 0x07 == codecs.ZSTD:
            raise InvalidRecordError(
                ErrorCode.unsupported_compression_type,
                f"produce requests with version {produce_version} may not use zstd",
            )
    if len(spans) > 1:
        raise _invalid("produce requests may contain exactly one record batch per partition")


@dataclass(frozen=True, slots=True)
class _Limits:
    """What a batch is checked against: timestamp window, compaction, decompressed size."""

    window: tuple[int, int] | None
    compacted_partition: str | None
    max_decompressed_bytes: int | None


def _validate_batch(
    buf: Buffer,
    pos: int,
    size: int,
    max_batch_bytes: int,
    from_client: bool,
    log_append_time: bool,
    limits: _Limits,
) -> BatchHeader:
    timestamp_window_ms = limits.window
    if buf[pos + MAGIC] != CURRENT_MAGIC:
        raise InvalidRecordError(
            ErrorCode.unsupported_for_message_format,
            f"magic {buf[pos + MAGIC]} batches are not supported, only magic 2",
        )
    if from_client and _INT64.unpack_from(buf, pos + BASE_OFFSET)[0] != 0:
        raise _invalid("the baseOffset of a record batch from a client must be 0")
    if size > max_batch_bytes:
        raise InvalidRecordError(
            ErrorCode.message_too_large,
            f"the record batch size is {size} bytes, over max.message.bytes {max_batch_bytes}",
        )
    if size < HEADER_SIZE:
        raise _corrupt(f"record batch of {size} bytes is smaller than its 61-byte header")
    header = read_header(buf, pos)
    computed = crc32c(memoryview(buf)[pos + ATTRIBUTES : pos + size])
    if computed != header.crc:
        raise _corrupt(f"record is corrupt (stored crc = {header.crc}, computed {computed})")
    if from_client:
        _check_client_batch(header)
    _check_timestamp_type(header, log_append_time, timestamp_window_ms)
    codec = header.compression
    body: Buffer = buf
    start, end = pos + HEADER_SIZE, pos + size
    if codec != codecs.NONE:
        body = _decompress(codec, memoryview(buf)[start:end])
        start, end = 0, len(body)
        if limits.max_decompressed_bytes is not None and end > limits.max_decompressed_bytes:
            raise InvalidRecordError(
                ErrorCode.invalid_record,
                f"decompressed batch of {end} bytes exceeds max.decompressed.message.bytes",
                client_message=None,  # as Kafka 4.4 answers
            )
    try:
        _walk_records(body, start, end, header, timestamp_window_ms)
        if limits.compacted_partition is None:
            return header
    except _RecordCheckFailed:
        pass
    _raise_record_errors(body, start, end, header, limits)
    return header


def _check_client_batch(header: BatchHeader) -> None:
    """``LogValidator.validateBatch`` for ``AppendOrigin.CLIENT``."""
    count_from_offsets = header.last_offset_delta + 1
    if count_from_offsets <= 0:
        raise _invalid(f"invalid offset range, lastOffsetDelta {header.last_offset_delta}")
    if header.records_count <= 0:
        raise _invalid(f"invalid reported count for record batch: {header.records_count}")
    if count_from_offsets != header.records_count:
        raise _invalid(
            f"inconsistent batch offset range (lastOffsetDelta {header.last_offset_delta}) "
            f"and count of records {header.records_count}"
        )
    if header.is_control:
        raise _invalid("clients are not allowed to write control records")
    if header.producer_id != NO_PRODUCER_ID and header.base_sequence < 0:
        raise _invalid(f"invalid sequence number {header.base_sequence} with a producer id")


def _check_timestamp_type(
    header: BatchHeader, log_append_time: bool, window: tuple[int, int] | None
) -> None:
    """``LogValidator.validateTimestamp`` at batch level: a producer must not claim LogAppendTime.

    For a LogAppendTime batch every record's timestamp reads as maxTimestamp, so on a CreateTime
    topic Kafka accepts it only when that value is set and inside the window.
    """
    if not header.is_log_append_time or header.records_count <= 0:
        return
    if log_append_time or header.max_timestamp == NO_TIMESTAMP:
        raise InvalidRecordError(
            ErrorCode.invalid_timestamp, "producer should not set timestamp type to LogAppendTime"
        )
    if window is not None and not window[0] <= header.max_timestamp <= window[1]:
        raise InvalidRecordError(
            ErrorCode.invalid_timestamp, f"timestamp {header.max_timestamp} is out of range"
        )


def _decompress(codec: int, payload: Buffer) -> bytes:
    try:
        return codecs.decompress(codec, payload)
    except codecs.UnsupportedCodec as e:
        raise InvalidRecordError(ErrorCode.unsupported_compression_type, str(e)) from e
    except codecs.CompressionError as e:
        raise _corrupt(f"failed to decompress record stream: {e}") from e


def _walk_records(
    buf: Buffer, pos: int, end: int, header: BatchHeader, window: tuple[int, int] | None
) -> int:
    """Count the records between ``pos`` and ``end`` by their length varints alone.

    Kafka's ``RecordIterator`` reads exactly recordsCount records and then requires the batch
    to be used up; a shortfall or a surplus is INVALID_RECORD. With a timestamp window (and a
    CreateTime batch) each record's timestampDelta is read too.
    """
    count = header.records_count
    check_time = window is not None and not header.is_log_append_time
    low, high = window if window is not None else (0, 0)
    base_timestamp = header.base_timestamp
    n = 0
    try:
        while pos < end:
            # The length varint, with the one- and two-byte forms (records under 8 KiB) inline.
            b = buf[pos]
            if b < 0x80:
                z, pos = b, pos + 1
            elif buf[pos + 1] < 0x80:
                z, pos = (b & 0x7F) | (buf[pos + 1] << 7), pos + 2
            else:
                z, pos = decode_uvarint(buf, pos)
            length = (z >> 1) ^ -(z & 1)
            if length < _MIN_RECORD_BODY:
                raise _invalid(f"invalid record size {length}")
            if check_time:
                b = buf[pos + 1]  # timestampDelta follows the attributes byte
                if b < 0x80:
                    delta = (b >> 1) ^ -(b & 1)
                elif buf[pos + 2] < 0x80:
                    z = (b & 0x7F) | (buf[pos + 2] << 7)
                    delta = (z >> 1) ^ -(z & 1)
                else:
                    delta = decode_varint(buf, pos + 1)[0]
                if not low <= base_timestamp + delta <= high:
                    raise _RecordCheckFailed
            pos += length
            n += 1
            if pos > end:
                raise _invalid("incorrect declared batch size, premature EOF reached")
            if n > count:
                raise _invalid("incorrect declared batch size, records still remaining in file")
    except (ValueError, IndexError) as e:
        raise _invalid(f"found invalid record structure: {e}") from e
    if n != count:
        raise _invalid(f"incorrect declared batch size: {count} declared, {n} present")
    return n


def _raise_record_errors(
    buf: Buffer, pos: int, end: int, header: BatchHeader, limits: _Limits
) -> None:
    """``LogValidator.validateRecord`` for each record (the key on a compacted topic, then the
    timestamp), then ``processRecordErrors``: every refused record, or nothing, is rejected."""
    window = limits.window if not header.is_log_append_time else None
    errors: list[tuple[int, str]] = []
    timestamp_error = False
    for index in range(header.records_count):
        length, body = decode_varint(buf, pos)
        delta, at = decode_varint(buf, body + 1)
        offset_delta, at = decode_varint(buf, at)
        key_length, _ = decode_varint(buf, at)
        pos = body + length
        timestamp = header.base_timestamp + delta
        if limits.compacted_partition is not None and key_length < 0:
            message = "Compacted topic cannot accept message without key in topic partition "
            errors.append((index, message + limits.compacted_partition))
        elif window is not None and not window[0] <= timestamp <= window[1]:
            timestamp_error = True
            errors.append(
                (
                    index,
                    f"Timestamp {timestamp} of message with offset "
                    f"{header.base_offset + offset_delta} is out of range. The timestamp should "
                    f"be within [{_java_long(window[0])}, {_java_long(window[1])}]",
                )
            )
    if not errors:
        return
    if timestamp_error:
        message = "One or more records have been rejected due to invalid timestamp"
        raise InvalidRecordError(ErrorCode.invalid_timestamp, message, tuple(errors), message)
    shown = ", ".join(f"RecordError(batchIndex={i}, message='{m}')" for i, m in errors[:3])
    message = (
        f"One or more records have been rejected due to {len(errors)} record errors in total, "
        f"and only showing the first three errors at most: [{shown}]"
    )
    raise InvalidRecordError(ErrorCode.invalid_record, message, tuple(errors), message)


def _java_long(value: int) -> int:
    """``value`` as Java's wrapping ``long`` arithmetic gives it."""
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)


# --- recompression (compression.type other than producer) ----------------------------------


def recompress(batch: Buffer, header: BatchHeader, codec: int, level: int | None) -> bytes:
    """The batch rebuilt with ``codec`` (Kafka's ``LogValidator`` when the topic's
    ``compression.type`` differs from the producer's): same records, timestamps, producer id,
    epoch, sequence and transactional flag, as ``MemoryRecordsBuilder`` writes them."""
    records = [NewRecord(r.key, r.value, r.headers, r.timestamp) for r in iter_records(batch)]
    return build_batch(
        records,
        compression=codec,
        level=level,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        is_transactional=header.is_transactional,
        partition_leader_epoch=header.partition_leader_epoch,
        log_append_time=header.is_log_append_time,
        max_timestamp=header.max_timestamp if header.is_log_append_time else None,
    )


# --- batches the log cleaner writes ----------------------------------------------------------

DELETE_HORIZON_MASK = 0x40  # attribute bit 6: baseTimestamp holds the delete horizon (KIP-534)


def delete_horizon_ms(header: BatchHeader) -> int | None:
    """The time after which the batch's tombstones may go, if the cleaner has set it."""
    return header.base_timestamp if header.attributes & DELETE_HORIZON_MASK else None


def build_retained_batch(
    header: BatchHeader, retained: Sequence[Record], horizon_ms: int | None
) -> bytes:
    """The records of a batch that survived cleaning, as Kafka's ``MemoryRecords.filterTo``
    rebuilds them: the same base offset and last offset (the producer's last sequence stays),
    codec, flags, producer fields and leader epoch; each record keeps its offset; with a delete
    horizon, baseTimestamp holds it and record timestamps are deltas from it."""
    base_timestamp = horizon_ms if horizon_ms is not None else retained[0].timestamp
    if header.is_log_append_time:
        max_timestamp = header.max_timestamp
    else:
        max_timestamp = max(r.timestamp for r in retained)
    body = b"".join(
        _encode_record(
            NewRecord(r.key, r.value, r.headers, r.timestamp),
            r.offset - header.base_offset,
            base_timestamp,
        )
        for r in retained
    )
    if header.compression != codecs.NONE:
        body = codecs.compress(header.compression, body)
    attributes = header.attributes & ~DELETE_HORIZON_MASK
    if horizon_ms is not None:
        attributes |= DELETE_HORIZON_MASK
    return _batch_bytes(header, attributes, base_timestamp, max_timestamp, len(retained), body)


def build_empty_batch(header: BatchHeader) -> bytes:
    """A header without records keeping the batch's offsets and producer fields
    (``DefaultRecordBatch.writeEmptyHeader``): what the cleaner leaves of a producer's last
    batch, so that its sequence survives."""
    attributes = header.attributes & (TIMESTAMP_TYPE_MASK | TRANSACTIONAL_MASK | CONTROL_MASK)
    timestamp = header.max_timestamp
    return _batch_bytes(header, attributes, timestamp, timestamp, 0, b"")


def _batch_bytes(
    header: BatchHeader,
    attributes: int,
    base_timestamp: int,
    max_timestamp: int,
    count: int,
    body: bytes,
) -> bytes:
    out = bytearray(HEADER_SIZE + len(body))
    _HEADER_STRUCT.pack_into(
        out,
        0,
        header.base_offset,
        len(out) - LOG_OVERHEAD,
        header.partition_leader_epoch,
        CURRENT_MAGIC,
        0,
        attributes,
        header.last_offset_delta,
        base_timestamp,
        max_timestamp,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        count,
    )
    out[HEADER_SIZE:] = body
    _UINT32.pack_into(out, CRC, crc32c(memoryview(out)[ATTRIBUTES:]))
    return bytes(out)


# --- offset assignment (leader) -------------------------------------------------------------


def assign_offsets(
    records: bytes | bytearray,
    headers: list[BatchHeader],
    base_offset: int,
    leader_epoch: int,
    log_append_time_ms: int | None,
) -> bytearray:
    """The validated batches with Kafka's leader-side header rewrites, ready to append.

    Each batch gets baseOffset (contiguous from ``base_offset``) and partitionLeaderEpoch; both
    lie outside the CRC, so the CRC stays valid. With ``log_append_time_ms`` (the topic uses
    LogAppendTime) the timestamp-type bit and maxTimestamp are set and that batch's CRC is
    recomputed, as ``DefaultRecordBatch.setMaxTimestamp`` does. A ``bytearray`` argument is
    rewritten in place; bytes past the last validated batch are dropped.
    """
    total = sum(h.size for h in headers)
    if isinstance(records, bytearray):
        buf = records
        del buf[total:]
    else:
        buf = bytearray(memoryview(records)[:total])
    pos = 0
    offset = base_offset
    for header in headers:
        _INT64.pack_into(buf, pos + BASE_OFFSET, offset)
        _INT32.pack_into(buf, pos + PARTITION_LEADER_EPOCH, leader_epoch)
        if log_append_time_ms is not None:
            _set_log_append_time(buf, pos, header, log_append_time_ms)
        offset += header.last_offset_delta + 1
        pos += header.size
    return buf


def _set_log_append_time(buf: bytearray, pos: int, header: BatchHeader, now_ms: int) -> None:
    if header.is_log_append_time and header.max_timestamp == now_ms:
        return
    _INT16.pack_into(buf, pos + ATTRIBUTES, header.attributes | TIMESTAMP_TYPE_MASK)
    _INT64.pack_into(buf, pos + MAX_TIMESTAMP, now_ms)
    _UINT32.pack_into(buf, pos + CRC, crc32c(memoryview(buf)[pos + ATTRIBUTES : pos + header.size]))


# --- reading records (consumers of the log, not the hot paths) -------------------------------


def iter_records(batch: Buffer) -> Iterator[Record]:
    """The records of the one batch at the start of ``batch``, decompressed as needed.

    Raises ``InvalidRecordError`` (INVALID_RECORD / CORRUPT_MESSAGE) on a malformed batch; the
    CRC is not checked here (``validate_batches`` does that).
    """
    if len(batch) < HEADER_SIZE:
        raise _corrupt(f"record batch of {len(batch)} bytes is smaller than its header")
    header = read_header(batch, 0)
    if header.magic != CURRENT_MAGIC:
        raise InvalidRecordError(
            ErrorCode.unsupported_for_message_format, f"magic {header.magic} is not supported"
        )
    if header.size > len(batch) or header.size < HEADER_SIZE:
        raise _corrupt(f"batch length {header.batch_length} does not fit {len(batch)} bytes")
    payload: Buffer = memoryview(batch)[HEADER_SIZE : header.size]
    if header.compression != codecs.NONE:
        payload = _decompress(header.compression, payload)
    else:
        payload = bytes(payload)
    return _read_records(payload, header)


def _read_records(buf: bytes, header: BatchHeader) -> Iterator[Record]:
    log_append_time = header.max_timestamp if header.is_log_append_time else None
    pos = 0
    end = len(buf)
    for _ in range(header.records_count):
        if pos >= end:
            raise _invalid("incorrect declared batch size, premature EOF reached")
        try:
            record, pos = _read_record(buf, pos, header, log_append_time)
        except (ValueError, IndexError, UnicodeDecodeError) as e:
            raise _invalid(f"found invalid record structure: {e}") from e
        yield record
    if pos != end:
        raise _invalid("incorrect declared batch size, records still remaining in file")


def _read_record(
    buf: bytes, pos: int, header: BatchHeader, log_append_time: int | None
) -> tuple[Record, int]:
    """``DefaultRecord.readFrom``."""
    length, pos = decode_varint(buf, pos)
    record_end = pos + length
    if length < _MIN_RECORD_BODY or record_end > len(buf):
        raise _invalid(f"invalid record size {length}")
    pos += 1  # attributes: unused in v2
    timestamp_delta, pos = decode_varint(buf, pos)
    offset_delta, pos = decode_varint(buf, pos)
    key, pos = _read_bytes(buf, pos, record_end)
    value, pos = _read_bytes(buf, pos, record_end)
    count, pos = decode_varint(buf, pos)
    if count < 0 or count > record_end - pos:
        raise _invalid(f"found invalid number of record headers {count}")
    headers = []
    for _ in range(count):
        name, pos = _read_bytes(buf, pos, record_end)
        if name is None:
            raise _invalid("invalid negative header key size")
        header_value, pos = _read_bytes(buf, pos, record_end)
        headers.append((name.decode("utf-8"), header_value))
    if pos != record_end:
        raise _invalid(f"invalid record size: {record_end - pos} bytes left unread")
    timestamp = header.base_timestamp + timestamp_delta
    if log_append_time is not None:
        timestamp = log_append_time
    return Record(header.base_offset + offset_delta, timestamp, key, value, tuple(headers)), pos


def _read_bytes(buf: bytes, pos: int, limit: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buf, pos)
    if size < 0:
        return None, pos
    if pos + size > limit:
        raise ValueError(f"field of {size} bytes overruns its record")
    return buf[pos : pos + size], pos + size


def iter_batches(buf: Buffer) -> Iterator[tuple[BatchHeader, memoryview]]:
    """Each whole batch in ``buf`` with its header, as a zero-copy view; no CRC check."""
    view = memoryview(buf)
    for pos, size in split_batches(buf):
        if size < HEADER_SIZE:
            raise _corrupt(f"record batch of {size} bytes is smaller than its header")
        yield read_header(buf, pos), view[pos : pos + size]


def iter_batch_records(buf: Buffer) -> Iterator[tuple[BatchHeader, list[Record]]]:
    """Each batch in ``buf`` with its records (ListOffsets by time, log loaders, tests)."""
    for header, view in iter_batches(buf):
        if header.magic != CURRENT_MAGIC:
            raise InvalidRecordError(
                ErrorCode.unsupported_for_message_format, f"magic {header.magic} is not supported"
            )
        yield header, list(iter_records(view))


# --- building batches -----------------------------------------------------------------------


def build_batch(
    records: Sequence[RecordInput],
    *,
    base_offset: int = 0,
    compression: int = 0,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    is_transactional: bool = False,
    is_control: bool = False,
    partition_leader_epoch: int = 0,
    log_append_time: bool = False,
    level: int | None = None,
    max_timestamp: int | None = None,
) -> bytes:
    """A v2 batch holding ``records`` at offsets ``base_offset``, ``base_offset + 1`` ...

    baseTimestamp is the first record's timestamp and maxTimestamp the largest, as Kafka's
    ``MemoryRecordsBuilder`` writes them; the records section is compressed with ``compression``.
    """
    items = [
        r if isinstance(r, NewRecord) else NewRecord(r[0], r[1], tuple(r[2]), r[3]) for r in records
    ]
    if not items:
        raise ValueError("a record batch needs at least one record")
    base_timestamp = items[0].timestamp
    if max_timestamp is None:
        max_timestamp = max(r.timestamp for r in items)
    body = b"".join(_encode_record(r, i, base_timestamp) for i, r in enumerate(items))
    if compression != 0:
        body = codecs.compress(compression, body, level)
    attributes = (
        compression
        | (TIMESTAMP_TYPE_MASK if log_append_time else 0)
        | (TRANSACTIONAL_MASK if is_transactional else 0)
        | (CONTROL_MASK if is_control else 0)
    )
    out = bytearray(HEADER_SIZE + len(body))
    _HEADER_STRUCT.pack_into(
        out,
        0,
        base_offset,
        len(out) - LOG_OVERHEAD,
        partition_leader_epoch,
        CURRENT_MAGIC,
        0,
        attributes,
        len(items) - 1,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        len(items),
    )
    out[HEADER_SIZE:] = body
    _UINT32.pack_into(out, CRC, crc32c(memoryview(out)[ATTRIBUTES:]))
    return bytes(out)


def _encode_record(record: NewRecord, offset_delta: int, base_timestamp: int) -> bytes:
    parts = [
        b"\x00",
        encode_varint(record.timestamp - base_timestamp),
        encode_varint(offset_delta),
        _encode_bytes(record.key),
        _encode_bytes(record.value),
        encode_varint(len(record.headers)),
    ]
    for name, value in record.headers:
        parts.append(_encode_bytes(name.encode("utf-8")))
        parts.append(_encode_bytes(value))
    body = b"".join(parts)
    return encode_varint(len(body)) + body


def _encode_bytes(data: bytes | None) -> bytes:
    if data is None:
        return b"\x01"  # varint -1
    return encode_varint(len(data)) + data


__all__ = [
    "InvalidRecordError",
    "NewRecord",
    "Record",
    "assign_offsets",
    "build_batch",
    "iter_batch_records",
    "iter_batches",
    "iter_records",
    "split_batches",
    "validate_batches",
]
