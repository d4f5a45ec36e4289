"""An API's error response built from its schema alone (Kafka's ``AbstractRequest.
getErrorResponse`` where no request detail is needed): every field at its schema default, or
empty, zero or null, and a top-level ``error_code`` set. Kafka answers so a request it refuses
before reading it, e.g. one sent between SaslHandshake and SaslAuthenticate
(ILLEGAL_SASL_STATE), then closes the connection."""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
import uuid
from typing import Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

_ZERO: dict[str, Any] = {
    "string": "",
    "bytes": b"",
    "records": None,
    "bool": False,
    "uuid": uuid.UUID(int=0),
    "float64": 0.0,
    "timedelta_i32": datetime.timedelta(0),
    "timedelta_i64": datetime.timedelta(0),
}


def error_response(api_key: int, api_version: int, error_code: int) -> Any:
    """The response of ``api_key`` at ``api_version`` carrying ``error_code``."""
    return _entity(codec.response_class(api_key, api_version), ErrorCode(error_code))


def _entity(cls: Any, error_code: ErrorCode) -> Any:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name == "error_code":
            values[field.name] = error_code
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            values[field.name] = _empty(field, error_code)
    return cls(**values)


def _empty(field: dataclasses.Field[Any], error_code: ErrorCode) -> Any:
    annotation = field.type
    if typing.get_origin(annotation) is tuple:
        return ()
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _entity(annotation, error_code)
    if isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation):
        return None
    kafka_type = field.metadata.get("kafka_type", "")
    if kafka_type in _ZERO:
        return _ZERO[kafka_type]
    if kafka_type.startswith(("int", "uint")):
        return 0
    if kafka_type.startswith("datetime"):
        return datetime.datetime.fromtimestamp(0, datetime.UTC)
    raise TypeError(f"no empty value for {field.name}: {annotation} ({kafka_type})")
