"""``refka bench --hostile``: one well-behaved producer while hundreds of connections misbehave.

    refka bench --hostile                                  # 500 connections, 3 x 10 s runs
    refka bench --hostile --connections 40 --seconds 1 --repetitions 1  # the CI smoke run

Issue 13's load test. A refka broker starts (a subprocess, with ``connections.max.idle.ms``
short enough to close abandoned frames and ``max.connections.per.ip`` over the connections
held; ``queued.max.request.bytes`` stays unset, Kafka's default, as the frames announced by
hostile peers would otherwise hold its memory and starve the producer, see docs/security.md);
a confluent-kafka producer (acks=1, 16 KiB values, one partition) writes for ``--seconds``
alone, then again while a second process holds ``--connections`` connections open, a quarter
of them misbehaving in equal shares:

- slow readers: a Metadata request every 0.1 s, answers read at 100 bytes a second through
  a 4 KiB receive buffer (the broker stops reading them once its write buffer is full);
- abandoned frames: announce a 1 MiB request, send a few bytes of it, go silent (closed after
  ``connections.max.idle.ms``; then they connect and do it again);
- garbage: random bytes (the broker closes the connection; they connect again);

and the other three quarters behave: an ApiVersions request each second, its answer read.
The output is the producer's throughput in both runs and their ratio (the issue's goal: at
least 0.8), plus what the misbehaving clients saw. A benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

VALUE_BYTES = 16 * 1024  # large enough that the producer's Python loop is not the bottleneck
TOPIC = "hostile-bench"
API_VERSIONS = struct.pack(">hhih", 18, 0, 1, -1)
METADATA_V1 = struct.pack(">hhih", 3, 1, 1, -1) + struct.pack(">i", -1)  # all topics
ABANDONED_FRAME_BYTES = 1 << 20
BROKER_CONFIGS = {
    "connections.max.idle.ms": "5000",  # over broker.heartbeat.interval.ms
    "max.connections.per.ip": "2000",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, default=500, help="held connections (500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each producer run (10 s)")
    parser.add_argument("--repetitions", type=int, default=3, help="runs alone and in a storm")


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


# --- the hostile process -----------------------------------------------------------------


class Storm:
    """The connections of the hostile process and what happened to them."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.counts = {"answers": 0, "reconnects": 0, "closed_by_broker": 0, "errors": 0}
        self.random = random.Random(13)

    async def run(self) -> None:
        """Until a line (or the end) arrives on stdin."""
        bad = self.count // 4
        kinds = [self.slow_reader, self.abandoner, self.garbage]
        only = os.environ.get("STORM_KINDS", "spgo")
        tasks = [kinds[i % 3]() for i in range(bad) if "sag"[i % 3] in only]
        tasks += [self.polite() for _ in range(self.count - bad) if "p" in only]
        running = [asyncio.ensure_future(t) for t in tasks]
        await asyncio.sleep(0.5)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def open(
        self, receive_buffer: int = 0
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not receive_buffer:
            return await asyncio.open_connection(self.host, self.port)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
        return await asyncio.open_connection(sock=sock, limit=receive_buffer)

    async def polite(self) -> None:
        reader, writer = await self.open()
        await asyncio.sleep(self.random.random())
        while True:
            writer.write(frame(API_VERSIONS))
            size = struct.unpack(">i", await reader.readexactly(4))[0]
            await reader.readexactly(size)
            self.counts["answers"] += 1
            await asyncio.sleep(1.0)

    async def slow_reader(self) -> None:
        """Pipelines Metadata requests, reads their answers slowly."""
        reader, writer = await self.open(receive_buffer=4096)
        ticks = 0
        while True:
            writer.write(frame(METADATA_V1))
            await writer.drain()  # blocks once the broker stops reading
            await asyncio.sleep(0.1)
            ticks += 1
            if ticks % 10 == 0:
                await reader.read(100)

    async def abandoner(self) -> None:
        while True:
            reader, writer = await self.open()
            writer.write(struct.pack(">i", ABANDONED_FRAME_BYTES) + b"\0" * 100)
            if await reader.read(1) == b"":  # waits until the broker closes it
                self.counts["closed_by_broker"] += 1
            writer.close()
            self.counts["reconnects"] += 1

    async def garbage(self) -> None:
        while True:
            try:
                reader, writer = await self.open()
                writer.write(self.random.randbytes(self.random.randint(1, 512)))
                writer.write(frame(self.random.randbytes(64)))
                if await reader.read(1 << 16) == b"":
                    self.counts["closed_by_broker"] += 1
                writer.close()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.counts["errors"] += 1
            self.counts["reconnects"] += 1
            await asyncio.sleep(0.2)


def storm_main(host: str, port: int, count: int) -> int:
    storm = Storm(host, port, count)
    asyncio.run(storm.run())
    print("storm", " ".join(f"{k}={v}" for k, v in storm.counts.items()), flush=True)
    return 0


# --- the measuring process ---------------------------------------------------------------


def produce_for(bootstrap: str, seconds: float) -> float:
    """Messages per second acknowledged to one producer writing for ``seconds``."""
    from confluent_kafka import Producer

    from refka.bench.clients import QUIET

    failed: list[object] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "1",
            "linger.ms": 5,
            "delivery.report.only.error": True,
            "on_delivery": lambda error, _: failed.append(error),
            **QUIET,
        }
    )
    producer.list_topics(TOPIC, timeout=10)
    value = os.urandom(VALUE_BYTES)
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        try:
            producer.produce(TOPIC, value, partition=0)
            sent += 1
        except BufferError:
            producer.poll(0.005)
    left = producer.flush(60)
    elapsed = time.perf_counter() - started
    if left or failed:
        raise RuntimeError(f"{left} unsent, {len(failed)} failed: {failed[:3]}")
    return sent / elapsed


