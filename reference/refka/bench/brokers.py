"""The three brokers under test, started through `refka.peers` with the clock on our side.

`refka.peers` owns how each broker is launched (argv, configs, Kafka's storage format). The
benchmark wraps the peer module's `spawn` for one call: it notes the time just before
`Popen` and polls Metadata on the broker's port until it answers, so the start time of all
three brokers is measured alike, from process start to the first Metadata answer (Kafka's
`StorageTool format`, a separate JVM run before the broker starts, is not counted). Kafka runs
with the JVM options of its own start scripts (`KAFKA_JVM_OPTIONS`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from unittest import mock

from refka.bench.probe import wait_first_metadata
from refka.peers.process import Peer
from refka.peers.readiness import free_port

BROKERS = ("refka", "tansu", "kafka")
DISPLAY_NAMES = {"refka": "refka", "tansu": "Tansu", "kafka": "Apache Kafka"}
START_DEADLINE_S = 120.0
# Kafka as its start scripts run it (kafka-server-start.sh's heap, kafka-run-class.sh's
# KAFKA_JVM_PERFORMANCE_OPTS), not the test peer's options tuned for a quick start (C1 only).
KAFKA_JVM_OPTIONS = (
    "-Xmx1G",
    "-Xms1G",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass
class Started:
    """A running broker and how long it took to answer Metadata."""

    peer: Peer
    start_ms: float

    @property
    def pid(self) -> int:
        return self.peer.process.pid


def _peer_module(kind: str) -> ModuleType:
    names = {"refka": "refka_broker", "tansu": "tansu", "kafka": "kafka"}
    return importlib.import_module(f"refka.peers.{names[kind]}")


def _start_peer(kind: str, work_dir: Path, port: int) -> Peer:
    if kind == "refka":
        from refka.peers.refka_broker import start_refka

        return start_refka(work_dir, port)
    if kind == "tansu":
        from refka.peers.tansu import start_tansu

        return start_tansu(work_dir, port)
    from refka.peers.kafka import start_kafka

    return start_kafka(work_dir, port)


def profiled_argv(argv: list[str], out_prefix: Path) -> list[str]:
    """Turn `python -u -m refka broker ...` into the same broker under pyinstrument."""
    head = [sys.executable, "-u", "-m", "refka", "broker"]
    if argv[:5] != head:
        raise RuntimeError(f"unexpected refka argv, cannot profile: {argv[:5]}")
    return [sys.executable, "-u", "-m", "refka.bench.profiled", str(out_prefix), *argv[4:]]


def start_timed(kind: str, work_dir: Path, profile_to: Path | None = None) -> Started:
    """Start broker `kind` on a free loopback port; measure Popen to first Metadata answer."""
    module = _peer_module(kind)
    real_spawn: Callable[..., subprocess.Popen[bytes]] = module.spawn
    port = free_port()
    timing: dict[str, float] = {}

    def timed_spawn(
        argv: list[str], log_path: Path, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        if profile_to is not None:
            argv = profiled_argv(argv, profile_to)
        started_s = time.perf_counter()
        process = real_spawn(argv, log_path, cwd)
        try:
            answered_s = wait_first_metadata("127.0.0.1", port, process, START_DEADLINE_S)
        except BaseException:
            process.kill()
            process.wait()
            raise
        timing["start_ms"] = (answered_s - started_s) * 1000.0
        return process

    with contextlib.ExitStack() as patches:
        patches.enter_context(mock.patch.object(module, "spawn", timed_spawn))
        if kind == "kafka":
            patches.enter_context(mock.patch.object(module, "JVM_OPTIONS", KAFKA_JVM_OPTIONS))
        peer = _start_peer(kind, work_dir, port)
    return Started(peer, timing["start_ms"])


def stop(started: Started, timeout_s: float = 60.0) -> None:
    """SIGTERM and wait (a profiled broker writes its profile on the way out)."""
    process = started.peer.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` in MB (10^6 bytes), from /proc/<pid>/status VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds used so far by `pid` (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S
