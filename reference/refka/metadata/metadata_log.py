"""The controller's durable metadata log, ``__cluster_metadata-0``, and its snapshots.

KIP-500/KIP-595 shape, single voter: the log is a ``PartitionLog`` of topic
``__cluster_metadata`` partition 0 (as Kafka's ``KafkaMetadataLog``: no time or size retention;
the prefix goes only once a snapshot covers it). Each ``append`` is one v2 record batch, keys
null, values framed metadata records (``records.encode_record``), stamped with the leader epoch,
and is flushed before it returns: with one voter the high watermark is the log end offset once
the flush is done, so every record ``read`` returns is committed (persist before acting).

Snapshots (KIP-630) are files ``<end offset:020d>-<epoch:010d>.checkpoint`` in the log dir, the
end offset exclusive (the image's last offset + 1), written atomically (``.tmp``, fsync,
rename): a control batch with a SnapshotHeaderRecord, the image's ``to_records()`` in data
batches, and a control batch with a SnapshotFooterRecord; batch offsets start at 0 and carry
the snapshot's epoch. ``load()`` is the latest whole snapshot plus a replay of the log after it.
(Kafka's header batch may also hold KRaftVersionRecord/VotersRecord, KIP-853; refka's single
static voter writes none.)
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from typing import Any

from kio.serial import entity_writer
from kio.static.primitive import i16, i64

from refka.core.effects import FileSlice
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.storage import Storage, write_atomically
from refka.metadata.image import MetadataImage
from refka.metadata.records import MetadataRecord, MetadataRecordError, decode_record, encode_record
from refka.protocol.batch_header import iter_headers
from refka.protocol.records import InvalidRecordError, NewRecord, build_batch, iter_batch_records

METADATA_TOPIC = "__cluster_metadata"
METADATA_PARTITION = 0
METADATA_DIR = f"{METADATA_TOPIC}-{METADATA_PARTITION}"
SNAPSHOT_SUFFIX = ".checkpoint"
SNAPSHOT_HEADER, SNAPSHOT_FOOTER = 3, 4  # ControlRecordType
_SNAPSHOT_NAME = re.compile(r"^(\d{20})-(\d{10})\.checkpoint$")
_SNAPSHOT_BATCH_RECORDS = 1000
_READ_CHUNK_BYTES = 1 << 20

# As KafkaMetadataLog: retention by snapshots only; the flush happens on every append.
METADATA_LOG_CONFIG = LogConfig(retention_ms=-1, retention_bytes=-1)


class CorruptSnapshotError(ValueError):
    """A snapshot file without its header or footer, or with records that do not decode."""


def snapshot_name(end_offset: int, epoch: int) -> str:
    return f"{end_offset:020d}-{epoch:010d}{SNAPSHOT_SUFFIX}"


def decode_batches(data: bytes | bytearray | memoryview) -> list[tuple[int, MetadataRecord]]:
    """(offset, record) of every metadata record in whole v2 batches (a Fetch answer's records;
    a torn last batch is left out); control batches (snapshot header/footer, leader change)
    are skipped. Raises ``MetadataRecordError`` on a value that is not a framed record."""
    out: list[tuple[int, MetadataRecord]] = []
    try:
        for header, records in iter_batch_records(data):
            if header.is_control:
                continue
            for record in records:
                if record.value is None:
                    raise MetadataRecordError(f"metadata record at {record.offset} has no value")
                out.append((record.offset, decode_record(record.value)))
    except InvalidRecordError as e:
        raise MetadataRecordError(str(e)) from e
    return out


def _control_batch(kind: int, value: bytes, epoch: int, offset: int, now_ms: int) -> bytes:
    key = i16(0).to_bytes(2, "big") + kind.to_bytes(2, "big")  # ControlRecordType key v0
    record = NewRecord(key, value, (), now_ms)
    return build_batch([record], base_offset=offset, is_control=True, partition_leader_epoch=epoch)


def _body(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


class MetadataLog:
    """``__cluster_metadata-0`` in one log dir of ``storage``, and its snapshots."""

    def __init__(
        self,
        storage: Storage,
        now_ms: int,
        cluster_id: str = "",
        dir_name: str = METADATA_DIR,
        config: LogConfig = METADATA_LOG_CONFIG,
    ) -> None:
        self.storage = storage
        self.cluster_id = cluster_id
        self.dir_name = dir_name
        # recovery from offset 0: every segment is checked on open (a torn tail is cut off)
        self.log = PartitionLog.open(
            storage, dir_name, METADATA_TOPIC, METADATA_PARTITION, config, now_ms
        )

    # -- the log -------------------------------------------------------------------------------

    @property
    def end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def high_watermark(self) -> int:
        """Single voter: every appended batch is flushed, hence committed."""
        return self.log.log_end_offset

    @property
    def start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def latest_epoch(self) -> int:
        """The epoch of the last batch appended (-1 for an empty log)."""
        epoch = self.log.leader_epoch_cache.latest_epoch
        return -1 if epoch is None else epoch

    def append(self, records: Sequence[MetadataRecord], epoch: int, now_ms: int) -> int:
        """Append ``records`` as one batch of ``epoch`` and flush; returns the last offset."""
        if not records:
            raise ValueError("a metadata batch needs at least one record")
        if epoch < self.latest_epoch:
            raise ValueError(f"epoch {epoch} is older than the log's epoch {self.latest_epoch}")
        values = [NewRecord(None, encode_record(r), (), now_ms) for r in records]
        batch = build_batch(values, base_offset=self.end_offset, partition_leader_epoch=epoch)
        self.log.append(batch, now_ms)
        self.log.flush(now_ms)
        return self.end_offset - 1

    def read(self, from_offset: int, max_bytes: int) -> tuple[list[FileSlice], int]:
        """Whole batches from the one holding ``from_offset`` (at least one, even if larger than
        ``max_bytes``), and the high watermark: a Fetch answer. Raises ``OffsetOutOfRange``."""
        hw = self.high_watermark
        return self.log.read(from_offset, max_bytes, hw, min_one_batch=True), hw

    def read_committed(
        self, from_offset: int, max_bytes: int = _READ_CHUNK_BYTES
    ) -> tuple[list[FileSlice], int]:
        return self.read(from_offset, max_bytes)

    def read_bytes(self, slices: list[FileSlice]) -> bytes:
        return self.log.read_bytes(slices)

    def records_from(self, offset: int) -> Iterator[tuple[int, MetadataRecord]]:
        """(offset, record) of every record at or after ``offset``, up to the end."""
        position = offset
        while position < self.end_offset:
            slices, _ = self.read(position, _READ_CHUNK_BYTES)
            if not slices:
                return
            data = self.read_bytes(slices)
            for record_offset, record in decode_batches(data):
                if record_offset >= offset:
                    yield record_offset, record
            position = list(iter_headers(data))[-1].next_offset

    # -- snapshots (KIP-630) -------------------------------------------------------------------

    def snapshots(self) -> list[tuple[int, int]]:
        """(end offset, epoch) of every snapshot file, oldest first."""
        found = (_SNAPSHOT_NAME.match(n) for n in self.storage.list_dir(self.dir_name))
        return sorted((int(m[1]), int(m[2])) for m in found if m)

    def write_snapshot(self, image: MetadataImage, epoch: int, now_ms: int = 0) -> str:
        """Write ``image`` (through its offset) as a snapshot of ``epoch``; returns the file's
        path. ``now_ms`` is the header's last contained log timestamp (Kafka: the append time
        of the last record the snapshot holds)."""
        end_offset = image.offset + 1
        chunks = [_control_batch(SNAPSHOT_HEADER, _header(now_ms), epoch, 0, now_ms)]
        offset = 1
        records = image.to_records()
        for i in range(0, len(records), _SNAPSHOT_BATCH_RECORDS):
            values = [
                NewRecord(None, encode_record(r), (), now_ms)
                for r in records[i : i + _SNAPSHOT_BATCH_RECORDS]
            ]
            chunks.append(build_batch(values, base_offset=offset, partition_leader_epoch=epoch))
            offset += len(values)
        from kio.schema.snapshot_footer_record.v0.data import SnapshotFooterRecord

        footer = _body(SnapshotFooterRecord(version=i16(0)))
        chunks.append(_control_batch(SNAPSHOT_FOOTER, footer, epoch, offset, now_ms))
        path = f"{self.dir_name}/{snapshot_name(end_offset, epoch)}"
        write_atomically(self.storage, path, b"".join(chunks))
        self.storage.fsync(self.dir_name)
        return path

    snapshot = write_snapshot

    def read_snapshot(self, end_offset: int, epoch: int) -> MetadataImage:
        """The image a snapshot holds; ``CorruptSnapshotError`` unless header and footer frame
        records that decode and apply."""
        path = f"{self.dir_name}/{snapshot_name(end_offset, epoch)}"
        data = self.storage.read(path, 0, self.storage.size(path))
        try:
            batches = list(iter_batch_records(data))
            kinds = [_control_kind(h.is_control, rs) for h, rs in batches]
            if len(kinds) < 2 or kinds[0] != SNAPSHOT_HEADER or kinds[-1] != SNAPSHOT_FOOTER:
                raise CorruptSnapshotError(f"{path}: no header and footer")
            records = [decode_record(r.value or b"") for _, rs in batches[1:-1] for r in rs]
            image, _ = MetadataImage.empty(self.cluster_id).apply(end_offset - 1, records)
        except (InvalidRecordError, ValueError) as e:
            raise CorruptSnapshotError(f"{path}: {e}") from e
        return image

    def load(self) -> MetadataImage:
        """The latest whole snapshot (falling back to older ones) plus the log after it."""
        image = MetadataImage.empty(self.cluster_id)
        for end_offset, epoch in reversed(self.snapshots()):
            try:
                image = self.read_snapshot(end_offset, epoch)
                break
            except CorruptSnapshotError:
                continue
        start = image.offset + 1
        if start < self.start_offset:
            raise CorruptSnapshotError(
                f"no snapshot reaches the log start offset {self.start_offset} (image at {start})"
            )
        pending: list[MetadataRecord] = []
        last = image.offset
        for offset, record in self.records_from(start):
            pending.append(record)
            last = offset
        if pending:
            image, _ = image.apply(last, pending)
        return image

    def truncate_before_snapshot(self, now_ms: int) -> int:
        """Drop the log prefix the latest snapshot covers (whole segments below its end
        offset go); returns the new log start offset."""
        snapshots = self.snapshots()
        if snapshots:
            end_offset = min(snapshots[-1][0], self.end_offset)
            self.log.increment_log_start_offset(end_offset)
            self.log.delete_expired_segments(now_ms)
        return self.start_offset

    def close(self) -> None:
        self.log.close()


def _header(now_ms: int) -> bytes:
    from kio.schema.snapshot_header_record.v0.data import SnapshotHeaderRecord  # not at start

    return _body(SnapshotHeaderRecord(version=i16(0), last_contained_log_timestamp=i64(now_ms)))


def _control_kind(is_control: bool, records: list[Any]) -> int | None:
    if not is_control or len(records) != 1 or records[0].key is None:
        return None
    return int.from_bytes(records[0].key[2:4], "big")
