"""Topic configs (Kafka 4.4's TopicConfig): accepted at creation, validated, described with type
and synonyms, altered incrementally; and what they change on the wire: the broker recompresses
to ``compression.type``, a compacted topic refuses keyless records per record (KIP-467).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import fetch, produce
from conformance.records import GZIP, NONE, Record, build_batch, parse_batches
from conformance.target import Target, eventually, require_api, topic_spec, unique_topic

TOPIC = 2
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5
BOOLEAN, STRING, INT, LONG, DOUBLE, LIST = 1, 2, 3, 5, 6, 7

CONFIGS = {
    "compression.type": "gzip",
    "compression.gzip.level": "5",
    "cleanup.policy": "compact",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "10",
    "max.compaction.lag.ms": "100000",
    "delete.retention.ms": "100",
    "unclean.leader.election.enable": "true",
    "local.retention.ms": "1000",
    "segment.bytes": "1048576",
}


def describe(target: Target, name: str, keys: list[str] | None = None) -> dict[str, Any]:
    require_api(target, "DescribeConfigs", 3)
    answer = target.call(
        "DescribeConfigs",
        3,
        4,
        include_synonyms=True,
        include_documentation=False,
        resources=[{"resource_type": TOPIC, "resource_name": name, "configuration_keys": keys}],
    )
    result = answer.results[0]
    assert result.error_code == ErrorCode.none, result
    return {c.name: c for c in result.configs}


def validate_create(target: Target, configs: dict[str, str]) -> Any:
    answer = target.call(
        "CreateTopics",
        2,
        None,
        topics=[topic_spec(unique_topic(), 1, configs)],
        timeout=15000,
        validate_only=True,
    )
    return answer.topics[0]


@pytest.mark.api("CreateTopics", behaviour="compaction and compression topic configs accepted")
def test_configs_accepted_and_described(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, CONFIGS)
    found = describe(target, name)
    for key, value in CONFIGS.items():
        assert (found[key].value, found[key].config_source) == (value, DYNAMIC_TOPIC_CONFIG), key
    types = {k: found[k].config_type for k in ("cleanup.policy", "min.cleanable.dirty.ratio")}
    assert types == {"cleanup.policy": LIST, "min.cleanable.dirty.ratio": DOUBLE}
    assert found["unclean.leader.election.enable"].config_type == BOOLEAN
    assert found["preallocate"].value == "false"
    assert found["preallocate"].config_source == DEFAULT_CONFIG


@pytest.mark.api("DescribeConfigs", behaviour="synonyms: topic override, then the broker key")
def test_synonyms(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"delete.retention.ms": "100"})
    entry = describe(target, name, ["delete.retention.ms"])["delete.retention.ms"]
    synonyms = [(s.name, s.source) for s in entry.synonyms]
    assert synonyms[0] == ("delete.retention.ms", DYNAMIC_TOPIC_CONFIG)
    assert synonyms[-1] == ("log.cleaner.delete.retention.ms", DEFAULT_CONFIG)


@pytest.mark.api("CreateTopics", behaviour="bad topic config values: INVALID_CONFIG")
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("compression.type", "none", "String must be one of: uncompressed, zstd, lz4, snappy"),
        ("min.cleanable.dirty.ratio", "1.5", "Value must be no more than 1"),
        ("max.compaction.lag.ms", "0", "Value must be at least 1"),
        ("segment.bytes", "1048575", "Value must be at least 1048576"),
        ("message.downconversion.enable", "true", "Unknown topic config name"),
        ("remote.storage.enable", "true", "Tiered Storage functionality is disabled"),
    ],
)
def test_invalid_values(target: Target, key: str, value: str, message: str) -> None:
    result = validate_create(target, {key: value})
    assert result.error_code == ErrorCode.invalid_config
    assert message in (result.error_message or "")


@pytest.mark.api("IncrementalAlterConfigs", behaviour="SET, APPEND to a list, DELETE")
def test_incremental_alter(target: Target) -> None:
    require_api(target, "IncrementalAlterConfigs", 0)
    name = unique_topic()
    target.create_topic(name, 1, {"cleanup.policy": "compact"})

    def alter(*ops: tuple[str, int, str | None]) -> Any:
        answer = target.call(
            "IncrementalAlterConfigs",
            0,
            None,
            validate_only=False,
            resources=[
                {
                    "resource_type": TOPIC,
                    "resource_name": name,
                    "configs": [{"name": k, "config_operation": o, "value": v} for k, o, v in ops],
                }
            ],
        )
        return answer.responses[0]

    def described(*keys: str) -> tuple[tuple[str, int], ...]:
        found = describe(target, name, list(keys))
        return tuple((found[k].value, found[k].config_source) for k in keys)

    assert alter(("cleanup.policy", 2, "delete"), ("compression.type", 0, "zstd")).error_code == 0
    want = (("compact,delete", DYNAMIC_TOPIC_CONFIG), ("zstd", DYNAMIC_TOPIC_CONFIG))
    found = eventually(lambda: described("cleanup.policy", "compression.type"), want.__eq__)
    assert found == want
    assert alter(("compression.type", 1, None)).error_code == 0
    gone = (("producer", DEFAULT_CONFIG),)
    assert eventually(lambda: described("compression.type"), gone.__eq__) == gone
    refused = alter(("retention.ms", 2, "5"))
    assert refused.error_code == ErrorCode.invalid_config
    assert refused.error_message == "Can't APPEND to key retention.ms because its type is not LIST."


@pytest.mark.api("Produce", behaviour="compression.type=gzip: the broker recompresses")
def test_broker_recompresses(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"compression.type": "gzip"})
    records = [Record(b"v" * 50, b"k0"), Record(b"w", None)]
    assert produce(target, name, build_batch(records, codec=NONE)).error_code == 0
    batches = parse_batches(fetch(target, name, 0).records)
    assert [b.attributes & 0x07 for b in batches] == [GZIP]
    assert [(r.key, r.value, r.offset) for r in batches[0].records] == [
        (b"k0", b"v" * 50, 0),
        (None, b"w", 1),
    ]


@pytest.mark.api("Produce", behaviour="KIP-467: keyless records on a compacted topic")
def test_record_errors_on_a_compacted_topic(target: Target) -> None:
    require_api(target, "Produce", 8)
    name = unique_topic()
    target.create_topic(name, 1, {"cleanup.policy": "compact"})
    records = [Record(b"0", b"k0"), Record(b"1"), Record(b"2", b"k2"), Record(b"3")]
    response = produce(target, name, build_batch(records))
    assert response.error_code == ErrorCode.invalid_record
    assert response.base_offset == -1
    reason = f"Compacted topic cannot accept message without key in topic partition {name}-0"
    errors = [(e.batch_index, e.batch_index_error_message) for e in response.record_errors]
    assert errors == [(1, reason), (3, reason)]
    assert response.error_message == (
        "One or more records have been rejected due to 2 record errors in total, and only "
        f"showing the first three errors at most: [RecordError(batchIndex=1, message='{reason}'),"
        f" RecordError(batchIndex=3, message='{reason}')]"
    )
    assert produce(target, name, build_batch([Record(b"ok", b"k")])).base_offset == 0


@pytest.mark.api("Produce", behaviour="KIP-467: timestamps out of range, per record")
def test_record_errors_for_timestamps(target: Target) -> None:
    require_api(target, "Produce", 8)
    name = unique_topic()
    target.create_topic(name, 1, {"message.timestamp.after.max.ms": "60000"})
    now = int(time.time() * 1000)
    records = [
        Record(b"a", timestamp_ms=now),
        Record(b"b", timestamp_ms=now + 3_600_000),
        Record(b"c", timestamp_ms=now),
    ]
    response = produce(target, name, build_batch(records))
    assert response.error_code == ErrorCode.invalid_timestamp
    assert (
        response.error_message == "One or more records have been rejected due to invalid timestamp"
    )
    [error] = response.record_errors
    assert error.batch_index == 1
    assert error.batch_index_error_message.startswith(
        f"Timestamp {now + 3_600_000} of message with offset 1 is out of range. "
        "The timestamp should be within ["
    )
