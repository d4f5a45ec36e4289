"""Kafka varints: known encodings from Kafka's ByteUtilsTest, and Hypothesis round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from refka.protocol.varint import (
    decode_uvarint,
    decode_varint,
    encode_uvarint,
    encode_varint,
    size_of_varint,
    unzigzag,
    zigzag,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
UINT64 = st.integers(min_value=0, max_value=2**64 - 1)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (-64, b"\x7f"),
        (64, b"\x80\x01"),
        (150, b"\xac\x02"),
        (2**31 - 1, b"\xfe\xff\xff\xff\x0f"),
        (-(2**31), b"\xff\xff\xff\xff\x0f"),
        (2**63 - 1, b"\xfe" + b"\xff" * 8 + b"\x01"),
        (-(2**63), b"\xff" * 9 + b"\x01"),
    ],
)
def test_signed_varint_matches_kafka_bytes(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert decode_varint(encoded + b"junk", 0) == (value, len(encoded))


def test_unsigned_varint_matches_kafka_bytes() -> None:
    assert encode_uvarint(300) == b"\xac\x02"
    assert encode_uvarint(0) == b"\x00"
    assert decode_uvarint(b"\x7f", 0) == (127, 1)


@given(INT64, st.binary(max_size=4), st.binary(max_size=4))
def test_varint_round_trips_at_any_position(n: int, before: bytes, after: bytes) -> None:
    data = before + encode_varint(n) + after
    assert decode_varint(data, len(before)) == (n, len(data) - len(after))
    assert size_of_varint(n) == len(encode_varint(n)) <= 10


@given(UINT64)
def test_uvarint_round_trips(n: int) -> None:
    encoded = encode_uvarint(n)
    assert decode_uvarint(encoded, 0) == (n, len(encoded))
    assert len(encoded) == max(1, -(-n.bit_length() // 7))


@given(INT64)
def test_zigzag_is_a_bijection_keeping_small_magnitudes_small(n: int) -> None:
    assert unzigzag(zigzag(n)) == n
    assert zigzag(n) <= 2 * abs(n)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff", b"\x80" * 10 + b"\x01"])
def test_truncated_or_overlong_varints_raise_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_varint(data, 0)
