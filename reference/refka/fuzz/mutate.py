"""Damage to a whole request frame (header and body, size prefix added by ``frame``).

Byte-level mutations of a valid frame: bit flips, truncation, bytes cut or repeated, an int16
or int32 overwritten with a length that lies (the body's string and array lengths are such
fields), a huge count, an invalid unsigned varint (more than five bytes, or a huge value) for
the flexible versions' compact lengths and tagged fields, and raw garbage. The size prefix may
lie too, but only in ways a broker answers at once (negative, over ``socket.request.max.bytes``,
or shorter than the frame); a prefix longer than what follows only makes the broker wait.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

MUTATIONS = (
    "none",
    "bit-flip",
    "truncate",
    "cut",
    "repeat",
    "lying-int16",
    "lying-int32",
    "bad-varint",
    "header",
)
SIZE_LIES = ("negative", "too-large", "short")
HEADER_BYTES = 8  # api key, api version, correlation id
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_LIES_16 = (-1, -2, 0x7FFF, -0x8000, 2)
_LIES_32 = (-1, -2, 0x7FFFFFFF, -0x80000000, 0x00FFFFFF, 2)
_VARINTS = (b"\xff\xff\xff\xff\xff\xff", b"\xff\xff\xff\xff\x0f", b"\x80", b"\xff\xff\xff\x7f")


@st.composite
def mutated(draw: st.DrawFn, frame: bytes) -> tuple[str, bytes]:
    """``frame`` (header and body) with one mutation; returns its name and the bytes."""
    name = draw(st.sampled_from(("none",) * 7 + MUTATIONS))  # half stay whole: deep paths
    data = bytearray(frame)
    if name == "none" or len(data) <= HEADER_BYTES:
        return name, bytes(data)
    at = draw(st.integers(HEADER_BYTES, len(data) - 1))  # the header has its own mutation
    if name == "bit-flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(HEADER_BYTES, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    elif name == "truncate":
        del data[at:]
    elif name == "cut":
        del data[at : at + draw(st.integers(1, 8))]
    elif name == "repeat":
        data[at:at] = data[at : at + draw(st.integers(1, 8))] * draw(st.integers(1, 4))
    elif name == "lying-int16":
        data[at : at + 2] = _I16.pack(draw(st.sampled_from(_LIES_16)))
    elif name == "lying-int32":
        data[at : at + 4] = _I32.pack(draw(st.sampled_from(_LIES_32)))
    elif name == "bad-varint":
        data[at : at + draw(st.integers(0, 2))] = draw(st.sampled_from(_VARINTS))
    elif name == "header":  # the request header's client id and tagged fields
        data[2:HEADER_BYTES] = draw(st.binary(min_size=6, max_size=6))
        data[HEADER_BYTES : HEADER_BYTES + 2] = _I16.pack(draw(st.sampled_from(_LIES_16)))
    return name, bytes(data)


def frame(data: bytes, lie: str | None = None, max_bytes: int = 100 * 1024 * 1024) -> bytes:
    """``data`` behind a size prefix: the true size, or a lie a broker answers at once."""
    if lie is None:
        size = len(data)
    elif lie == "negative":
        size = -len(data) - 1
    elif lie == "too-large":
        size = max_bytes + 1
    else:  # short: the rest of the bytes is read as the next frame
        size = max(len(data) // 2, 0)
    return _I32.pack(size) + data


def garbage() -> st.SearchStrategy[bytes]:
    """Raw bytes, some behind a valid API key and version."""
    known_prefix = st.tuples(st.integers(0, 80), st.integers(0, 20)).map(
        lambda kv: _I16.pack(kv[0]) + _I16.pack(kv[1])
    )
    return st.one_of(
        st.binary(max_size=64),
        st.tuples(known_prefix, st.binary(max_size=64)).map(b"".join),
    )
