"""LogConfig: Kafka's topic config keys and defaults."""

from __future__ import annotations

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
    assert len(TOPIC_CONFIG_DEFAULTS) == 14


def test_topic_overrides_apply_on_top_of_defaults() -> None:
    base = LogConfig(retention_ms=1000)
    config = LogConfig.from_topic_configs(
        {"segment.bytes": "2048", "cleanup.policy": "compact, delete"}, base
    )
    assert (config.segment_bytes, config.retention_ms) == (2048, 1000)
    assert config.cleanup_policy == "compact,delete" and config.deletes
    assert LogConfig.from_topic_configs(config.to_topic_configs()) == config


@pytest.mark.parametrize(
    "configs",
    [
        {"segment.bytes": "abc"},
        {"segment.bytes": "13"},
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
