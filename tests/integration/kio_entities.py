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
from typing import Any, TypeVar

from hypothesis import strategies as st
from kio.schema.errors import ErrorCode

from conformance.records import GZIP, LZ4, NONE, SNAPPY, ZSTD, Record, build_batch

INT_BOUNDS = {
    "int8": 8,
    "int16": 16,
    "int32": 32,
    "int64": 64,
}
SMALL = [-1, 0, 1, 2, 4]
SPECIAL_TIMESTAMPS = [-1, -2, -3, -4, -5]  # ListOffsets: latest, earliest, max timestamp ...
MAX_ITEMS = 3
LIKELY = {  # field name part: values that reach past a handler's first checks
    "partition": [0, 1],
    "index": [0, 1],
    "epoch": [-1, 0],
    "session_id": [0],
    "generation": [-1, 1],
    "acks": [-1, 1, 0],
    "resource_type": [2, 4],
    "key_type": [0, 1],
}
T = TypeVar("T")
LEAN = 6  # how many times more often a likely value is drawn than any other kind
T = TypeVar("T")
TIMESTAMP_TYPE, TRANSACTIONAL, CONTROL = 0x08, 0x10, 0x20  # record batch attributes


@dataclasses.dataclass(frozen=True)
class Pools:
    """Values worth drawing often: they name what exists in the broker under test."""

    topics: tuple[str, ...]
    groups: tuple[str, ...]
    members: tuple[str, ...]
    words: tuple[str, ...]  # config keys and values, protocol names
    uuids: tuple[uuid.UUID, ...]
    timestamps_ms: tuple[int, ...]  # near the broker's clock, for records it accepts


