"""DescribeConfigs entries (refka.core.described_configs, config_layers) and the probe's
comparison (conformance/config_table.py). The expected synonym chains are Kafka 4.4's answers,
observed with DescribeConfigs v4 on a live broker with the same static and dynamic configs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from refka.config import BrokerConfig
from refka.core.config_layers import Layers
from refka.core.described_configs import broker_entries, cluster_entries, topic_entries
from refka.core.kafka_configs import recorded
from refka.core.topic_defaults import Entry, topic_defaults

from conformance.config_table import compare

CLUSTER, STATIC, DEFAULT = 3, 4, 5


def layers(static: dict[str, str], cluster: dict[str, str] | None = None) -> Layers:
    config = BrokerConfig.model_validate(static)
    return Layers(config, ((2, {}), (CLUSTER, cluster or {})))


def by_name(entries: list[Entry]) -> dict[str, Entry]:
    return {e.name: e for e in entries}


def topic(static: dict[str, str], cluster: dict[str, str] | None = None) -> dict[str, Entry]:
    config = BrokerConfig.model_validate(static)
    return by_name(topic_entries(layers(static, cluster), topic_defaults(config), {}))


def test_every_kafka_key_in_kafkas_order() -> None:
    entries = broker_entries(layers({}))
    assert [e.name for e in entries] == list(recorded().broker)
    assert [e.name for e in topic_entries(layers({}), topic_defaults(BrokerConfig()), {})] == list(
        recorded().topic
    )


def test_sensitive_values_are_null() -> None:
    found = by_name(broker_entries(layers({"ssl.keystore.password": "secret"})))
    assert found["ssl.keystore.password"].value is None
    assert all(v is None for _, v, _ in found["ssl.keystore.password"].synonyms)


def test_derived_key_unset_has_no_synonyms() -> None:
    """Kafka: log.retention.hours=100 alone leaves log.retention.ms null, with no synonyms,
    and retention.ms the derived 360000000 from DEFAULT_CONFIG."""
    found = topic({"log.retention.hours": "100"})["retention.ms"]
    assert (found.value, found.source, found.synonyms) == ("360000000", DEFAULT, ())
    broker = by_name(broker_entries(layers({"log.retention.hours": "100"})))["log.retention.ms"]
    assert (broker.value, broker.synonyms) == (None, ())


def test_derived_key_set_lists_its_family() -> None:
    """Kafka: log.retention.ms=7000 static -> [ms 4, hours 168 5]; with 5000 cluster-wide
    and log.retention.hours=100 static -> [ms 3, hours 100 4, hours 168 5]."""
    found = topic({"log.retention.ms": "7000"})["retention.ms"]
    assert found.synonyms == (
        ("log.retention.ms", "7000", STATIC),
        ("log.retention.hours", "168", DEFAULT),
    )
    found = topic({"log.retention.hours": "100"}, {"log.retention.ms": "5000"})["retention.ms"]
    assert (found.value, found.source) == ("5000", CLUSTER)
    assert [(n, s) for n, _, s in found.synonyms] == [
        ("log.retention.ms", CLUSTER),
        ("log.retention.hours", STATIC),
        ("log.retention.hours", DEFAULT),
    ]


def test_cluster_resource_lists_only_cluster_keys() -> None:
    entries = cluster_entries(layers({}, {"log.cleanup.policy": "compact"}))
    assert [(e.name, e.value, e.source) for e in entries] == [
        ("log.cleanup.policy", "compact", CLUSTER)
    ]


def fake(entry: dict[str, Any], **changes: Any) -> Any:
    fields = {
        "name": entry["name"],
        "value": entry["value"],
        "config_type": entry["type"],
        "config_source": entry["source"],
        "read_only": entry["read_only"],
        "is_sensitive": entry["sensitive"],
        "documentation": entry["doc"],
        "synonyms": [SimpleNamespace(name=n, value=v, source=s) for n, v, s in entry["synonyms"]],
    }
    return SimpleNamespace(**(fields | changes))


def test_the_probe_passes_kafkas_own_answer_and_flags_each_difference() -> None:
    kafka = recorded().raw["topic"]
    assert compare([fake(e) for e in kafka], kafka, "topic") == []
    changed = [fake(e, config_type=2) if e["name"] == "retention.bytes" else fake(e) for e in kafka]
    assert compare(changed, kafka, "topic") == ["topic retention.bytes: config_type 2, Kafka 5"]
    assert compare([fake(e) for e in kafka[1:]], kafka, "topic") == [
        f"topic: missing {kafka[0]['name']}"
    ]
    wrong_default = [fake(e, value="9") if e["name"] == "segment.bytes" else fake(e) for e in kafka]
    problems = compare(wrong_default, kafka, "topic")
    assert any("default '9'" in p for p in problems)


def test_broker_loggers_in_log4j_words() -> None:
    import logging

    from refka.core.broker_loggers import log4j_level, logger_entries

    assert [log4j_level(x) for x in (50, 40, 30, 20, 10, 5)] == [
        "FATAL",
        "ERROR",
        "WARN",
        "INFO",
        "DEBUG",
        "TRACE",
    ]
    probe = logging.getLogger("refka.test_probe_logger")
    probe.setLevel(logging.DEBUG)
    found = by_name(logger_entries())
    assert found["refka.test_probe_logger"].value == "DEBUG"
    assert found["refka.test_probe_logger"].source == 6 and "root" in found
