"""In-process mode: the broker's asyncio driver on a background thread of the test process.

No fork and no interpreter start: once refka is imported, a broker is ready in milliseconds.
The handle has the subprocess handle's interface (``bootstrap``, ``start``, ``stop``,
``restart``, ``kill``, ``create_topic``, ``log_tail``), with two differences: ``kill()``
cannot lose what the process wrote but did not fsync (the thread's files stay open in the same
OS process; it skips the controlled shutdown and closes every socket at once), and ``pause()``
is not offered (a thread cannot be stopped from outside).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from refka.testing.process import (
    START_TIMEOUT_S,
    STDERR_TAIL_BYTES,
    STOP_TIMEOUT_S,
    BrokerFailed,
    broker_configs,
    serving,
)
from refka.testing.proxy import Proxied

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(message)s (%(name)s)"


class InProcessBroker(Proxied):
    """One refka broker served by a thread of this process; restartable on its dir and port."""

    mode = "in-process"

    def __init__(
        self, data_dir: Path, work_dir: Path, host: str, port: int, configs: dict[str, str]
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.configs = configs
        self.log_path = work_dir / "broker.log"
        self.ready_ms: float | None = None
        self.starts = 0
        self.exit_code: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[int] | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` (the proxy's, when there is one), for ``bootstrap.servers``."""
        return self.proxy.address if self.proxy is not None else f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settings(self) -> list[str]:
        listener = f"PLAINTEXT://{self.host}:{self.port}"
        settings = {"listeners": listener, "log.dirs": str(self.data_dir), **self.configs}
        return [f"{key}={value}" for key, value in settings.items()]

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Load the config, start the thread, wait until the broker is ready."""
        from refka.config import ConfigError, load_config

        if self.running:
            raise BrokerFailed("broker already running")
        began = time.perf_counter()
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            config, warnings = load_config(None, self.settings())
        except ConfigError as error:
            raise BrokerFailed(f"bad config: {error}") from None
        logger = logging.getLogger("refka")
        for warning in warnings:
            logger.warning("%s", warning)
        self._ready.clear()
        self._error, self.exit_code = None, None
        self._thread = threading.Thread(
            target=self._run, args=(config,), name=f"refka-broker-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout_s) or not self.running:
            self._thread.join(STOP_TIMEOUT_S)
            raise BrokerFailed(
                f"broker did not start in {timeout_s} s (exit {self.exit_code}, "
                f"error {self._error!r}){self._tail_suffix()}"
            )
        self.ready_ms = (time.perf_counter() - began) * 1000

    def _run(self, config: object) -> None:
        logger = logging.getLogger("refka")
        handler: logging.Handler | None = None
        try:
            handler = logging.FileHandler(self.log_path)
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            logger.addHandler(handler)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            self.exit_code = asyncio.run(self._serve(config))
        except BaseException as error:
            self._error = error
        finally:
            if handler is not None:
                logger.removeHandler(handler)
                handler.close()
            self._ready.set()

    async def _serve(self, config: object) -> int:
        from refka.server.main import serve

        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        return await serve(config, self._stopped, self._announce)  # type: ignore[arg-type]

    def _announce(self, line: str, port: int) -> None:
        self.port = port
        logging.getLogger("refka.testing").info("%s", line)
        self._ready.set()

    def _signal(self, signum: int, timeout_s: float) -> None:
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None or not thread.is_alive() or loop is None or stopped is None:
            self._thread = None
            return

        def resolve() -> None:
            if not stopped.done():
                stopped.set_result(signum)

        loop.call_soon_threadsafe(resolve)
        thread.join(timeout_s)
        self._thread = None
        if thread.is_alive():
            raise BrokerFailed(f"broker thread did not stop in {timeout_s} s{self._tail_suffix()}")

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """A clean shutdown (controlled shutdown first); requires exit code 0."""
        self._signal(signal.SIGTERM, timeout_s)
        if self._error is not None or self.exit_code not in (0, None):
            raise BrokerFailed(
                f"broker exited with {self.exit_code} ({self._error!r}){self._tail_suffix()}"
            )

    def kill(self) -> None:
        """An abrupt stop: no controlled shutdown, every socket closed at once."""
        self._signal(signal.SIGKILL, STOP_TIMEOUT_S)

    def terminate(self) -> None:
        """Stop without judging the outcome (clean-up after a failure)."""
        with suppress(BrokerFailed):
            self._signal(signal.SIGTERM, STOP_TIMEOUT_S)

    def restart(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop cleanly (when running) and start again on the same data dir and port."""
        self.stop()
        self.start(timeout_s)

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

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, size: int = STDERR_TAIL_BYTES) -> str:
        """The end of the broker's log, for a failed test's report."""
        return self.log_text()[-size:]

    def _tail_suffix(self) -> str:
        tail = self.log_tail()
        return f"\n--- broker log ({self.log_path}) ---\n{tail}" if tail else ""


@contextmanager
def in_process_broker(
    data_dir: Path | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    config: Mapping[str, object] | None = None,
    start_timeout_s: float = START_TIMEOUT_S,
    work_dir: Path | None = None,
    proxy: bool = False,
    **configs: object,
) -> Iterator[InProcessBroker]:
    """:func:`refka.testing.running_broker`'s twin, serving from a thread of this process
    (``proxy=True`` as there)."""

    def make(data: Path, work: Path) -> InProcessBroker:
        return InProcessBroker(data, work, host, port, broker_configs(config, **configs))

    with serving(make, data_dir, work_dir, host, proxy, start_timeout_s) as broker:
        yield broker
