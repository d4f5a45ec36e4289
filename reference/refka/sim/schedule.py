"""Fault schedules: the seed, the configuration, and the ordered client operations and faults of
a simulated run, as a JSON file that ``refka replay FILE`` reruns exactly.

A schedule is all a run depends on: the world's random source is seeded with ``seed``, and the
operations are applied in order, each followed by the simulated time it lets pass. A failing
model test writes its schedule (``write``); Hypothesis's shrunk counterexample is the last one
it writes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

FORMAT = "refka-schedule/1"

OPERATIONS: dict[str, tuple[str, ...]] = {
    # client operations
    "produce": ("client", "partition"),  # one record, the next unique value
    "poll": ("client",),  # one fetch round of a consumer
    "commit": ("client",),  # a consumer commits its position
    "restart_client": ("client",),  # a consumer crashes; a new process takes its place
    # a transaction of transactional producer `client`: `records` records, one per partition
    # from `partition` on (round-robin), then commit (if asked and all were acknowledged)
    "txn": ("client", "partition", "records", "commit"),
    # ... that ends (EndTxn) only `hold_ms` after it began (an application that works long)
    "slow_txn": ("client", "partition", "records", "commit", "hold_ms"),
    "read": ("client",),  # one fetch round of reader `client` (0 read_committed, 1 uncommitted)
    # time
    "run": ("ms",),
    "run_until": ("action", "node", "max_ms"),  # until a node's trace event (node -1: any)
    # faults
    "crash": ("node", "torn_bytes"),
    "restart": ("node",),
    "stop": ("node",),  # a clean shutdown (SIGTERM): controlled shutdown, flush, exit
    "bounce": ("node",),  # crash and restart at once: a broker restart (kill -9, start)
    "roll": ("node",),  # stop and restart at once: one step of a rolling restart
    "pause": ("node",),
    "resume": ("node",),
    "isolate": ("node",),
    "cut": ("source", "target"),  # one direction of one link
    "stall": ("source", "target", "channel"),  # one stuck connection (a channel's, by name)
    "heal": (),
    "skew": ("node", "ms"),
    "disk_full": ("node", "full"),
    "network": ("drop", "duplicate", "reorder", "max_latency_ms"),
}
"""Every operation a schedule may hold, with its arguments (integers, floats or bools; a
channel is a string, ``refka.core.channels``)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One step of a schedule: ``name`` is a key of ``OPERATIONS``."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.name not in OPERATIONS:
            raise ValueError(f"unknown schedule operation {self.name!r}")
        expected = OPERATIONS[self.name]
        if tuple(k for k, _ in self.args) != expected:
            raise ValueError(f"{self.name} takes {expected}, got {self.args}")

    @classmethod
    def of(cls, name: str, **args: Any) -> Operation:
        return cls(name, tuple((k, args[k]) for k in OPERATIONS[name]))

    def arg(self, key: str) -> Any:
        return dict(self.args)[key]

    def __str__(self) -> str:
        inside = ", ".join(f"{k}={v}" for k, v in self.args)
        return f"{self.name}({inside})"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What the simulated cluster and its clients are: Kafka's settings and the semantics the
    clients ask for (``acks``, idempotence, when a consumer commits)."""

    brokers: int = 3
    partitions: int = 2
    replication_factor: int = 3
    min_insync_replicas: int = 2
    acks: int = -1  # 0, 1 or -1 (all)
    idempotent: bool = True
    commit: str = "after"  # "before" processing (at-most-once) or "after" (at-least-once)
    producers: int = 1
    consumers: int = 2
    bugs: tuple[str, ...] = ()  # refka.bugs, by short name
    configs: tuple[tuple[str, str], ...] = ()  # more Kafka settings for every node
    step_ms: int = 20  # simulated time each operation lets pass after it
    latency_ms: int = 5  # the network's latency bound (uniform in 1..latency_ms)
    request_timeout_ms: int = 5_000  # the clients' request.timeout.ms (Kafka's: 30 s)
    unclean_leader_election: bool = False
    produce_every_ms: int = 0  # a background producer: one record per period (0: none)
    invariants: tuple[str, ...] = ()  # the invariants checked (empty: all of them)
    txn_producers: int = 0  # transactional producers (transactional.id sim-txn-N)
    readers: int = 0  # readers of every partition: even ones read_committed, odd uncommitted
    transaction_timeout_ms: int = 10_000  # the transactional producers' transaction.timeout.ms
    delay: float = 0.0  # from the start: a frame's chance to be held up (NetworkFaults.delay)
    max_delay_ms: int = 1_000  # ... by up to this much

    def broker_configs(self) -> dict[str, str]:
        """Kafka's settings for every node: the cluster's shape, and failure detection a few
        times faster than Kafka's defaults (sessions of 3 s, not 9 s; a follower out of the
        ISR after 3 s, not 30 s), so that a schedule of tens of steps sees faults handled."""
        configs = {
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "3000",
            "default.replication.factor": str(self.replication_factor),
            "num.partitions": str(self.partitions),
            "min.insync.replicas": str(self.min_insync_replicas),
            "offsets.topic.replication.factor": str(self.replication_factor),
            "unclean.leader.election.enable": str(self.unclean_leader_election).lower(),
        }
        if self.bugs:
            configs["refka.bugs"] = ",".join(self.bugs)
        return configs | dict(self.configs)


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    config: SimConfig = field(default_factory=SimConfig)
    operations: tuple[Operation, ...] = ()

    def then(self, operation: Operation) -> Schedule:
        return replace(self, operations=(*self.operations, operation))

    def to_json(self) -> str:
        config = asdict(self.config)
        config["bugs"] = list(self.config.bugs)
        config["invariants"] = list(self.config.invariants)
        config["configs"] = dict(self.config.configs)
        data = {
            "format": FORMAT,
            "seed": self.seed,
            "config": config,
            "operations": [{"op": o.name, **dict(o.args)} for o in self.operations],
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"not a refka schedule (format {data.get('format')!r})")
        raw = dict(data["config"])
        raw["bugs"] = tuple(raw.get("bugs", ()))
        raw["invariants"] = tuple(raw.get("invariants", ()))
        raw["configs"] = tuple(sorted(dict(raw.get("configs", {})).items()))
        known = {f.name for f in fields(SimConfig)}
        config = SimConfig(**{k: v for k, v in raw.items() if k in known})
        operations = []
        for entry in data["operations"]:
            entry = dict(entry)
            name = entry.pop("op")
            operations.append(Operation.of(name, **entry))
        return cls(int(data["seed"]), config, tuple(operations))

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path

    @classmethod
    def read(cls, path: str | Path) -> Schedule:
        return cls.from_json(Path(path).read_text())
