"""Kafka's size-prefixed frames and request/response headers, without I/O (h11 style).

Every request and response is an int32 size followed by that many bytes. A request frame
starts with a request header: v1 (api key, api version, correlation id, nullable client id)
for non-flexible request versions, v2 (v1 + tagged fields, KIP-482) for flexible ones. A
response starts with header v0 (correlation id) or v1 (+ tagged fields); ApiVersions always
answers with v0, whatever its request version (KIP-511), so that any client can read it.

``FrameDecoder`` plays Kafka's ``NetworkReceive``: a negative size or one over
``socket.request.max.bytes`` raises ``FrameTooLarge`` and the caller closes the connection
(Kafka's ``InvalidReceiveException``).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from kio.index import KioIndexError
from kio.schema.index import api_key_map, schema_name_map
from kio.schema.request_header.v1 import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2 import RequestHeader as RequestHeaderV2
from kio.serial import entity_reader
from kio.static.constants import EntityType

from refka.protocol import codec
from refka.protocol.varint import decode_uvarint

DEFAULT_SOCKET_REQUEST_MAX_BYTES: Final = 104_857_600  # socket.request.max.bytes
API_VERSIONS_KEY: Final = 18
_SIZE = struct.Struct(">i")
_FIXED = struct.Struct(">hhi")  # api key, api version, correlation id
_CLIENT_ID_LENGTH = struct.Struct(">h")
_COMPACT_AFTER_BYTES = 1 << 16
_LARGE_FRAME_BYTES = 1 << 16  # frames this large are gathered in a buffer of their own
_UPFRONT_BYTES = 1 << 20  # up to this size that buffer is allocated whole at once; a larger
# one grows as its bytes arrive, so a peer that announces a huge frame and sends little of it
# holds little memory


class NeedData(enum.Enum):
    """``FrameDecoder.next_frame`` needs more bytes before it can return a frame."""

    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA


class FrameTooLarge(Exception):
    """A size prefix that is negative or over the limit: close the connection."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"invalid receive (size = {size}, socket.request.max.bytes = {max_bytes})")
        self.size = size
        self.max_bytes = max_bytes


class InvalidRequestHeader(Exception):
    """A request header that cannot be read (Kafka: InvalidRequestException, connection closed)."""


class FrameDecoder:
    """Cut a byte stream into frame payloads: ``feed`` bytes in, ``next_frame`` frames out.

    ``feed(b"")`` marks the end of the stream; after it ``next_frame`` returns None once the
    whole frames are used up (any partial frame left is dropped, as a closed socket drops it).
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_SOCKET_REQUEST_MAX_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        # A large frame (a big Produce) is gathered straight into its own buffer, which is then
        # handed out as the frame: its bytes are copied once, not once more per slice.
        self._large: bytearray | None = None
        self._large_filled = 0
        self._large_size = 0

    @property
    def buffered_bytes(self) -> int:
        large = self._large_filled if self._large is not None else 0
        return len(self._buf) - self._pos + large

    @property
    def at_eof(self) -> bool:
        return self._eof

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            self._eof = True
            return
        if self._large is not None:
            data = self._fill_large(data)
            if not data:
                return
        if self._pos >= _COMPACT_AFTER_BYTES and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def _fill_large(self, data: bytes | bytearray | memoryview) -> memoryview:
        assert self._large is not None
        view = memoryview(data)
        take = min(len(view), self._large_size - self._large_filled)
        if len(self._large) == self._large_size:
            self._large[self._large_filled : self._large_filled + take] = view[:take]
        else:
            self._large += view[:take]
        self._large_filled += take
        return view[take:]

    def next_size(self) -> int | None:
        """The size of the next frame once its size prefix is here and valid, else None
        (``next_frame`` then raises ``FrameTooLarge`` on an invalid one)."""
        if self._large is not None:
            return self._large_size
        if len(self._buf) - self._pos < 4:
            return None
        (size,) = _SIZE.unpack_from(self._buf, self._pos)
        return size if 0 <= size <= self.max_frame_bytes else None

    def next_frame(self) -> bytes | memoryview | Literal[NeedData.NEED_DATA] | None:
        """The next whole frame's payload (without its size), NEED_DATA, or None at the end."""
        if self._large is not None:
            if self._large_filled < self._large_size:
                return None if self._eof else NEED_DATA
            large, self._large = self._large, None
            return memoryview(large).toreadonly()  # kio reads read-only buffers only
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < 4:
            return None if self._eof else NEED_DATA
        (size,) = _SIZE.unpack_from(buf, pos)
        if size < 0 or size > self.max_frame_bytes:
            raise FrameTooLarge(size, self.max_frame_bytes)
        if available < 4 + size:
            if size >= _LARGE_FRAME_BYTES and not self._eof:
                self._start_large(size)
            return None if self._eof else NEED_DATA
        end = pos + 4 + size
        with memoryview(buf) as view:
            frame = bytes(view[pos + 4 : end])
        if end == len(buf):
            buf.clear()
            self._pos = 0
        else:
            self._pos = end
        return frame

    def _start_large(self, size: int) -> None:
        """Move the partial frame at the head of the buffer into a buffer of its own."""
        start = self._pos + 4
        with memoryview(self._buf) as view:
            have = len(view) - start
            if size <= _UPFRONT_BYTES:
                self._large = bytearray(size)
                self._large[:have] = view[start:]
            else:
                self._large = bytearray(view[start:])
        self._large_filled = have
        self._large_size = size
        self._buf.clear()
        self._pos = 0


