"""Hypothesis strategies for metadata records: any record (codec tests) and valid sequences
of records a controller could write (image tests)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, get_args, get_origin

from hypothesis import strategies as st
from refka.metadata import records as r

_INTS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def _scalar(kafka_type: str) -> st.SearchStrategy[Any]:
    if kafka_type in _INTS:
        low, high = _INTS[kafka_type]
        return st.integers(low, high)
    if kafka_type == "bool":
        return st.booleans()
    if kafka_type == "uuid":
        return st.uuids()
    if kafka_type == "string":
        return st.text(max_size=10)
    raise AssertionError(kafka_type)


def _for_field(f: Any) -> st.SearchStrategy[Any]:
    args = get_args(f.type)
    nullable = type(None) in args
    inner = next((a for a in args if a is not type(None)), f.type) if nullable else f.type
    if get_origin(inner) is tuple:
        item = get_args(inner)[0]
        items = entity(item) if is_dataclass(item) else _scalar(f.metadata["kafka_type"])
        value: st.SearchStrategy[Any] = st.lists(items, max_size=3).map(tuple)
    else:
        value = _scalar(f.metadata["kafka_type"])
    return st.none() | value if nullable else value


def entity(cls: Any) -> st.SearchStrategy[Any]:
    """Any instance of a record (or nested) class, every field drawn over its Kafka type."""
    return st.builds(cls, **{f.name: _for_field(f) for f in fields(cls)})


def any_record() -> st.SearchStrategy[Any]:
    return st.sampled_from(list(r.RECORD_TYPES.values())).flatmap(entity)
