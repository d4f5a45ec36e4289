"""Kafka's ``ConfigurationControlManager``: topic and broker configs as ``ConfigRecord``s.

IncrementalAlterConfigs (KIP-339: SET, DELETE, APPEND, SUBTRACT per key) and the legacy
AlterConfigs (the given keys replace the resource's whole set). Topic configs are checked as
the broker checks them (``LogConfig`` plus ``unclean.leader.election.enable``); a broker
resource is ``""`` (the cluster-wide default) or a broker id, and takes the dynamic keys the
controller and log layer read (others: INVALID_REQUEST, as Kafka refuses static keys).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.controller.topic_control import validate_topic_configs
from refka.core.context import RequestContext
from refka.log.config import LogConfig
from refka.metadata.records import ConfigRecord
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController

TOPIC = 2
BROKER = 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
LIST_KEYS = {"cleanup.policy", "log.cleanup.policy"}
BROKER_DYNAMIC_KEYS = {
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.cleanup.policy",
    "message.max.bytes",
}


def handle_incremental_alter_configs(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    return _handle(c, ctx, request, incremental=True)


def handle_alter_configs(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    return _handle(c, ctx, request, incremental=False)


def _handle(c: QuorumController, ctx: RequestContext, request: Any, incremental: bool) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    results = []
    for resource in request.resources:
        error, message, records = _alter(c, resource, incremental)
        if error is ErrorCode.none and not request.validate_only:
            c.commit(records, ctx.now_ms)
        results.append(
            codec.build(
                m.AlterConfigsResourceResponse,
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    response_class = m.IncrementalAlterConfigsResponse if incremental else m.AlterConfigsResponse
    return codec.build(response_class, throttle_time=codec.millis(0), responses=tuple(results))


def _alter(
    c: QuorumController, resource: Any, incremental: bool
) -> tuple[ErrorCode, str | None, list[Any]]:
    kind, name = resource.resource_type, resource.resource_name
    if kind == TOPIC:
        if name not in c.image.topics_by_name:
            return ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist.", []
    elif kind == BROKER:
        if name and not name.isdigit():
            return ErrorCode.invalid_request, f"Invalid broker name {name}", []
    else:
        return ErrorCode.invalid_request, f"Unsupported resource type {kind}", []
    current = dict(c.image.configs.get((kind, name), {}))
    try:
        wanted = _apply(current, resource.configs) if incremental else _replace(resource.configs)
    except ValueError as error:
        return ErrorCode.invalid_config, str(error), []
    problem = _validate(kind, wanted)
    if problem is not None:
        return problem
    records = [
        ConfigRecord(resource_type=kind, resource_name=name, name=key, value=wanted.get(key))
        for key in sorted(set(current) | set(wanted))
        if current.get(key) != wanted.get(key)
    ]
    return ErrorCode.none, None, records


def _apply(current: dict[str, str], changes: Any) -> dict[str, str]:
    result = dict(current)
    for change in changes:
        key, op, value = change.name, change.config_operation, change.value
        if op == SET:
            if value is None:
                raise ValueError(f"Null value not supported for {key}")
            result[key] = value
        elif op == DELETE:
            result.pop(key, None)
        elif op in (APPEND, SUBTRACT):
            if key not in LIST_KEYS:
                raise ValueError(f"Config value append is not allowed for config key: {key}")
            items = [i for i in result.get(key, "").split(",") if i]
            extra = [i for i in (value or "").split(",") if i]
            if op == APPEND:
                items += [i for i in extra if i not in items]
            else:
                items = [i for i in items if i not in extra]
            result[key] = ",".join(items)
        else:
            raise ValueError(f"Unknown config operation {op}")
    return result


def _replace(configs: Any) -> dict[str, str]:
    return {c.name: c.value for c in configs if c.value is not None}


def _validate(kind: int, configs: dict[str, str]) -> tuple[ErrorCode, str, list[Any]] | None:
    if kind == TOPIC:
        problem = validate_topic_configs(configs, LogConfig())
        return None if problem is None else (ErrorCode.invalid_config, problem, [])
    static = sorted(set(configs) - BROKER_DYNAMIC_KEYS)
    if static:
        return ErrorCode.invalid_request, f"Cannot update these configs dynamically: {static}", []
    for key in ("min.insync.replicas",):
        if key in configs and not (configs[key].isdigit() and int(configs[key]) >= 1):
            return ErrorCode.invalid_config, f"Invalid value {configs[key]} for {key}", []
    return None
