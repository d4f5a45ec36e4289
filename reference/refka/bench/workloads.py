"""What the benchmark runs: the produce workloads (value size x partitions x acks x codec),
the latency probe, and the values the producer sends.

Every produce workload writes its own topic; the consume workloads read those topics back from
offset 0. Sizes are bounded in bytes so a 100-byte workload and a 1 KiB one take similar time.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace

VALUE_SIZES_BYTES = (100, 1024)
PARTITION_COUNTS = (1, 6)
ACKS = ("1", "all")
COMPRESSIONS = ("none", "lz4")
VALUE_POOL_SIZE = 256
WORDS = (
    *("kafka", "replica", "leader", "epoch", "offset", "segment", "batch", "record"),
    *("producer", "consumer", "group", "fetch", "commit", "watermark", "isr", "partition"),
    *("topic", "broker", "controller", "index", "timestamp", "header", "key", "value"),
)


@dataclass(frozen=True, slots=True)
class ProduceWorkload:
    """One topic written by one producer: `total_bytes` of values of `value_bytes` each."""

    value_bytes: int
    partitions: int
    acks: str
    compression: str
    total_bytes: int
    topic_name: str = ""  # default: named after the shape
    replication_factor: int = 1

    @property
    def messages(self) -> int:
        return max(1, self.total_bytes // self.value_bytes)

    @property
    def topic(self) -> str:
        if self.topic_name:
            return self.topic_name
        acks = "all" if self.acks == "all" else f"{self.acks}"
        rf = f"-rf{self.replication_factor}" if self.replication_factor > 1 else ""
        return f"bench-{self.value_bytes}b-p{self.partitions}{rf}-acks{acks}-{self.compression}"

    @property
    def label(self) -> str:
        """The shape shared by the produce row and the consume row of this topic."""
        size = "1 KiB" if self.value_bytes == 1024 else f"{self.value_bytes} B"
        rf = f" RF={self.replication_factor}" if self.replication_factor > 1 else ""
        return f"{size} p{self.partitions}{rf} acks={self.acks} {self.compression}"


@dataclass(frozen=True, slots=True)
class LatencyWorkload:
    """Single messages at a fixed rate, `linger.ms=0`: the time from produce() to its ack."""

    topic: str
    value_bytes: int
    acks: str
    rate_per_s: float
    messages: int
    warmup_messages: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one broker session runs."""

    produce: tuple[ProduceWorkload, ...]
    latency: LatencyWorkload
    warmup: ProduceWorkload
    settle_s: float


def make_plan(quick: bool) -> Plan:
    """The default plan (96 MiB per 1 KiB topic, 24 MB per 100 B topic) or the `--quick` one
    (2 MB and 1 MB)."""
    budget = {100: 1_000_000, 1024: 2_000_000} if quick else {100: 24_000_000, 1024: 96 << 20}
    produce = tuple(
        ProduceWorkload(size, partitions, acks, compression, budget[size])
        for size, partitions, acks, compression in itertools.product(
            VALUE_SIZES_BYTES, PARTITION_COUNTS, ACKS, COMPRESSIONS
        )
    )
    latency = LatencyWorkload(
        topic="bench-latency",
        value_bytes=1024,
        acks="all",
        rate_per_s=500.0,
        messages=200 if quick else 2000,
        warmup_messages=20 if quick else 100,
    )
    # Untimed, before the measured workloads: first connections, a consumer group's first
    # FindCoordinator (which creates __consumer_offsets), and the JVM's JIT warm-up.
    warmup = ProduceWorkload(1024, 1, "1", "none", 500_000 if quick else 16 << 20, "bench-warmup")
    return Plan(produce, latency, warmup, settle_s=0.2 if quick else 1.0)


def make_values(value_bytes: int, seed: int = 7) -> list[bytes]:
    """A pool of text-like values (lz4 finds repeats in them, as in real payloads)."""
    rng = random.Random(seed)
    values = []
    for _ in range(VALUE_POOL_SIZE):
        words = (rng.choice(WORDS) + str(rng.randrange(10_000)) for _ in range(value_bytes // 4))
        values.append(" ".join(words).encode()[:value_bytes])
    return values


def make_cluster_plan(quick: bool, replication_factor: int) -> Plan:
    """`refka bench --cluster N`: the `acks=all` workloads of the plan, every topic (warm-up
    included) replicated to `replication_factor` brokers; 64 MiB per 1 KiB topic and 16 MB per
    100 B topic (each byte is written `replication_factor` times), or 1 MB and 0.5 MB."""
    budget = {100: 500_000, 1024: 1_000_000} if quick else {100: 16_000_000, 1024: 64 << 20}
    base = make_plan(quick)
    produce = tuple(
        replace(w, total_bytes=budget[w.value_bytes], replication_factor=replication_factor)
        for w in base.produce
        if w.acks == "all"
    )
    warmup = replace(base.warmup, acks="all", replication_factor=replication_factor)
    return replace(base, produce=produce, warmup=warmup)
