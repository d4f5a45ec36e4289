"""A peer broker running as a child process on loopback, and how to stop it."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from refka.peers.readiness import wait_ready


class PeerUnavailable(RuntimeError):
    """The peer cannot run here (no Java, no jars, no binary); tests skip with this reason."""


class PeerDied(RuntimeError):
    """The peer process exited before it became ready or while it was in use."""


@dataclass
class Peer:
    """One running broker: its name, where it listens, its process and its log file."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        """Raise `PeerDied` (with the log's tail) if the process has exited."""
        code = self.process.poll()
        if code is not None:
            raise PeerDied(f"{self.name} exited with {code}:\n{self.log_tail()}")

    @contextmanager
    def stopped_on_error(self) -> Iterator[Peer]:
        """Stop the process if the block raises (a peer that never became ready)."""
        try:
            yield self
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, deadline_s: float) -> Peer:
        """Wait until it answers as a ready broker (`readiness.wait_ready`); stop it if not."""
        with self.stopped_on_error():
            wait_ready(self.host, self.port, deadline_s, alive=self.check_alive)
        return self

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the process; kill it if it has not exited after `timeout_s`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the parent dies (no orphaned brokers)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn(
    argv: list[str], log_path: Path, cwd: Path | None = None, append: bool = False
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr going to `log_path` (appended to, for a restart);
    it dies with this process."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    preexec = _die_with_parent if sys.platform == "linux" else None
    with log_path.open("ab" if append else "wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            preexec_fn=preexec,
        )
