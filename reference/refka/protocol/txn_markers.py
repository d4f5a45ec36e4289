"""Transaction markers: the control batches that end a transaction in a partition (KIP-98).

A marker is a control batch (attributes: transactional and control) with the producer's id and
epoch and one record: key ``version: int16 = 0, type: int16`` (``ControlRecordTypeSchema``:
ABORT 0, COMMIT 1), value ``version: int16 = 0, coordinatorEpoch: int32`` (``EndTxnMarker``).
Both bodies are kio's generated entities; the version prefixes are Kafka's.
"""

from __future__ import annotations

import io
import struct

from kio.schema.control_record_type_schema.v0.data import ControlRecordTypeSchema
from kio.schema.end_txn_marker.v0.data import EndTxnMarker
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i16, i32

from refka.protocol.batch_header import BatchHeader
from refka.protocol.records import NewRecord, build_batch, iter_records

ABORT = 0
COMMIT = 1
_VERSION = struct.Struct(">h")


def _framed(entity: ControlRecordTypeSchema | EndTxnMarker) -> bytes:
    buffer = io.BytesIO()
    buffer.write(_VERSION.pack(0))
    entity_writer(type(entity))(buffer, entity)  # type: ignore[arg-type]
    return buffer.getvalue()


def marker_batch(
    producer_id: int, producer_epoch: int, coordinator_epoch: int, control_type: int, now_ms: int
) -> bytes:
    """The control batch for one COMMIT or ABORT marker (offsets assigned on append)."""
    key = _framed(ControlRecordTypeSchema(type_=i16(control_type)))
    value = _framed(EndTxnMarker(coordinator_epoch=i32(coordinator_epoch)))
    return build_batch(
        [NewRecord(key, value, (), now_ms)],
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        is_transactional=True,
        is_control=True,
    )


def read_marker(header: BatchHeader, batch: bytes | memoryview) -> tuple[int, int] | None:
    """(ABORT or COMMIT, coordinator epoch) of a marker batch; None for any other batch (or a
    malformed record)."""
    if not header.is_control or not header.is_transactional:
        return None
    for record in iter_records(batch):
        key, value = record.key, record.value
        if key is None or len(key) < 4 or value is None or len(value) < 6:
            return None
        kind, _ = entity_reader(ControlRecordTypeSchema)(bytes(key), 2)
        marker, _ = entity_reader(EndTxnMarker)(bytes(value), 2)
        return int(kind.type_), int(marker.coordinator_epoch)
    return None
