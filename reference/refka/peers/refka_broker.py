"""refka itself as a peer: `python -m refka broker` in a child process.

The broker prints `refka broker ready on HOST:PORT ...` once it listens; with port 0 in
`listeners` the kernel picks the port and that line is how the caller learns it.

    with running_refka(tmp_dir, **{"auto.create.topics.enable": "false"}) as peer:
        print(peer.bootstrap)
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from refka.peers.process import Peer, spawn

READY_DEADLINE_S = 30.0
READY_LINE = re.compile(r"refka broker ready on (?P<host>[^\s:]+):(?P<port>\d+)")


def _wait_ready_line(peer_log: Path, check_alive: object, deadline_s: float) -> tuple[str, int]:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        match = READY_LINE.search(peer_log.read_text(errors="replace"))
        if match:
            return match["host"], int(match["port"])
        check_alive()  # type: ignore[operator]
        time.sleep(0.05)
    raise TimeoutError(f"refka printed no ready line in {deadline_s}s")


def start_refka(work_dir: Path, port: int = 0, **configs: str) -> Peer:
    """Start refka with its log directory under `work_dir`; extra `configs` go to `--set`."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "log.dirs": str(work_dir / "refka-logs"),
        **configs,
    }
    argv = [sys.executable, "-u", "-m", "refka", "broker"]
    for key, value in settings.items():
        argv += ["--set", f"{key}={value}"]
    log_path = work_dir / "refka.log"
    process = spawn(argv, log_path)
    peer = Peer("refka", "127.0.0.1", port, process, log_path)
    with peer.stopped_on_error():
        peer.host, peer.port = _wait_ready_line(log_path, peer.check_alive, READY_DEADLINE_S)
    return peer.wait_ready(READY_DEADLINE_S)


@contextmanager
def running_refka(work_dir: Path, port: int = 0, **configs: str) -> Iterator[Peer]:
    """Start refka for the duration of the `with` block."""
    with start_refka(work_dir, port, **configs) as peer:
        yield peer
