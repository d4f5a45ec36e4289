"""A null where the schema allows none: Kafka refuses the request, refka too.

kio reads a length of -1 as None whether or not the field is nullable; Kafka's generated
readers throw "non-nullable field X was serialized as null", the request fails to parse, and
the broker closes the connection. ``check`` finds such a null in a decoded entity. Only the
fields that can be null on the wire (strings, bytes, records, arrays, and the entities holding
them) are walked; the plan is built once per class.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

_NULLABLE_ON_WIRE = frozenset({"string", "bytes", "records"})


class NullField(ValueError):
    """A non-nullable field read as null."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Check:
    """One field of an entity to check: its name, whether null is allowed, and what to walk."""

    name: str
    nullable: bool
    child: type | None  # an entity class whose own fields need walking
    array: bool


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (UnionType, Union):
        args = [a for a in get_args(annotation) if a is not NoneType]
        return args[0], True
    return annotation, False


@cache
def _plan(cls: Any) -> tuple[_Check, ...]:
    hints = get_type_hints(cls)
    checks = []
    for field in dataclasses.fields(cls):
        annotation, nullable = _unwrap(hints[field.name])
        array = get_origin(annotation) is tuple
        inner = _unwrap(get_args(annotation)[0])[0] if array else annotation
        child = inner if dataclasses.is_dataclass(inner) and _plan(inner) else None  # type: ignore[arg-type]
        on_wire = array or field.metadata.get("kafka_type") in _NULLABLE_ON_WIRE
        if on_wire or child is not None or dataclasses.is_dataclass(inner):
            checks.append(_Check(field.name, nullable, child, array))  # type: ignore[arg-type]
    return tuple(checks)


def check(entity: Any) -> None:
    """Raise ``NullField`` if ``entity`` holds a null where its schema allows none."""
    cls: Any = type(entity)
    for item in _plan(cls):
        value = getattr(entity, item.name)
        if value is None:
            if not item.nullable:
                raise NullField(f"non-nullable field {item.name} was serialized as null")
        elif item.child is not None:
            for child in value if item.array else (value,):
                check(child)
