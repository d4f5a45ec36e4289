"""DescribeAcls, CreateAcls and DeleteAcls at the broker (Kafka's ``AclApis``).

Without an authorizer all three answer SECURITY_DISABLED. All three need an operation on the
CLUSTER (DESCRIBE, ALTER, ALTER; ``security.api_acls``):
denied, every item gets CLUSTER_AUTHORIZATION_FAILED. DescribeAcls reads the ACLs of the
broker's metadata image; CreateAcls and DeleteAcls change metadata, so they are forwarded to
the controller (``refka.controller.acl_control``), as KRaft brokers do (KIP-590).
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.broker.forwarding import failed
from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec
from refka.security.acl import AclBinding, PatternType, ResourceType
from refka.security.acl_requests import acl_fields, filter_of
from refka.security.api_acls import CLUSTER, allowed


def handle_describe_acls(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)

    def answer(error: ErrorCode, message: str | None, resources: tuple[Any, ...] = ()) -> Any:
        return codec.build(
            m.DescribeAclsResponse,
            throttle_time=codec.millis(0),
            error_code=error,
            error_message=message,
            resources=resources,
        )

    if ctx.authorizer is None:
        return answer(ErrorCode.security_disabled, "No Authorizer is configured.")
    if not allowed(ctx, CLUSTER):
        return answer(ErrorCode.cluster_authorization_failed, None)
    acl_filter = filter_of(request)
    why = acl_filter.invalid()
    if why is not None:
        return answer(ErrorCode.invalid_request, why)
    by_resource: dict[tuple[ResourceType, str, PatternType], list[AclBinding]] = {}
    for acl in topics.image.acls.values():
        if acl_filter.matches(acl):
            by_resource.setdefault((acl.resource_type, acl.name, acl.pattern_type), []).append(acl)
    resources = tuple(
        codec.build(
            m.DescribeAclsResource,
            **acl_fields(acls[0]),
            acls=tuple(
                codec.build(m.AclDescription, **acl_fields(acl)) for acl in sorted(acls, key=_order)
            ),
        )
        for _, acls in sorted(by_resource.items())
    )
    return answer(ErrorCode.none, None, resources)


def _order(acl: AclBinding) -> tuple[str, str, int, int]:
    return acl.principal, acl.host, acl.operation, acl.permission


def handle_alter_acls(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    """CreateAcls and DeleteAcls: ALTER on the CLUSTER, then the controller's answer
    (SECURITY_DISABLED without an authorizer, as Kafka)."""
    if ctx.authorizer is None:
        return failed(ctx, request, ErrorCode.security_disabled)
    if not allowed(ctx, CLUSTER):
        return failed(ctx, request, ErrorCode.cluster_authorization_failed)
    return topics.forward(ctx, request)
