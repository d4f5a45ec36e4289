"""``refka bench --start``: how fast a test gets a broker, in the fixtures' modes, beside the
Apache Kafka peer, all in one run.

- subprocess: ``python -m refka broker`` spawned; target <= 100 ms to the Metadata answer;
- subprocess, --python: the same under another interpreter (``--python PATH``, e.g. a venv
  with refka's wheel installed, as users have it), when given;
- subprocess, forked: the same broker process forked from the warm fork server
  (``refka.testing.fork_server``, ``fork=True``; the fixtures' default on Linux), from the
  request on;
- subprocess, forked, cold: the first forked broker of a fresh test process, which starts the
  fork server first (what the first test of a session pays in that mode);
- in-process, cold: a fresh interpreter's ``import refka.testing`` plus the first in-process
  start (what the first test of a session pays, the interpreter's start excluded);
- in-process, warm: a further start in a process that already imported refka (every later
  test); target <= 20 ms;
- Apache Kafka: the peer the project starts (``refka.peers.kafka``, KRaft combined mode),
  when its jars are present;
- floor, ``import asyncio``: ``python -c "import asyncio"``, spawn to exit: what any asyncio
  server pays before its own first import, on this machine, in this run (the subprocess
  target is absolute, this row says how fast the machine is).

Figures, medians of the repetitions: start (until a Metadata request is answered; also the
minimum, the least disturbed by other load on a shared machine), the CPU time the start
consumed (user + system, which other load does not inflate), the time to the first produced
record (start, CreateTopics until the partition has a leader, one acks=all Produce) and the
resident memory of the broker process once ready (in-process: of the whole test process).
"""

from __future__ import annotations

import datetime
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from refka.bench.probe import metadata_answers, metadata_frame, wait_first_metadata
from refka.peers.readiness import free_port

DEADLINE_S = 30.0
FLOOR = "floor, import asyncio"
TARGETS_MS = {
    "subprocess": 100.0,
    "subprocess, --python": 100.0,
    "subprocess, forked": 100.0,
    "subprocess, forked, cold": None,
    "in-process, cold": None,
    "in-process, warm": 20.0,
    "Apache Kafka": None,
    FLOOR: None,
}
OTHER_PYTHON = "subprocess, --python"
TOPIC = "first"


class Sample(NamedTuple):
    start_ms: float
    cpu_ms: float
    first_record_ms: float
    rss_mb: float


def cpu_ms(pid: int) -> float:
    """User + system CPU milliseconds of process ``pid`` so far (Linux; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (Linux; NaN elsewhere)."""
    try:
        from refka.bench.brokers import rss_mb as read

        return read(pid)
    except (OSError, RuntimeError):
        return math.nan


RETRY_BACKOFF_S = 0.01
# the first produce's errors a client retries: the topic is created, its leader not yet known
RETRIED = frozenset(
    {"not_leader_or_follower", "leader_not_available", "unknown_topic_or_partition"}
)


def produce_first(bootstrap: str) -> None:
    """Create the topic (until its partition has a leader), then one acks=all Produce."""
    from kio.schema.errors import ErrorCode
    from kio.schema.produce.v3.request import (
        PartitionProduceData,
        ProduceRequest,
        TopicProduceData,
    )
    from kio.schema.produce.v3.response import ProduceResponse
    from kio.schema.types import TopicName
    from kio.static.primitive import i16, i32, i32Timedelta

    from refka.protocol.records import build_batch
    from refka.testing.admin import _call, create_topic

    create_topic(bootstrap, TOPIC)
    batch = build_batch([(None, b"first", [], int(time.time() * 1000))])
    partition = PartitionProduceData(index=i32(0), records=batch)  # type: ignore[arg-type]
    request = ProduceRequest(
        transactional_id=None,
        acks=i16(-1),
        timeout=i32Timedelta.parse(datetime.timedelta(seconds=10)),
        topic_data=(TopicProduceData(name=TopicName(TOPIC), partition_data=(partition,)),),
    )
    end = time.monotonic() + DEADLINE_S
    while True:  # as a client does: a leader the broker does not know yet is retried
        response = _call(bootstrap, request, ProduceResponse, DEADLINE_S)
        assert isinstance(response, ProduceResponse)
        [[answer]] = [t.partition_responses for t in response.responses]
        if answer.error_code.name not in RETRIED or time.monotonic() > end:
            break
        time.sleep(RETRY_BACKOFF_S)  # retry.backoff.ms
    if answer.error_code != ErrorCode.none:
        raise RuntimeError(f"first produce: {answer.error_code.name}")


