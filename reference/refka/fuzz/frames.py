"""What a fuzz input asks of a broker, read from its bytes as the broker would read them.

``split`` cuts the input into the frames a broker's ``FrameDecoder`` hands on (and tells if a
size prefix makes it close the connection); ``declared_wait_ms`` is the longest time span a
request carries (a Fetch's ``max_wait_ms``, a JoinGroup's rebalance timeout): a request may
legitimately wait that long; ``expects_answer`` is False for a Produce with acks=0;
``check_answers`` matches the answers to the requests.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from refka.protocol import bounds, codec
from refka.protocol.framing import NEED_DATA, FrameDecoder, FrameTooLarge, parse_request_header

PRODUCE = 0
API_VERSIONS = 18


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


def check_answers(frames: list[bytes], answers: list[bytes]) -> str | None:
    """Each answer (size prefix removed) must carry the correlation id of the next request
    that owes one, in order, and decode as that API's response at that version; a problem,
    or None. Answers may stop early (the connection was closed)."""
    owed = []
    for frame in frames:
        try:
            header, _ = parse_request_header(frame)
        except Exception:
            break  # the broker closes here
        if expects_answer(frame):
            owed.append(header)
    if len(answers) > len(owed):
        return f"{len(answers)} answers to {len(owed)} requests"
    for header, answer in zip(owed, answers, strict=False):
        if codec.response_correlation_id(answer) != header.correlation_id:
            return f"answer {codec.response_correlation_id(answer)} to {header.correlation_id}"
        versions = [header.api_version]
        if header.api_key == API_VERSIONS:
            versions.append(0)  # KIP-511: an unsupported version is answered at v0
        errors = [_decode_error(header.api_key, v, answer) for v in versions]
        if None not in errors:
            return (
                f"an answer that does not decode as {header.api_key} v{header.api_version}: "
                f"{errors[0]}\nanswer: {answer.hex()}"
            )
    return None


def _decode_error(api_key: int, version: int, answer: bytes) -> str | None:
    try:
        codec.decode_response(codec.response_class(api_key, version), answer)
    except Exception as error:
        if "negative timestamp" in str(error):
            return None  # kio reads no -1 timestamp; Kafka sends one (an Empty transaction's start)
        return f"{type(error).__name__}: {error}"
    return None
