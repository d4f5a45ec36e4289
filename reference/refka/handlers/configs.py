"""DescribeConfigs (KIP-133, KIP-226): the effective configuration of a topic or the topics.

Each entry says where its value comes from (``config_source``): DYNAMIC_TOPIC_CONFIG (1) for a
topic's own override, STATIC_BROKER_CONFIG (4) when the broker's configuration sets it, and
DEFAULT_CONFIG (5) otherwise. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.log.config import TOPIC_CONFIG_DEFAULTS
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.topics import Topics

KEY = 32
TOPIC = 2
BROKER = 4
DYNAMIC_TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
CONFIG_TYPE_STRING = 2

# The broker keys that give a topic key its default (Kafka's LogConfig synonyms).
TOPIC_TO_BROKER_KEY = {
    "segment.bytes": "log.segment.bytes",
    "segment.ms": "log.roll.ms",
    "retention.bytes": "log.retention.bytes",
    "retention.ms": "log.retention.ms",
    "max.message.bytes": "message.max.bytes",
    "index.interval.bytes": "log.index.interval.bytes",
    "segment.index.bytes": "log.index.size.max.bytes",
    "flush.messages": "log.flush.interval.messages",
    "flush.ms": "log.flush.interval.ms",
    "message.timestamp.type": "log.message.timestamp.type",
    "message.timestamp.before.max.ms": "log.message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms": "log.message.timestamp.after.max.ms",
    "cleanup.policy": "log.cleanup.policy",
    "min.insync.replicas": "min.insync.replicas",
}


def handle_describe_configs(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    results = tuple(_resource(m, topics, resource) for resource in request.resources)
    return codec.build(m.DescribeConfigsResponse, throttle_time=codec.millis(0), results=results)


def _resource(m: Any, topics: Topics, resource: Any) -> Any:
    def result(
        error: ErrorCode, message: str | None, entries: list[tuple[str, str | None, int]]
    ) -> Any:
        wanted = resource.configuration_keys
        configs = tuple(
            codec.build(
                m.DescribeConfigsResourceResult,
                name=name,
                value=value,
                read_only=resource.resource_type == BROKER,
                config_source=source,
                is_default=source == DEFAULT_CONFIG,
                is_sensitive=False,
                synonyms=(),
                config_type=CONFIG_TYPE_STRING,
                documentation=None,
            )
            for name, value, source in entries
            if wanted is None or name in wanted
        )
        return codec.build(
            m.DescribeConfigsResult,
            error_code=error,
            error_message=message,
            resource_type=resource.resource_type,
            resource_name=resource.resource_name,
            configs=configs,
        )

    if resource.resource_type == TOPIC:
        topic = topics.metadata.topics.get(resource.resource_name)
        if topic is None:
            return result(
                ErrorCode.unknown_topic_or_partition,
                "This server does not host this topic-partition.",
                [],
            )
        return result(ErrorCode.none, None, _topic_entries(topics, topic.configs))
    if resource.resource_type == BROKER:
        if resource.resource_name not in ("", str(topics.node.node_id)):
            return result(
                ErrorCode.invalid_request,
                f"Unexpected broker id, expected {topics.node.node_id}",
                [],
            )
        return result(ErrorCode.none, None, _broker_entries(topics))
    return result(
        ErrorCode.invalid_request, f"Unsupported resource type {resource.resource_type}", []
    )


def _topic_entries(topics: Topics, overrides: dict[str, str]) -> list[tuple[str, str | None, int]]:
    effective = topics.log_config(overrides).to_topic_configs()
    set_on_broker = topics.config.model_fields_set
    entries: list[tuple[str, str | None, int]] = []
    for key in sorted(TOPIC_CONFIG_DEFAULTS):
        if key in overrides:
            source = DYNAMIC_TOPIC_CONFIG
        elif _broker_field(TOPIC_TO_BROKER_KEY.get(key, "")) in set_on_broker:
            source = STATIC_BROKER_CONFIG
        else:
            source = DEFAULT_CONFIG
        entries.append((key, effective[key], source))
    return entries


def _broker_entries(topics: Topics) -> list[tuple[str, str | None, int]]:
    config = topics.config
    entries: list[tuple[str, str | None, int]] = []
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        text = (
            None
            if value is None
            else (str(value).lower() if isinstance(value, bool) else str(value))
        )
        source = STATIC_BROKER_CONFIG if name in config.model_fields_set else DEFAULT_CONFIG
        entries.append((field.alias or name.replace("_", "."), text, source))
    return sorted(entries)


def _broker_field(key: str) -> str:
    return key.replace(".", "_")
