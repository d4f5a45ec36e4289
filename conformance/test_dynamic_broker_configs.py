"""Dynamic broker configs (KIP-226): IncrementalAlterConfigs on the BROKER resource.

A dynamic key set on this broker shows in DescribeConfigs once the broker has applied the
record (a moment after the controller answered), as DYNAMIC_BROKER_CONFIG on the broker and as
the default of every topic that does not override it; DELETE reverts it. A
read-only key (``log.retention.hours``) cannot be changed without a restart.
"""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, eventually, require_api, topic_spec, unique_topic

TOPIC, BROKER = 2, 4
SET, DELETE = 0, 1
DYNAMIC_BROKER_CONFIG, DEFAULT_CONFIG = 2, 5
KEY, TOPIC_KEY = "log.cleaner.delete.retention.ms", "delete.retention.ms"


def alter(target: Target, name: str, ops: list[tuple[str, int, str | None]], only: bool) -> Any:
    require_api(target, "IncrementalAlterConfigs", 0)
    answer = target.call(
        "IncrementalAlterConfigs",
        0,
        1,
        validate_only=only,
        resources=[
            {
                "resource_type": BROKER,
                "resource_name": name,
                "configs": [{"name": k, "config_operation": o, "value": v} for k, o, v in ops],
            }
        ],
    )
    return answer.responses[0]


def describe(target: Target, kind: int, name: str, key: str) -> Any:
    answer = target.call(
        "DescribeConfigs",
        1,
        4,
        include_synonyms=True,
        resources=[{"resource_type": kind, "resource_name": name, "configuration_keys": [key]}],
    )
    result = answer.results[0]
    assert result.error_code == ErrorCode.none, result.error_message
    (entry,) = result.configs
    return entry


def settles(target: Target, kind: int, name: str, key: str, want: tuple[str, int]) -> Any:
    """The entry once it shows ``want`` (value, source): a broker applies the config record
    when it reaches it in the metadata log, a moment after the controller committed it."""
    return eventually(
        lambda: describe(target, kind, name, key), lambda e: (e.value, e.config_source) == want
    )


def _node(target: Target) -> str:
    return str(target.node_id if target.node_id is not None else 1)


@pytest.mark.api("IncrementalAlterConfigs", behaviour="a read-only broker key: INVALID_REQUEST")
@pytest.mark.observed
@pytest.mark.parametrize("resource", ["node", "cluster"])
def test_read_only_key_refused(target: Target, resource: str) -> None:
    name = _node(target) if resource == "node" else ""
    result = alter(target, name, [("log.retention.hours", SET, "1")], only=False)
    assert (result.error_code, result.error_message) == (
        ErrorCode.invalid_request,
        "Cannot update these configs dynamically: [log.retention.hours]",
    )


@pytest.mark.api(
    "IncrementalAlterConfigs", behaviour="a dynamic broker key: described, DELETE reverts"
)
def test_dynamic_key_described(target: Target, topic: str) -> None:
    node = _node(target)
    assert alter(target, node, [(KEY, SET, "123456")], only=False).error_code == ErrorCode.none
    try:
        entry = settles(target, BROKER, node, KEY, ("123456", DYNAMIC_BROKER_CONFIG))
        assert (entry.value, entry.config_source) == ("123456", DYNAMIC_BROKER_CONFIG)
        assert [(s.name, s.value, s.source) for s in entry.synonyms] == [
            (KEY, "123456", DYNAMIC_BROKER_CONFIG),
            (KEY, "86400000", DEFAULT_CONFIG),
        ]
        entry = settles(target, TOPIC, topic, TOPIC_KEY, ("123456", DYNAMIC_BROKER_CONFIG))
        assert (entry.value, entry.config_source) == ("123456", DYNAMIC_BROKER_CONFIG)
    finally:
        assert alter(target, node, [(KEY, DELETE, None)], only=False).error_code == 0
    entry = settles(target, BROKER, node, KEY, ("86400000", DEFAULT_CONFIG))
    assert (entry.value, entry.config_source) == ("86400000", DEFAULT_CONFIG)
    entry = settles(target, TOPIC, topic, TOPIC_KEY, ("86400000", DEFAULT_CONFIG))
    assert (entry.value, entry.config_source) == ("86400000", DEFAULT_CONFIG)


