"""Kafka's variable-length integers (KIP-98 record format, KIP-482 tagged fields).

Unsigned varints (``encode_uvarint``) are little-endian base-128 groups, 7 bits each, the high
bit set on every byte but the last: Kafka's ``ByteUtils.writeUnsignedVarint``. Signed ones
(``encode_varint``) first zigzag the value, ``(n << 1) ^ (n >> 63)``, so small negatives stay
short: Kafka's ``writeVarint``/``writeVarlong``. One function serves both int32 ``varint`` and
int64 ``varlong``; the zigzag of an int32 equals the zigzag of the same int64, so the bytes
agree. Decoders accept at most 10 bytes (a varlong) and raise ``ValueError`` on a truncated or
over-long encoding; record parsing turns that into Kafka's error code.

The contracts below are PEP 316 conditions that CrossHair checks
(``crosshair check --analysis_kind=PEP316 refka.protocol.varint``).
"""

from __future__ import annotations

MAX_VARINT_BYTES = 10  # 64 bits in 7-bit groups
_UINT64 = (1 << 64) - 1


def zigzag(n: int) -> int:
    """Map a signed int64 to an unsigned one: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...

    pre: -(2**63) <= n < 2**63
    post: 0 <= __return__ < 2**64
    post: unzigzag(__return__) == n
    """
    return ((n << 1) ^ (n >> 63)) & _UINT64


def unzigzag(z: int) -> int:
    """Inverse of ``zigzag``.

    pre: 0 <= z < 2**64
    post: -(2**63) <= __return__ < 2**63
    """
    return (z >> 1) ^ -(z & 1)


def encode_uvarint(n: int) -> bytes:
    """Unsigned varint of ``n``.

    pre: 0 <= n < 2**64
    post: 1 <= len(__return__) <= 10
    post: (len(__return__) == 1) == (n < 128)
    post: decode_uvarint(__return__, 0) == (n, len(__return__))
    """
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_uvarint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at ``pos``; return ``(value, position after it)``.

    pre: 0 <= pos
    raises: ValueError
    post: pos < __return__[1] <= pos + 10
    post: 0 <= __return__[0] < 2**70
    """
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ValueError("varint truncated")
        if shift >= 7 * MAX_VARINT_BYTES:
            raise ValueError("varint longer than 10 bytes")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def encode_varint(n: int) -> bytes:
    """Signed (zigzag) varint of ``n``: Kafka's varint for int32, varlong for int64.

    pre: -(2**63) <= n < 2**63
    post: 1 <= len(__return__) <= 10
    post: (len(__return__) == 1) == (-64 <= n < 64)
    post: decode_varint(__return__, 0) == (n, len(__return__))
    """
    return encode_uvarint(((n << 1) ^ (n >> 63)) & _UINT64)


def decode_varint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    """Read a signed (zigzag) varint at ``pos``; return ``(value, position after it)``.

    pre: 0 <= pos
    raises: ValueError
    post: pos < __return__[1] <= pos + 10
    """
    z, pos = decode_uvarint(buf, pos)
    return (z >> 1) ^ -(z & 1), pos


def size_of_varint(n: int) -> int:
    """Bytes ``encode_varint(n)`` takes, without building them.

    pre: -(2**63) <= n < 2**63
    post: __return__ == len(encode_varint(n))
    """
    z = ((n << 1) ^ (n >> 63)) & _UINT64
    size = 1
    while z >= 0x80:
        z >>= 7
        size += 1
    return size
