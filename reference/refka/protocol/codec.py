"""Kafka messages to and from bytes, through kio's entities (generated from Kafka's JSON specs).

``build`` makes an entity of any version from keyword arguments, dropping the fields that
version does not have, so one handler serves every version of its API.
"""

from __future__ import annotations

import datetime
import io
import struct
from dataclasses import fields
from functools import cache
from types import ModuleType
from typing import Any, TypeVar

from kio.index import KioIndexError, load_payload_module
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.protocol import Entity

from refka.protocol.varint import encode_uvarint

E = TypeVar("E")

_UTC = datetime.UTC


@cache
def request_module(api_key: int, api_version: int) -> ModuleType:
    """kio's module for a request (raises ``KioIndexError`` for an unknown key or version),
    or ``kio_extra``'s for a version kio lacks."""
    return _module(api_key, api_version, EntityType.request)


@cache
def response_module(api_key: int, api_version: int) -> ModuleType:
    return _module(api_key, api_version, EntityType.response)


def _module(api_key: int, api_version: int, entity_type: EntityType) -> ModuleType:
    try:
        return load_payload_module(api_key, api_version, entity_type)  # type: ignore[arg-type]
    except KioIndexError:
        from refka.protocol import kio_extra  # on first use: the start does not need it

        found = kio_extra.MODULES.get((api_key, api_version))
        if found is None:
            raise
        return found


@cache
def _payload_class(module: ModuleType, entity_type: EntityType) -> type[Entity]:
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "__type__", None) is entity_type:
            return value
    raise LookupError(f"no {entity_type.name} entity in {module.__name__}")


def request_class(api_key: int, api_version: int) -> type[Entity]:
    return _payload_class(request_module(api_key, api_version), EntityType.request)


def response_class(api_key: int, api_version: int) -> type[Entity]:
    return _payload_class(response_module(api_key, api_version), EntityType.response)


def is_flexible(api_key: int, api_version: int) -> bool:
    return bool(request_class(api_key, api_version).__flexible__)


@cache
def _reader(cls: type[Entity]) -> Any:
    return entity_reader(cls)


@cache
def _writer(cls: type[Entity]) -> Any:
    return entity_writer(cls)


def decode(cls: Any, buf: bytes | memoryview, offset: int = 0) -> tuple[Any, int]:
    """Decode one entity from ``buf`` at ``offset``; returns it and the bytes consumed."""
    return _reader(cls)(buf, offset)  # type: ignore[no-any-return]


def encode(entity: Entity) -> bytes:
    """The entity's bytes. Encoding is a function of the entity's value (kio's entities are
    frozen), so recent bodies are remembered by value: a follower sends the same Fetch, and a
    broker the same heartbeat, again and again while nothing changes. The very same entity
    (a follower resends its request object) is found by identity, without hashing it."""
    same = _bodies_by_id.get(id(entity))
    if same is not None and same[0] is entity:  # held here, so its id is not reused
        return same[1]
    try:
        body = _bodies.get(entity)
    except TypeError:  # a field holds a list, not a tuple: not hashable, encode it each time
        return _write(entity)
    if body is None:
        body = _write(entity)
        if len(_bodies) >= _BODIES_REMEMBERED:
            _bodies.clear()
        _bodies[entity] = body
    if len(_bodies_by_id) >= _BODIES_REMEMBERED:
        _bodies_by_id.clear()
    _bodies_by_id[id(entity)] = (entity, body)
    return body


def remember(entity: Entity, body: bytes) -> None:
    """``encode(entity)`` is ``body`` (assembled by the caller from pieces kio encoded, as
    ``fill_arrays`` does), for as long as the entity is remembered."""
    if len(_bodies_by_id) >= _BODIES_REMEMBERED:
        _bodies_by_id.clear()
    _bodies_by_id[id(entity)] = (entity, body)


