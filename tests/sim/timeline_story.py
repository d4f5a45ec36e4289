"""Hand-built timelines for the drawing tests: a small story with every kind of step."""

from __future__ import annotations

from refka.sim.timeline import WORLD, Step


class Script:
    """Builds a timeline step by step, pairing each send with its receive or drop."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = start_ms
        self.steps: list[Step] = []
        self._messages: dict[int, tuple[int, int, str]] = {}

    def tick(self, ms: int) -> None:
        self.now_ms += ms

    def _add(self, node: int, kind: str, action: str, **fields: object) -> None:
        step = Step(len(self.steps), self.now_ms, node, kind, action, **fields)  # type: ignore[arg-type]
        self.steps.append(step)

    def send(self, src: int, dst: int, action: str) -> int:
        message = len(self._messages)
        self._messages[message] = (src, dst, action)
        self._add(src, "send", action, peer=dst, message=message)
        return message

    def receive(self, message: int, state: str = "") -> None:
        src, dst, action = self._messages[message]
        self._add(dst, "receive", action, peer=src, message=message, state=state)

    def drop(self, message: int) -> None:
        src, dst, action = self._messages[message]
        self._add(dst, "drop", action, peer=src, message=message, state="partitioned")

    def call(self, src: int, dst: int, api: str, ms: int = 2, state: str = "") -> None:
        """A request and its response, each taking ``ms``."""
        request = self.send(src, dst, f"{api} request")
        self.tick(ms)
        self.receive(request)
        response = self.send(dst, src, f"{api} response")
        self.tick(ms)
        self.receive(response, state)

    def fault(self, node: int, action: str, state: str = "") -> None:
        self._add(node, "fault", action, state=state)

    def trace(self, node: int, action: str, state: str) -> None:
        self._add(node, "trace", action, state=state)

    def client(self, node: int, action: str) -> None:
        self._add(node, "client", action)

    def violation(self, node: int, invariant: str, state: str) -> None:
        self._add(node, "violation", invariant, state=state)


def story(violation: bool = True, heartbeats: int = 6) -> list[Step]:
    """A produce, replication, a partition that drops a fetch, a crash, and a lost record."""
    s = Script()
    for _ in range(heartbeats):
        for broker in (1, 2, 3):
            s.call(broker, 0, "BrokerHeartbeat v1", ms=1)
        s.tick(100)
    s.trace(1, "BecomeLeader", "epoch=1 ISR=[1,2,3]")
    s.client(100, "send p0 v=1")
    produce = s.send(100, 1, "Produce v11 request")
    s.tick(2)
    s.receive(produce)
    s.trace(1, "LeaderAppend", "LEO=1 HW=0")
    for follower in (2, 3):
        s.call(follower, 1, "Fetch v17", ms=1, state="LEO=1")
        s.trace(follower, "FollowerAppend", "LEO=1 HW=0")
    s.trace(1, "AdvanceHW", "LEO=1 HW=1")
    ack = s.send(1, 100, "Produce v11 response")
    s.tick(2)
    s.receive(ack)
    s.client(100, "ok offset=0")
    s.tick(1500)
    s.fault(WORLD, "partition", "1 | 0,2,3")
    lost = s.send(2, 1, "Fetch v17 request")
    s.tick(3)
    s.drop(lost)
    s.fault(1, "crash", "torn_bytes=0")
    s.call(2, 0, "AlterPartition v3", ms=2)
    s.trace(0, "ElectLeader", "leader=2 epoch=2 ISR=[2,3]")
    s.trace(2, "BecomeLeader", "epoch=2 LEO=0 HW=0")
    s.fault(2, "pause")
    s.tick(400)
    s.fault(2, "resume")
    s.fault(1, "restart")
    s.fault(WORLD, "heal")
    s.client(100, "poll p0")
    s.call(100, 2, "Fetch v17", ms=2, state="records=0")
    s.client(100, "poll ok: nothing <&>")
    if violation:
        s.violation(2, "LeaderCompleteness", "offset 0 acknowledged to client 100 is missing")
    return s.steps