def lean(likely: st.SearchStrategy[T], other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``likely`` LEAN times as often as ``other`` (``one_of`` would draw each equally)."""
    return st.sampled_from([True] * LEAN + [False]).flatmap(lambda yes: likely if yes else other)


def _signed(bits: int) -> st.SearchStrategy[int]:
    """Mostly small (partition indexes, epochs, counts, enums), sometimes anything."""
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    small = st.sampled_from(SMALL)
    return lean(
        small,
        st.one_of(
            st.sampled_from([low, high]),
            st.integers(max(low, -100), min(high, 100_000)),
            st.integers(low, high),
        ),
    )


def _milliseconds(bits: int) -> st.SearchStrategy[datetime.timedelta]:
    """Within the wire type and what kio's reader turns into a ``timedelta`` (microseconds in
    an int64: a larger value is a frame refka cannot parse, a kio limit outside this test)."""
    bound = min(2 ** (bits - 1) - 1, 2**53)
    return st.one_of(
        st.sampled_from(SMALL), st.integers(-bound, bound), st.sampled_from([-bound, bound])
    ).map(_timedelta)


def _timedelta(ms: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=ms)


def _datetimes() -> st.SearchStrategy[datetime.datetime]:
    return st.integers(0, 2**42).map(
        lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    )


def _text() -> st.SearchStrategy[str]:
    return st.text(max_size=12)


def records(pools: Pools) -> st.SearchStrategy[bytes | None]:
    """None, empty, noise, or one or two v2 batches: any codec, idempotent or transactional or
    control, with an empty or lying record count, a bad CRC, or cut short."""
    record = st.builds(
        Record,
        st.one_of(st.none(), st.binary(max_size=8)),
        key=st.sampled_from([None, b"k"]),
        headers=st.sampled_from([(), (("h", b"v"),), (("h", None),)]),
    )
    batch = st.builds(
        lambda records, codec, attributes, producer_id, sequence, timestamp_ms, lie, crc: (
            build_batch(
                records,
                codec=codec,
                attributes=attributes,
                producer_id=producer_id,
                producer_epoch=0 if producer_id >= 0 else -1,
                base_sequence=sequence if producer_id >= 0 else -1,
                timestamp_ms=timestamp_ms,
                record_count=None if lie is None else len(records) + lie,
                corrupt_crc=crc,
            )
        ),
        st.lists(record, max_size=3),
        st.sampled_from([NONE, GZIP, SNAPPY, LZ4, ZSTD]),
        st.sampled_from([0, 0, TIMESTAMP_TYPE, TRANSACTIONAL, CONTROL, TRANSACTIONAL | CONTROL]),
        st.sampled_from([-1, 0, 1, 1000]),
        st.sampled_from([0, 1, 7, -1]),
        st.sampled_from(pools.timestamps_ms),
        st.sampled_from([None, None, None, 1, -1]),
        st.sampled_from([False, False, False, True]),
    )
    batches = lean(
        batch,
        st.one_of(
            st.tuples(batch, batch).map(b"".join),
            st.tuples(batch, st.integers(1, 60)).map(lambda b: b[0][: -b[1]]),
        ),
    )
    return lean(batches, st.one_of(st.none(), st.just(b""), st.binary(max_size=80)))


def _primitive(
    kafka_type: str, nullable: bool, pools: Pools, name: str = ""
) -> st.SearchStrategy[Any]:
    strategy: st.SearchStrategy[Any]
    if kafka_type == "int64" and "timestamp" in name:
        strategy = st.one_of(
            st.sampled_from([*SPECIAL_TIMESTAMPS, *pools.timestamps_ms]), _signed(64)
        )
    elif kafka_type in INT_BOUNDS and any(word in name for word in LIKELY):
        likely = st.sampled_from(LIKELY[next(w for w in LIKELY if w in name)])
        strategy = lean(likely, _signed(INT_BOUNDS[kafka_type]))
    elif kafka_type in INT_BOUNDS:
        strategy = _signed(INT_BOUNDS[kafka_type])
    elif kafka_type == "uint16":
        strategy = st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 2**16 - 1))
    elif kafka_type == "float64":
        strategy = st.floats(allow_nan=False, allow_infinity=False)
    elif kafka_type == "bool":
        strategy = st.booleans()
    elif kafka_type == "string":
        strategy = _string(name, pools)
    elif kafka_type == "bytes":
        strategy = st.binary(max_size=40)
    elif kafka_type == "records":
        return records(pools)
    elif kafka_type == "uuid":
        strategy = st.one_of(
            st.sampled_from([uuid.UUID(int=0), *pools.uuids]), st.uuids(allow_nil=True)
        )
    elif kafka_type == "error_code":
        strategy = st.sampled_from(list(ErrorCode))
    elif kafka_type == "timedelta_i32" and "timeout" in name:
        likely_ms = st.sampled_from([10_000, 45_000, 0]).map(_timedelta)
        strategy = lean(likely_ms, _milliseconds(32))
    elif kafka_type == "timedelta_i32":
        strategy = _milliseconds(32)
    elif kafka_type == "timedelta_i64":
        strategy = _milliseconds(64)
    elif kafka_type == "datetime_i64":
        strategy = _datetimes()
    else:
        raise NotImplementedError(kafka_type)
    return st.one_of(st.none(), strategy) if nullable else strategy


def _string(name: str, pools: Pools) -> st.SearchStrategy[str]:
    """Mostly what the field names (a topic, a group, a member), else any name, word or text."""
    if "member" in name:
        wanted = pools.members
    elif "group" in name or name == "key":
        wanted = pools.groups
    elif "topic" in name or name in ("name", "resource_name"):
        wanted = pools.topics
    else:
        wanted = ()
    anything = st.sampled_from((*pools.topics, *pools.groups, *pools.members))
    others = [anything, st.sampled_from(pools.words), _text()]
    return lean(st.sampled_from(wanted), st.one_of(*others)) if wanted else st.one_of(*others)


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
            else _primitive(str(kafka_type), inner_nullable, pools, field.name)
        )
        items = st.one_of(st.lists(item, min_size=1, max_size=MAX_ITEMS).map(tuple), st.just(()))
        return st.one_of(st.none(), items) if nullable else items
    if dataclasses.is_dataclass(annotation):
        nested = entities(annotation, pools)  # type: ignore[arg-type]
        return st.one_of(st.none(), nested) if nullable else nested
    return _primitive(str(kafka_type), nullable, pools, field.name)


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
