"""Kafka's ``Rate`` over a ``SampledStat`` (``org.apache.kafka.common.metrics.stats``), the
measure client quotas compare with their bound, and ``QuotaUtils.throttleTime``.

Values are recorded into ``samples`` windows of ``window_ms`` each (``quota.window.num``,
``quota.window.size.seconds``), aligned to the first window's start; a window older than
``samples * window_ms`` is reset before it is read or reused. The rate is the sum of the
windows over the elapsed time since the oldest window began, counted as at least
``samples - 1`` whole windows (so a first burst is measured over about 10 s, not 1 ms).

When a recorded value takes the rate above the quota, the throttle time is the time the client
must stay silent for the rate to fall back to the quota:
``(rate - quota) / quota * window size`` (KIP-219). Time comes from the caller (sans-I/O).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Sample:
    """One window: when it began and the sum recorded in it."""

    start_ms: int
    value: float = 0.0

    def reset(self, now_ms: int) -> None:
        self.start_ms, self.value = now_ms, 0.0


@dataclass(slots=True)
class SampledRate:
    """A per-second rate over the last ``samples`` windows of ``window_ms``."""

    samples: int = 11
    window_ms: int = 1000
    _windows: list[_Sample] = field(default_factory=list)
    _current: int = 0

    def record(self, value: float, now_ms: int) -> None:
        """``SampledStat.record``: add ``value`` to the window of ``now_ms``."""
        sample = self._current_sample(now_ms)
        if now_ms - sample.start_ms >= self.window_ms:
            end = sample.start_ms + self.window_ms
            start = now_ms - (now_ms - end) % self.window_ms
            self._current = (self._current + 1) % self.samples
            if self._current >= len(self._windows):
                self._windows.append(_Sample(start))
            else:
                self._windows[self._current].reset(start)
            sample = self._windows[self._current]
        sample.value += value

    def measure(self, now_ms: int) -> float:
        """The rate per second at ``now_ms``."""
        window = self.window_size_ms(now_ms)
        return sum(s.value for s in self._windows) / (window / 1000.0)

    def window_size_ms(self, now_ms: int) -> int:
        """``Rate.windowSize``: the elapsed time the rate divides by."""
        self._purge(now_ms)
        oldest = min(s.start_ms for s in self._windows) if self._windows else now_ms
        elapsed = now_ms - oldest
        full = elapsed // self.window_ms
        if full < self.samples - 1:
            elapsed += (self.samples - 1 - full) * self.window_ms
        return max(elapsed, 1)

    def _current_sample(self, now_ms: int) -> _Sample:
        if not self._windows:
            self._windows.append(_Sample(now_ms))
            self._current = 0
        return self._windows[self._current]

    def _purge(self, now_ms: int) -> None:
        expire = self.samples * self.window_ms
        for sample in self._windows:
            if now_ms - sample.start_ms >= expire:
                sample.reset(now_ms)


def throttle_time_ms(rate: SampledRate, quota: float, now_ms: int) -> int:
    """``QuotaUtils.throttleTime``: 0 within the quota, else how long to stay silent."""
    value = rate.measure(now_ms)
    if value <= quota:
        return 0
    return round((value - quota) / quota * rate.window_size_ms(now_ms))