def _answered(port: int, began: float, alive: Callable[[], bool]) -> float:
    while not metadata_answers("127.0.0.1", port, metadata_frame()):
        if not alive() or time.perf_counter() - began > DEADLINE_S:
            raise RuntimeError(f"no Metadata answer on port {port}")
        time.sleep(0.001)
    return time.perf_counter()


def subprocess_sample(work_dir: Path, python: str = sys.executable) -> Sample:
    """``python -m refka broker``; another interpreter (a venv with refka installed from its
    wheel) runs outside this checkout's ``PYTHONPATH``."""
    port = free_port()
    argv = [python, "-m", "refka", "broker"]
    argv += ["--set", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--set", f"log.dirs={work_dir}"]
    began = time.perf_counter()
    env = None if python == sys.executable else outside_checkout()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        answered = wait_first_metadata("127.0.0.1", port, process, DEADLINE_S)
        cpu, rss = cpu_ms(process.pid), rss_mb(process.pid)
        produce_first(f"127.0.0.1:{port}")
        produced = time.perf_counter()
    finally:
        process.terminate()
        process.wait()
    return Sample((answered - began) * 1000, cpu, (produced - began) * 1000, rss)


def outside_checkout() -> dict[str, str]:
    """This environment without what points into the checkout or skips the bytecode cache."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def forked_sample(work_dir: Path, began: float | None = None) -> Sample:
    """A broker forked from this process's fork server, from the request on (from ``began``
    when given: a cold sample counts the fork server's start too)."""
    from refka.testing.fork_server import fork_server

    work_dir.mkdir(parents=True)
    port = free_port()
    argv = ["broker", "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}"]
    argv += ["--set", f"log.dirs={work_dir / 'data'}"]
    cold = began is not None
    server = fork_server()
    began = time.perf_counter() if began is None else began
    process = server.spawn(argv, work_dir / "out", work_dir / "err", work_dir / "status")
    try:
        answered = _answered(port, began, lambda: process.poll() is None)
        cpu, rss = cpu_ms(process.pid), rss_mb(process.pid)
        cpu += cpu_ms(server.process.pid) if cold else 0.0  # the server's start and warm-up
        produce_first(f"127.0.0.1:{port}")
        produced = time.perf_counter()
    finally:
        process.terminate()
        process.wait(30)
    return Sample((answered - began) * 1000, cpu, (produced - began) * 1000, rss)


FORKED_COLD = """
import sys, time
from pathlib import Path
from refka.bench.start import forked_sample
print(*forked_sample(Path(sys.argv[1]), time.perf_counter()))
"""


def forked_cold_sample(work_dir: Path) -> Sample:
    """A fresh interpreter's first forked broker, from the request on: the fork server's
    start included, the interpreter's own start and the bench's imports not."""
    argv = [sys.executable, "-c", FORKED_COLD, str(work_dir)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return Sample(*(float(v) for v in out.stdout.split()[-4:]))


COLD = """
import os, socket, struct, sys, time
frame = bytes.fromhex(sys.argv[1])  # Metadata v1: kio is the broker's import to pay, not ours

def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(frame)
            return struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0] > 0
    except (OSError, struct.error):
        return False

began, cpu = time.perf_counter(), time.process_time()
from refka.testing import in_process_broker
with in_process_broker() as broker:
    while not answers(broker.port):
        time.sleep(0.001)
    answered, spent = time.perf_counter(), (time.process_time() - cpu) * 1000
    from refka.bench.start import produce_first, rss_mb
    rss = rss_mb(os.getpid())
    producing = time.perf_counter()
    produce_first(broker.bootstrap)
    produced = answered + time.perf_counter() - producing
print((answered - began) * 1000, spent, (produced - began) * 1000, rss)
"""


def in_process_cold_sample() -> Sample:
    """A fresh interpreter's first in-process broker: ``import refka.testing`` and all that the
    first start imports (kio, asyncio, ...), not the interpreter's start nor the bench's
    imports, which come after the answer."""
    argv = [sys.executable, "-c", COLD, metadata_frame().hex()]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return Sample(*(float(v) for v in out.stdout.split()[-4:]))


def thread_cpu_ms(thread: threading.Thread | None) -> float:
    """CPU milliseconds of ``thread`` so far (NaN where its clock cannot be read).

    An in-process start's CPU is its caller's and its broker thread's: the process's whole
    CPU time would count every other thread of a test process (clients' I/O threads, other
    brokers) as well."""
    if thread is None or thread.ident is None:
        return math.nan
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident)) * 1000
    except (AttributeError, OSError):  # no per-thread clocks on this platform
        return math.nan


