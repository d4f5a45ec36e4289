"""Subprocess mode: ``python -m refka broker`` as a child process on loopback.

::

    from refka.testing import running_broker

    with running_broker(log_segment_bytes=1024) as broker:
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
        ...
        broker.restart()  # SIGTERM, then start again on the same data dir and port
        broker.kill()     # SIGKILL, for crash tests; broker.restart() brings it back

Config keys are Kafka's (``server.properties``): pass them as keyword arguments with
underscores for dots (``num_partitions=3``) or as ``config={"log.segment.bytes": "1024"}``.
The broker's stdout and stderr go to files; an error raised here ends with stderr's tail.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from refka.testing.proxy import Proxied, TcpProxy

if TYPE_CHECKING:
    from refka.testing.fork_server import ForkedProcess

READY_LINE = re.compile(r"refka (?:broker|controller) ready on (\S+):(\d+)([^\n]*)\n")  # a line
STARTUP_MS = re.compile(r" in (\d+) ms")
OTHER_LISTENER = re.compile(r"(\w+)://\[?[^\s,)\]]*\]?:(\d+)")  # in ", listeners A://h:p,..."
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.01
STDERR_TAIL_BYTES = 4000


class BrokerFailed(AssertionError):
    """The broker did not start, or did not stop cleanly; the message ends with its stderr."""


def config_value(value: object) -> str:
    """Kafka's spelling of a config value: ``true``/``false`` for booleans, else ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def broker_configs(config: Mapping[str, object] | None = None, **configs: object) -> dict[str, str]:
    """Merge ``config`` with keyword configs (``log_segment_bytes`` -> ``log.segment.bytes``)."""
    merged = {key: config_value(value) for key, value in (config or {}).items()}
    merged.update({key.replace("_", "."): config_value(value) for key, value in configs.items()})
    return merged


class RunningBroker(Proxied):
    """One refka broker process; restartable on the same data directory and port."""

    def __init__(
        self,
        data_dir: Path,
        work_dir: Path,
        host: str,
        port: int,
        configs: dict[str, str],
        listener: str = "PLAINTEXT",
        fork: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.listener = listener
        self.host = host
        self.port = port
        self.other_listeners: dict[str, int] = {}  # name -> port (0 until the broker binds)
        self.configs = configs
        self.stdout_path = work_dir / "broker.stdout"
        self.stderr_path = work_dir / "broker.stderr"
        self.fork = fork  # fork from refka.testing.fork_server instead of a fresh interpreter
        self.process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.ready_ms: int | None = None
        self.starts = 0

    @property
    def mode(self) -> str:
        return "forked" if self.fork else "subprocess"

    @property
    def bootstrap(self) -> str:
        """``host:port`` (the proxy's, when there is one), for ``bootstrap.servers``."""
        return self.proxy.address if self.proxy is not None else f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        listeners = ",".join(
            f"{name}://{self.host}:{port}"
            for name, port in {self.listener: self.port, **self.other_listeners}.items()
        )
        settings = {"listeners": listeners, "log.dirs": str(self.data_dir), **self.configs}
        args = [sys.executable, "-m", "refka", "broker"]
        for key, value in settings.items():
            args += ["--set", f"{key}={value}"]
        return args

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the process and wait for its ready line; learn the port when it was 0."""
        self.wait_ready(self.launch(), timeout_s)

    def launch(self) -> int:
        """Start the process without waiting; returns where its ready line will be looked for."""
        if self.running:
            raise BrokerFailed(f"broker already running (pid {self.pid})")
        self.starts += 1
        banner = f"--- start {self.starts}: {' '.join(self.command())}\n".encode()
        for path in (self.stdout_path, self.stderr_path):
            with path.open("ab") as f:
                f.write(banner)
        offset = self.stdout_path.stat().st_size
        if self.fork:
            from refka.testing.fork_server import fork_server

            status = self.stdout_path.with_name(f"broker.exit-{self.starts}")
            argv = self.command()[3:]  # after `python -m refka`
            self.process = fork_server().spawn(argv, self.stdout_path, self.stderr_path, status)
            return offset
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.stdout_path.open("ab") as out, self.stderr_path.open("ab") as err:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
            )
        return offset

    def wait_ready(self, offset: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.stdout_path.open("rb") as f:
                f.seek(offset)
                match = READY_LINE.search(f.read().decode(errors="replace"))
            if match:
                self.host, self.port = match[1], int(match[2])
                for name, port in OTHER_LISTENER.findall(match[3]):
                    if name in self.other_listeners:
                        self.other_listeners[name] = int(port)
                startup = STARTUP_MS.search(match[3])
                self.ready_ms = int(startup[1]) if startup else None
                return
            if self.process is not None and self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                raise BrokerFailed(f"broker exited with {code} before ready{self.stderr_tail()}")
            time.sleep(POLL_INTERVAL_S)
        self.terminate()
        raise BrokerFailed(f"no ready line within {timeout_s} s{self.stderr_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, wait, and require exit code 0 (a clean shutdown)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BrokerFailed(
                f"broker ignored SIGTERM for {timeout_s} s{self.stderr_tail()}"
            ) from None
        if code != 0:
            raise BrokerFailed(f"broker exited with {code}{self.stderr_tail()}")

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed or closed."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.kill()
        process.wait()

    def pause(self) -> None:
        """SIGSTOP: the process stops answering but keeps its sockets (a stalled node)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop cleanly (when running) and start again on the same data dir and port."""
        self.stop()
        self.start(timeout_s)

    def terminate(self) -> None:
        """Stop without judging the exit code (clean-up after a failure)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, size: int = STDERR_TAIL_BYTES) -> str:
        """The end of the broker's log (its stderr), for a failed test's report."""
        return self.stderr_text()[-size:]

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int = 1,
        configs: Mapping[str, object] | None = None,
    ) -> None:
        """Create a topic; returns once Metadata shows a leader for every partition."""
        from refka.testing.admin import create_topic

        create_topic(self.bootstrap, name, partitions, replication_factor, configs)

    def stderr_tail(self) -> str:
        tail = self.stderr_text()[-STDERR_TAIL_BYTES:]
        return f"\n--- broker stderr ({self.stderr_path}) ---\n{tail}" if tail else ""


