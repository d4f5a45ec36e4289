"""Topic-level log configuration, under Kafka's names (``segment.bytes`` -> ``segment_bytes``).

``TOPIC_CONFIG_DEFAULTS`` holds Kafka's default for each key as the string DescribeConfigs
reports; ``LogConfig.from_topic_configs`` applies a topic's overrides on top of the defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

LONG_MAX = (1 << 63) - 1

_TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
_CLEANUP_POLICIES = ("delete", "compact", "compact,delete", "delete,compact")


@dataclass(frozen=True, slots=True)
class LogConfig:
    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * 24 * 3600 * 1000
    retention_bytes: int = -1
    retention_ms: int = 7 * 24 * 3600 * 1000
    max_message_bytes: int = 1048588
    index_interval_bytes: int = 4096
    segment_index_bytes: int = 10 * 1024 * 1024
    flush_messages: int = LONG_MAX
    flush_ms: int = LONG_MAX
    message_timestamp_type: str = "CreateTime"
    message_timestamp_before_max_ms: int = LONG_MAX
    message_timestamp_after_max_ms: int = 3_600_000
    cleanup_policy: str = "delete"
    min_insync_replicas: int = 1

    @classmethod
    def from_topic_configs(
        cls, configs: dict[str, str], defaults: LogConfig | None = None
    ) -> LogConfig:
        """Apply Kafka topic config keys to ``defaults``; ValueError names a bad key or value."""
        changes: dict[str, object] = {}
        for key, value in configs.items():
            if key not in TOPIC_CONFIG_KEYS:
                raise ValueError(f"Unknown topic config name: {key}")
            changes[TOPIC_CONFIG_KEYS[key]] = _parse(key, value)
        return dataclasses.replace(defaults or cls(), **changes)  # type: ignore[arg-type]

    def to_topic_configs(self) -> dict[str, str]:
        """Every key as the string DescribeConfigs would report."""
        return {key: _format(getattr(self, attr)) for key, attr in TOPIC_CONFIG_KEYS.items()}

    @property
    def deletes(self) -> bool:
        return "delete" in self.cleanup_policy


TOPIC_CONFIG_KEYS: dict[str, str] = {
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "retention.bytes": "retention_bytes",
    "retention.ms": "retention_ms",
    "max.message.bytes": "max_message_bytes",
    "index.interval.bytes": "index_interval_bytes",
    "segment.index.bytes": "segment_index_bytes",
    "flush.messages": "flush_messages",
    "flush.ms": "flush_ms",
    "message.timestamp.type": "message_timestamp_type",
    "message.timestamp.before.max.ms": "message_timestamp_before_max_ms",
    "message.timestamp.after.max.ms": "message_timestamp_after_max_ms",
    "cleanup.policy": "cleanup_policy",
    "min.insync.replicas": "min_insync_replicas",
}

# Smallest legal value of each numeric key, as Kafka's TopicConfig validators have them.
_MINIMUMS = {
    "segment.bytes": 14,
    "segment.ms": 1,
    "retention.bytes": -1,
    "retention.ms": -1,
    "max.message.bytes": 0,
    "index.interval.bytes": 0,
    "segment.index.bytes": 4,
    "flush.messages": 1,
    "flush.ms": 0,
    "min.insync.replicas": 1,
    "message.timestamp.before.max.ms": 0,
    "message.timestamp.after.max.ms": 0,
}
_INT_KEYS = {"segment.bytes", "max.message.bytes", "index.interval.bytes", "segment.index.bytes"}
_INT_KEYS |= {"min.insync.replicas"}


def _parse(key: str, value: str) -> object:
    if key == "message.timestamp.type":
        if value not in _TIMESTAMP_TYPES:
            raise ValueError(f"Invalid value {value} for configuration {key}")
        return value
    if key == "cleanup.policy":
        normalized = ",".join(p.strip() for p in value.split(","))
        if normalized not in _CLEANUP_POLICIES:
            raise ValueError(f"Invalid value {value} for configuration {key}")
        return normalized
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"Invalid value {value} for configuration {key}") from None
    limit = (1 << 31) - 1 if key in _INT_KEYS else LONG_MAX
    if not _MINIMUMS[key] <= number <= limit:
        raise ValueError(f"Invalid value {value} for configuration {key}")
    return number


def _format(value: object) -> str:
    return str(value)


TOPIC_CONFIG_DEFAULTS: dict[str, str] = LogConfig().to_topic_configs()
