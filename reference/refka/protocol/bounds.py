"""Array counts that cannot be true, refused before kio allocates for them.

kio's native reader sizes a compact array (flexible versions, KIP-482: an unsigned varint
holding count + 1) from its count before reading an element, so a frame that claims four
billion entries makes it allocate 32 GiB and abort the whole process. Every element takes at
least one byte, so a count larger than the bytes left is a lie: ``check(cls, frame, offset)``
walks a flexible request's schema (field order, tagged-field buffers) and raises
``ImpossibleCount`` for such a count. Kafka reads the count and fails the request's parse
(its readers check the bytes left), then closes the connection; refka does the same.
The non-flexible int32 counts are checked by kio itself.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

_FIXED = {
    "int8": 1, "bool": 1, "int16": 2, "uint16": 2, "error_code": 2, "int32": 4,
    "timedelta_i32": 4, "int64": 8, "float64": 8, "timedelta_i64": 8, "datetime_i64": 8,
    "uuid": 16,
}  # fmt: skip
_LENGTH_PREFIXED = frozenset({"string", "bytes", "records"})
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3}")


class ImpossibleCount(ValueError):
    """A length or count larger than the bytes left in the frame."""


Step = Callable[[Any, int, int], int]  # (buffer, position, end) -> new position


def check(cls: type, frame: bytes | memoryview, offset: int) -> None:
    """Raise ``ImpossibleCount`` if a flexible ``cls`` body at ``offset`` claims more than
    the frame holds; a frame that is merely short is left for kio to refuse."""
    if not getattr(cls, "__flexible__", False) or _HIGH_RUN.search(frame, offset) is None:
        return  # no varint of 3+ continuation bytes: every count is under 2**21
    try:
        _entity(cls)(frame, offset, len(frame))
    except IndexError:
        return  # ran out of bytes: kio raises its own error for that


def _uvarint(buf: Any, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80 or shift > 28:
            return value, pos
        shift += 7


def _length(buf: Any, pos: int, end: int, what: str) -> tuple[int, int]:
    """A compact length (stored + 1; 0 is null) checked against the bytes left."""
    stored, pos = _uvarint(buf, pos)
    if stored - 1 > end - pos:
        raise ImpossibleCount(f"{what} claims {stored - 1} entries, {end - pos} bytes left")
    return max(stored - 1, 0), pos


@dataclasses.dataclass(frozen=True, slots=True)
class _Fixed:
    """Skip ``size`` bytes of fixed-size fields."""

    size: int

    def __call__(self, buf: Any, pos: int, end: int) -> int:
        return pos + self.size


def _skip_prefixed(name: str) -> Step:
    def step(buf: Any, pos: int, end: int) -> int:
        size, pos = _length(buf, pos, end, name)
        return pos + size

    return step


def _array(name: str, element: Step) -> Step:
    def step(buf: Any, pos: int, end: int) -> int:
        count, pos = _length(buf, pos, end, name)
        for _ in range(count):
            pos = element(buf, pos, end)
        return pos

    return step


def _optional_entity(element: Step) -> Step:
    def step(buf: Any, pos: int, end: int) -> int:
        marker = buf[pos]
        return pos + 1 if marker == 0xFF else element(buf, pos + 1, end)

    return step


def _inner(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        return next(a for a in get_args(annotation) if a is not type(None)), True
    return annotation, False


def _field_step(field: dataclasses.Field[Any], annotation: Any) -> Step:
    annotation, optional = _inner(annotation)
    if get_origin(annotation) is tuple:
        inner: Any = _inner(get_args(annotation)[0])[0]
        entity = isinstance(inner, type) and dataclasses.is_dataclass(inner)
        element = _entity(inner) if entity else _primitive(field.name, field.metadata["kafka_type"])
        return _array(field.name, element)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        nested = _entity(annotation)
        return _optional_entity(nested) if optional else nested
    return _primitive(field.name, field.metadata["kafka_type"])


def _primitive(name: str, kafka_type: str) -> Step:
    if kafka_type in _LENGTH_PREFIXED:
        return _skip_prefixed(name)
    return _Fixed(_FIXED[kafka_type])


@cache
def _entity(cls: Any) -> Step:
    hints = get_type_hints(cls)
    steps: list[Step] = []
    tagged: dict[int, Step] = {}
    fixed = 0  # the bytes of the fixed-size fields since the last other one: one skip
    for field in dataclasses.fields(cls):
        step = _field_step(field, hints[field.name])
        if "tag" in field.metadata:
            tagged[field.metadata["tag"]] = step
        elif isinstance(step, _Fixed):
            fixed += step.size
        else:
            if fixed:
                steps.append(_Fixed(fixed))
            steps.append(step)
            fixed = 0
    if fixed:
        steps.append(_Fixed(fixed))

    def walk(buf: Any, pos: int, end: int) -> int:
        for step in steps:
            pos = step(buf, pos, end)
        count, pos = _length_plain(buf, pos, end)
        for _ in range(count):
            tag, pos = _uvarint(buf, pos)
            size, pos = _uvarint(buf, pos)
            if size > end - pos:
                raise ImpossibleCount(f"tagged field {tag} claims {size} bytes")
            if tag in tagged:
                tagged[tag](buf, pos, pos + size)
            pos += size
        return pos

    return walk


def _length_plain(buf: Any, pos: int, end: int) -> tuple[int, int]:
    """A tagged-field count (not + 1), checked against the bytes left."""
    count, pos = _uvarint(buf, pos)
    if count > end - pos:
        raise ImpossibleCount(f"{count} tagged fields, {end - pos} bytes left")
    return count, pos
