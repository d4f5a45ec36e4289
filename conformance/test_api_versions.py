"""ApiVersions (KIP-35, KIP-511): the first request every client sends."""

from __future__ import annotations

import struct

import pytest
from kio.schema.api_versions.v0.response import ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.schema.response_header.v0.header import ResponseHeader
from kio.serial import entity_reader

from conformance.api_parity import KAFKA_4_4
from conformance.target import NOT_SUPPORTED, Target, require_api
from conformance.wire import Connection, build, encode_request, frame


@pytest.mark.api("ApiVersions", behaviour="v0 answers without error and lists ApiVersions")
def test_v0_lists_itself(conn: Connection) -> None:
    answer = conn.request(build(18, 0))
    assert answer.error_code == ErrorCode.none
    keys = {a.api_key: (a.min_version, a.max_version) for a in answer.api_keys}
    assert 18 in keys and keys[18][0] == 0


@pytest.mark.api("ApiVersions", behaviour="every advertised range has min <= max")
def test_ranges_well_formed(target: Target) -> None:
    assert target.api_ranges
    assert all(0 <= lo <= hi for lo, hi in target.api_ranges.values())


@pytest.mark.api("ApiVersions", behaviour="answers at each advertised version")
@pytest.mark.parametrize("version", [0, 1, 2, 3, 4, 5])
def test_answers_at_version(target: Target, conn: Connection, version: int) -> None:
    require_api(target, "ApiVersions", version, version)
    answer = conn.request(
        build(18, version, client_software_name="refka-conformance", client_software_version="1")
    )
    assert answer.error_code == ErrorCode.none
    ranges = {a.api_key: (a.min_version, a.max_version) for a in answer.api_keys}
    assert ranges == target.api_ranges


@pytest.mark.api("ApiVersions", behaviour="unsupported version gets a v0 answer with error 35")
def test_unsupported_version_falls_back_to_v0(conn: Connection) -> None:
    request = build(18, 3, client_software_name="refka-conformance", client_software_version="1")
    payload = bytearray(encode_request(request, correlation_id=42))
    payload[2:4] = struct.pack(">h", 127)  # request_api_version in the header
    conn.send_raw(frame(bytes(payload)))
    reply = conn.recv_frame()
    header, offset = entity_reader(ResponseHeader)(reply, 0)
    answer, _ = entity_reader(ApiVersionsResponse)(reply, offset)
    assert header.correlation_id == 42
    assert answer.error_code == ErrorCode.unsupported_version
    assert any(a.api_key == 18 for a in answer.api_keys), "KIP-511: the answer lists ApiVersions"


@pytest.mark.api("ApiVersions", behaviour="invalid client software name gets INVALID_REQUEST")
def test_invalid_client_software_name(target: Target, conn: Connection) -> None:
    require_api(target, "ApiVersions", 3, 3)
    answer = conn.request(
        build(18, 3, client_software_name="bad name!", client_software_version="1")
    )
    assert answer.error_code == ErrorCode.invalid_request


@pytest.mark.api("ApiVersions", behaviour="the response carries the request's correlation id")
def test_correlation_id_echoed(conn: Connection) -> None:
    conn.send_raw(frame(encode_request(build(18, 0), correlation_id=0x7ABCDEF0)))
    header, _ = entity_reader(ResponseHeader)(conn.recv_frame(), 0)
    assert header.correlation_id == 0x7ABCDEF0


@pytest.mark.api("ApiVersions", behaviour="pipelined requests are answered in order")
def test_pipelined_in_order(conn: Connection) -> None:
    ids = [101, 102, 103, 104]
    conn.send_raw(b"".join(frame(encode_request(build(18, 0), correlation_id=i)) for i in ids))
    seen = [entity_reader(ResponseHeader)(conn.recv_frame(), 0)[0].correlation_id for _ in ids]
    assert seen == ids


@pytest.mark.api("ApiVersions", behaviour="a null client id is accepted")
def test_null_client_id(conn: Connection) -> None:
    conn.send_raw(frame(encode_request(build(18, 0), correlation_id=5, client_id=None)))
    reply = conn.recv_frame()
    header, offset = entity_reader(ResponseHeader)(reply, 0)
    answer, _ = entity_reader(ApiVersionsResponse)(reply, offset)
    assert header.correlation_id == 5 and answer.error_code == ErrorCode.none


@pytest.mark.api("ApiVersions", behaviour="advertises the core data-plane APIs")
@pytest.mark.parametrize("api_key", [0, 1, 2, 3])
def test_core_apis_advertised(target: Target, api_key: int) -> None:
    assert api_key in target.api_ranges


@pytest.mark.api("ApiVersions", behaviour="advertises Apache Kafka 4.4's version range of an API")
@pytest.mark.parametrize("api_key", sorted(KAFKA_4_4), ids=lambda k: KAFKA_4_4[k][0])
def test_range_matches_kafka(target: Target, api_key: int) -> None:
    """Version parity (issue 12): an API the target speaks, it speaks at Kafka 4.4's range
    (``conformance/api_parity.py``; against Kafka this checks the table is still Kafka's)."""
    name, low, high = KAFKA_4_4[api_key]
    if api_key not in target.api_ranges:
        pytest.skip(f"{NOT_SUPPORTED}: {name} (target advertises none)")
    assert target.api_ranges[api_key] == (low, high), f"Kafka 4.4 advertises {name} v{low}-v{high}"
