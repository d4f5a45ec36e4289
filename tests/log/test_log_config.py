"""LogConfig: Kafka's topic config keys and defaults."""

from __future__ import annotations

import re

import pytest
from refka.log.config import TOPIC_CONFIG_DEFAULTS, LogConfig


def test_defaults_are_kafkas() -> None:
    assert TOPIC_CONFIG_DEFAULTS["segment.bytes"] == "1073741824"
    assert TOPIC_CONFIG_DEFAULTS["retention.ms"] == "604800000"
    assert TOPIC_CONFIG_DEFAULTS["max.message.bytes"] == "1048588"
    assert TOPIC_CONFIG_DEFAULTS["flush.messages"] == "9223372036854775807"
    assert TOPIC_CONFIG_DEFAULTS["cleanup.policy"] == "delete"
    assert TOPIC_CONFIG_DEFAULTS["message.timestamp.type"] == "CreateTime"
    assert TOPIC_CONFIG_DEFAULTS["message.timestamp.before.max.ms"] == "9223372036854775807"
    assert TOPIC_CONFIG_DEFAULTS["message.timestamp.after.max.ms"] == "3600000"
    assert TOPIC_CONFIG_DEFAULTS["compression.type"] == "producer"
    assert TOPIC_CONFIG_DEFAULTS["min.cleanable.dirty.ratio"] == "0.5"
    assert TOPIC_CONFIG_DEFAULTS["delete.retention.ms"] == "86400000"
    assert len(TOPIC_CONFIG_DEFAULTS) == 37  # Kafka 4.4's DescribeConfigs of a topic
    assert "message.downconversion.enable" not in TOPIC_CONFIG_DEFAULTS  # gone in Kafka 4


def test_topic_overrides_apply_on_top_of_defaults() -> None:
    base = LogConfig(retention_ms=1000)
    config = LogConfig.from_topic_configs(
        {"segment.bytes": "2097152", "cleanup.policy": "compact, delete"}, base
    )
    assert (config.segment_bytes, config.retention_ms) == (2097152, 1000)
    assert config.cleanup_policy == "compact,delete" and config.deletes
    assert LogConfig.from_topic_configs(config.to_topic_configs()) == config


@pytest.mark.parametrize(
    "configs",
    [
        {"segment.bytes": "abc"},
        {"segment.bytes": "13"},
        {"segment.bytes": "1048575"},
        {"compression.type": "none"},
        {"compression.gzip.level": "0"},
        {"min.cleanable.dirty.ratio": "1.5"},
        {"max.compaction.lag.ms": "0"},
        {"unclean.leader.election.enable": "yes"},
        {"remote.storage.enable": "true"},
        {"message.downconversion.enable": "true"},
        {"retention.ms": "-2"},
        {"message.timestamp.type": "Whenever"},
        {"cleanup.policy": "shred"},
        {"no.such.key": "1"},
        {"min.insync.replicas": "0"},
    ],
)
def test_bad_values_are_refused(configs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        LogConfig.from_topic_configs(configs)


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        (
            {"compression.type": "foo"},
            "Invalid value foo for configuration compression.type: String must be one of: "
            "uncompressed, zstd, lz4, snappy, gzip, producer",
        ),
        (
            {"min.cleanable.dirty.ratio": "abc"},
            "Invalid value abc for configuration min.cleanable.dirty.ratio: "
            "Not a number of type DOUBLE",
        ),
        (
            {"compression.lz4.level": "18"},
            "Invalid value 18 for configuration compression.lz4.level: "
            "Value must be no more than 17",
        ),
        ({"foo.bar": "1"}, "Unknown topic config name: foo.bar"),
    ],
)
def test_messages_are_kafkas(configs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LogConfig.from_topic_configs(configs)


def test_compaction_configs_parse() -> None:
    config = LogConfig.from_topic_configs(
        {
            "cleanup.policy": "compact",
            "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "100",
            "compression.type": "gzip",
            "internal.segment.bytes": "1024",
        }
    )
    assert config.compacts and not config.deletes
    assert (config.min_cleanable_dirty_ratio, config.delete_retention_ms) == (0.01, 100)
    assert (config.compression_type, config.segment_bytes) == ("gzip", 1024)
    assert config.to_topic_configs()["min.cleanable.dirty.ratio"] == "0.01"
