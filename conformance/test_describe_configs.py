"""DescribeConfigs: topic and broker resources, overrides, key filters."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, unique_topic

TOPIC, BROKER = 2, 4
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5


def describe(target: Target, resource_type: int, name: str, keys: list[str] | None = None) -> Any:
    answer = target.call(
        "DescribeConfigs",
        1,
        None,
        include_synonyms=False,
        include_documentation=False,
        resources=[
            {"resource_type": resource_type, "resource_name": name, "configuration_keys": keys}
        ],
    )
    return answer.results[0]


def entries(result: Any) -> dict[str, Any]:
    return {c.name: c for c in result.configs}


def broker_id(target: Target) -> str:
    answer = target.call("Metadata", 1, 12, topics=[])
    return str(answer.brokers[0].node_id)


@pytest.mark.api("DescribeConfigs", behaviour="a topic lists its configs")
def test_topic_configs(target: Target, topic: str) -> None:
    result = describe(target, TOPIC, topic)
    assert result.error_code == ErrorCode.none
    assert {"cleanup.policy", "retention.ms", "max.message.bytes"} <= set(entries(result))


@pytest.mark.api(
    "DescribeConfigs", behaviour="defaults: cleanup.policy=delete, min.insync.replicas=1"
)
def test_topic_defaults(target: Target, topic: str) -> None:
    found = entries(describe(target, TOPIC, topic, ["cleanup.policy", "min.insync.replicas"]))
    assert (found["cleanup.policy"].value, found["min.insync.replicas"].value) == ("delete", "1")


@pytest.mark.api("DescribeConfigs", behaviour="a topic override shows its value and source")
def test_topic_override(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, {"retention.ms": "123456"})
    entry = entries(describe(target, TOPIC, name, ["retention.ms"]))["retention.ms"]
    assert entry.value == "123456"
    assert entry.config_source == DYNAMIC_TOPIC_CONFIG


@pytest.mark.api("DescribeConfigs", behaviour="a default value is marked as such")
def test_default_source(target: Target, topic: str) -> None:
    entry = entries(describe(target, TOPIC, topic, ["segment.ms"]))["segment.ms"]
    assert entry.config_source == DEFAULT_CONFIG and entry.value == "604800000"


@pytest.mark.api("DescribeConfigs", behaviour="configuration_keys filters the answer")
def test_key_filter(target: Target, topic: str) -> None:
    result = describe(target, TOPIC, topic, ["cleanup.policy", "retention.ms"])
    assert set(entries(result)) == {"cleanup.policy", "retention.ms"}


@pytest.mark.api("DescribeConfigs", behaviour="unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
def test_unknown_topic(target: Target) -> None:
    result = describe(target, TOPIC, unique_topic("absent"))
    assert result.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.api("DescribeConfigs", behaviour="the broker resource lists broker configs")
def test_broker_configs(target: Target) -> None:
    result = describe(target, BROKER, broker_id(target))
    assert result.error_code == ErrorCode.none
    assert {"num.partitions", "message.max.bytes", "log.retention.hours"} <= set(entries(result))


@pytest.mark.api(
    "DescribeConfigs", behaviour="non-sensitive topic configs are not marked sensitive"
)
def test_not_sensitive(target: Target, topic: str) -> None:
    assert not any(c.is_sensitive for c in describe(target, TOPIC, topic).configs)


@pytest.mark.api("DescribeConfigs", behaviour="max.message.bytes default is 1048588")
def test_max_message_bytes_default(target: Target, topic: str) -> None:
    entry = entries(describe(target, TOPIC, topic, ["max.message.bytes"]))["max.message.bytes"]
    assert entry.value == "1048588"
