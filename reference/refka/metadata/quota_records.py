"""``ClientQuotaRecord`` (apiKey 14): one quota key of one client quota entity set, or with
``remove`` removed (KIP-546), declared as ``refka.metadata.records`` declares the others.

Its own module, loaded on the first quota record (issue 15); the class registers itself below.

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from kio.static.constants import EntityType

from refka.metadata.records import API_KEYS, RECORD_TYPES, _entities, _f, _meta


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityData:
    """One component of the entity: its type (``user``, ``client-id``, ``ip``) and name
    (``None``: the default entity of that type)."""

    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    entity_type: str = field(metadata=_meta("string"))
    entity_name: str | None = _f("string", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientQuotaRecord:
    """apiKey 14: set ``key`` of the entity to ``value``, or remove it."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    entity: tuple[EntityData, ...] = _entities()
    key: str = field(metadata=_meta("string"))
    value: float = _f("float64", 0.0)
    remove: bool = _f("bool", False)


RECORD_TYPES[14] = ClientQuotaRecord
API_KEYS[ClientQuotaRecord] = 14