@contextmanager
def running_broker(
    data_dir: Path | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    config: Mapping[str, object] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
    work_dir: Path | None = None,
    proxy: bool = False,
    fork: bool = False,
    **configs: object,
) -> Iterator[RunningBroker]:
    """Run a refka broker for the duration of the block; always stops it.

    ``data_dir`` (``log.dirs``) defaults to a temporary directory removed afterwards;
    ``work_dir`` (the broker's stdout and stderr files) likewise, unless given.
    ``proxy=True`` puts a :class:`~refka.testing.proxy.TcpProxy` between clients and the broker
    (``bootstrap`` and the advertised listener are the proxy's): ``slow``, ``isolate``, ``heal``.
    ``fork=True`` forks the broker from a warm fork server (:mod:`refka.testing.fork_server`)
    instead of starting an interpreter: the same process semantics, a start in milliseconds.
    ``port=0`` lets the broker pick a free port; restarts keep the one it picked.
    Leaving the block normally requires a clean exit (code 0) of a running broker.
    """

    def make(data: Path, work: Path) -> RunningBroker:
        return RunningBroker(data, work, host, port, broker_configs(config, **configs), fork=fork)

    with serving(make, data_dir, work_dir, host, proxy, start_timeout_s) as broker:
        yield broker


class Served(Protocol):
    """What :func:`serving` needs of a broker of any mode."""

    proxy: TcpProxy | None
    configs: Any
    host: str
    port: int

    def start(self, timeout_s: float = ...) -> None: ...
    def terminate(self) -> None: ...
    def stop(self) -> None: ...


B = TypeVar("B", bound=Served)


@contextmanager
def serving(
    make: Callable[[Path, Path], B],
    data_dir: Path | None,
    work_dir: Path | None,
    host: str,
    proxy: bool,
    start_timeout_s: float,
) -> Iterator[B]:
    """The life of one broker of any mode (``make(data_dir, work_dir)``): its directories
    (temporary unless given), the optional proxy in front of it, start, and a stop that always
    happens (a terminate when the block fails)."""
    with tempfile.TemporaryDirectory(prefix="refka-broker-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        data = Path(data_dir) if data_dir is not None else work / "data"
        data.mkdir(parents=True, exist_ok=True)
        broker = make(data, work)
        if proxy:  # clients reach the broker through it: the broker advertises the proxy
            broker.proxy = TcpProxy(host)
            broker.configs["advertised.listeners"] = f"PLAINTEXT://{broker.proxy.address}"
        try:
            broker.start(start_timeout_s)
            if broker.proxy is not None:
                broker.proxy.target = (broker.host, broker.port)
            yield broker
        except BaseException:
            broker.terminate()
            raise
        finally:
            if broker.proxy is not None:
                broker.proxy.close()
        broker.stop()
