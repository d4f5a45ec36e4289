"""Frames and request headers, sans-I/O."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.serial import entity_reader
from refka.protocol.framing import (
    NEED_DATA,
    FrameDecoder,
    FrameTooLarge,
    InvalidRequestHeader,
    encode_response_frame,
    parse_request_header,
    request_is_flexible,
    response_header_flexible,
)

FRAMES = [b"", b"a", b"hello world" * 30, bytes(range(256))]
STREAM = b"".join(struct.pack(">i", len(f)) + f for f in FRAMES)


def drain(decoder: FrameDecoder) -> list[bytes]:
    out: list[bytes] = []
    while True:
        frame = decoder.next_frame()
        if frame is NEED_DATA or frame is None:
            return out
        out.append(frame)


def test_every_split_point_and_byte_by_byte_give_the_same_frames() -> None:
    for cut in range(len(STREAM) + 1):
        decoder = FrameDecoder()
        decoder.feed(STREAM[:cut])
        got = drain(decoder)
        decoder.feed(STREAM[cut:])
        assert got + drain(decoder) == FRAMES
    decoder = FrameDecoder()
    got = []
    for i in range(len(STREAM)):
        decoder.feed(STREAM[i : i + 1])
        got += drain(decoder)
    assert got == FRAMES and decoder.buffered_bytes == 0


def test_many_small_frames_in_one_read_and_end_of_stream() -> None:
    decoder = FrameDecoder()
    decoder.feed(STREAM * 500 + STREAM[:20])
    assert drain(decoder) == FRAMES * 500 + FRAMES[:2]
    decoder.feed(STREAM[20:] + STREAM * 500)  # compacts the consumed prefix first
    assert drain(decoder) == FRAMES[2:] + FRAMES * 500
    decoder.feed(struct.pack(">i", 10) + b"abc")
    assert decoder.next_frame() is NEED_DATA
    decoder.feed(b"")
    assert decoder.next_frame() is None


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=300_000), max_size=12),
    seed=st.integers(0, 255),
)
def test_large_frames_gathered_in_their_own_buffer_survive_any_split(
    cuts: list[int], seed: int
) -> None:
    """Frames over 64 KiB take the one-copy path; small frames before and after them still
    come out whole and in order, whatever the read boundaries."""
    large = [bytes([seed]) * 70_000, bytes(range(256)) * 400]
    frames = [b"x", large[0], b"", large[1], b"tail" * 10]
    stream = b"".join(struct.pack(">i", len(f)) + f for f in frames)
    decoder = FrameDecoder(max_frame_bytes=1 << 20)
    got: list[bytes] = []
    last = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        if cut > last:
            decoder.feed(stream[last:cut])
        got += [bytes(f) for f in drain(decoder)]
        last = max(last, cut)
    assert got == frames and decoder.buffered_bytes == 0


@pytest.mark.parametrize("size", [-1, -(2**31), 101])
def test_negative_or_oversized_prefix_raises_before_the_body_arrives(size: int) -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.feed(struct.pack(">i", size))
    with pytest.raises(FrameTooLarge):
        decoder.next_frame()
    ok = FrameDecoder(max_frame_bytes=100)
    ok.feed(struct.pack(">i", 100) + b"x" * 100)
    assert ok.next_frame() == b"x" * 100


def test_header_v1_for_non_flexible_and_v2_for_flexible_versions() -> None:
    v1 = struct.pack(">hhih", 0, 8, 42, 3) + b"cli" + b"BODY"  # Produce v8
    fields, start = parse_request_header(v1)
    assert (fields.api_key, fields.api_version, fields.correlation_id) == (0, 8, 42)
    assert (fields.client_id, fields.header_version, v1[start:]) == ("cli", 1, b"BODY")
    v2 = struct.pack(">hhih", 0, 9, 43, -1) + b"\x00" + b"BODY"  # Produce v9, null client id
    fields, start = parse_request_header(v2)
    assert (fields.client_id, fields.header_version, v2[start:]) == (None, 2, b"BODY")


def test_api_versions_v3_body_parses_after_the_header() -> None:
    body = b"\x08refkacl\x061.2.3\x00"  # compact strings "refkacl", "1.2.3", no tagged fields
    frame = struct.pack(">hhih", 18, 3, 1, 2) + b"me" + b"\x00" + body
    fields, start = parse_request_header(frame)
    assert (fields.client_id, fields.header_version) == ("me", 2)
    request, _ = entity_reader(ApiVersionsRequest)(frame, start)
    assert request.client_software_name == "refkacl"
    assert request.client_software_version == "1.2.3"
    assert not response_header_flexible(18, 3)  # ApiVersions answers with header v0


def test_unknown_api_key_or_newer_version_still_gives_key_version_and_correlation() -> None:
    fields, start = parse_request_header(struct.pack(">hhi", 4242, 0, 9) + b"???")
    assert (fields.api_key, fields.correlation_id, fields.known_api, start) == (4242, 9, False, 8)
    fields, _ = parse_request_header(struct.pack(">hhih", 18, 99, 5, 0) + b"\x00")
    assert (fields.api_version, fields.correlation_id, fields.header_version) == (99, 5, 2)
    assert request_is_flexible(18, 0) is False and request_is_flexible(4242, 0) is None
    with pytest.raises(InvalidRequestHeader):
        parse_request_header(b"\x00\x12\x00")
    with pytest.raises(InvalidRequestHeader):
        parse_request_header(struct.pack(">hhih", 0, 8, 1, 50) + b"short")


def test_response_frames() -> None:
    assert encode_response_frame(7, False, b"xy") == struct.pack(">ii", 6, 7) + b"xy"
    assert encode_response_frame(7, True, b"xy") == struct.pack(">ii", 7, 7) + b"\x00xy"
    assert response_header_flexible(3, 9) and not response_header_flexible(3, 8)  # Metadata
