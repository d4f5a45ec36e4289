"""The metadata records of ACLs: AccessControlEntryRecord (apiKey 18) and
RemoveAccessControlEntryRecord (apiKey 19), as Kafka's ``metadata`` schemas declare them.

Written by the controller for CreateAcls and DeleteAcls, replayed into the image's ``acls`` (by
id) on every node, so ACLs are replicated with the metadata log and survive a restart.
Loaded on the first ACL record (``LAZY_RECORD_MODULES``), as ``topic_records``.

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

import uuid
from dataclasses import dataclass, field
from typing import ClassVar

from kio.static.constants import EntityType

from refka.metadata.records import API_KEYS, RECORD_TYPES, _meta
from refka.security.acl import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
    parse_enum,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessControlEntryRecord:
    """apiKey 18: an ACL was created (codes of ``refka.security.acl``)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    id: uuid.UUID = field(metadata=_meta("uuid"))
    resource_type: int = field(metadata=_meta("int8"))
    resource_name: str = field(metadata=_meta("string"))
    pattern_type: int = field(metadata=_meta("int8"))
    principal: str = field(metadata=_meta("string"))
    host: str = field(metadata=_meta("string"))
    operation: int = field(metadata=_meta("int8"))
    permission_type: int = field(metadata=_meta("int8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveAccessControlEntryRecord:
    """apiKey 19: the ACL ``id`` was deleted."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    id: uuid.UUID = field(metadata=_meta("uuid"))


RECORD_TYPES.update({18: AccessControlEntryRecord, 19: RemoveAccessControlEntryRecord})
API_KEYS.update({cls: key for key, cls in RECORD_TYPES.items()})


def acl_binding(record: AccessControlEntryRecord) -> AclBinding:
    """The ACL a record carries (an unknown code becomes UNKNOWN, which matches nothing)."""
    return AclBinding(
        ResourceType(parse_enum(ResourceType, record.resource_type)),
        record.resource_name,
        PatternType(parse_enum(PatternType, record.pattern_type)),
        record.principal,
        record.host,
        AclOperation(parse_enum(AclOperation, record.operation)),
        AclPermissionType(parse_enum(AclPermissionType, record.permission_type)),
    )


def acl_record(acl_id: uuid.UUID, acl: AclBinding) -> AccessControlEntryRecord:
    return AccessControlEntryRecord(
        id=acl_id,
        resource_type=int(acl.resource_type),
        resource_name=acl.name,
        pattern_type=int(acl.pattern_type),
        principal=acl.principal,
        host=acl.host,
        operation=int(acl.operation),
        permission_type=int(acl.permission),
    )
