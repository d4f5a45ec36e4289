"""AlterConfigs (KIP-133) and IncrementalAlterConfigs (KIP-339) for topic resources.

AlterConfigs replaces a topic's whole set of overrides; IncrementalAlterConfigs applies SET (0),
DELETE (1), APPEND (2) and SUBTRACT (3, list configs only) to single keys. Both validate the
resulting overrides as CreateTopics does (Kafka's ``LogConfig.validate``), persist them and
apply them to the topic's logs at once; ``validate_only`` stops before persisting. Errors and
messages are Kafka 4.4's. Broker resources (dynamic broker configs) are refused: refka reads
its broker configuration from ``server.properties`` only.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.log import topic_configs as defs
from refka.protocol import codec

ALTER_CONFIGS = 33
INCREMENTAL_ALTER_CONFIGS = 44
TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
_OPERATION_NAMES = {APPEND: "APPEND", SUBTRACT: "SUBTRACT"}

Outcome = tuple[ErrorCode, str | None]


class _Refused(Exception):
    def __init__(self, error: ErrorCode, message: str | None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def handle_alter_configs(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    def whole(current: dict[str, str], configs: Any) -> dict[str, str]:
        _no_duplicates(configs)
        for c in configs:
            if c.value is None:
                raise _Refused(
                    ErrorCode.invalid_request, f"Null value not supported for : {c.name}"
                )
        return {c.name: c.value for c in configs}

    return _handle(topics, ctx, request, ALTER_CONFIGS, whole)


def handle_incremental_alter_configs(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    return _handle(topics, ctx, request, INCREMENTAL_ALTER_CONFIGS, _incremental)


def _handle(topics: Topics, ctx: RequestContext, request: Any, key: int, change: Any) -> Any:
    m = codec.response_module(key, ctx.api_version)
    responses = []
    for resource in request.resources:
        error, message = _alter(topics, resource, request.validate_only, change)
        responses.append(
            codec.build(
                m.AlterConfigsResourceResponse,
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    name = "AlterConfigsResponse" if key == ALTER_CONFIGS else "IncrementalAlterConfigsResponse"
    return codec.build(getattr(m, name), throttle_time=codec.millis(0), responses=tuple(responses))


def _alter(topics: Topics, resource: Any, validate_only: bool, change: Any) -> Outcome:
    kind, name = resource.resource_type, resource.resource_name
    if kind in (BROKER, BROKER_LOGGER):
        return ErrorCode.invalid_request, "refka does not support dynamic broker configs"
    if kind != TOPIC:
        return ErrorCode.invalid_request, f"Unknown resource type {kind}"
    topic = topics.metadata.topics.get(name)
    if topic is None:
        return ErrorCode.unknown_topic_or_partition, f"The topic '{name}' does not exist."
    try:
        configs = change(dict(topic.configs), resource.configs)
        topics.log_config(configs)  # Kafka's LogConfig.validate
    except _Refused as refused:
        return refused.error, refused.message
    except ValueError as error:
        return ErrorCode.invalid_config, str(error)
    if not validate_only:
        topics.alter_topic_configs(name, configs)
    return ErrorCode.none, None


def _no_duplicates(configs: Any) -> None:
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise _Refused(ErrorCode.invalid_request, "Error due to duplicate config keys")


def _incremental(current: dict[str, str], configs: Any) -> dict[str, str]:
    _no_duplicates(configs)
    for c in configs:
        if c.config_operation not in (SET, DELETE, APPEND, SUBTRACT):
            raise _Refused(ErrorCode.unknown_server_error, None)
        if c.config_operation != DELETE and c.value is None:
            raise _Refused(ErrorCode.invalid_request, f"Null value not supported for : {c.name}")
        definition = defs.BY_NAME.get(c.name)
        if definition is None:
            raise ValueError(defs.unknown(c.name))
        if c.config_operation == SET:
            current[c.name] = c.value
        elif c.config_operation == DELETE:
            current.pop(c.name, None)
        else:
            current[c.name] = _list_change(definition, current, c)
    return current


def _list_change(d: defs.TopicConfigDef, current: dict[str, str], c: Any) -> str:
    if d.type != defs.LIST:
        operation = _OPERATION_NAMES[c.config_operation]
        raise ValueError(f"Can't {operation} to key {d.name} because its type is not LIST.")
    items = list(defs.parse(d.name, current.get(d.name, d.default), validate=False))  # type: ignore[arg-type]
    given = [i.strip() for i in c.value.split(",") if i.strip()]
    if c.config_operation == APPEND:
        items += [i for i in given if i not in items]
    else:
        items = [i for i in items if i not in given]
    return ",".join(items)
