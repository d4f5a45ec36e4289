"""The admin APIs that change cluster metadata, answered by the controller (KIP-590).

CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments go to the controller
unchanged (``refka.broker.forwarding``); its answer is the broker's answer. Validation and
Kafka's error codes live in ``refka.controller``.

Authorization happens here, at the broker that knows the principal (``security.api_acls``):
items the principal may not touch are answered TOPIC_AUTHORIZATION_FAILED (or
CLUSTER_AUTHORIZATION_FAILED for a broker's configs) and left out of the forwarded request;
ElectLeaders, AlterPartitionReassignments, UnregisterBroker and UnregisterController need ALTER
on the CLUSTER as a whole, ListPartitionReassignments and DescribeQuorum DESCRIBE,
AlterClientQuotas ALTER_CONFIGS.
CreateTopics needs CREATE on the CLUSTER or on the topic.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kio.schema.errors import ErrorCode

from refka.broker import forwarding as f
from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.security.acl import AclOperation, ResourceType
from refka.security.api_acls import CLUSTER, DENIED, TOPIC, allowed

BROKER_RESOURCES = (4, 8)  # ConfigResource BROKER, BROKER_LOGGER: the CLUSTER resource
REQUEST_ITEMS = {
    f.CREATE_TOPICS: "topics",
    f.DELETE_TOPICS: "topics",
    f.CREATE_PARTITIONS: "topics",
    f.ALTER_CONFIGS: "resources",
    f.INCREMENTAL_ALTER_CONFIGS: "resources",
}
RESPONSE_ITEMS = {
    f.CREATE_TOPICS: "topics",
    f.DELETE_TOPICS: "responses",
    f.CREATE_PARTITIONS: "results",
    f.ALTER_CONFIGS: "responses",
    f.INCREMENTAL_ALTER_CONFIGS: "responses",
}


def handle_forwarded(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    if ctx.api_key not in REQUEST_ITEMS:  # the cluster-wide ones
        if not allowed(ctx, CLUSTER):
            return f.failed(ctx, request, ErrorCode.cluster_authorization_failed)
        return topics.forward(ctx, request)
    field = REQUEST_ITEMS[ctx.api_key]
    if ctx.api_key == f.DELETE_TOPICS and ctx.api_version < 6:
        field = "topic_names"
    items = getattr(request, field)
    refusals = [_refusal(topics, ctx, item) for item in items]
    if not any(refusals):
        return topics.forward(ctx, request)
    denied = _denied_items(ctx, request, field, items, refusals)
    kept = tuple(item for item, refused in zip(items, refusals, strict=True) if refused is None)
    if not kept:
        return denied(f.failed(ctx, dataclasses.replace(request, **{field: ()})))
    return topics.forward(ctx, dataclasses.replace(request, **{field: kept}), denied)


def _denied_items(
    ctx: RequestContext, request: Any, field: str, items: Any, refusals: list[ErrorCode | None]
) -> Any:
    """A function adding the refused items' answers to a response of the others."""
    answers: list[Any] = []
    for error in dict.fromkeys(e for e in refusals if e is not None):
        same = tuple(i for i, e in zip(items, refusals, strict=True) if e == error)
        refused = f.failed(ctx, dataclasses.replace(request, **{field: same}), error)
        answers.extend(getattr(refused, RESPONSE_ITEMS[ctx.api_key]))
    out = RESPONSE_ITEMS[ctx.api_key]

    def merge(response: Any) -> Any:
        return dataclasses.replace(response, **{out: (*getattr(response, out), *answers)})

    return merge


def _refusal(topics: Topics, ctx: RequestContext, item: Any) -> ErrorCode | None:
    """The error the item is refused with, or None if the principal may go ahead."""
    if ctx.api_key in (f.ALTER_CONFIGS, f.INCREMENTAL_ALTER_CONFIGS):
        kind = CLUSTER if item.resource_type in BROKER_RESOURCES else TOPIC
        name = "kafka-cluster" if kind == CLUSTER else item.resource_name
        return None if allowed(ctx, kind, name) else DENIED[kind]
    name = _name(topics, item)
    if name is None:
        return None  # an unknown topic id: the controller answers it
    if ctx.api_key == f.CREATE_TOPICS:
        create = AclOperation.CREATE
        if allowed(ctx, CLUSTER, op=create) or allowed(ctx, TOPIC, name, op=create):
            return None
        return DENIED[ResourceType.TOPIC]
    return None if allowed(ctx, TOPIC, name) else DENIED[ResourceType.TOPIC]


def _name(topics: Topics, item: Any) -> str | None:
    if isinstance(item, str):
        return item
    name = getattr(item, "name", None)
    if name is None and getattr(item, "topic_id", None) is not None:
        found = topics.image.topics_by_id.get(item.topic_id)
        return None if found is None else found.name
    return name
