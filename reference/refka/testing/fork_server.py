"""A fork server for subprocess mode: one warm process that has already imported refka and
built its config model forks each broker, so a broker process is ready in milliseconds instead
of paying an interpreter start and refka's imports every time.

The server (``python -m refka.testing.fork_server``) reads one JSON request a line on stdin
(``argv`` for ``refka``, ``stdout``/``stderr`` file paths, ``status``: where to write the exit
status, ``env`` and ``cwd``: the test process's at the request) and answers the child's pid.
The child takes the environment and working directory a fresh interpreter would have inherited
(what is read only at interpreter start, ``PYTHONHASHSEED`` say, stays the server's), redirects
its standard streams to the files, runs ``refka.cli.main(argv)`` and exits with its code; the
server reaps it (SIGCHLD) and writes the status file. :class:`ForkedProcess` is the test side's
handle, shaped like ``Popen``.

The server is started on first use, once per test process, and ends with it (its stdin
closes), killing any broker still running. A broker forked this way is an ordinary process:
SIGKILL, SIGSTOP, SIGTERM all act on it alone.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

POLL_INTERVAL_S = 0.002
LOST_EXIT = 255  # the returncode of a broker that ended after its server: no one kept its status


class ForkedProcess:
    """A broker forked by the fork server: ``pid``, ``poll``, ``wait``, ``returncode``,
    ``send_signal``, ``terminate``, ``kill``, as :class:`subprocess.Popen` has them.

    The server reaps the broker and writes its exit status; should the server die first, the
    broker is an orphan that ``send_signal`` still reaches, and once it is gone ``poll`` says
    ``LOST_EXIT`` instead of waiting forever for a status no one will write."""

    def __init__(
        self, pid: int, status_path: Path, argv: list[str], server: subprocess.Popen[str]
    ) -> None:
        self.pid = pid
        self.args = argv
        self.status_path = status_path
        self.server = server
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                text = self.status_path.read_text()
            except FileNotFoundError:
                text = ""
            if text.endswith("\n"):
                self.returncode = int(text)
            elif self.server.poll() is not None and not _exists(self.pid):
                self.returncode = LOST_EXIT
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(POLL_INTERVAL_S)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _exists(pid: int) -> bool:
    """Whether ``pid`` runs: not gone, and not a zombie its new parent has yet to reap (an
    init process in a container may never reap an orphan)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the pid taken by another user
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc here
        return True


class ForkServer:
    """The test side: starts the server process, asks it to fork brokers."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "refka.testing.fork_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the refka fork server did not start")
        self._lock = threading.Lock()

    def spawn(self, argv: list[str], stdout: Path, stderr: Path, status: Path) -> ForkedProcess:
        request: dict[str, Any] = {"argv": argv, "stdout": str(stdout), "stderr": str(stderr)}
        request |= {"status": str(status), "env": dict(os.environ), "cwd": os.getcwd()}
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the refka fork server exited ({self.process.poll()})")
        return ForkedProcess(int(answer), status, argv, self.process)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer:
    """The process's fork server, started on first use."""
    global _server
    with _server_lock:
        if _server is None or _server.process.poll() is not None:
            _server = ForkServer()
            atexit.register(_server.close)
        return _server


# --- the server process ------------------------------------------------------------------------


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become a broker process; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the server ignores it
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["PYTHONUNBUFFERED"] = "1"  # as a spawned broker's environment says
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        for fd, target in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        from refka.cli import main

        code = main(list(request["argv"]))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def warm_up(methods: str) -> int:
    """Import what a broker imports only on first use and build the config model once, with
    the dataclass methods kept at ``methods`` (apart from the start's: no broker's start reads
    them); keep there what this compiled. Returns how many methods it compiled."""
    from refka import dataclass_cache
    from refka.config import load_config

    dataclass_cache.forget()  # the start path's methods are the brokers' to save
    dataclass_cache.load(methods)
    _warm_first_use()
    load_config(None, [])
    compiled = dataclass_cache.unsaved()
    dataclass_cache.save(methods)
    dataclass_cache.forget()
    return compiled


def _warm_first_use() -> None:
    """Import what a broker imports only on first use (the handlers beyond Metadata, the group
    coordinator, the controller's control modules, the partition-change builder, the topic
    records, the producer state, the compression codecs): the standalone broker's start skips
    them (issue 15), a forked broker has them warm."""
    import importlib

    for module in (
        "refka.handlers.cluster",
        "refka.handlers.configs",
        "refka.handlers.fetch",
        "refka.handlers.group",
        "refka.handlers.list_offsets",
        "refka.handlers.offset_for_leader_epoch",
        "refka.handlers.produce",
        "refka.handlers.producer_ids",
        "refka.group.coordinator",
        "refka.controller.config_control",
        "refka.controller.producer_id_control",
        "refka.controller.reassignment",
        "refka.controller.topic_control",
        "refka.controller.partition_change",
        "refka.metadata.topic_records",
        "refka.producer_state",
        "kio.schema.create_topics.v7.request",
        "kio.schema.allocate_producer_ids.v0.request",
        "gzip",
        "lz4.frame",
        "zstandard",
        "cramjam",
    ):
        importlib.import_module(module)


def _serve() -> None:
    # A Ctrl-C reaches the whole foreground process group: the test process ends, and its
    # end closes the server's stdin (no traceback of the server's, no broker left behind).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]  # as refka.cli does
    import asyncio  # noqa: F401 - warm: everything a broker imports
    import logging  # noqa: F401

    from refka import dataclass_cache

    dataclass_cache.install()  # the start path's methods, as a broker's start finds them
    import refka.cli
    import refka.config
    import refka.node
    import refka.server.driver
    import refka.server.main  # noqa: F401 - warm: the modules a broker starts with

    warm_up(dataclass_cache.WARM_PATH)
    gc.collect()
    gc.freeze()  # the warm objects stay out of the children's collections: fewer copied pages
    statuses: dict[int, str] = {}

    def reap(_signum: int, _frame: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            path = statuses.pop(pid, None)
            if path is not None:
                Path(path).write_text(f"{os.waitstatus_to_exitcode(status)}\n")

    signal.signal(signal.SIGCHLD, reap)
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _child(request)
        statuses[pid] = request["status"]
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        print(pid, flush=True)
    for pid in list(statuses):  # the test process is gone: no broker outlives it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    _serve()
