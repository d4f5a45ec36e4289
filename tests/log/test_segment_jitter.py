"""``segment.jitter.ms``: a segment rolls on age after ``segment.ms`` less its own jitter."""

from __future__ import annotations

from log_batches import build_batch
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.segment import roll_jitter_ms
from refka.log.storage import MemoryStorage

SEGMENT_MS = 1000


def _first_roll_ms(config: LogConfig) -> int:
    """The smallest record timestamp (after one at 0) that rolls the first segment."""
    log = PartitionLog.open(MemoryStorage(), "t-0", "t", 0, config, 0)
    log.append(build_batch(0, [0]), 0)
    for ts in range(1, 2 * SEGMENT_MS):
        log.append(build_batch(log.log_end_offset, [ts]), ts)
        if len(log.segments) > 1:
            return ts
    raise AssertionError("never rolled")


def test_jitter_is_deterministic_and_within_bounds() -> None:
    config = LogConfig(segment_ms=SEGMENT_MS, segment_jitter_ms=300)
    draws = [roll_jitter_ms(config, "t-0", base) for base in range(0, 5000, 7)]
    assert draws == [roll_jitter_ms(config, "t-0", base) for base in range(0, 5000, 7)]
    assert all(0 <= d < 300 for d in draws)
    assert len(set(draws)) > 100  # spread over the range, not one value
    assert roll_jitter_ms(config, "t-0", 0) != roll_jitter_ms(config, "t-1", 0) or (
        roll_jitter_ms(config, "t-0", 7) != roll_jitter_ms(config, "t-1", 7)
    )


def test_jitter_is_bounded_by_segment_ms_and_zero_without_it() -> None:
    wide = LogConfig(segment_ms=50, segment_jitter_ms=10_000)
    assert all(0 <= roll_jitter_ms(wide, "t-0", b) < 50 for b in range(1000))
    plain = LogConfig(segment_ms=SEGMENT_MS)
    assert {roll_jitter_ms(plain, "t-0", b) for b in range(1000)} == {0}


def test_without_jitter_the_segment_rolls_once_older_than_segment_ms() -> None:
    assert _first_roll_ms(LogConfig(segment_ms=SEGMENT_MS)) == SEGMENT_MS + 1


def test_jitter_brings_the_roll_forward_by_the_segments_draw() -> None:
    config = LogConfig(segment_ms=SEGMENT_MS, segment_jitter_ms=600)
    jitter = roll_jitter_ms(config, "t-0", 0)
    assert 0 < jitter < 600
    assert _first_roll_ms(config) == SEGMENT_MS - jitter + 1
    assert _first_roll_ms(config) == _first_roll_ms(config)  # the same on every run


def test_the_draw_is_kept_by_the_segment_and_survives_a_reopen() -> None:
    storage = MemoryStorage()
    config = LogConfig(segment_ms=SEGMENT_MS, segment_jitter_ms=600)
    log = PartitionLog.open(storage, "t-0", "t", 0, config, 0)
    log.append(build_batch(0, [0]), 0)
    drawn = log.active_segment.roll_jitter_ms
    log.close()
    reopened = PartitionLog.open(storage, "t-0", "t", 0, config, 5)
    assert reopened.active_segment.roll_jitter_ms == drawn
