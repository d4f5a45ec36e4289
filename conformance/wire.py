"""A minimal Kafka wire client for probes: kio entities over a plain socket.

`Connection.request(entity)` frames the entity with the request header its version needs
(v1, or v2 for flexible versions), sends it and reads the matching response (response header
v0, or v1 for flexible versions; ApiVersions always answers with v0). `send_raw` and
`recv_frame` let a probe send bytes a real client never would.

`build(api_key, version, **fields)` makes the request entity of any version from one set of
keyword arguments: fields the version lacks are dropped, nested dicts and lists become the
version's nested entities, and millisecond ints become timedeltas where the schema says so.
That keeps each probe to one body that runs at whatever version the target speaks.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import socket
import struct
import types
import typing
import uuid
from typing import Any

from kio.index import KioIndexError, load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from refka.protocol.kio_extra import MODULES as EXTRA_SCHEMAS

CLIENT_ID = "refka-conformance"


class ConnectionClosed(ConnectionError):
    """The broker closed the connection (Kafka's answer to a frame it cannot parse)."""


def _nested_type(annotation: Any) -> type | None:
    """The dataclass inside `X`, `X | None` or `tuple[X, ...]`, if any."""
    if dataclasses.is_dataclass(annotation):
        return annotation  # type: ignore[return-value]
    if typing.get_origin(annotation) in (tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _nested_type(arg) if arg is not Ellipsis else None
            if found is not None:
                return found
    return None


def _convert(field: dataclasses.Field[Any], value: Any) -> Any:
    kafka_type = field.metadata.get("kafka_type")
    if value is None:
        return None
    if kafka_type in ("timedelta_i32", "timedelta_i64") and isinstance(value, int):
        return datetime.timedelta(milliseconds=value)
    if kafka_type == "uuid" and isinstance(value, str):
        return uuid.UUID(value)
    nested = _nested_type(field.type)
    if nested is not None:
        if isinstance(value, list | tuple):
            return tuple(make(nested, item) if isinstance(item, dict) else item for item in value)
        if isinstance(value, dict):
            return make(nested, value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _has_no_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def make(entity_type: type, values: dict[str, Any]) -> Any:
    """Instantiate `entity_type` from `values`, ignoring keys it has no field for.

    A boolean field missing from `values` is False (the flags versions add are opt-in).
    """
    kwargs = {}
    for field in dataclasses.fields(entity_type):
        if field.name in values:
            kwargs[field.name] = _convert(field, values[field.name])
        elif field.metadata.get("kafka_type") == "bool" and _has_no_default(field):
            kwargs[field.name] = False
    return entity_type(**kwargs)


def request_schema(api_key: int, version: int) -> Any:
    """kio's request entity of `api_key` at `version`, or the one declared where kio lacks it
    (`refka.protocol.kio_extra`: ApiVersions v5, DeleteGroups v3, UnregisterController v0)."""
    try:
        return load_request_schema(api_key, version)
    except KioIndexError:
        return _extra_schema(api_key, version, EntityType.request)


def response_schema(api_key: int, version: int) -> Any:
    try:
        return load_response_schema(api_key, version)
    except KioIndexError:
        return _extra_schema(api_key, version, EntityType.response)


def _extra_schema(api_key: int, version: int, kind: EntityType) -> Any:
    module = EXTRA_SCHEMAS.get((api_key, version))
    if module is None:
        raise KioIndexError(f"no schema for API {api_key} v{version}")
    found = [v for v in vars(module).values() if getattr(v, "__type__", None) is kind]
    return found[0]


def build(api_key: int, version: int, **values: Any) -> Any:
    """The request entity of `api_key` at `version` built from `values`."""
    return make(request_schema(api_key, version), values)


def encode_request(
    entity: Any,
    correlation_id: int,
    client_id: str | None = CLIENT_ID,
    *,
    api_key: int | None = None,
    api_version: int | None = None,
) -> bytes:
    """Header and body of a request, without the 4-byte size prefix.

    `api_key`/`api_version` overwrite the header's fields, to send what a broker must refuse.
    """
    header_type = entity.__header_schema__
    buffer = io.BytesIO()
    header = header_type(
        request_api_key=entity.__api_key__ if api_key is None else api_key,
        request_api_version=entity.__version__ if api_version is None else api_version,
        correlation_id=correlation_id,
        client_id=client_id,
    )
    entity_writer(header_type)(buffer, header)
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def decode_response(
    payload: bytes, response_type: Any, correlation_id: int | None = None
) -> tuple[Any, int]:
    """(response entity, bytes left after its body) of one frame's payload.

    AssertionError if the header's correlation id is not `correlation_id` (when given).
    """
    header, header_size = entity_reader(response_type.__header_schema__)(payload, 0)
    if correlation_id is not None and header.correlation_id != correlation_id:
        raise AssertionError(f"correlation id {header.correlation_id}, expected {correlation_id}")
    response, body_size = entity_reader(response_type)(payload, header_size)
    return response, len(payload) - header_size - body_size


class Connection:
    """One TCP connection to a broker (the first of a comma-separated bootstrap list);
    requests are answered in order.

    With `exact`, a response with bytes after its body fails (refka's own tests); the suite
    reads as clients do and ignores them.
    """

    def __init__(self, bootstrap: str, timeout_s: float = 15.0, *, exact: bool = False) -> None:
        host, _, port = bootstrap.split(",")[0].strip().rpartition(":")  # the first of a list
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout_s = timeout_s
        self.exact = exact
        self._next_correlation_id = 1

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(
        self, entity: Any, *, api_key: int | None = None, api_version: int | None = None
    ) -> int:
        """Send a request without waiting; return its correlation id.

        `api_key`/`api_version` overwrite the request header's fields.
        """
        correlation_id = self._next_correlation_id
        self._next_correlation_id += 1
        request = encode_request(entity, correlation_id, api_key=api_key, api_version=api_version)
        self.send_raw(frame(request))
        return correlation_id

    def receive(self, request: Any, correlation_id: int) -> Any:
        """Read the response to `request` (sent with `correlation_id`)."""
        response_type = response_schema(request.__api_key__, request.__version__)
        response, unread = decode_response(self.recv_frame(), response_type, correlation_id)
        if self.exact and unread:
            raise AssertionError(f"{unread} trailing bytes after the response")
        return response

    def request(self, entity: Any, timeout_s: float | None = None) -> Any:
        """Send `entity` and return the response entity."""
        self.sock.settimeout(timeout_s or self.timeout_s)
        try:
            return self.receive(entity, self.send(entity))
        finally:
            self.sock.settimeout(self.timeout_s)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv_exact(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self.sock.recv(min(size - len(chunks), 1 << 20))
            if not chunk:
                raise ConnectionClosed("the broker closed the connection")
            chunks += chunk
        return bytes(chunks)

    def recv_frame(self) -> bytes:
        """One response frame's payload (header and body); `ConnectionClosed` at end of file."""
        (size,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(size)

    def closed_by_peer(self, timeout_s: float = 10.0) -> bool:
        """Wait up to `timeout_s` for the broker to close the connection (True if it did)."""
        self.sock.settimeout(timeout_s)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(self.timeout_s)
