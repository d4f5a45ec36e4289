"""Offset index and time index: Kafka's file formats, lookups, truncation, round trips."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from refka.log.offset_index import OffsetIndex, floor_entry
from refka.log.storage import MemoryStorage
from refka.log.time_index import NO_TIMESTAMP, TimeIndex, floor_timestamp

BASE = 1000


def _storage() -> MemoryStorage:
    s = MemoryStorage()
    s.mkdir("t-0")
    return s


def test_offset_index_file_format_is_relative_offset_then_position() -> None:
    s = _storage()
    index = OffsetIndex(s, "t-0/x.index", BASE, 100)
    index.append(BASE + 5, 300)
    index.append(BASE + 9, 700)
    index.flush()
    assert s.read("t-0/x.index", 0, 100) == struct.pack(">iiii", 5, 300, 9, 700)


def test_offset_index_lookup_is_largest_entry_at_or_below() -> None:
    index = OffsetIndex(_storage(), "t-0/x.index", BASE, 100)
    assert index.lookup(BASE + 3) == (BASE, 0)  # no entries: the segment start
    index.append(BASE + 5, 300)
    index.append(BASE + 9, 700)
    assert index.lookup(BASE + 4) == (BASE, 0)
    assert index.lookup(BASE + 5) == (BASE + 5, 300)
    assert index.lookup(BASE + 8) == (BASE + 5, 300)
    assert index.lookup(BASE + 100) == (BASE + 9, 700)
    assert index.lookup_position(699) == (BASE + 5, 300)


def test_offset_index_truncate_drops_entries_at_or_after() -> None:
    s = _storage()
    index = OffsetIndex(s, "t-0/x.index", BASE, 100)
    for i in range(1, 5):
        index.append(BASE + 10 * i, 100 * i)
    index.flush()
    index.truncate_to(BASE + 30)
    assert index.relative_offsets == [10, 20]
    assert s.size("t-0/x.index") == 16


def test_time_index_file_format_and_monotonic_append() -> None:
    s = _storage()
    index = TimeIndex(s, "t-0/x.timeindex", BASE, 100)
    index.maybe_append(5_000, BASE + 3)
    index.maybe_append(5_000, BASE + 7)  # not larger: ignored
    index.maybe_append(4_000, BASE + 8)  # smaller: ignored
    index.maybe_append(6_000, BASE + 9)
    index.flush()
    assert s.read("t-0/x.timeindex", 0, 100) == struct.pack(">qiqi", 5_000, 3, 6_000, 9)
    assert index.lookup(4_999) == (NO_TIMESTAMP, BASE)
    assert index.lookup(5_500) == (5_000, BASE + 3)
    assert index.lookup(9_999) == (6_000, BASE + 9)
    assert index.last_entry() == (6_000, BASE + 9)
    index.truncate_to(BASE + 9)
    assert index.last_entry() == (5_000, BASE + 3)
    assert s.size("t-0/x.timeindex") == 12


def test_load_rejects_a_torn_index_file() -> None:
    s = _storage()
    s.append("t-0/x.index", struct.pack(">ii", 1, 10) + b"\x00\x00")
    assert not OffsetIndex(s, "t-0/x.index", BASE, 100).load()
    s.append("t-0/x.timeindex", struct.pack(">qi", 1, 1) + b"\x00")
    assert not TimeIndex(s, "t-0/x.timeindex", BASE, 100).load()
    assert not OffsetIndex(s, "t-0/missing.index", BASE, 100).load()


sorted_unique = st.lists(st.integers(0, 1 << 30), max_size=60, unique=True).map(sorted)


@settings(max_examples=60, deadline=None)
@given(sorted_unique, st.data())
def test_offset_index_round_trip_and_lookup_matches_a_scan(
    offsets: list[int], data: st.DataObject
) -> None:
    s = _storage()
    index = OffsetIndex(s, "t-0/x.index", BASE, 1000)
    positions = sorted(
        data.draw(st.lists(st.integers(0, 1 << 30), min_size=len(offsets), max_size=len(offsets)))
    )
    for o, p in zip(offsets, positions, strict=True):
        index.append(BASE + o, p)
    index.write()  # written in two steps must read back the same
    index.flush()
    loaded = OffsetIndex(s, "t-0/x.index", BASE, 1000)
    assert loaded.load()
    assert (loaded.relative_offsets, loaded.positions) == (offsets, positions)
    target = data.draw(st.integers(-5, (1 << 30) + 5))
    below = [(o, p) for o, p in zip(offsets, positions, strict=True) if o <= target]
    expected = (BASE + below[-1][0], below[-1][1]) if below else (BASE, 0)
    assert loaded.lookup(BASE + target) == expected


@settings(max_examples=60, deadline=None)
@given(sorted_unique, st.integers(-5, (1 << 30) + 5))
def test_time_index_round_trip_and_lookup_matches_a_scan(
    timestamps: list[int], target: int
) -> None:
    s = _storage()
    index = TimeIndex(s, "t-0/x.timeindex", BASE, 1000)
    for i, ts in enumerate(timestamps):
        index.maybe_append(ts, BASE + 2 * i)
    index.flush()
    loaded = TimeIndex(s, "t-0/x.timeindex", BASE, 1000)
    assert loaded.load()
    assert loaded.timestamps == timestamps
    below = [(ts, BASE + 2 * i) for i, ts in enumerate(timestamps) if ts <= target]
    assert loaded.lookup(target) == (below[-1] if below else (NO_TIMESTAMP, BASE))


@given(st.lists(st.integers(-50, 50)).map(sorted), st.integers(-60, 60))
def test_floor_functions_agree_with_a_linear_scan(keys: list[int], target: int) -> None:
    expected = max((i for i, k in enumerate(keys) if k <= target), default=-1)
    assert floor_entry(keys, target) == expected
    unique = sorted(set(keys))
    assert floor_timestamp(unique, target) == max(
        (i for i, k in enumerate(unique) if k <= target), default=-1
    )
