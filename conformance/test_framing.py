"""Frames a client never sends: Kafka's answer is to close the connection, and stay up."""

from __future__ import annotations

import struct

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target
from conformance.wire import Connection, build, encode_request, frame


def still_serving(target: Target) -> bool:
    with target.connect() as fresh:
        return fresh.request(build(18, 0)).error_code == ErrorCode.none


def header_only(api_key: int, version: int, correlation_id: int = 9) -> bytes:
    client = b"refka-conformance"
    return struct.pack(">hhih", api_key, version, correlation_id, len(client)) + client


@pytest.mark.api("Framing", behaviour="unknown API key: connection closed")
@pytest.mark.parametrize("api_key", [200, 9999], ids=["200", "9999"])
def test_unknown_api_key(target: Target, conn: Connection, api_key: int) -> None:
    conn.send_raw(frame(header_only(api_key, 0)))
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="unsupported version of a known API: connection closed")
@pytest.mark.observed
def test_unsupported_version(target: Target, conn: Connection) -> None:
    conn.send_raw(frame(header_only(3, 99)))
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="body shorter than its schema: connection closed")
def test_truncated_body(target: Target, conn: Connection) -> None:
    request = encode_request(build(3, 1, topics=[{"name": "some-topic"}]), correlation_id=3)
    conn.send_raw(frame(request[:-6]))
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="frame cut short before the header ends: connection closed")
def test_truncated_header(target: Target, conn: Connection) -> None:
    conn.send_raw(frame(b"\x00\x03\x00"))
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="size above socket.request.max.bytes: connection closed")
def test_oversized_frame(target: Target, conn: Connection) -> None:
    conn.send_raw(struct.pack(">i", 0x7FFFFFF0) + header_only(18, 0))
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="negative frame size: connection closed")
def test_negative_size(target: Target, conn: Connection) -> None:
    conn.send_raw(struct.pack(">i", -5) + b"\x00" * 8)
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="zero-length frame: connection closed")
def test_zero_size(target: Target, conn: Connection) -> None:
    conn.send_raw(struct.pack(">i", 0))
    assert conn.closed_by_peer()
    assert still_serving(target)


@pytest.mark.api("Framing", behaviour="a partial frame is answered once completed")
def test_split_frame(target: Target, conn: Connection) -> None:
    data = frame(encode_request(build(18, 0), correlation_id=77))
    for i in range(0, len(data), 3):
        conn.send_raw(data[i : i + 3])
    assert len(conn.recv_frame()) > 4


@pytest.mark.api("Framing", behaviour="garbage bytes in place of a header: connection closed")
def test_garbage(target: Target, conn: Connection) -> None:
    conn.send_raw(frame(b"\xff" * 40))
    assert conn.closed_by_peer()
    assert still_serving(target)
