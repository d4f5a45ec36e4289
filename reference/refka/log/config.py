"""Topic-level log configuration, under Kafka's names (``segment.bytes`` -> ``segment_bytes``).

``LogConfig`` holds the topic configs that change what the log, the cleaner or the produce path
do; ``refka.log.topic_configs`` holds the definition of every Kafka topic config (most have an
attribute here; the ones for absent features are validated and described only).
``LogConfig.from_topic_configs`` applies a topic's overrides on top of the defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from refka.log import topic_configs as defs

LONG_MAX = defs.LONG_MAX


@dataclass(frozen=True, slots=True)
class LogConfig:
    """A topic's log settings: Kafka's defaults, then the topic's overrides."""

    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * 24 * 3600 * 1000
    segment_jitter_ms: int = 0
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
    compression_type: str = "producer"
    compression_gzip_level: int = -1
    compression_lz4_level: int = 9
    compression_zstd_level: int = 3
    max_decompressed_message_bytes: int = 2147483639
    delete_retention_ms: int = 86_400_000
    min_compaction_lag_ms: int = 0
    max_compaction_lag_ms: int = LONG_MAX
    min_cleanable_dirty_ratio: float = 0.5
    file_delete_delay_ms: int = 60_000
    internal_segment_bytes: int | None = None

    @classmethod
    def from_topic_configs(
        cls, configs: dict[str, str], defaults: LogConfig | None = None, validate: bool = True
    ) -> LogConfig:
        """Apply Kafka topic config keys to ``defaults``; ValueError has Kafka's message."""
        changes: dict[str, object] = {}
        for key, text in configs.items():
            value = defs.parse(key, text, validate)
            attr = TOPIC_CONFIG_KEYS.get(key)
            if attr is None:
                continue  # a config for a feature refka does not have: validated only
            changes[attr] = ",".join(value) if isinstance(value, tuple) else value
        config = dataclasses.replace(defaults or cls(), **changes)  # type: ignore[arg-type]
        if config.internal_segment_bytes is not None:
            config = dataclasses.replace(config, segment_bytes=config.internal_segment_bytes)
        return config

    def to_topic_configs(self) -> dict[str, str]:
        """Each key this class holds, as the string DescribeConfigs would report."""
        return {
            key: defs.format_value(defs.BY_NAME[key], _listed(key, getattr(self, attr)))
            for key, attr in TOPIC_CONFIG_KEYS.items()
            if getattr(self, attr) is not None
        }

    @property
    def deletes(self) -> bool:
        return "delete" in self.cleanup_policy.split(",")

    @property
    def compacts(self) -> bool:
        return "compact" in self.cleanup_policy.split(",")


def _listed(key: str, value: defs.Value) -> defs.Value:
    if defs.BY_NAME[key].type == defs.LIST and isinstance(value, str):
        return tuple(value.split(",")) if value else ()
    return value


TOPIC_CONFIG_KEYS: dict[str, str] = {
    d.name: d.name.replace(".", "_")
    for d in defs.DEFS
    if d.name.replace(".", "_") in LogConfig.__dataclass_fields__
}

TOPIC_CONFIG_DEFAULTS: dict[str, str] = {d.name: d.default for d in defs.DESCRIBED}
"""Kafka's default of every described topic config, as DescribeConfigs reports it."""
