"""What the client-flow tests share: the messages they send and the codecs they try."""

from __future__ import annotations

import time
from dataclasses import dataclass

from conformance.target import Target, require_api

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
BASE_TIMESTAMP_MS = 1_700_000_000_000
DEADLINE_S = 20.0


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


def messages(count: int = 12) -> list[Message]:
    """Keyed and unkeyed records, with and without headers, each with its own timestamp."""
    return [
        Message(
            key=b"key-%d" % i if i % 3 else None,
            value=(b"value-%d-" % i) * (1 + i % 4),
            headers=(("h", b"%d" % i), ("trace", b"t")) if i % 2 else (),
            timestamp_ms=BASE_TIMESTAMP_MS + 1000 * i,
        )
        for i in range(count)
    ]


def require_data_plane(target: Target) -> None:
    """Client flows need record batches v2: Produce v3+, Fetch v4+ and ListOffsets v1+."""
    require_api(target, "Produce", 3)
    require_api(target, "Fetch", 4)
    require_api(target, "ListOffsets", 1)


def deadline() -> float:
    return time.monotonic() + DEADLINE_S
