"""Kafka's ``ConfigurationControlManager``: topic and broker configs as ``ConfigRecord``s.

IncrementalAlterConfigs (KIP-339: SET, DELETE, APPEND, SUBTRACT per key) and the legacy
AlterConfigs (the given keys replace the resource's whole set). Topic configs are checked as
CreateTopics checks them (Kafka's ``LogConfig.validate``), with Kafka 4.4's errors and
messages (duplicate keys, null values, APPEND/SUBTRACT on a non-LIST key); a broker
resource is ``""`` (the cluster-wide default) or a broker id, and takes the dynamic keys the
controller and log layer read (others: INVALID_REQUEST, as Kafka refuses static keys).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.controller import broker_config_checks as checks
from refka.controller.topic_control import validate_topic_configs
from refka.core.context import RequestContext
from refka.core.kafka_configs import recorded
from refka.log import topic_configs as defs
from refka.metadata.topic_records import ConfigRecord
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController

TOPIC = 2
BROKER = 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
BROKER_LIST_KEYS = {"log.cleanup.policy"}


def handle_incremental_alter_configs(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    return _handle(c, ctx, request, incremental=True)


def handle_alter_configs(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    return _handle(c, ctx, request, incremental=False)


def _handle(c: QuorumController, ctx: RequestContext, request: Any, incremental: bool) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    named = Counter((r.resource_type, r.resource_name) for r in request.resources)
    results = []
    for resource in request.resources:
        message: str | None
        records: list[Any] = []
        if named[(resource.resource_type, resource.resource_name)] > 1:
            error, message = ErrorCode.invalid_request, "Each resource must appear at most once."
        else:
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
        if not name:
            return ErrorCode.invalid_request, "Default topic resources are not allowed.", []
        if name not in c.image.topics_by_name:
            return ErrorCode.unknown_topic_or_partition, f"The topic '{name}' does not exist.", []
    elif kind == BROKER:
        if name and not name.isdigit():
            return ErrorCode.invalid_request, f"Invalid broker name {name}", []
    else:
        return ErrorCode.invalid_request, f"Unknown resource type {kind}", []
    current = dict(c.image.configs.get((kind, name), {}))
    try:
        _no_duplicates(resource.configs)
        if incremental:
            wanted = _incremental(kind, dict(current), resource.configs)
        else:
            wanted = _whole(resource.configs)
    except _Refused as refused:
        return refused.error, refused.message, []
    except ValueError as error:
        return ErrorCode.invalid_config, str(error), []
    problem = _validate(kind, wanted)
    if problem is not None:
        return problem
    per_broker = kind == BROKER and name and "min.insync.replicas" in wanted
    if per_broker and c.settings.eligible_leader_replicas_enabled:  # KIP-966: cluster-wide
        message = "Broker-level min.insync.replicas cannot be altered while ELR is enabled."
        return ErrorCode.invalid_config, message, []
    records = [
        ConfigRecord(resource_type=kind, resource_name=name, name=key, value=wanted.get(key))
        for key in sorted(set(current) | set(wanted))
        if current.get(key) != wanted.get(key)
    ]
    return ErrorCode.none, None, records


class _Refused(Exception):
    def __init__(self, error: ErrorCode, message: str | None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def _no_duplicates(configs: Any) -> None:
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise _Refused(ErrorCode.invalid_request, "Error due to duplicate config keys")


def _null_value(name: str) -> _Refused:
    return _Refused(ErrorCode.invalid_request, f"Null value not supported for : {name}")


def _whole(configs: Any) -> dict[str, str]:
    """AlterConfigs: the given keys replace the resource's whole set."""
    for c in configs:
        if c.value is None:
            raise _null_value(c.name)
    return {c.name: c.value for c in configs}


def _incremental(kind: int, current: dict[str, str], changes: Any) -> dict[str, str]:
    """KIP-339: SET, DELETE, APPEND and SUBTRACT (the last two on LIST configs only)."""
    for change in changes:
        key, op, value = change.name, change.config_operation, change.value
        if op not in (SET, DELETE, APPEND, SUBTRACT):
            raise _Refused(ErrorCode.unknown_server_error, None)
        if op != DELETE and value is None:
            raise _null_value(key)
        definition = defs.BY_NAME.get(key) if kind == TOPIC else None
        if kind == TOPIC and definition is None and op != DELETE:
            raise ValueError(defs.unknown(key))
        if op == SET:
            current[key] = value
        elif op == DELETE:
            current.pop(key, None)
        else:
            current[key] = _list_change(key, definition, current, op, value)
    return current


def _list_change(
    key: str, d: defs.TopicConfigDef | None, current: dict[str, str], op: int, value: str
) -> str:
    if (d is not None and d.type != defs.LIST) or (d is None and key not in BROKER_LIST_KEYS):
        operation = "APPEND" if op == APPEND else "SUBTRACT"
        raise ValueError(f"Can't {operation} to key {key} because its type is not LIST.")
    default = d.default if d is not None else ""
    items = [i.strip() for i in current.get(key, default).split(",") if i.strip()]
    given = [i.strip() for i in value.split(",") if i.strip()]
    if op == APPEND:
        items += [i for i in given if i not in items]
    else:
        items = [i for i in items if i not in given]
    return ",".join(items)


def _validate(kind: int, configs: dict[str, str]) -> tuple[ErrorCode, str, list[Any]] | None:
    if kind == TOPIC:
        problem = validate_topic_configs(configs)
        return None if problem is None else (ErrorCode.invalid_config, problem, [])
    static = sorted(k for k in configs if k in recorded().broker and recorded().broker[k].read_only)
    if static:
        listed = ", ".join(static)
        return ErrorCode.invalid_request, f"Cannot update these configs dynamically: [{listed}]", []
    for key, value in configs.items():
        complaint = checks.problem(key, value)
        if complaint is not None:
            return ErrorCode.invalid_request, complaint, []
    return None
