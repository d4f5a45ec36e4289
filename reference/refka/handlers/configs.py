"""DescribeConfigs (KIP-133, KIP-226): the effective configuration of a topic or the topics.

Each entry says where its value comes from (``config_source``): DYNAMIC_TOPIC_CONFIG (1) for a
topic's own override, STATIC_BROKER_CONFIG (4) when the broker's configuration sets it, and
DEFAULT_CONFIG (5) otherwise. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topic_defaults import (
    DEFAULT_CONFIG,
    STATIC_BROKER_CONFIG,
    Entry,
    topic_defaults,
    topic_entries,
)
from refka.core.topics import Topics
from refka.protocol import codec
from refka.security import api_acls as acls

KEY = 32
TOPIC = 2
BROKER = 4


def handle_describe_configs(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    synonyms = bool(getattr(request, "include_synonyms", False))
    results = tuple(
        _resource(m, topics, resource, synonyms)
        if _may_describe(ctx, resource)
        else _denied(m, resource)
        for resource in request.resources
    )
    return codec.build(m.DescribeConfigsResponse, throttle_time=codec.millis(0), results=results)


def _may_describe(ctx: RequestContext, resource: Any) -> bool:
    """DESCRIBE_CONFIGS on the topic, or on the CLUSTER for a broker's configs."""
    if resource.resource_type == TOPIC:
        return acls.allowed(ctx, acls.TOPIC, resource.resource_name)
    return acls.allowed(ctx, acls.CLUSTER)


def _denied(m: Any, resource: Any) -> Any:
    topic = resource.resource_type == TOPIC
    return codec.build(
        m.DescribeConfigsResult,
        error_code=acls.DENIED[acls.TOPIC if topic else acls.CLUSTER],
        error_message=None,
        resource_type=resource.resource_type,
        resource_name=resource.resource_name,
        configs=(),
    )


def _resource(m: Any, topics: Topics, resource: Any, include_synonyms: bool) -> Any:
    def result(error: ErrorCode, message: str | None, entries: list[Entry]) -> Any:
        wanted = resource.configuration_keys
        configs = tuple(
            codec.build(
                m.DescribeConfigsResourceResult,
                name=e.name,
                value=e.value,
                read_only=resource.resource_type == BROKER,
                config_source=e.source,
                is_default=e.source == DEFAULT_CONFIG,
                is_sensitive=False,
                synonyms=tuple(
                    codec.build(m.DescribeConfigsSynonym, name=n, value=v, source=src)
                    for n, v, src in e.synonyms
                )
                if include_synonyms
                else (),
                config_type=e.config_type,
                documentation=None,
            )
            for e in entries
            if wanted is None or e.name in wanted
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
        return result(
            ErrorCode.none, None, topic_entries(topic_defaults(topics.config), dict(topic.configs))
        )
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


def _broker_entries(topics: Topics) -> list[Entry]:
    config = topics.config
    entries: list[Entry] = []
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        text = (
            None
            if value is None
            else (str(value).lower() if isinstance(value, bool) else str(value))
        )
        source = STATIC_BROKER_CONFIG if name in config.model_fields_set else DEFAULT_CONFIG
        entries.append(Entry(field.alias or name.replace("_", "."), text, source))
    return sorted(entries, key=lambda e: e.name)