@pytest.mark.api("IncrementalAlterConfigs", behaviour="a bad broker value: the topic validator")
@pytest.mark.observed
@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("log.segment.bytes", "10", "Value must be at least 1048576"),
        ("log.segment.bytes", "abc", "Not a number of type INT"),
        ("message.max.bytes", "-5", "Value must be at least 0"),
        ("log.cleanup.policy", "bogus", "String must be one of: compact, delete"),
    ],
)
def test_bad_value_refused(target: Target, key: str, value: str, complaint: str) -> None:
    result = alter(target, _node(target), [(key, SET, value)], only=True)
    assert (result.error_code, result.error_message) == (
        ErrorCode.invalid_request,
        f"Invalid value {value} for configuration {key}: {complaint}",
    )


@pytest.mark.api(
    "CreateTopics", behaviour="v5+ configs: a topic key takes its broker key's dynamic value"
)
@pytest.mark.observed
def test_create_topics_lists_dynamic_values(target: Target) -> None:
    require_api(target, "CreateTopics", 5)
    node, cluster_key = _node(target), "log.cleaner.delete.retention.ms"
    want = {"delete.retention.ms": ("123", 3), "segment.bytes": ("2000000", DYNAMIC_BROKER_CONFIG)}

    def created() -> dict[str, tuple[str, int]]:
        spec = topic_spec(unique_topic(), 1, None, 1)
        answer = target.call(
            "CreateTopics", 5, None, topics=[spec], timeout=15000, validate_only=True
        )
        configs = answer.topics[0].configs
        return {c.name: (c.value, int(c.config_source)) for c in configs if c.name in want}

    entries = (describe(target, BROKER, node, k) for k in (cluster_key, "log.segment.bytes"))
    before = {e.name: (e.value, e.config_source) for e in entries}
    assert alter(target, "", [(cluster_key, SET, "123")], only=False).error_code == 0
    try:
        assert (
            alter(target, node, [("log.segment.bytes", SET, "2000000")], only=False).error_code == 0
        )
        assert eventually(created, want.__eq__) == want
    finally:
        assert alter(target, "", [(cluster_key, DELETE, None)], only=False).error_code == 0
        assert (
            alter(target, node, [("log.segment.bytes", DELETE, None)], only=False).error_code == 0
        )
    for key, was in before.items():  # reverted on this broker too, for the probes that follow
        entry = settles(target, BROKER, node, key, was)
        assert (entry.value, entry.config_source) == was, key


@pytest.mark.api("IncrementalAlterConfigs", behaviour="a bad broker value: KafkaConfig's checks")
@pytest.mark.observed
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("log.retention.ms", "abc", "Invalid value abc for configuration log.retention.ms: "
         "Not a number of type LONG"),
        ("log.roll.ms", "0", "requirement failed: log.roll.ms must be greater than or equal to 1"),
        ("log.cleaner.backoff.ms", "-1", "Invalid value -1 for configuration "
         "log.cleaner.backoff.ms: Value must be at least 0"),
        ("log.cleaner.dedupe.buffer.size", "10", "requirement failed: "
         "log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread."),
        ("min.insync.replicas", "0", "Invalid value 0 for configuration min.insync.replicas: "
         "Value must be at least 1"),
    ],
)  # fmt: skip
def test_bad_broker_value_refused(target: Target, key: str, value: str, message: str) -> None:
    result = alter(target, "", [(key, SET, value)], only=True)
    assert (result.error_code, result.error_message) == (ErrorCode.invalid_request, message)
