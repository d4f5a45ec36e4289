"""ListOffsets: earliest, latest, by timestamp, max timestamp (KIP-734)."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import EARLIEST, LATEST, MAX_TIMESTAMP, list_offsets, produce
from conformance.records import Record, build_batch
from conformance.target import Target, require_api, unique_topic


def produce_stamped(target: Target, topic: str, *stamps: int, one_batch: bool = False) -> None:
    records = [Record(b"t%d" % s, timestamp_ms=s) for s in stamps]
    batches = [records] if one_batch else [[r] for r in records]
    for batch in batches:
        assert produce(target, topic, build_batch(batch)).error_code == ErrorCode.none


@pytest.mark.api("ListOffsets", behaviour="empty partition: earliest and latest are 0")
def test_empty(target: Target, topic: str) -> None:
    assert list_offsets(target, topic, EARLIEST).offset == 0
    assert list_offsets(target, topic, LATEST).offset == 0


@pytest.mark.api("ListOffsets", behaviour="latest is the log end offset at each version")
@pytest.mark.parametrize("version", range(1, 12))
def test_latest_at_version(target: Target, topic: str, version: int) -> None:
    require_api(target, "ListOffsets", version, version)
    produce_stamped(target, topic, 1000, 2000, 3000)
    answer = list_offsets(target, topic, LATEST, lo=version, hi=version)
    assert (answer.error_code, answer.offset) == (ErrorCode.none, 3)


@pytest.mark.api("ListOffsets", behaviour="earliest is the log start offset")
def test_earliest(target: Target, topic: str) -> None:
    produce_stamped(target, topic, 1000, 2000)
    assert list_offsets(target, topic, EARLIEST).offset == 0


@pytest.mark.api("ListOffsets", behaviour="by timestamp: first offset with timestamp >= target")
@pytest.mark.parametrize(("stamp", "offset"), [(500, 0), (1000, 0), (1500, 1), (3000, 2)])
def test_by_timestamp(target: Target, topic: str, stamp: int, offset: int) -> None:
    produce_stamped(target, topic, 1000, 2000, 3000)
    answer = list_offsets(target, topic, stamp)
    assert (answer.error_code, answer.offset) == (ErrorCode.none, offset)


@pytest.mark.api("ListOffsets", behaviour="timestamp after every record: offset -1")
def test_timestamp_after_last(target: Target, topic: str) -> None:
    produce_stamped(target, topic, 1000, 2000)
    answer = list_offsets(target, topic, 2001)
    assert (answer.error_code, answer.offset, answer.timestamp) == (ErrorCode.none, -1, -1)


@pytest.mark.api("ListOffsets", behaviour="by timestamp inside one batch finds the record")
def test_timestamp_within_batch(target: Target, topic: str) -> None:
    produce_stamped(target, topic, 1000, 2000, 3000, 4000, one_batch=True)
    answer = list_offsets(target, topic, 2500)
    assert (answer.offset, answer.timestamp) == (2, 3000)


@pytest.mark.api("ListOffsets", behaviour="by timestamp returns the record's own timestamp")
def test_timestamp_reported(target: Target, topic: str) -> None:
    produce_stamped(target, topic, 1000, 2000)
    assert list_offsets(target, topic, 1500).timestamp == 2000


@pytest.mark.api(
    "ListOffsets", behaviour="max timestamp (-3, v7+): offset of the largest timestamp"
)
def test_max_timestamp(target: Target, topic: str) -> None:
    produce_stamped(target, topic, 1000, 5000, 3000)
    answer = list_offsets(target, topic, MAX_TIMESTAMP, lo=7)
    assert (answer.error_code, answer.offset, answer.timestamp) == (ErrorCode.none, 1, 5000)


@pytest.mark.api("ListOffsets", behaviour="unknown partition: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_partition(target: Target, topic: str) -> None:
    answer = list_offsets(target, topic, LATEST, partition=4)
    assert answer.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("ListOffsets", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_topic(target: Target) -> None:
    answer = list_offsets(target, unique_topic("absent"), LATEST)
    assert answer.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("ListOffsets", behaviour="read_committed latest is the last stable offset (v2+)")
def test_latest_read_committed(target: Target, topic: str) -> None:
    produce_stamped(target, topic, 1000, 2000)
    answer = list_offsets(target, topic, LATEST, isolation_level=1, lo=2)
    assert answer.offset == 2


@pytest.mark.api("ListOffsets", behaviour="each partition answers its own log end")
def test_per_partition(target: Target, topic3: str) -> None:
    for partition, count in ((0, 1), (1, 3), (2, 2)):
        records = [Record(b"x")] * count
        assert produce(target, topic3, build_batch(records), partition).error_code == 0
    ends = [list_offsets(target, topic3, LATEST, partition=p).offset for p in range(3)]
    assert ends == [1, 3, 2]
