"""DescribeConfigs key by key against Apache Kafka 4.4's recorded answer (config_table.py).

A new topic, a topic with overrides and the broker: the same keys, types, read-only flags,
sensitivity, documentation, synonyms (names and sources) and default values as Kafka's.
"""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from refka.core.kafka_configs import recorded

from conformance.config_table import compare, kafka_entries
from conformance.target import Target, require_api, topic_spec, unique_topic

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
DYNAMIC_BROKER_LOGGER_CONFIG = 6
DYNAMIC_DEFAULT_BROKER_CONFIG, DEFAULT_CONFIG = 3, 5


def describe(target: Target, resource_type: int, name: str) -> Any:
    answer = target.call(
        "DescribeConfigs",
        4,
        4,
        include_synonyms=True,
        include_documentation=True,
        resources=[
            {"resource_type": resource_type, "resource_name": name, "configuration_keys": None}
        ],
    )
    result = answer.results[0]
    assert result.error_code == 0, result.error_message
    return result.configs


def report(problems: list[str]) -> str:
    return f"{len(problems)} differences from Kafka 4.4:\n" + "\n".join(problems[:60])


@pytest.mark.api("DescribeConfigs", behaviour="a new topic: every key as Kafka 4.4 reports it")
def test_topic_matches_kafka(target: Target, topic: str) -> None:
    problems = compare(describe(target, TOPIC, topic), kafka_entries("topic"), "topic")
    assert not problems, report(problems)


@pytest.mark.api(
    "DescribeConfigs", behaviour="a topic with overrides: every key as Kafka 4.4 reports it"
)
def test_overridden_topic_matches_kafka(target: Target) -> None:
    name = unique_topic()
    target.create_topic(name, 1, dict(recorded().raw["overrides"]))
    answer = describe(target, TOPIC, name)
    problems = compare(answer, kafka_entries("topic_overridden"), "topic")
    want = {e["name"]: e["value"] for e in kafka_entries("topic_overridden")}
    for c in answer:
        if c.name in recorded().raw["overrides"] and c.value != want[c.name]:
            problems.append(
                f"topic {c.name}: override shown as {c.value!r}, Kafka {want[c.name]!r}"
            )
    assert not problems, report(problems)


@pytest.mark.api("DescribeConfigs", behaviour="the broker: every key as Kafka 4.4 reports it")
def test_broker_matches_kafka(target: Target) -> None:
    node = target.node_id if target.node_id is not None else 1
    problems = compare(describe(target, BROKER, str(node)), kafka_entries("broker"), "broker")
    assert not problems, report(problems)


@pytest.mark.api(
    "DescribeConfigs", behaviour="the cluster resource lists min.insync.replicas (KIP-966)"
)
@pytest.mark.observed
def test_cluster_resource(target: Target) -> None:
    """With eligible leader replicas on, Kafka keeps a cluster-wide min.insync.replicas; the
    BROKER resource "" lists only cluster-wide keys, each its own only synonym."""
    answer = describe(target, BROKER, "")
    assert {int(c.config_source) for c in answer} == {DYNAMIC_DEFAULT_BROKER_CONFIG}
    found = {c.name: c for c in answer}
    assert "min.insync.replicas" in found
    for c in answer:
        assert [(s.name, s.source) for s in c.synonyms] == [(c.name, c.config_source)]


@pytest.mark.api(
    "IncrementalAlterConfigs", behaviour="a per-broker min.insync.replicas: INVALID_CONFIG"
)
@pytest.mark.observed
def test_per_broker_min_isr_refused(target: Target) -> None:
    node = target.node_id if target.node_id is not None else 1
    answer = target.call(
        "IncrementalAlterConfigs",
        0,
        1,
        validate_only=True,
        resources=[
            {
                "resource_type": BROKER,
                "resource_name": str(node),
                "configs": [{"name": "min.insync.replicas", "config_operation": 0, "value": "1"}],
            }
        ],
    )
    result = answer.responses[0]
    assert result.error_code == ErrorCode.invalid_config
    assert result.error_message == (
        "Broker-level min.insync.replicas cannot be altered while ELR is enabled."
    )


@pytest.mark.api(
    "CreateTopics", behaviour="v5+ configs: min.insync.replicas from the cluster-wide default"
)
@pytest.mark.observed
def test_create_topics_min_isr_source(target: Target) -> None:
    require_api(target, "CreateTopics", 5)
    spec = topic_spec(unique_topic(), 1, None, 1)
    answer = target.call("CreateTopics", 5, None, topics=[spec], timeout=15000, validate_only=True)
    configs = {c.name: c for c in answer.topics[0].configs}
    assert int(configs["min.insync.replicas"].config_source) == DYNAMIC_DEFAULT_BROKER_CONFIG
    assert int(configs["cleanup.policy"].config_source) == DEFAULT_CONFIG


MALFORMED = (
    "This most likely occurs because of a request being malformed by the client library or "
    "the message was sent to an incompatible broker. See the broker logs for more details."
)
BAD_RESOURCES = [
    (TOPIC, "", ErrorCode.invalid_topic_exception, "the empty string is not allowed"),
    (TOPIC, "bad name!", ErrorCode.invalid_topic_exception, "other than ASCII alphanumerics"),
    (BROKER, "abc", ErrorCode.invalid_request, "Broker id must be an integer, but it is: abc"),
    (BROKER, "9999", ErrorCode.invalid_request, "or empty string, but received 9999"),
    (9, "x", ErrorCode.invalid_request, MALFORMED),
]


@pytest.mark.api("DescribeConfigs", behaviour="bad resources: Kafka's error codes and messages")
@pytest.mark.observed
@pytest.mark.parametrize(("kind", "name", "error", "message"), BAD_RESOURCES)
def test_bad_resource(target: Target, kind: int, name: str, error: ErrorCode, message: str) -> None:
    answer = target.call(
        "DescribeConfigs",
        1,
        4,
        include_synonyms=False,
        include_documentation=False,
        resources=[{"resource_type": kind, "resource_name": name, "configuration_keys": None}],
    )
    result = answer.results[0]
    assert (result.error_code, len(result.configs)) == (error, 0)
    assert message in (result.error_message or "")


@pytest.mark.api("DescribeConfigs", behaviour="a described resource has error message ''")
@pytest.mark.observed
def test_success_message_empty(target: Target, topic: str) -> None:
    answer = target.call(
        "DescribeConfigs",
        1,
        4,
        include_synonyms=False,
        include_documentation=False,
        resources=[{"resource_type": TOPIC, "resource_name": topic, "configuration_keys": None}],
    )
    assert (answer.results[0].error_code, answer.results[0].error_message) == (ErrorCode.none, "")


LOG4J_LEVELS = {"OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"}


@pytest.mark.api("DescribeConfigs", behaviour="BROKER_LOGGER: root and the loggers, with levels")
@pytest.mark.observed
def test_broker_loggers(target: Target) -> None:
    node = target.node_id if target.node_id is not None else 1
    answer = describe(target, BROKER_LOGGER, str(node))
    found = {c.name: c for c in answer}
    assert "root" in found
    for c in answer:
        assert c.value in LOG4J_LEVELS
        assert (int(c.config_source), int(c.config_type), c.read_only, c.is_sensitive) == (
            DYNAMIC_BROKER_LOGGER_CONFIG,
            0,
            False,
            False,
        )
        assert (list(c.synonyms), c.documentation) == ([], "")