def in_process_warm_sample(work_dir: Path) -> Sample:
    from refka.testing import InProcessBroker

    broker = InProcessBroker(work_dir, work_dir, "127.0.0.1", 0, {})
    began, cpu = time.perf_counter(), time.thread_time()
    broker.start()
    answered = _answered(broker.port, began, lambda: broker.running)
    spent = (time.thread_time() - cpu) * 1000 + thread_cpu_ms(broker._thread)
    rss = rss_mb(os.getpid())
    produce_first(broker.bootstrap)
    produced = time.perf_counter()
    broker.stop()
    return Sample((answered - began) * 1000, spent, (produced - began) * 1000, rss)


def floor_sample(python: str = sys.executable) -> Sample:
    """The interpreter's start and ``import asyncio``, until the process exits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([python, "-c", "import asyncio"], check=True, env=outside_checkout())
    wall = (time.perf_counter() - began) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return Sample(wall, cpu, math.nan, math.nan)


def kafka_sample(work_dir: Path) -> Sample:
    from refka.bench.brokers import start_timed, stop

    started = start_timed("kafka", work_dir)
    try:
        cpu, rss = cpu_ms(started.pid), rss_mb(started.pid)
        before = time.perf_counter()
        produce_first(started.peer.bootstrap)
        produce_ms = (time.perf_counter() - before) * 1000
    finally:
        stop(started)
    return Sample(started.start_ms, cpu, started.start_ms + produce_ms, rss)


def kafka_available() -> bool:
    from refka.peers.kafka import _jars_present, libs_dir

    return _jars_present(libs_dir()) and shutil.which("java") is not None


def measure(
    repetitions: int, kafka: bool = False, python: str | None = None
) -> dict[str, list[Sample]]:
    """Each mode ``repetitions`` times, interleaved; with ``python``, also the subprocess mode
    under that interpreter (row ``subprocess, --python``)."""
    skipped = {"Apache Kafka"} if not kafka else set()
    skipped |= {OTHER_PYTHON} if not python else set()
    modes = [m for m in TARGETS_MS if m not in skipped]
    runs: dict[str, list[Sample]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="refka-bench-start-") as tmp:
        root = Path(tmp)
        in_process_warm_sample(root / "warm-up")  # imports refka here, once
        forked_sample(root / "fork-warm-up")  # starts the fork server, once
        for n in range(repetitions):
            runs["subprocess"].append(subprocess_sample(root / f"sub-{n}"))
            if python:
                runs[OTHER_PYTHON].append(subprocess_sample(root / f"other-{n}", python))
            runs["subprocess, forked"].append(forked_sample(root / f"fork-{n}"))
            runs["subprocess, forked, cold"].append(forked_cold_sample(root / f"fork-cold-{n}"))
            runs["in-process, cold"].append(in_process_cold_sample())
            runs["in-process, warm"].append(in_process_warm_sample(root / f"warm-{n}"))
            if kafka:
                runs["Apache Kafka"].append(kafka_sample(root / f"kafka-{n}"))
            runs[FLOOR].append(floor_sample())
    return runs


def table(runs: dict[str, list[Sample]]) -> str:
    lines = [
        "| broker, mode | start ms (min) | start ms | start CPU ms | first record ms "
        "| RSS MB | start target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for mode, samples in runs.items():
        starts = [s.start_ms for s in samples]

        def median(values: list[float]) -> str:
            known = [v for v in values if not math.isnan(v)]
            return f"{statistics.median(known):.0f}" if known else "-"

        target = TARGETS_MS[mode]
        lines.append(
            f"| {mode} | {min(starts):.0f} | {median(starts)} | "
            f"{median([s.cpu_ms for s in samples])} | "
            f"{median([s.first_record_ms for s in samples])} | "
            f"{median([s.rss_mb for s in samples])} | "
            f"{f'<= {target:.0f} ms' if target else '-'} |"
        )
    return "\n".join(lines) + "\n"


def run(repetitions: int, brokers: str = "refka", python: str | None = None) -> int:
    kafka = "kafka" in brokers.split(",")
    if kafka and not kafka_available():
        print("refka bench --start: the Apache Kafka jars are missing; measuring refka only")
        kafka = False
    if python:
        print(f"subprocess, --python: {python}")
    print(table(measure(repetitions, kafka, python)), end="")
    return 0
