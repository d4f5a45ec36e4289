"""CreateAcls / DescribeAcls / DeleteAcls entries <-> ACL bindings and filters, with Kafka's
validation (``AclApis``, ``AclControlManager.validateNewAcl`` and ``validateFilter``)."""

from __future__ import annotations

from typing import Any

from kio.static.primitive import i8

from refka.security.acl import (
    CLUSTER_NAME,
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
    parse_enum,
)

Op, Perm, PT, RT = AclOperation, AclPermissionType, PatternType, ResourceType


def binding_of(creation: Any) -> AclBinding:
    """A CreateAcls ``AclCreation`` as a binding (unknown codes become UNKNOWN)."""
    return AclBinding(
        RT(parse_enum(RT, creation.resource_type)),
        creation.resource_name,
        PT(parse_enum(PT, getattr(creation, "resource_pattern_type", PT.LITERAL))),
        creation.principal,
        creation.host,
        Op(parse_enum(Op, creation.operation)),
        Perm(parse_enum(Perm, creation.permission_type)),
    )


def unbuildable(acl: AclBinding) -> str | None:
    """Why Kafka cannot even build ``acl`` (an ANY, MATCH or UNKNOWN where a concrete value
    belongs): the whole CreateAcls request fails with UNKNOWN_SERVER_ERROR, as observed."""
    if acl.resource_type in (RT.UNKNOWN, RT.ANY):
        return f"resourceType must not be {acl.resource_type.name}"
    if acl.pattern_type not in (PT.LITERAL, PT.PREFIXED):
        return f"patternType must not be {acl.pattern_type.name}"
    if acl.operation in (Op.UNKNOWN, Op.ANY):
        return f"operation must not be {acl.operation.name}"
    if acl.permission not in (Perm.ALLOW, Perm.DENY):
        return f"permissionType must not be {acl.permission.name}"
    return None


def invalid_binding(acl: AclBinding) -> str | None:
    """Why Kafka refuses to create ``acl`` with INVALID_REQUEST, or None."""
    if acl.resource_type == RT.CLUSTER and acl.name != CLUSTER_NAME:
        return f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
    if not acl.name:
        return "Invalid empty resource name"
    if ":" not in acl.principal:
        return f"Could not parse principal from `{acl.principal}` (no colon is found)"
    return None


def filter_of(entry: Any) -> AclFilter:
    """A DescribeAcls request or a DeleteAcls ``DeleteAclsFilter`` as a filter."""
    return AclFilter(
        RT(parse_enum(RT, entry.resource_type_filter)),
        entry.resource_name_filter,
        PT(parse_enum(PT, getattr(entry, "pattern_type_filter", PT.LITERAL))),
        entry.principal_filter,
        entry.host_filter,
        Op(parse_enum(Op, entry.operation)),
        Perm(parse_enum(Perm, entry.permission_type)),
    )


def acl_fields(acl: AclBinding) -> dict[str, Any]:
    """The wire fields of ``acl`` (DeleteAcls' matching ACL; DescribeAcls' two levels)."""
    return {
        "resource_type": i8(int(acl.resource_type)),
        "resource_name": acl.name,
        "pattern_type": i8(int(acl.pattern_type)),
        "principal": acl.principal,
        "host": acl.host,
        "operation": i8(int(acl.operation)),
        "permission_type": i8(int(acl.permission)),
    }