def run(args: argparse.Namespace) -> int:
    from confluent_kafka.admin import AdminClient, NewTopic

    from refka.bench.clients import QUIET
    from refka.peers.refka_broker import running_refka

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="refka-hostile-"))
    with running_refka(work, 0, **BROKER_CONFIGS) as peer:
        bootstrap = f"{peer.host}:{peer.port}"
        admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
        produce_for(bootstrap, min(1.0, args.seconds / 2))  # warm up
        alone_runs, loaded_runs, reports = [], [], []
        busy: dict[str, list[float]] = {"alone": [], "storm": []}
        pid = peer.process.pid
        for _ in range(args.repetitions):
            with _busy(pid, busy["alone"]):
                alone_runs.append(produce_for(bootstrap, args.seconds))
            with _busy(pid, busy["storm"]):
                loaded, report = _in_a_storm(peer.host, peer.port, args)
            loaded_runs.append(loaded)
            reports.append(report)
        alive = peer.process.poll() is None
    alone, loaded = statistics.median(alone_runs), statistics.median(loaded_runs)
    report = reports[-1]
    ratio = loaded / alone
    print(f"connections          {args.connections} ({args.connections // 4} misbehaving)")
    runs = f"median of {args.repetitions} runs of {args.seconds:g} s"
    mb = VALUE_BYTES / 1e6
    print(
        f"producer alone       {alone:,.0f} msg/s, {alone * mb:,.0f} MB/s (16 KiB, acks=1; {runs})"
    )
    print(f"producer in a storm  {loaded:,.0f} msg/s, {loaded * mb:,.0f} MB/s")
    print(f"ratio                {ratio:.2f} (goal >= 0.80)")
    print(f"misbehaving clients  {report.removeprefix('storm ')}")
    if busy["alone"] and busy["storm"]:
        alone_busy, storm_busy = (statistics.median(busy[k]) for k in ("alone", "storm"))
        print(f"broker CPU           {alone_busy:.0%} of a core alone, {storm_busy:.0%} in a storm")
    print(f"load average         {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print(f"broker alive         {alive}")
    return 0 if alive else 1


@contextlib.contextmanager
def _busy(pid: int, into: list[float]) -> Iterator[None]:
    """Append the broker's CPU time over the block's wall time (Linux's /proc; else nothing):
    a broker short of CPU in a storm was starved by the machine, not by the storm."""
    began_cpu, began = _cpu_s(pid), time.perf_counter()
    yield
    ended_cpu = _cpu_s(pid)
    if began_cpu is not None and ended_cpu is not None:
        into.append((ended_cpu - began_cpu) / (time.perf_counter() - began))


def _cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _in_a_storm(host: str, port: int, args: argparse.Namespace) -> tuple[float, str]:
    """The producer's throughput while the storm process runs; and the storm's report."""
    argv = [sys.executable, "-m", "refka.bench.hostile", "--storm", host, str(port)]
    argv += [str(args.connections)]
    storm = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert storm.stdout is not None
    if storm.stdout.readline().strip() != "ready":
        storm.kill()
        raise SystemExit("refka bench --hostile: the storm did not start")
    loaded = produce_for(f"{host}:{port}", args.seconds)
    report = storm.communicate("stop\n", timeout=60)[0].strip()
    return loaded, report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--storm"]:
        host, port, count = argv[1:4]
        return storm_main(host, int(port), int(count))
    parser = argparse.ArgumentParser(prog="refka bench --hostile")
    add_arguments(parser)
    parser.add_argument("--work-dir", type=Path)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
