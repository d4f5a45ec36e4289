"""DeleteRecords (KIP-107): the log start offset moves up to the requested offset."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import EARLIEST, fetch, list_offsets, produce_values
from conformance.target import Target, unique_topic


def delete_records(
    target: Target, topic: str, offset: int, partition: int = 0, version: int | None = None
) -> Any:
    """DeleteRecords for one partition (at ``version``, else the best common one)."""
    lo, hi = (0, None) if version is None else (version, version)
    answer = target.call(
        "DeleteRecords",
        lo,
        hi,
        topics=[{"name": topic, "partitions": [{"partition_index": partition, "offset": offset}]}],
        timeout=10000,
    )
    (found,) = answer.topics
    assert found.name == topic
    (result,) = found.partitions
    assert result.partition_index == partition
    return result


@pytest.mark.api("DeleteRecords", behaviour="the log start offset moves; earliest answers it")
@pytest.mark.parametrize("version", range(3))
def test_moves_log_start_offset(target: Target, topic: str, version: int) -> None:
    produce_values(target, topic, b"a", b"b", b"c", b"d")
    result = delete_records(target, topic, 2, version=version)
    assert (result.error_code, result.low_watermark) == (ErrorCode.none, 2)
    assert list_offsets(target, topic, EARLIEST).offset == 2


@pytest.mark.api("DeleteRecords", behaviour="a fetch below the log start offset is out of range")
def test_fetch_below_is_out_of_range(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a", b"b", b"c")
    delete_records(target, topic, 2)
    assert fetch(target, topic, 1).error_code == ErrorCode.offset_out_of_range
    answer = fetch(target, topic, 2)
    assert (answer.error_code, answer.log_start_offset) == (ErrorCode.none, 2)


@pytest.mark.api("DeleteRecords", behaviour="offset -1 deletes up to the high watermark")
def test_minus_one_is_high_watermark(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a", b"b", b"c")
    result = delete_records(target, topic, -1)
    assert (result.error_code, result.low_watermark) == (ErrorCode.none, 3)


@pytest.mark.api("DeleteRecords", behaviour="a lower offset leaves the log start offset")
def test_never_moves_back(target: Target, topic: str) -> None:
    produce_values(target, topic, b"a", b"b", b"c")
    delete_records(target, topic, 2)
    result = delete_records(target, topic, 1)
    assert (result.error_code, result.low_watermark) == (ErrorCode.none, 2)


@pytest.mark.api("DeleteRecords", behaviour="past the high watermark: OFFSET_OUT_OF_RANGE")
@pytest.mark.parametrize("offset", [4, -2])
def test_out_of_range(target: Target, topic: str, offset: int) -> None:
    produce_values(target, topic, b"a", b"b", b"c")
    result = delete_records(target, topic, offset)
    assert (result.error_code, result.low_watermark) == (ErrorCode.offset_out_of_range, -1)
    assert list_offsets(target, topic, EARLIEST).offset == 0


@pytest.mark.api("DeleteRecords", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_topic(target: Target) -> None:
    result = delete_records(target, unique_topic("absent"), 0)
    assert (result.error_code, result.low_watermark) == (
        ErrorCode.unknown_topic_or_partition,
        -1,
    )


@pytest.mark.api("DeleteRecords", behaviour="compacted topic: POLICY_VIOLATION")
def test_compacted_topic(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"cleanup.policy": "compact"})
    result = delete_records(target, name, 0)
    assert (result.error_code, result.low_watermark) == (ErrorCode.policy_violation, -1)
