"""Hypothesis strategies for any kio entity: a structurally valid request of any API and version.

``entities(cls, pools)`` walks the dataclass fields of a kio schema entity. A field's
``kafka_type`` metadata picks the primitive (integers within their wire bounds, strings,
bytes, uuids, booleans, floats, timedeltas, datetimes, record batches); nested entities and
tuples of them recurse, with few items. Values lean towards what makes a handler go deep:
small integers and -1, and the names and ids in ``pools`` (existing topics, groups, members).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import types
import typing
import uuid
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from kio.schema.errors import ErrorCode

from conformance.records import GZIP, NONE, Record, build_batch

INT_BOUNDS = {
    "int8": 8,
    "int16": 16,
    "int32": 32,
    "int64": 64,
}
SMALL = [-1, 0, 1, 2, 3, 5]
MAX_ITEMS = 3


@dataclasses.dataclass(frozen=True)
class Pools:
    """Values worth drawing often: they name what exists in the broker under test."""

    names: tuple[str, ...]
    uuids: tuple[uuid.UUID, ...]


def _signed(bits: int) -> st.SearchStrategy[int]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return st.one_of(
        st.sampled_from(SMALL),
        st.sampled_from([low, high]),
        st.integers(max(low, -100), min(high, 100_000)),
        st.integers(low, high),
    )


def _milliseconds(bits: int) -> st.SearchStrategy[datetime.timedelta]:
    """Within the wire type and what kio's reader turns into a ``timedelta`` (microseconds in
    an int64: a larger value is a frame refka cannot parse, a kio limit outside this test)."""
    bound = min(2 ** (bits - 1) - 1, 2**53)
    return st.one_of(
        st.sampled_from(SMALL), st.integers(-bound, bound), st.sampled_from([-bound, bound])
    ).map(lambda ms: datetime.timedelta(milliseconds=ms))


def _datetimes() -> st.SearchStrategy[datetime.datetime]:
    return st.integers(0, 2**42).map(
        lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    )


def _text() -> st.SearchStrategy[str]:
    return st.text(max_size=12)


def records() -> st.SearchStrategy[bytes | None]:
    """None, empty, noise, or a valid v2 batch (plain or gzip, idempotent or not)."""
    batch = st.builds(
        lambda values, codec, producer_id, sequence: build_batch(
            [Record(v) for v in values],
            codec=codec,
            producer_id=producer_id,
            producer_epoch=0 if producer_id >= 0 else -1,
            base_sequence=sequence if producer_id >= 0 else -1,
        ),
        st.lists(st.binary(max_size=8), min_size=1, max_size=3),
        st.sampled_from([NONE, GZIP]),
        st.sampled_from([-1, 0, 1, 1000]),
        st.sampled_from([0, 1, 7]),
    )
    return st.one_of(st.none(), st.just(b""), st.binary(max_size=80), batch)


def _primitive(kafka_type: str, nullable: bool, pools: Pools) -> st.SearchStrategy[Any]:
    strategy: st.SearchStrategy[Any]
    if kafka_type in INT_BOUNDS:
        strategy = _signed(INT_BOUNDS[kafka_type])
    elif kafka_type == "uint16":
        strategy = st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 2**16 - 1))
    elif kafka_type == "float64":
        strategy = st.floats(allow_nan=False, allow_infinity=False)
    elif kafka_type == "bool":
        strategy = st.booleans()
    elif kafka_type == "string":
        strategy = st.one_of(st.sampled_from(pools.names), _text())
    elif kafka_type == "bytes":
        strategy = st.binary(max_size=40)
    elif kafka_type == "records":
        return records()
    elif kafka_type == "uuid":
        strategy = st.one_of(
            st.sampled_from([uuid.UUID(int=0), *pools.uuids]), st.uuids(allow_nil=True)
        )
    elif kafka_type == "error_code":
        strategy = st.sampled_from(list(ErrorCode))
    elif kafka_type == "timedelta_i32":
        strategy = _milliseconds(32)
    elif kafka_type == "timedelta_i64":
        strategy = _milliseconds(64)
    elif kafka_type == "datetime_i64":
        strategy = _datetimes()
    else:
        raise NotImplementedError(kafka_type)
    return st.one_of(st.none(), strategy) if nullable else strategy


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None``, and whether None was allowed."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _field(field: dataclasses.Field[Any], pools: Pools) -> st.SearchStrategy[Any]:
    annotation, nullable = _unwrap(field.type)
    kafka_type = field.metadata.get("kafka_type")
    if typing.get_origin(annotation) is tuple:
        inner, inner_nullable = _unwrap(typing.get_args(annotation)[0])
        item = (
            entities(inner, pools)
            if dataclasses.is_dataclass(inner)
            else _primitive(str(kafka_type), inner_nullable, pools)
        )
        items = st.lists(item, max_size=MAX_ITEMS).map(tuple)
        return st.one_of(st.none(), items) if nullable else items
    if dataclasses.is_dataclass(annotation):
        nested = entities(annotation, pools)  # type: ignore[arg-type]
        return st.one_of(st.none(), nested) if nullable else nested
    return _primitive(str(kafka_type), nullable, pools)


def entities(entity_type: type, pools: Pools) -> st.SearchStrategy[Any]:
    """A strategy for ``entity_type`` (a kio schema dataclass) with every field drawn."""
    return _cached(entity_type, pools)


@functools.cache
def _cached(entity_type: type, pools: Pools) -> st.SearchStrategy[Any]:
    fields: Sequence[dataclasses.Field[Any]] = dataclasses.fields(entity_type)
    return st.deferred(
        lambda: st.fixed_dictionaries({f.name: _field(f, pools) for f in fields}).map(
            lambda kwargs: entity_type(**kwargs)
        )
    )
