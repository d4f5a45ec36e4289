"""One broker session: start it, measure start time and idle memory, run every workload,
measure memory after the runs, stop it. Returns one figure per row key (None if it failed)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from refka.bench import clients
from refka.bench.brokers import DISPLAY_NAMES, cpu_s, rss_mb, start_timed, stop
from refka.bench.rows import (
    IDLE_RSS,
    LATENCY_P50,
    LATENCY_P99,
    RSS_AFTER,
    START,
    consume_key,
    produce_key,
)
from refka.bench.workloads import Plan

WORKLOAD_TIMEOUT_S = 120.0
PHASES = ("produce", "consume", "latency")

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Target:
    """What the workloads need of a running broker or cluster: where to connect, the
    processes whose CPU time is counted, and a check that none of them has died."""

    name: str
    bootstrap: str
    pids: tuple[int, ...]
    check_alive: Callable[[], None]

    def cpu_s(self) -> float:
        return sum(cpu_s(pid) for pid in self.pids)


def run_session(
    kind: str,
    plan: Plan,
    work_dir: Path,
    values: dict[int, list[bytes]],
    log: Log,
    profile_to: Path | None = None,
    phases: tuple[str, ...] = PHASES,
) -> tuple[dict[str, float | None], dict[str, dict[str, float]]]:
    """Figures by row key, and details (msgs/s, broker CPU seconds) by row key.

    `phases` picks what runs after start-up: "produce" (creates the topics), "consume",
    "latency"; the profiler runs start-up alone (no phase), then produce, then consume, in
    separate sessions on one log dir.
    """
    figures: dict[str, float | None] = {}
    details: dict[str, dict[str, float]] = {}
    name = DISPLAY_NAMES[kind]
    try:
        started = start_timed(kind, work_dir, profile_to)
    except Exception as error:
        log(f"{name}: did not start: {error}")
        return figures, details
    try:
        figures[START] = started.start_ms
        time.sleep(plan.settle_s)  # idle means: started, nothing asked of it yet
        figures[IDLE_RSS] = rss_mb(started.pid)
        log(f"{name}: start {started.start_ms:.0f} ms, idle RSS {figures[IDLE_RSS]:.1f} MB")
        target = Target(name, started.peer.bootstrap, (started.pid,), started.peer.check_alive)
        run_workloads(target, plan, values, log, figures, details, phases)
        figures[RSS_AFTER] = rss_mb(started.pid)
        log(f"{name}: RSS after the runs {figures[RSS_AFTER]:.1f} MB")
    finally:
        gc.collect()  # drop librdkafka handles before their broker goes away
        stop(started)
    return figures, details


def _warm_up(
    bootstrap: str, plan: Plan, values: dict[int, list[bytes]], phases: tuple[str, ...]
) -> None:
    """Produce and consume the untimed warm-up topic (see `Plan.warmup`)."""
    if not {"produce", "consume"} & set(phases):
        return
    warmup = plan.warmup
    if "produce" in phases:
        clients.produce(bootstrap, warmup, values[warmup.value_bytes], WORKLOAD_TIMEOUT_S)
    clients.consume(bootstrap, warmup, WORKLOAD_TIMEOUT_S)


def run_workloads(
    target: Target,
    plan: Plan,
    values: dict[int, list[bytes]],
    log: Log,
    figures: dict[str, float | None],
    details: dict[str, dict[str, float]],
    phases: tuple[str, ...],
) -> None:
    name, bootstrap = target.name, target.bootstrap
    if "produce" in phases:
        topics = {w.topic: w.partitions for w in plan.produce}
        topics[plan.latency.topic] = 1
        topics[plan.warmup.topic] = 1
        # a plan replicates all its topics alike (see workloads.make_cluster_plan)
        clients.create_topics(bootstrap, topics, plan.warmup.replication_factor)
    _warm_up(bootstrap, plan, values, phases)
    steps = [(produce_key(w), w, "produce") for w in plan.produce if "produce" in phases]
    steps += [(consume_key(w), w, "consume") for w in plan.produce if "consume" in phases]
    for key, workload, measure in steps:
        target.check_alive()
        cpu_before_s = target.cpu_s()
        try:
            if measure == "produce":
                result = clients.produce(
                    bootstrap, workload, values[workload.value_bytes], WORKLOAD_TIMEOUT_S
                )
            else:
                result = clients.consume(bootstrap, workload, WORKLOAD_TIMEOUT_S)
        except Exception as error:
            log(f"{name}: {key}: FAILED: {error}")
            figures[key] = None
            continue
        figures[key] = result.mb_per_s
        details[key] = {
            "msgs_per_s": result.msgs_per_s,
            "elapsed_s": result.elapsed_s,
            "broker_cpu_s": target.cpu_s() - cpu_before_s,
        }
        log(f"{name}: {key}: {result.mb_per_s:.1f} MB/s ({result.msgs_per_s:,.0f} msg/s)")
    if "latency" not in phases:
        return
    try:
        p50_ms, p99_ms = clients.produce_latency(
            bootstrap, plan.latency, values[plan.latency.value_bytes][0], WORKLOAD_TIMEOUT_S
        )
    except Exception as error:
        log(f"{name}: latency: FAILED: {error}")
        return
    figures[LATENCY_P50], figures[LATENCY_P99] = p50_ms, p99_ms
    log(f"{name}: produce latency p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms")
