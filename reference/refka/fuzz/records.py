"""Record batches for Produce requests: valid ones, and ones damaged where a broker must look.

A v2 batch (KIP-98) is a 61-byte header then the records; the CRC-32C at bytes 17-21 covers
everything from the attributes (byte 21) on, whose bits 0-2 name the compression codec. The
damages are those issue 13 names: a bad CRC, a codec the payload is not in (or no codec at
all), a corrupt compressed payload, a length that lies, a huge record count, and a CRC that is
right for a damaged body (so only the record walk can find it).
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from refka.protocol.compression import CODECS
from refka.protocol.crc import crc32c
from refka.protocol.records import NewRecord, build_batch

BATCH_LENGTH, CRC, ATTRIBUTES, RECORDS_COUNT, HEADER = 8, 17, 21, 57, 61
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


def _records() -> st.SearchStrategy[list[NewRecord]]:
    record = st.builds(
        NewRecord,
        key=st.one_of(st.none(), st.binary(max_size=8)),
        value=st.one_of(st.none(), st.binary(max_size=32)),
        headers=st.lists(
            st.tuples(st.text(max_size=4), st.one_of(st.none(), st.binary(max_size=4))),
            max_size=2,
        ).map(tuple),
        timestamp=st.one_of(st.just(-1), st.integers(0, 2**41)),
    )
    return st.lists(record, min_size=1, max_size=4)


@st.composite
def valid_batch(draw: st.DrawFn) -> bytes:
    """A batch a client could send: plain or idempotent, any codec refka reads."""
    idempotent = draw(st.booleans())
    return build_batch(
        draw(_records()),
        compression=draw(st.sampled_from(CODECS)),
        producer_id=draw(st.integers(0, 3)) if idempotent else -1,
        producer_epoch=0 if idempotent else -1,
        base_sequence=draw(st.integers(0, 3)) if idempotent else -1,
        is_transactional=idempotent and draw(st.booleans()),
    )


def _recrc(batch: bytearray) -> bytes:
    _U32.pack_into(batch, CRC, crc32c(memoryview(batch)[ATTRIBUTES:]))
    return bytes(batch)


@st.composite
def damaged_batch(draw: st.DrawFn) -> bytes:
    """A valid batch with one damage, most of them under a CRC that matches."""
    batch = bytearray(draw(valid_batch()))
    damage = draw(st.sampled_from(DAMAGES))
    if damage == "bad-crc":
        _U32.pack_into(batch, CRC, _U32.unpack_from(batch, CRC)[0] ^ 1)
        return bytes(batch)
    if damage == "wrong-codec":
        codec = draw(st.integers(0, 7))
        attributes = (_U16.unpack_from(batch, ATTRIBUTES)[0] & ~7) | codec
        _U16.pack_into(batch, ATTRIBUTES, attributes)
    elif damage == "corrupt-payload" and len(batch) > HEADER:
        at = draw(st.integers(HEADER, len(batch) - 1))
        batch[at] ^= draw(st.integers(1, 255))
    elif damage == "lying-length":
        _I32.pack_into(batch, BATCH_LENGTH, draw(_lengths(len(batch) - 12)))
    elif damage == "huge-count":
        _I32.pack_into(batch, RECORDS_COUNT, draw(_lengths(1)))
    elif damage == "truncated":
        del batch[draw(st.integers(0, len(batch) - 1)) :]
        return bytes(batch)
    return _recrc(batch)


DAMAGES = ("bad-crc", "wrong-codec", "corrupt-payload", "lying-length", "huge-count", "truncated")


def _lengths(actual: int) -> st.SearchStrategy[int]:
    return st.sampled_from(
        (-1, 0, 1, actual - 1, actual + 1, 2**31 - 1, -(2**31), 2**24, actual * 2)
    )


def batches() -> st.SearchStrategy[bytes | None]:
    """A Produce partition's ``records``: null, empty, valid, two batches, or damaged."""
    return st.one_of(
        st.none(),
        st.just(b""),
        valid_batch(),
        st.tuples(valid_batch(), valid_batch()).map(b"".join),
        damaged_batch(),
        st.binary(max_size=80),
    )
