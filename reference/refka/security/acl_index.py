"""The ACLs of one metadata image, indexed by the resources they cover.

Kafka's ``StandardAuthorizerData`` keeps its ACLs sorted by (type, reversed name) to find
those covering a resource without scanning them all; refka indexes them by (type, name) for
LITERAL ones and by (type, prefix) for PREFIXED ones, and looks up each prefix length that
occurs: the ACLs covering a name are found in O(distinct prefix lengths), not O(ACLs).
"""

from __future__ import annotations

from collections.abc import Iterable

from refka.security.acl import WILDCARD, AclBinding, PatternType, ResourceType


class AclIndex:
    """An immutable index of ``acls`` (built once per image)."""

    __slots__ = ("_literal", "_of_type", "_prefix_lengths", "_prefixed")

    def __init__(self, acls: Iterable[AclBinding]) -> None:
        self._literal: dict[tuple[ResourceType, str], list[AclBinding]] = {}
        self._prefixed: dict[tuple[ResourceType, str], list[AclBinding]] = {}
        self._of_type: dict[ResourceType, list[AclBinding]] = {}
        lengths: dict[ResourceType, set[int]] = {}
        for acl in acls:
            self._of_type.setdefault(acl.resource_type, []).append(acl)
            key = (acl.resource_type, acl.name)
            if acl.pattern_type == PatternType.LITERAL:
                self._literal.setdefault(key, []).append(acl)
            elif acl.pattern_type == PatternType.PREFIXED:
                self._prefixed.setdefault(key, []).append(acl)
                lengths.setdefault(acl.resource_type, set()).add(len(acl.name))
        self._prefix_lengths = {t: sorted(ls) for t, ls in lengths.items()}

    def covering(self, resource_type: ResourceType, name: str) -> list[AclBinding]:
        """The ACLs whose pattern covers the resource (``AclBinding.applies_to``)."""
        found = list(self._literal.get((resource_type, name), ()))
        if name != WILDCARD:
            found += self._literal.get((resource_type, WILDCARD), ())
        for length in self._prefix_lengths.get(resource_type, ()):
            if length > len(name):
                break
            found += self._prefixed.get((resource_type, name[:length]), ())
        return found

    def of_type(self, resource_type: ResourceType) -> list[AclBinding]:
        return self._of_type.get(resource_type, [])
