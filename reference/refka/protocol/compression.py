"""Record batch compression codecs, by the id in attribute bits 0-2 (KIP-98; zstd: KIP-110).

The wire formats are the ones Kafka's Java client writes, so every client can read what refka
writes and refka reads what every client writes:

- gzip: a gzip stream (``GZIPOutputStream``); several members are read as one.
- snappy: Java writes xerial ``SnappyOutputStream`` framing: the 16-byte header
  ``\\x82SNAPPY\\x00`` + int32 version 1 + int32 compatible version 1, then blocks of
  int32 compressed length + raw snappy of at most 32 KiB of input. librdkafka writes a bare
  raw snappy block; both it and Java read either, and so does ``decompress`` here.
- lz4: the LZ4 frame format with independent 64 KiB blocks (``Lz4BlockOutputStream``).
- zstd: zstd frames; a frame without a content size (streaming writers) is read too.

Undecodable input raises ``CorruptCompressedData``; an id outside 0-4 raises
``UnsupportedCodec``. Nothing else escapes.

Each codec's library is imported on its first use: a broker that sees no compressed batch
never loads them (they cost ~8 ms of the start, issue 15).
"""

from __future__ import annotations

import functools
import struct
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import zstandard

NONE: Final = 0
GZIP: Final = 1
SNAPPY: Final = 2
LZ4: Final = 3
ZSTD: Final = 4
CODECS: Final = (NONE, GZIP, SNAPPY, LZ4, ZSTD)
NAMES: Final = {NONE: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}

XERIAL_MAGIC: Final = b"\x82SNAPPY\x00"
_XERIAL_HEADER: Final = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK_BYTES: Final = 32 * 1024  # xerial's default block size, as Java writes


class CompressionError(ValueError):
    """Base of the errors this module raises."""


class CorruptCompressedData(CompressionError):
    """The payload does not decode with its codec (Kafka: the batch is corrupt)."""


class UnsupportedCodec(CompressionError):
    """A compression id Kafka does not define (5-7)."""


def compress(codec: int, data: bytes | bytearray | memoryview, level: int | None = None) -> bytes:
    """Compress ``data`` the way Kafka's Java producer does for ``codec``; ``level`` is KIP-390's
    ``compression.<codec>.level`` (gzip -1 is zlib's default, 6)."""
    if codec == NONE:
        return bytes(data)
    if codec == GZIP:
        import gzip

        gzip_level = 6 if level is None or level < 0 else level
        return gzip.compress(bytes(data), compresslevel=gzip_level, mtime=0)
    if codec == SNAPPY:
        return _xerial_snappy(data)
    if codec == LZ4:
        import lz4.frame

        return bytes(
            lz4.frame.compress(
                bytes(data),
                block_size=lz4.frame.BLOCKSIZE_MAX64KB,
                compression_level=0 if level is None else level,
                block_linked=False,
                content_checksum=False,
                store_size=False,
            )
        )
    if codec == ZSTD:
        return bytes(_zstd_compressor(3 if level is None else level).compress(bytes(data)))
    raise UnsupportedCodec(f"unknown compression type id {codec}")


def decompress(codec: int, data: bytes | bytearray | memoryview) -> bytes:
    """Inverse of ``compress``; also reads raw snappy and size-less zstd frames."""
    if codec == NONE:
        return bytes(data)
    if codec not in CODECS:
        raise UnsupportedCodec(f"unknown compression type id {codec}")
    try:
        if codec == GZIP:
            import gzip

            return gzip.decompress(data)
        if codec == SNAPPY:
            return _snappy_decompress(data)
        if codec == LZ4:
            import lz4.frame

            return lz4.frame.decompress(data)  # type: ignore[no-any-return]
        return _zstd_decompress(data)
    except (CompressionError, ImportError):  # a missing codec library is not a corrupt batch
        raise
    except Exception as e:
        # gzip: BadGzipFile(OSError)/EOFError/zlib.error; lz4: RuntimeError; cramjam: its
        # DecompressionError (an Exception subclass); zstd: ZstdError.
        raise CorruptCompressedData(f"{NAMES[codec]}: {e}") from e


@functools.cache
def _zstd_compressor(level: int) -> zstandard.ZstdCompressor:
    import zstandard

    return zstandard.ZstdCompressor(level=level)


@functools.cache
def _zstd_decompressor() -> zstandard.ZstdDecompressor:
    import zstandard

    return zstandard.ZstdDecompressor()


def _xerial_snappy(data: bytes | bytearray | memoryview) -> bytes:
    import cramjam

    view = memoryview(data).cast("B")
    parts = [_XERIAL_HEADER]
    for start in range(0, len(view), _XERIAL_BLOCK_BYTES):
        block = bytes(cramjam.snappy.compress_raw(view[start : start + _XERIAL_BLOCK_BYTES]))
        parts.append(struct.pack(">i", len(block)))
        parts.append(block)
    return b"".join(parts)


def _snappy_decompress(data: bytes | bytearray | memoryview) -> bytes:
    import cramjam

    view = memoryview(data).cast("B")
    if bytes(view[:8]) != XERIAL_MAGIC:
        return bytes(cramjam.snappy.decompress_raw(view))
    if len(view) < 16:
        raise CorruptCompressedData("snappy: truncated xerial header")
    out = bytearray()
    pos = 16
    while pos < len(view):
        if pos + 4 > len(view):
            raise CorruptCompressedData("snappy: truncated xerial block length")
        (size,) = struct.unpack_from(">i", view, pos)
        pos += 4
        if size < 0 or pos + size > len(view):
            raise CorruptCompressedData(f"snappy: xerial block of {size} bytes overruns input")
        out += cramjam.snappy.decompress_raw(view[pos : pos + size])
        pos += size
    return bytes(out)


def _zstd_decompress(data: bytes | bytearray | memoryview) -> bytes:
    # One decompressobj per frame: it reads frames without a content size, and ``eof`` tells
    # a complete frame from a truncated one; concatenated frames are read one after another.
    out = []
    rest = bytes(data)
    while rest:
        obj = _zstd_decompressor().decompressobj()
        out.append(obj.decompress(rest))
        if not obj.eof:
            raise CorruptCompressedData("zstd: truncated frame")
        rest = obj.unused_data
    return b"".join(out)