def fill_arrays(
    skeleton: bytes, stand_ins: list[bytes], arrays: list[list[bytes]], flexible: bool
) -> bytes:
    """``skeleton`` with array ``i``, which holds just the encoded entity ``stand_ins[i]``,
    holding the encoded entities ``arrays[i]`` instead; the arrays stand in ``skeleton`` in
    this order. A change to one entry of a large array then re-encodes that entry only."""
    pieces: list[bytes] = []
    position = 0
    for stand_in, entries in zip(stand_ins, arrays, strict=True):
        placeholder = _array_length(1, flexible) + stand_in
        at = skeleton.index(placeholder, position)
        pieces += (skeleton[position:at], _array_length(len(entries), flexible), *entries)
        position = at + len(placeholder)
    pieces.append(skeleton[position:])
    return b"".join(pieces)


def _array_length(count: int, flexible: bool) -> bytes:
    """An array's length prefix: a uvarint of count + 1 (flexible versions) or an int32."""
    return encode_uvarint(count + 1) if flexible else _INT32.pack(count)


_INT32 = struct.Struct(">i")


def _write(entity: Entity) -> bytes:
    buffer = io.BytesIO()
    _writer(type(entity))(buffer, entity)
    return buffer.getvalue()


_bodies: dict[Entity, bytes] = {}
_bodies_by_id: dict[int, tuple[Entity, bytes]] = {}
_BODIES_REMEMBERED = 1024


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def build(cls: Any, **values: Any) -> Any:
    """Construct ``cls`` from the values it has fields for; the rest are dropped.

    Values are converted to kio's nominal types where plain Python ones are natural:
    ``*_ms`` ints become ``timedelta``/``datetime`` for kio's ``throttle_time`` style fields.
    """
    names = _field_names(cls)
    return cls(**{k: v for k, v in values.items() if k in names})


def millis(ms: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=ms)


def timestamp(ms: int) -> datetime.datetime | None:
    """kio's ``datetime_i64`` fields: -1 (no timestamp) is ``None``."""
    if ms < 0:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=_UTC)


def nested(module: ModuleType, name: str) -> type[Any]:
    """A nested entity class of a request/response module, e.g. ``nested(m, "TopicData")``."""
    cls = getattr(module, name)
    assert isinstance(cls, type)
    return cls


def response_header(correlation_id: int, flexible: bool, body_size: int) -> bytes:
    """The size prefix and response header (v1 adds an empty tagged-field section, v0 does not;
    ApiVersions always answers with v0 so a client can read it before versions are agreed)."""
    if flexible:
        return _HEADER_V1.pack(body_size + 5, correlation_id, 0)
    return _HEADER_V0.pack(body_size + 4, correlation_id)


_HEADER_V0 = struct.Struct(">ii")
_HEADER_V1 = struct.Struct(">iiB")


def request_frame(entity: Entity, correlation_id: int, client_id: str | None) -> bytes:
    """A request as a client sends it: header (v1, or v2 when flexible) and body, no size
    prefix."""
    header = _request_header(
        entity.__header_schema__,  # type: ignore[attr-defined]
        entity.__api_key__,  # type: ignore[attr-defined]
        entity.__version__,  # type: ignore[attr-defined]
        client_id,
    )
    return header[:4] + _CORRELATION_ID.pack(correlation_id) + header[8:] + encode(entity)


@cache
def _request_header(
    header_type: Any, api_key: int, api_version: int, client_id: str | None
) -> bytes:
    """The request header with correlation id 0: in every header version the id is the int32
    after the api key and version (bytes 4 to 8), which ``request_frame`` fills in."""
    return _write(
        header_type(
            request_api_key=api_key,
            request_api_version=api_version,
            correlation_id=0,
            client_id=client_id,
        )
    )


def response_correlation_id(frame: bytes | memoryview) -> int:
    """The correlation id that opens every response header (v0 and v1)."""
    (correlation_id,) = _CORRELATION_ID.unpack_from(frame, 0)
    return int(correlation_id)


def decode_response(cls: Any, frame: bytes | memoryview) -> Any:
    """The body of a response frame (size prefix removed) of type ``cls``, after its header."""
    _, header_size = decode(cls.__header_schema__, frame)
    response, _ = decode(cls, frame, header_size)
    return response


_CORRELATION_ID = struct.Struct(">i")
