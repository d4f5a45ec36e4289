"""Kafka requests as bytes, with kio entities: frames, request headers, responses, batches.

Shared by the raw-socket tests (bad input) and the in-process seam test. Nothing here knows
refka: requests are encoded exactly as a client would put them on the wire.
"""

from __future__ import annotations

import datetime
import io
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

import crc32c
from kio.records.schema import NewRecordBatch, Record, RecordHeader
from kio.records.writers import write_new_batch
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import TZAwareMicros, i8, i16, i32, i64

CLIENT_ID = "refka-tests"
SIZE = struct.Struct(">i")


def request_bytes(
    request: Any,
    correlation_id: int,
    *,
    api_key: int | None = None,
    api_version: int | None = None,
    client_id: str | None = CLIENT_ID,
) -> bytes:
    """Request header (v1 or v2, as the entity says) plus body, without the size prefix.

    ``api_key``/``api_version`` overwrite the header's fields, to send what a broker must refuse.
    """
    header_type = request.__header_schema__
    header = header_type(
        request_api_key=i16(request.__api_key__ if api_key is None else api_key),
        request_api_version=i16(request.__version__ if api_version is None else api_version),
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    buffer = io.BytesIO()
    entity_writer(header_type)(buffer, header)
    entity_writer(type(request))(buffer, request)
    return buffer.getvalue()


def frame(payload: bytes) -> bytes:
    """A size-prefixed frame, as every Kafka request and response travels."""
    return SIZE.pack(len(payload)) + payload


def request_frame(request: Any, correlation_id: int, **overrides: Any) -> bytes:
    return frame(request_bytes(request, correlation_id, **overrides))


def decode_response(payload: bytes, response_type: type[Any]) -> tuple[int, Any]:
    """(correlation id, response entity) of one frame's payload (size prefix removed)."""
    header, header_size = entity_reader(response_type.__header_schema__)(payload, 0)
    response, body_size = entity_reader(response_type)(payload, header_size)
    if header_size + body_size != len(payload):
        raise AssertionError(f"{len(payload) - header_size - body_size} trailing bytes")
    return int(header.correlation_id), response


def split_frame(data: bytes) -> bytes:
    """The payload of exactly one size-prefixed frame."""
    (size,) = SIZE.unpack_from(data)
    if size != len(data) - SIZE.size:
        raise AssertionError(f"frame says {size} bytes, carries {len(data) - SIZE.size}")
    return data[SIZE.size :]


def new_batch(
    values: Sequence[bytes],
    *,
    key: bytes | None = None,
    timestamp_ms: int = 1_700_000_000_000,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> bytes:
    """An uncompressed v2 record batch (base offset 0, no producer id), as kio writes it."""
    when = datetime.datetime.fromtimestamp(timestamp_ms / 1000, tz=datetime.UTC)
    records = tuple(
        Record(
            attributes=i8(0),
            timestamp=TZAwareMicros.parse(when),
            offset=i64(index),
            key=key,
            value=value,
            headers=tuple(RecordHeader(key=k, value=v) for k, v in headers),
        )
        for index, value in enumerate(values)
    )
    batch = NewRecordBatch(
        producer_id=i64(-1),
        producer_epoch=i16(-1),
        base_sequence=i32(-1),
        records=records,
        attributes=i16(0),
    )
    buffer = io.BytesIO()
    write_new_batch(buffer, batch)
    return buffer.getvalue()


CRC_AT = 17  # the v2 header's crc field; it covers everything from attributes (@21) on
ATTRIBUTES_AT = 21
RECORDS_COUNT_AT = 57


def with_crc(batch: bytes) -> bytes:
    """The batch with its CRC-32C recomputed, as a careful liar would send it."""
    crc = crc32c.crc32c(batch[ATTRIBUTES_AT:])
    return batch[:CRC_AT] + struct.pack(">I", crc) + batch[ATTRIBUTES_AT:]


class WireClient:
    """One plain TCP connection speaking size-prefixed frames."""

    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.next_correlation_id = 1

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Any, **overrides: Any) -> int:
        correlation_id = self.next_correlation_id
        self.next_correlation_id += 1
        self.sock.sendall(request_frame(request, correlation_id, **overrides))
        return correlation_id

    def read_exactly(self, size: int) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self.sock.recv(size - len(chunks))
            if not chunk:
                return None
            chunks += chunk
        return bytes(chunks)

    def read_frame(self) -> bytes | None:
        """One response payload, or None when the broker closed the connection."""
        size_bytes = self.read_exactly(SIZE.size)
        if size_bytes is None:
            return None
        return self.read_exactly(SIZE.unpack(size_bytes)[0])

    def receive(self, response_type: type[Any], correlation_id: int) -> Any:
        payload = self.read_frame()
        assert payload is not None, "broker closed the connection instead of answering"
        got_id, response = decode_response(payload, response_type)
        assert got_id == correlation_id
        return response

    def call(self, request: Any, response_type: type[Any]) -> Any:
        return self.receive(response_type, self.send(request))

    def closed_by_broker(self, timeout_s: float = 10.0) -> bool:
        """True once the broker closes (EOF or reset) within ``timeout_s`` without answering."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return True
            except TimeoutError:
                return False
            if not data:
                return True
            raise AssertionError(f"broker answered {data[:64]!r} instead of closing")
        return False
