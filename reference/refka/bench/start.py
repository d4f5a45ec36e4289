"""``refka bench --start``: how fast a test gets a broker, in the fixtures' two modes.

- subprocess: ``python -m refka broker`` spawned, until a Metadata request is answered
  (the same probe as the main bench's start time); target <= 100 ms;
- subprocess, forked: the same broker process forked from the warm fork server
  (``refka.testing.fork_server``, ``fork=True``), from the request until Metadata answers;
- in-process, cold: a fresh interpreter's ``import refka.testing`` plus the first in-process
  start, until Metadata answers (what the first test of a session pays, interpreter start
  excluded);
- in-process, warm: a further start in a process that already imported refka (every later
  test); target <= 20 ms.

Minimum and median of the repetitions: the minimum is the least disturbed by other load on a
shared machine, the median what a test sees typically. Beside the wall time, the CPU time the
start consumed (user + system, Linux: ``/proc/PID/stat`` of the child; in-process: the
process's CPU clock), which load from other processes does not inflate.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from refka.bench.probe import metadata_answers, metadata_frame, wait_first_metadata
from refka.peers.readiness import free_port

DEADLINE_S = 30.0
TARGETS_MS = {
    "subprocess": 100.0,
    "subprocess, forked": 100.0,
    "in-process, cold": None,
    "in-process, warm": 20.0,
}

COLD = """
import time
began, cpu = time.perf_counter(), time.process_time()
from refka.bench.probe import metadata_answers, metadata_frame
from refka.testing import in_process_broker
with in_process_broker() as broker:
    host, port = broker.bootstrap.split(":")
    while not metadata_answers(host, int(port), metadata_frame()):
        time.sleep(0.001)
    print((time.perf_counter() - began) * 1000, (time.process_time() - cpu) * 1000)
"""


def cpu_ms(pid: int) -> float:
    """User + system CPU milliseconds of process ``pid`` so far (Linux; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def subprocess_ms(work_dir: Path) -> tuple[float, float]:
    port = free_port()
    argv = [sys.executable, "-m", "refka", "broker"]
    argv += ["--set", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--set", f"log.dirs={work_dir}"]
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        answered = wait_first_metadata("127.0.0.1", port, process, DEADLINE_S)
        cpu = cpu_ms(process.pid)
    finally:
        process.terminate()
        process.wait()
    return (answered - began) * 1000, cpu


def forked_ms(work_dir: Path) -> tuple[float, float]:
    from refka.testing.fork_server import fork_server

    work_dir.mkdir(parents=True)
    port = free_port()
    argv = ["broker", "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}"]
    argv += ["--set", f"log.dirs={work_dir / 'data'}"]
    server = fork_server()
    began = time.perf_counter()
    process = server.spawn(argv, work_dir / "out", work_dir / "err", work_dir / "status")
    try:
        while not metadata_answers("127.0.0.1", port, metadata_frame()):
            if process.poll() is not None or time.perf_counter() - began > DEADLINE_S:
                raise RuntimeError(f"forked broker did not answer ({process.poll()})")
            time.sleep(0.001)
        answered = time.perf_counter()
        cpu = cpu_ms(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    return (answered - began) * 1000, cpu


def in_process_cold_ms() -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", COLD], capture_output=True, text=True, check=True, timeout=60
    )
    wall, cpu = out.stdout.split()[-2:]
    return float(wall), float(cpu)


def in_process_warm_ms(work_dir: Path) -> tuple[float, float]:
    from refka.testing import InProcessBroker

    broker = InProcessBroker(work_dir, work_dir, "127.0.0.1", 0, {})
    began, cpu = time.perf_counter(), time.process_time()
    broker.start()
    host, port = broker.bootstrap.split(":")
    while not metadata_answers(host, int(port), metadata_frame()):
        time.sleep(0.001)
    elapsed, cpu = (time.perf_counter() - began) * 1000, (time.process_time() - cpu) * 1000
    broker.stop()
    return elapsed, cpu


def measure(repetitions: int) -> dict[str, list[tuple[float, float]]]:
    """Each mode ``repetitions`` times, interleaved; (wall, CPU) milliseconds."""
    runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in TARGETS_MS}
    with tempfile.TemporaryDirectory(prefix="refka-bench-start-") as tmp:
        in_process_warm_ms(Path(tmp) / "warm-up")  # imports refka here, once
        forked_ms(Path(tmp) / "fork-warm-up")  # starts the fork server, once
        for n in range(repetitions):
            runs["subprocess"].append(subprocess_ms(Path(tmp) / f"sub-{n}"))
            runs["subprocess, forked"].append(forked_ms(Path(tmp) / f"fork-{n}"))
            runs["in-process, cold"].append(in_process_cold_ms())
            runs["in-process, warm"].append(in_process_warm_ms(Path(tmp) / f"warm-{n}"))
    return runs


def table(runs: dict[str, list[tuple[float, float]]]) -> str:
    lines = [
        "| mode | wall min ms | wall median ms | CPU median ms | target (wall) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for mode, values in runs.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        target = TARGETS_MS[mode]
        lines.append(
            f"| {mode} | {min(walls):.0f} | {statistics.median(walls):.0f} | "
            f"{statistics.median(cpus):.0f} | {f'<= {target:.0f} ms' if target else '-'} |"
        )
    return "\n".join(lines) + "\n"


def run(repetitions: int) -> int:
    print(table(measure(repetitions)), end="")
    return 0
