"""What a fuzz input asks of a broker, read from its bytes as the broker would read them.

``split`` cuts the input into the frames a broker's ``FrameDecoder`` hands on (and tells if a
size prefix makes it close the connection); ``declared_wait_ms`` is the longest time span a
request carries (a Fetch's ``max_wait_ms``, a JoinGroup's rebalance timeout): a request may
legitimately wait that long; ``expects_answer`` is False for a Produce with acks=0.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from refka.protocol import bounds, codec
from refka.protocol.framing import NEED_DATA, FrameDecoder, FrameTooLarge, parse_request_header

PRODUCE = 0


def split(data: bytes, max_frame_bytes: int) -> tuple[list[bytes], bool]:
    """The whole frames in ``data``, and whether a size prefix is out of bounds."""
    decoder = FrameDecoder(max_frame_bytes)
    decoder.feed(data)
    frames: list[bytes] = []
    try:
        while (frame := decoder.next_frame()) is not NEED_DATA and frame is not None:
            frames.append(bytes(frame))
    except FrameTooLarge:
        return frames, True
    return frames, False


def _decode(frame: bytes) -> Any:
    try:
        header, offset = parse_request_header(frame)
        cls = codec.request_class(header.api_key, header.api_version)
        bounds.check(cls, frame, offset)  # kio would abort on a count that lies
        return codec.decode(cls, frame, offset)[0]
    except Exception:
        return None  # the broker cannot parse it either: it closes the connection


def declared_wait_ms(frame: bytes) -> int:
    return max(_spans(_decode(frame)), default=0)


def expects_answer(frame: bytes) -> bool:
    request = _decode(frame)
    return not (
        request is not None
        and getattr(request, "__api_key__", None) == PRODUCE
        and request.acks == 0
    )


def _spans(value: Any) -> Iterator[int]:
    if isinstance(value, datetime.timedelta):
        yield int(value.total_seconds() * 1000)
    elif isinstance(value, tuple):
        for item in value:
            yield from _spans(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from _spans(getattr(value, name))
