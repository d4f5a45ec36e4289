"""DescribeConfigs (KIP-133, KIP-226, KIP-569): the effective configuration of a topic or broker.

Every key Kafka 4.4 lists, in Kafka's order, with Kafka's type, read-only flag, sensitivity and
documentation (``refka.core.kafka_configs``, recorded from Kafka). Each entry says where its
value comes from (``config_source``): DYNAMIC_TOPIC_CONFIG (1) for a topic's own override,
DYNAMIC_BROKER_CONFIG (2) / DYNAMIC_DEFAULT_BROKER_CONFIG (3) for a broker key set with
AlterConfigs on this broker / on the cluster, STATIC_BROKER_CONFIG (4) when the broker's
configuration file sets it, and DEFAULT_CONFIG (5) otherwise. A BROKER_LOGGER resource lists
refka's loggers (``refka.core.broker_loggers``). Bad resources get Kafka's errors and messages
(docs/configs.md).
"""

from __future__ import annotations

import re
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.broker_loggers import logger_entries
from refka.core.config_layers import Layers
from refka.core.context import RequestContext
from refka.core.described_configs import broker_entries, cluster_entries, topic_entries
from refka.core.kafka_configs import (
    DEFAULT_CONFIG,
    DYNAMIC_BROKER_CONFIG,
    DYNAMIC_DEFAULT_BROKER_CONFIG,
    recorded,
)
from refka.core.topic_defaults import Entry, topic_defaults
from refka.core.topics import Topics
from refka.handlers.topic_names import invalid_reason
from refka.protocol import codec
from refka.security import api_acls as acls

KEY = 32
TOPIC = 2
BROKER = 4
BROKER_LOGGER = 8
UNKNOWN_TOPIC = "This server does not host this topic-partition."
MALFORMED = (
    "This most likely occurs because of a request being malformed by the client library or "
    "the message was sent to an incompatible broker. See the broker logs for more details."
)
MIN_ISR = "min.insync.replicas"


def handle_describe_configs(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    flags = (
        bool(getattr(request, "include_synonyms", False)),
        bool(getattr(request, "include_documentation", False)),
    )
    results = tuple(
        _resource(m, topics, resource, *flags)
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


def _resource(
    m: Any, topics: Topics, resource: Any, include_synonyms: bool, include_documentation: bool
) -> Any:
    logger = resource.resource_type == BROKER_LOGGER
    table = (
        {}
        if logger
        else recorded().broker
        if resource.resource_type == BROKER
        else recorded().topic
    )

    def result(error: ErrorCode, message: str | None, entries: list[Entry]) -> Any:
        wanted = resource.configuration_keys
        configs = tuple(
            codec.build(
                m.DescribeConfigsResourceResult,
                name=e.name,
                value=e.value,
                read_only=table[e.name].read_only if e.name in table else False,
                config_source=e.source,
                is_default=e.source == DEFAULT_CONFIG,
                is_sensitive=table[e.name].sensitive if e.name in table else False,
                synonyms=tuple(
                    codec.build(m.DescribeConfigsSynonym, name=n, value=v, source=src)
                    for n, v, src in e.synonyms
                )
                if include_synonyms
                else (),
                config_type=e.config_type,
                documentation=_documentation(table, e.name, logger, include_documentation),
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

    kind, name = resource.resource_type, resource.resource_name
    if kind == TOPIC:
        invalid = invalid_reason(name)
        if invalid is not None:
            return result(ErrorCode.invalid_topic_exception, invalid, [])
        topic = topics.metadata.topics.get(name)
        if topic is None:
            return result(ErrorCode.unknown_topic_or_partition, UNKNOWN_TOPIC, [])
        entries = topic_entries(_layers(topics), topic_defaults(topics.config), dict(topic.configs))
        return result(ErrorCode.none, "", entries)
    if kind not in (BROKER, BROKER_LOGGER):
        return result(ErrorCode.invalid_request, MALFORMED, [])
    problem = _broker_id_problem(kind, name, topics.node.node_id)
    if problem is not None:
        return result(ErrorCode.invalid_request, problem, [])
    if kind == BROKER_LOGGER:
        return result(ErrorCode.none, "", logger_entries())
    layers = _layers(topics)
    if name == "":  # the cluster-wide defaults set with AlterConfigs
        return result(ErrorCode.none, "", cluster_entries(layers))
    return result(ErrorCode.none, "", broker_entries(layers))


def _documentation(table: Any, name: str, logger: bool, wanted: bool) -> str | None:
    """Kafka's documentation of a key; a logger's is empty."""
    if not wanted:
        return None
    if logger:
        return ""
    return table[name].documentation if name in table else None


def _broker_id_problem(kind: int, name: str, node_id: int) -> str | None:
    """Kafka's checks of a BROKER / BROKER_LOGGER resource name, with its messages."""
    if kind == BROKER and name == "":
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", name):
        return f"Broker id must be an integer, but it is: {name}"
    if int(name) == node_id:
        return None
    either = " or empty string," if kind == BROKER else ""
    return f"Unexpected broker id, expected {node_id}{either} but received {name}"


def _layers(topics: Topics) -> Layers:
    """The broker configs set with AlterConfigs: this broker's, then the cluster's.

    With eligible leader replicas on (KIP-966, every new 4.x cluster), Kafka's controller
    keeps a cluster-wide ``min.insync.replicas`` (written from the static value when the
    cluster starts), so it is always DYNAMIC_DEFAULT_BROKER_CONFIG; refka's controller reads
    the same value (the cluster's, else the static one), and describes it so.
    """
    configs = topics.image.configs
    cluster = dict(configs.get((BROKER, ""), {}))
    cluster.setdefault(MIN_ISR, str(topics.config.min_insync_replicas))
    node = configs.get((BROKER, str(topics.node.node_id)), {})
    return Layers(
        topics.config, ((DYNAMIC_BROKER_CONFIG, node), (DYNAMIC_DEFAULT_BROKER_CONFIG, cluster))
    )
