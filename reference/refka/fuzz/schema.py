"""Hypothesis strategies for kio request entities, built from their schemas.

Each dataclass field of a kio entity carries its Kafka type in ``metadata["kafka_type"]``;
arrays are ``tuple[X, ...]`` and nullable fields ``X | None``. The strategies favour the values
that reach code paths: the edges of each integer type, names the broker knows (``NAMES``),
small arrays, and record batches that are valid or almost so (``records.batches``).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from functools import cache
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from hypothesis import strategies as st
from kio.schema.errors import ErrorCode

from refka.fuzz.records import batches

NAMES = ("fuzz", "fuzz-2", "__consumer_offsets", "g", "")
"""Names that exist or matter on the fuzzed broker: its topics, a group, the internal topic."""

MAX_ARRAY = 3

_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def _signed(bits: int) -> st.SearchStrategy[int]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    edges = st.sampled_from((0, 1, -1, 2, low, high, low + 1, high - 1))
    return st.one_of(edges, st.integers(-2, 16), st.integers(low, high))


def _millis(bits: int) -> st.SearchStrategy[datetime.timedelta]:
    return _signed(bits).map(lambda ms: datetime.timedelta(milliseconds=ms))


def _timestamp() -> st.SearchStrategy[datetime.datetime | None]:
    return st.one_of(
        st.none(),
        st.integers(0, 2**41).map(
            lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
        ),
    )


_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    **{name: _signed(bits) for name, bits in _BITS.items()},
    "uint16": st.one_of(st.sampled_from((0, 1, 65535)), st.integers(0, 65535)),
    "bool": st.booleans(),
    "float64": st.floats(),
    "error_code": st.sampled_from(list(ErrorCode)),
    "string": st.one_of(st.sampled_from(NAMES), st.text(max_size=12)),
    "bytes": st.binary(max_size=40),
    "records": batches(),
    "uuid": st.one_of(st.just(uuid.UUID(int=0)), st.uuids(version=4)),
    "timedelta_i32": _millis(32),
    "timedelta_i64": _millis(48),
    "datetime_i64": _timestamp(),
}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (UnionType, Union):
        args = [a for a in get_args(annotation) if a is not NoneType]
        return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def _field_strategy(field: dataclasses.Field[Any], annotation: Any) -> st.SearchStrategy[Any]:
    annotation, optional = _unwrap_optional(annotation)
    if get_origin(annotation) is tuple:
        inner, inner_optional = _unwrap_optional(get_args(annotation)[0])
        element = _element(field, inner)
        if inner_optional:
            element = st.one_of(st.none(), element)
        strategy: st.SearchStrategy[Any] = st.lists(element, max_size=MAX_ARRAY).map(tuple)
    else:
        strategy = _element(field, annotation)
    return st.one_of(st.none(), strategy) if optional else strategy


def _element(field: dataclasses.Field[Any], annotation: Any) -> st.SearchStrategy[Any]:
    if dataclasses.is_dataclass(annotation):
        return st.deferred(lambda: entities(annotation))  # type: ignore[arg-type]
    kafka_type = field.metadata["kafka_type"]
    if kafka_type == "datetime_i64":
        return _timestamp()  # nullable by itself in kio (-1)
    return _PRIMITIVES[kafka_type]


@cache
def entities(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Instances of the kio entity ``cls``, every field drawn from its Kafka type."""
    hints = get_type_hints(cls)
    fields = {f.name: _field_strategy(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init}
    return st.builds(cls, **fields)
