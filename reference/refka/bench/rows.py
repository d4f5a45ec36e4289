"""The rows of the benchmark table: a stable key, a label, a unit, and which way is better."""

from __future__ import annotations

from dataclasses import dataclass

from refka.bench.workloads import Plan, ProduceWorkload

START = "start_ms"
IDLE_RSS = "idle_rss_mb"
LATENCY_P50 = "latency_p50_ms"
LATENCY_P99 = "latency_p99_ms"
RSS_AFTER = "rss_after_mb"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    unit: str
    higher_is_better: bool


def produce_key(workload: ProduceWorkload) -> str:
    return f"produce {workload.label}"


def consume_key(workload: ProduceWorkload) -> str:
    return f"consume {workload.label}"


def make_rows(plan: Plan) -> list[Row]:
    latency = plan.latency
    shape = f"{latency.rate_per_s:.0f} msg/s, {latency.value_bytes} B, acks={latency.acks}"
    return [
        Row(START, "start time (Popen to first Metadata answer)", "ms", False),
        Row(IDLE_RSS, "idle RSS", "MB", False),
        *[Row(produce_key(w), produce_key(w), "MB/s", True) for w in plan.produce],
        *[Row(consume_key(w), consume_key(w), "MB/s", True) for w in plan.produce],
        Row(LATENCY_P50, f"produce latency p50 ({shape})", "ms", False),
        Row(LATENCY_P99, f"produce latency p99 ({shape})", "ms", False),
        Row(RSS_AFTER, "RSS after the runs", "MB", False),
    ]


def make_cluster_rows(plan: Plan) -> list[Row]:
    """`refka bench --cluster N`: throughput only (start and memory are per process)."""
    return [
        *[Row(produce_key(w), produce_key(w), "MB/s", True) for w in plan.produce],
        *[Row(consume_key(w), consume_key(w), "MB/s", True) for w in plan.produce],
    ]
