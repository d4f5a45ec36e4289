"""The metadata log ``__cluster_metadata-0`` (KIP-500) and its snapshots (KIP-630): append,
read, reopen after a crash, torn tails, and snapshot + tail replay equal to a full replay."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metadata_strategies import valid_records
from refka.log.config import LogConfig
from refka.log.partition_log import OffsetOutOfRange
from refka.log.storage import FileStorage, MemoryStorage
from refka.metadata.image import MetadataImage
from refka.metadata.metadata_log import (
    METADATA_DIR,
    CorruptSnapshotError,
    MetadataLog,
    decode_batches,
    snapshot_name,
)
from refka.metadata.read_records import NoOpRecord
from refka.metadata.records import (
    FeatureLevelRecord,
    MetadataRecord,
    MetadataRecordError,
    encode_record,
)
from refka.metadata.topic_records import PartitionRecord, TopicRecord
from refka.protocol.batch_header import iter_headers
from refka.protocol.records import NewRecord, build_batch, iter_batch_records

T = uuid.UUID(int=1)
MV = FeatureLevelRecord(name="metadata.version", feature_level=27)
TOPIC: list[MetadataRecord] = [
    TopicRecord(name="foo", topic_id=T),
    PartitionRecord(partition_id=0, topic_id=T, replicas=(1,), isr=(1,), leader=1),
]


@pytest.fixture(params=["memory", "file"])
def storage(request: pytest.FixtureRequest, tmp_path: object) -> FileStorage | MemoryStorage:
    return FileStorage(str(tmp_path)) if request.param == "file" else MemoryStorage()


def test_append_returns_last_offsets_and_reads_back(storage: FileStorage | MemoryStorage) -> None:
    log = MetadataLog(storage, now_ms=0)
    assert (log.end_offset, log.high_watermark, log.latest_epoch) == (0, 0, -1)
    assert log.append([MV], epoch=1, now_ms=10) == 0
    assert log.append(TOPIC, epoch=1, now_ms=20) == 2
    assert (log.end_offset, log.high_watermark, log.latest_epoch) == (3, 3, 1)
    slices, hw = log.read(0, 1 << 20)
    data = log.read_bytes(slices)
    assert hw == 3
    assert decode_batches(data) == [(0, MV), (1, TOPIC[0]), (2, TOPIC[1])]
    headers = list(iter_headers(data))
    assert [(h.base_offset, h.partition_leader_epoch, h.max_timestamp) for h in headers] == [
        (0, 1, 10),
        (1, 1, 20),
    ]
    batches = list(iter_batch_records(data))
    assert all(r.key is None for _, records in batches for r in records)
    assert list(log.records_from(2)) == [(2, TOPIC[1])]
    assert storage.exists(f"{METADATA_DIR}/00000000000000000000.log")


def test_read_past_the_end_and_bad_appends(storage: FileStorage | MemoryStorage) -> None:
    log = MetadataLog(storage, now_ms=0)
    log.append([MV], epoch=2, now_ms=0)
    assert log.read(1, 100) == ([], 1)
    with pytest.raises(OffsetOutOfRange):
        log.read(2, 100)
    with pytest.raises(ValueError):
        log.append([], epoch=2, now_ms=0)
    with pytest.raises(ValueError):
        log.append([MV], epoch=1, now_ms=0)  # epochs never go back


def test_an_append_survives_a_crash_at_once() -> None:
    """Persist before acting: once ``append`` returns, a crash loses nothing."""
    storage = MemoryStorage()
    log = MetadataLog(storage, now_ms=0)
    log.append([MV, *TOPIC], epoch=1, now_ms=0)
    assert storage.unflushed_bytes() == 0
    storage.crash()
    reopened = MetadataLog(storage, now_ms=0)
    assert reopened.end_offset == 3 and reopened.latest_epoch == 1
    assert [r for _, r in reopened.records_from(0)] == [MV, *TOPIC]


@pytest.mark.parametrize("torn_bytes", [0, 1, 30, 61, 80])
def test_a_torn_tail_is_cut_off_on_reopen(torn_bytes: int) -> None:
    storage = MemoryStorage()
    log = MetadataLog(storage, now_ms=0)
    log.append([MV], epoch=1, now_ms=0)
    values = [NewRecord(None, encode_record(r), (), 0) for r in TOPIC]
    batch = build_batch(values, base_offset=1, partition_leader_epoch=1)
    storage.append(f"{METADATA_DIR}/00000000000000000000.log", batch)  # never flushed
    storage.crash(torn_bytes=torn_bytes)
    reopened = MetadataLog(storage, now_ms=0)
    assert reopened.end_offset == 1
    assert list(reopened.records_from(0)) == [(0, MV)]
    assert reopened.append(TOPIC, epoch=1, now_ms=0) == 2


def test_decode_batches_skips_control_batches_and_a_torn_last_batch() -> None:
    values = [NewRecord(None, encode_record(NoOpRecord()), (), 0)]
    control = build_batch([NewRecord(b"\x00\x00\x00\x03", b"", (), 0)], is_control=True)
    data = control + build_batch(values, base_offset=1)
    assert decode_batches(data) == [(1, NoOpRecord())]
    assert decode_batches(data[:-3]) == []
    with pytest.raises(MetadataRecordError):
        decode_batches(build_batch([NewRecord(None, b"\x01\x63\x00", (), 0)]))


# -- snapshots -------------------------------------------------------------------------------


def _replay(log: MetadataLog) -> MetadataImage:
    image = MetadataImage.empty("c")
    records = list(log.records_from(log.start_offset))
    if records:
        image, _ = image.apply(records[-1][0], [r for _, r in records])
    return image


def test_snapshot_file_layout(storage: FileStorage | MemoryStorage) -> None:
    log = MetadataLog(storage, now_ms=0, cluster_id="c")
    log.append([MV, *TOPIC], epoch=3, now_ms=5)
    path = log.write_snapshot(log.load(), epoch=3, now_ms=5)
    assert path == f"{METADATA_DIR}/{snapshot_name(3, 3)}"
    assert path.endswith("00000000000000000003-0000000003.checkpoint")
    assert log.snapshots() == [(3, 3)]
    data = storage.read(path, 0, storage.size(path))
    batches = list(iter_batch_records(data))
    assert [h.is_control for h, _ in batches] == [True, False, True]
    assert [h.base_offset for h, _ in batches] == [0, 1, 4]
    assert {h.partition_leader_epoch for h, _ in batches} == {3}
    header, footer = batches[0][1][0], batches[-1][1][0]
    assert (header.key, footer.key) == (b"\x00\x00\x00\x03", b"\x00\x00\x00\x04")
    assert header.value == b"\x00\x00" + (5).to_bytes(8, "big") + b"\x00"  # version, ts, tags
    assert footer.value == b"\x00\x00\x00"
    assert not any(n.endswith(".tmp") for n in storage.list_dir(METADATA_DIR))


@settings(max_examples=30, deadline=None)
@given(valid_records(max_size=30), st.data())
def test_snapshot_plus_tail_equals_full_replay(
    records: list[MetadataRecord], data: st.DataObject
) -> None:
    storage = MemoryStorage()
    log = MetadataLog(storage, now_ms=0, cluster_id="c")
    cut = data.draw(st.integers(0, len(records)))
    for i in range(0, len(records), 3):
        log.append(records[i : i + 3], epoch=1, now_ms=0)
        if i + 3 >= cut > i:  # the batch holding the cut is in: snapshot here
            log.write_snapshot(_replay(log), epoch=1)
    assert bool(log.snapshots()) == (cut > 0)
    full = _replay(log)
    reopened = MetadataLog(storage, now_ms=0, cluster_id="c")
    assert reopened.load() == full
    reopened.truncate_before_snapshot(now_ms=0)
    assert reopened.load() == full


def test_truncation_before_a_snapshot_keeps_load_whole() -> None:
    storage = MemoryStorage()
    log = MetadataLog(storage, now_ms=0, cluster_id="c", config=LogConfig(segment_bytes=200))
    for _ in range(10):
        log.append([NoOpRecord(), MV], epoch=1, now_ms=0)
    log.append(TOPIC, epoch=2, now_ms=0)
    snapshot_image = log.load()
    log.write_snapshot(snapshot_image, epoch=2)
    log.append([NoOpRecord()], epoch=2, now_ms=0)
    before = log.load()
    start = log.truncate_before_snapshot(now_ms=0)
    assert 0 < start <= snapshot_image.offset + 1
    assert len(log.log.segments) < 10
    assert log.load() == before and before.offset == 22
    assert before.topics_by_name["foo"].topic_id == T


def test_a_torn_snapshot_is_ignored_and_an_older_one_used() -> None:
    storage = MemoryStorage()
    log = MetadataLog(storage, now_ms=0, cluster_id="c")
    log.append([MV], epoch=1, now_ms=0)
    log.write_snapshot(log.load(), epoch=1)
    log.append(TOPIC, epoch=1, now_ms=0)
    path = log.write_snapshot(log.load(), epoch=1)
    size = storage.size(path)
    storage.truncate(path, size - 5)  # the footer is gone
    with pytest.raises(CorruptSnapshotError):
        log.read_snapshot(3, 1)
    assert log.load() == _replay(log)
    # a leftover temporary snapshot is deleted when the log opens
    storage.open(f"{METADATA_DIR}/{snapshot_name(9, 1)}.tmp")
    MetadataLog(storage, now_ms=0)
    assert not storage.exists(f"{METADATA_DIR}/{snapshot_name(9, 1)}.tmp")
