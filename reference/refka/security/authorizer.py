"""Kafka's ``StandardAuthorizer``: does an ACL allow this principal, from this host, this
operation on this resource?

The decision, as ``StandardAuthorizerData.authorize`` makes it:

1. a principal in ``super.users`` may do anything;
2. the ACLs that apply to the resource are those of its type whose pattern covers its name (a
   LITERAL equal name, the LITERAL wildcard ``*``, a PREFIXED name that starts it);
3. of those, an ACL matches the request if its principal is the requester or ``User:*``, its
   host is the client's address or ``*``, and its operation is the requested one, ``ALL``, or,
   for an ALLOW ACL only, one that implies it (READ/WRITE/DELETE/ALTER imply DESCRIBE,
   ALTER_CONFIGS implies DESCRIBE_CONFIGS);
4. a matching DENY wins; else a matching ALLOW allows; else, when no ACL applies to the
   resource at all, ``allow.everyone.if.no.acl.found`` decides; else denied.

Sans-I/O: the ACLs come from the metadata image (``acls()``), the caller gives the principal
and host. ``refka.security.api_acls`` says which operation each API needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from refka.security.acl import (
    IMPLIES_DESCRIBE,
    IMPLIES_DESCRIBE_CONFIGS,
    OPERATIONS,
    WILDCARD,
    WILDCARD_PRINCIPAL,
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourceType,
)
from refka.security.acl_index import AclIndex

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def parse_super_users(value: str | None) -> frozenset[str]:
    """``super.users``: principals separated by semicolons (``User:alice;User:bob``)."""
    return frozenset(p.strip() for p in (value or "").split(";") if p.strip())


def acl_matches(acl: AclBinding, principal: str, host: str, operation: AclOperation) -> bool:
    """Step 3: ``acl`` (already known to apply to the resource) matches the request."""
    if acl.principal not in (principal, WILDCARD_PRINCIPAL):
        return False
    if acl.host not in (WILDCARD, host):
        return False
    if acl.operation in (AclOperation.ALL, operation):
        return True
    if acl.permission != AclPermissionType.ALLOW:
        return False  # a DENY for READ does not deny DESCRIBE
    if operation == AclOperation.DESCRIBE:
        return acl.operation in IMPLIES_DESCRIBE
    if operation == AclOperation.DESCRIBE_CONFIGS:
        return acl.operation in IMPLIES_DESCRIBE_CONFIGS
    return False


class StandardAuthorizer:
    """The authorizer over the ACLs ``acls()`` returns (the current metadata image's ACLs by
    id, or any collection of bindings); their index is rebuilt when ``acls()`` returns
    another object (a new image), not per request."""

    __slots__ = ("_index", "_source", "acls", "allow_everyone_if_no_acl_found", "super_users")

    def __init__(
        self,
        acls: Callable[[], Mapping[Any, AclBinding] | Iterable[AclBinding]],
        super_users: frozenset[str] = frozenset(),
        allow_everyone_if_no_acl_found: bool = False,
    ) -> None:
        self.acls = acls
        self.super_users = super_users
        self.allow_everyone_if_no_acl_found = allow_everyone_if_no_acl_found
        self._source: object = None
        self._index = AclIndex(())

    def index(self) -> AclIndex:
        source = self.acls()
        if source is not self._source:
            bindings = source.values() if isinstance(source, Mapping) else source
            self._source, self._index = source, AclIndex(bindings)
        return self._index

    def authorize(
        self,
        principal: str,
        host: str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: str,
    ) -> bool:
        if principal in self.super_users:
            return True
        covering = self.index().covering(resource_type, name)
        allowed = False
        for acl in covering:
            if acl_matches(acl, principal, host, operation):
                if acl.permission == AclPermissionType.DENY:
                    return False
                allowed = allowed or acl.permission == AclPermissionType.ALLOW
        if allowed:
            return True
        return not covering and self.allow_everyone_if_no_acl_found

    def authorize_any(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType
    ) -> bool:
        """Whether ``operation`` is allowed on some resource of ``resource_type`` (Kafka's
        ``authorizeByResourceType``, for an idempotent producer's WRITE on any topic, KIP-679):
        a super user; or an ALLOW ACL for the principal, host and operation while no DENY on
        the wildcard ``*`` takes it back; or no ACL of that type under
        ``allow.everyone.if.no.acl.found``. (Kafka also weighs DENY ACLs on prefixes against
        the ALLOW ones; refka does not.)"""
        if principal in self.super_users:
            return True
        of_type = self.index().of_type(resource_type)
        if not of_type:
            return self.allow_everyone_if_no_acl_found
        hits = [acl for acl in of_type if acl_matches(acl, principal, host, operation)]
        if any(
            acl.permission == AclPermissionType.DENY
            and acl.applies_to(resource_type, "*")
            and acl.name == WILDCARD
            for acl in hits
        ):
            return False
        return any(acl.permission == AclPermissionType.ALLOW for acl in hits)

    def authorized_operations(
        self, principal: str, host: str, resource_type: ResourceType, name: str
    ) -> int:
        """The bit field of the operations allowed on the resource (KIP-430): bit ``code``
        set for each allowed operation of its type."""
        bits = 0
        for operation in OPERATIONS.get(resource_type, frozenset()):
            if self.authorize(principal, host, operation, resource_type, name):
                bits |= 1 << int(operation)
        return bits


def make_authorizer(
    class_name: str,
    acls: Callable[[], Mapping[Any, AclBinding] | Iterable[AclBinding]],
    super_users: str = "",
    allow_everyone_if_no_acl_found: bool = False,
) -> StandardAuthorizer | None:
    """The authorizer ``authorizer.class.name`` names: None when empty (no authorization, as
    Kafka); a ValueError for a class refka does not have (Kafka would not start either)."""
    if not class_name.strip():
        return None
    if class_name.strip() != STANDARD_AUTHORIZER:
        raise ValueError(f"authorizer.class.name: refka knows only {STANDARD_AUTHORIZER}")
    return StandardAuthorizer(acls, parse_super_users(super_users), allow_everyone_if_no_acl_found)
