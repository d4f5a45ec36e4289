"""A seeded random source for the core (SplitMix64): the driver chooses the seed.

The core never touches the global ``random`` module or the OS's entropy, so the same seed gives
the same member ids, producer ids and cluster id in the simulator and in a replayed run.
"""

from __future__ import annotations

import uuid

_MASK64 = (1 << 64) - 1


class SeededRandom:
    """SplitMix64 (Steele, Lea, Flood 2014): small, fast, and good enough for identifiers."""

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _MASK64

    def next_u64(self) -> int:
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK64
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def uuid4(self) -> uuid.UUID:
        """A version-4 UUID drawn from this source."""
        value = (self.next_u64() << 64) | self.next_u64()
        return uuid.UUID(int=value, version=4)

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits (as ``random.Random.getrandbits``)."""
        value, bits = 0, 0
        while bits < k:
            value = (value << 64) | self.next_u64()
            bits += 64
        return value >> (bits - k)

    def fraction(self) -> float:
        """A float in [0, 1) with 53 random bits."""
        return (self.next_u64() >> 11) / (1 << 53)

    def below(self, bound: int) -> int:
        """An integer in [0, bound)."""
        return self.next_u64() % bound