@dataclass(frozen=True, slots=True)
class RequestHeaderFields:
    """What a request header says; ``header_version`` 0 means the API key is unknown."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    header_version: int

    @property
    def known_api(self) -> bool:
        return self.header_version != 0


def parse_request_header(frame: bytes | bytearray | memoryview) -> tuple[RequestHeaderFields, int]:
    """Read the request header at the start of ``frame``; return it and where the body starts.

    The header version follows ``ApiKeys.requestHeaderVersion``: v2 for flexible versions of
    the request (including versions newer than refka knows, when the API's newest known
    version is flexible), v1 otherwise. For an unknown API key only the fixed 8 bytes are
    read (``client_id`` None, body at 8) so the caller can still answer or close.
    Raises ``InvalidRequestHeader`` when even that much cannot be read.
    """
    if len(frame) < _FIXED.size:
        raise InvalidRequestHeader(f"request header needs 8 bytes, frame has {len(frame)}")
    api_key, api_version, correlation_id = _FIXED.unpack_from(frame, 0)
    flexible = request_is_flexible(api_key, api_version)
    if flexible is None:
        return RequestHeaderFields(api_key, api_version, correlation_id, None, 0), _FIXED.size
    reader = _READER_V2 if flexible else _READER_V1
    try:
        header, body_start = reader(frame, 0)
        client_id = header.client_id
    except Exception:  # kio's DecodeError, or an unknown tag in the v2 header's tagged fields
        client_id, body_start = _lenient_client_id(frame, flexible)
    fields = RequestHeaderFields(
        api_key, api_version, correlation_id, client_id, 2 if flexible else 1
    )
    return fields, body_start


def _lenient_client_id(
    frame: bytes | bytearray | memoryview, flexible: bool
) -> tuple[str | None, int]:
    """The client id as Kafka's ``RequestHeaderData.read`` takes it when kio will not: any
    negative length is null, and bytes that are not UTF-8 are decoded with replacement
    characters (Java's ``new String(bytes, UTF_8)``); then the v2 header's tagged fields,
    whatever their tags (KIP-482: a reader skips the tags it does not know)."""
    try:
        (length,) = _CLIENT_ID_LENGTH.unpack_from(frame, _FIXED.size)
        pos = _FIXED.size + 2
        client_id = None
        if length >= 0:
            if pos + length > len(frame):
                raise ValueError(f"client id of {length} bytes, {len(frame) - pos} left")
            client_id = bytes(frame[pos : pos + length]).decode("utf-8", errors="replace")
            pos += length
        if flexible:
            count, pos = decode_uvarint(frame, pos)
            for _ in range(count):
                _, pos = decode_uvarint(frame, pos)
                size, pos = decode_uvarint(frame, pos)
                pos += size
            if pos > len(frame):
                raise ValueError("tagged fields past the frame's end")
    except (struct.error, ValueError) as e:
        raise InvalidRequestHeader(f"error parsing request header: {e}") from e
    return client_id, pos


_READER_V1 = entity_reader(RequestHeaderV1)
_READER_V2 = entity_reader(RequestHeaderV2)


def request_is_flexible(api_key: int, api_version: int) -> bool | None:
    """Whether this request version uses flexible encoding; None for an unknown API key."""
    versions = _known_versions(api_key)
    if not versions:
        return None
    if api_version in versions:
        return _flexible(api_key, api_version)
    if api_version > max(versions):
        # Flexible versions are always a suffix "N+", so a newer version is flexible iff the
        # newest known one is.
        return _flexible(api_key, max(versions))
    return False


def response_header_flexible(api_key: int, api_version: int) -> bool:
    """Response header v1 for flexible versions, v0 otherwise and always for ApiVersions."""
    if api_key == API_VERSIONS_KEY:
        return False
    return bool(request_is_flexible(api_key, api_version))


def encode_response_frame(correlation_id: int, header_flexible: bool, body: bytes) -> bytes:
    """Size prefix + response header v0 (or v1 with empty tagged fields) + body."""
    header_bytes = 5 if header_flexible else 4
    prefix = struct.pack(">ii", header_bytes + len(body), correlation_id)
    if header_flexible:
        return prefix + b"\x00" + body
    return prefix + body


@cache
def _known_versions(api_key: int) -> frozenset[int]:
    name = api_key_map.get(api_key)
    if name is None:
        from refka.protocol import kio_extra  # an API kio lacks (UnregisterController)

        if api_key not in kio_extra.APIS:
            return frozenset()
        return frozenset(v for k, v in kio_extra.MODULES if k == api_key)
    return frozenset(int(v) for v in schema_name_map[name])


@cache
def _flexible(api_key: int, api_version: int) -> bool:
    try:
        module = codec.request_module(api_key, api_version)
    except KioIndexError:
        return False
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "__type__", None) is EntityType.request:
            return bool(getattr(value, "__flexible__", False))
    return False
