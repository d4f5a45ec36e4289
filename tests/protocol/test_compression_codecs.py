"""Codecs: round trips, the framings other writers use, and clean errors on bad input."""

import gzip
import io
import os
import struct

import cramjam
import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from refka.protocol import compression
from refka.protocol.compression import (
    CompressionError,
    CorruptCompressedData,
    UnsupportedCodec,
    compress,
    decompress,
)

DATA = os.urandom(3000) + b"abc" * 40_000  # > 64 KiB: several snappy/lz4 blocks


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(compression.CODECS), st.binary(max_size=3000))
def test_round_trip(codec: int, data: bytes) -> None:
    assert decompress(codec, compress(codec, data)) == data


def test_snappy_writes_xerial_framing_like_java_and_reads_raw_like_librdkafka() -> None:
    framed = compress(compression.SNAPPY, DATA)
    assert framed[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    (first_block,) = struct.unpack_from(">i", framed, 16)
    assert len(cramjam.snappy.decompress_raw(framed[20 : 20 + first_block])) == 32 * 1024
    raw = bytes(cramjam.snappy.compress_raw(DATA))
    assert decompress(compression.SNAPPY, raw) == DATA


def test_lz4_writes_independent_blocks_without_content_size() -> None:
    frame = compress(compression.LZ4, DATA)
    flg = frame[4]
    assert flg & 0x20 and not flg & 0x08  # block independence set, content size absent
    assert lz4.frame.decompress(frame) == DATA


def test_zstd_reads_streamed_frames_without_content_size_and_concatenated_frames() -> None:
    sink = io.BytesIO()
    writer = zstandard.ZstdCompressor().stream_writer(sink, closefd=False)
    writer.write(DATA)
    writer.flush(zstandard.FLUSH_FRAME)
    streamed = sink.getvalue()
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompress(streamed)  # the one-shot API cannot
    assert decompress(compression.ZSTD, streamed + streamed) == DATA + DATA


def test_gzip_reads_several_members() -> None:
    assert decompress(compression.GZIP, gzip.compress(b"ab") + gzip.compress(b"cd")) == b"abcd"


@pytest.mark.parametrize("codec", [c for c in compression.CODECS if c != compression.NONE])
def test_bad_input_raises_corrupt_compressed_data_only(codec: int) -> None:
    good = compress(codec, DATA)
    for bad in (b"garbage" * 9, good[: len(good) // 2], good[:-3], b"\x82SNAPPY\x00" + b"\x00" * 7):
        with pytest.raises(CorruptCompressedData):
            decompress(codec, bad)


def test_unknown_codec() -> None:
    for codec in (5, 6, 7):
        with pytest.raises(UnsupportedCodec):
            decompress(codec, b"x")
        with pytest.raises(CompressionError):
            compress(codec, b"x")
