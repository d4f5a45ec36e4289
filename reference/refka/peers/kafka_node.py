"""One process of a peer Kafka cluster, and what a test may do to it.

A node is started, stopped (SIGTERM: a controlled shutdown), killed (SIGKILL: a crash),
paused (SIGSTOP: a broker that stops heartbeating but keeps its sockets) and resumed
(SIGCONT). Its configuration and log directory stay, so a stopped node restarts with its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from refka.peers.process import PeerDied, spawn


class NodeState(Enum):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"


@dataclass
class KafkaNode:
    """A KRaft node: `roles` is Kafka's `process.roles`; `port` is its PLAINTEXT listener."""

    node_id: int
    roles: str
    work_dir: Path
    port: int | None
    controller_port: int | None
    command: list[str] = field(default_factory=list)  # java ... kafka.Kafka server.properties
    process: subprocess.Popen[bytes] | None = None
    state: NodeState = NodeState.STOPPED
    starts: int = 0

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles.split(",")

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles.split(",")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "kafka.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def start(self) -> None:
        """Spawn the process (a restart appends to the same log)."""
        if self.state is not NodeState.STOPPED:
            raise RuntimeError(f"node {self.node_id} is {self.state.value}, not stopped")
        self.process = spawn(self.command, self.log_path, append=self.starts > 0)
        self.starts += 1
        self.state = NodeState.RUNNING

    def check_alive(self) -> None:
        """Raise `PeerDied` if a node meant to be up has exited."""
        if self.state is NodeState.STOPPED or self.process is None:
            return
        code = self.process.poll()
        if code is not None:
            raise PeerDied(f"Kafka node {self.node_id} exited with {code}:\n{self.log_tail()}")

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def pause(self) -> None:
        self._require(NodeState.RUNNING)
        self._signal(signal.SIGSTOP)
        self.state = NodeState.PAUSED

    def resume(self) -> None:
        self._require(NodeState.PAUSED)
        self._signal(signal.SIGCONT)
        self.state = NodeState.RUNNING

    def kill(self) -> None:
        """SIGKILL: the node crashes with whatever it had not flushed."""
        self._signal(signal.SIGKILL)
        self._reap(timeout_s=10.0)

    def terminate(self) -> None:
        """Send SIGTERM (resuming a paused node first) without waiting."""
        if self.state is NodeState.PAUSED:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, a controlled shutdown; SIGKILL if it has not exited after `timeout_s`."""
        self.terminate()
        self._reap(timeout_s)

    def _reap(self, timeout_s: float) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.state = NodeState.STOPPED

    def _require(self, state: NodeState) -> None:
        if self.state is not state:
            raise RuntimeError(f"node {self.node_id} is {self.state.value}, not {state.value}")
