"""One simulated run: a cluster, its clients, a schedule applied step by step, and the spec's
invariants checked after every step.

``Simulation`` is what the model tests drive (one Hypothesis rule, one ``apply``), what
``refka simulate`` runs from a random schedule and what ``refka replay`` reruns from a file.
Everything it does follows from the schedule: the same schedule gives the same timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from refka.core.trace import BecomeLeader, CommitOffset, TraceEvent
from refka.sim.checker import Report, check, guarantees_for
from refka.sim.clients import SimAdmin, SimConsumer, SimProducer
from refka.sim.clients.reader import READ_COMMITTED, READ_UNCOMMITTED, SimReader
from refka.sim.clients.transactional import SimTxnProducer
from refka.sim.history import History
from refka.sim.invariants import (
    HighWatermarkMonotonic,
    LogReader,
    PartitionState,
    ReplicaView,
    SingleOwnerPerGeneration,
    TopicPartition,
    Violation,
    leader_completeness,
    leader_in_isr,
    log_matching,
    no_duplicate_appends,
    partition_states,
    serving_leader,
    single_leader_per_epoch,
)
from refka.sim.network import NetworkFaults
from refka.sim.schedule import Operation, Schedule, SimConfig
from refka.sim.timeline import WORLD, Step
from refka.sim.txn_invariants import TransactionChecker
from refka.sim.world import FIRST_CLIENT_ID, SimCluster

TOPIC = "sim"
GROUP = "sim-group"
SETTLE_MS = 30_000


@dataclass
class Outcome:
    """How a run ended: the first violation (if any), at which operation, and the end check."""

    violations: list[Violation] = field(default_factory=list)
    failed_at: int | None = None  # the operation after which it broke (len: on the healed end)
    report: Report | None = None  # the history checker's, on the healed cluster

    @property
    def ok(self) -> bool:
        return not self.violations and (self.report is None or self.report.ok)


class Simulation:
    """A cluster of ``config.brokers`` brokers and one controller, a topic ``sim`` of
    ``config.partitions`` partitions, ``config.producers`` producers and ``config.consumers``
    consumers in one group."""

    def __init__(self, seed: int, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        self.schedule = Schedule(seed, config)
        # Traced always: SingleOwnerPerGeneration reads the coordinators' CommitOffset steps.
        network = NetworkFaults(max_latency_ms=config.latency_ms)
        self.world = SimCluster(
            seed, config.brokers, config.broker_configs(), network=network, trace=True
        )
        self.world.start()
        self.history = History()
        brokers = self.world.broker_ids
        self.world_clients: list[Any] = []
        timeout = config.request_timeout_ms
        self.admin = SimAdmin(
            self._next_process(), brokers, TOPIC, self.history, request_timeout_ms=timeout
        )
        self._new_process(self.admin)
        self.producers: list[SimProducer] = []
        self.consumers: list[Any] = []
        self.clients: dict[int, int] = {}  # the schedule's client number -> its node id
        for i in range(config.producers):
            producer = SimProducer(
                self._next_process(), brokers, TOPIC, config.acks, config.idempotent, 5,
                self.history, seed=seed + i, request_timeout_ms=timeout,
            )  # fmt: skip
            self.producers.append(producer)
            self.clients[i] = self._new_process(producer)
        for i in range(config.consumers):
            self._add_consumer(config.producers + i)
        self.txn_producers = [self._add_txn_producer(i) for i in range(config.txn_producers)]
        self.readers = [self._add_reader(i) for i in range(config.readers)]
        self.txn_checker = TransactionChecker(
            r.client_id for r in self.readers if r.isolation_level == READ_COMMITTED
        )
        self.next_value = 0
        self.reader = LogReader()
        self._log_matching: dict[TopicPartition, Any] = {}  # log_matching's memo
        self.hw_monotonic = HighWatermarkMonotonic()
        self.single_owner = SingleOwnerPerGeneration()
        self._trace_seen = 0
        self._between: list[Violation] = []  # found by a step inside an operation
        self.world.trace_listeners.append(self._on_trace)
        self.states: dict[TopicPartition, PartitionState] = {}
        self._states_image: Any = None  # the controller's image ``states`` was read from
        self.acked: dict[TopicPartition, dict[int, int]] = {}
        self._history_seen = 0
        self.violations: list[Violation] = []
        self._create_topic()
        if config.delay:  # once the cluster is up
            faults = replace(network, delay=config.delay, max_delay_ms=config.max_delay_ms)
            self.world.set_network(faults)
        self._background = config.produce_every_ms > 0 and config.producers > 0
        if self._background:
            self.world.call_at(self.world.now_ms + config.produce_every_ms, self._produce_on)

    # ------------------------------------------------------------------ set-up

    def _next_process(self) -> int:
        return FIRST_CLIENT_ID + len(self.world_clients)

    def _new_process(self, client: Any) -> int:
        """Add ``client`` to the world; its node id is its process number in the history."""
        node = self.world.add_client(client)
        assert node == client.client_id, (node, client.client_id)
        self.world_clients.append(client)
        return node

    def _add_consumer(self, number: int) -> None:
        """Consumer ``number`` of the schedule, as a new process (also after a crash)."""
        consumer = SimConsumer(
            self._next_process(), self.world.broker_ids, GROUP, TOPIC, self.config.commit,
            self.history, seed=self.schedule.seed + number,
            request_timeout_ms=self.config.request_timeout_ms,
        )  # fmt: skip
        index = number - self.config.producers
        if index < len(self.consumers):
            self.consumers[index] = consumer
        else:
            self.consumers.append(consumer)
        self.clients[number] = self._new_process(consumer)

    def _add_txn_producer(self, number: int) -> SimTxnProducer:
        """Transactional producer ``number`` (``transactional.id`` sim-txn-N)."""
        producer = SimTxnProducer(
            self._next_process(), self.world.broker_ids, TOPIC, f"sim-txn-{number}",
            self.history, transaction_timeout_ms=self.config.transaction_timeout_ms,
            seed=self.schedule.seed + 1_000 + number,
            request_timeout_ms=self.config.request_timeout_ms,
        )  # fmt: skip
        # a schedule names it as client producers + consumers + number (pause, resume)
        self.clients[self.config.producers + self.config.consumers + number] = self._new_process(
            producer
        )
        return producer

    def _add_reader(self, number: int) -> SimReader:
        """Reader ``number``: read_committed if even, read_uncommitted if odd."""
        level = READ_UNCOMMITTED if number % 2 else READ_COMMITTED
        reader = SimReader(
            self._next_process(), self.world.broker_ids, TOPIC, level, self.history,
            seed=self.schedule.seed + 2_000 + number,
            request_timeout_ms=self.config.request_timeout_ms,
        )  # fmt: skip
        self._new_process(reader)
        return reader

    def _create_topic(self) -> None:
        """CreateTopics ``sim``; wait until every partition has a leader."""
        c, admin = self.config, self.admin
        self.world.client_step(
            admin.client_id,
            lambda now: admin.create_topic(now, c.partitions, c.replication_factor),
            f"create topic {TOPIC}",
        )

        def ready() -> bool:
            controller = self.world.controller()
            if controller is None:
                return False
            topic = controller.image.topics_by_name.get(TOPIC)
            return topic is not None and all(p.leader >= 0 for p in topic.partitions.values())

        if not self.world.run_until(ready, 30_000):
            raise RuntimeError("the topic did not get leaders")
        self.world.run_for(500)

    # ------------------------------------------------------------------ steps

    def apply(self, operation: Operation) -> list[Violation]:
        """Apply one operation, let ``config.step_ms`` pass, and check the invariants."""
        self.schedule = self.schedule.then(operation)
        self._perform(operation)
        self.world.run_for(self.config.step_ms)
        return self.check()

    def _perform(self, op: Operation) -> None:
        w, name = self.world, op.name
        if name == "produce":
            self._produce(op.arg("client"), op.arg("partition"))
        elif name in ("poll", "commit"):
            consumer = self._client(op.arg("client"))
            if isinstance(consumer, SimConsumer):
                call = consumer.poll if name == "poll" else consumer.commit
                w.client_step(self.clients[op.arg("client")], call, name)
        elif name == "restart_client":
            number = op.arg("client")
            if isinstance(self._client(number), SimConsumer):
                w.crash(self.clients[number])
                self._add_consumer(number)
        elif name in ("txn", "slow_txn"):
            self._transaction(op)
        elif name == "read":
            number = op.arg("client")
            if number < len(self.readers):
                reader = self.readers[number]
                w.client_step(reader.client_id, reader.poll, "read")
        elif name == "run":
            w.run_for(op.arg("ms"))
        elif name == "run_until":
            self._run_until(op.arg("action"), op.arg("node"), op.arg("max_ms"))
        elif name == "crash":
            if w.alive(op.arg("node")):
                w.crash(op.arg("node"), op.arg("torn_bytes"))
        elif name == "restart":
            if not w.alive(op.arg("node")):
                w.restart(op.arg("node"))
        elif name == "stop":
            if w.alive(op.arg("node")):
                w.stop(op.arg("node"))
        elif name == "bounce":
            if w.alive(op.arg("node")):
                w.crash(op.arg("node"))
            w.restart(op.arg("node"))
        elif name == "roll":
            if w.alive(op.arg("node")):
                w.stop(op.arg("node"))
            w.restart(op.arg("node"))
        elif name == "pause":
            if w.alive(self._node(op.arg("node"))):
                w.pause(self._node(op.arg("node")))
        elif name == "resume":
            w.resume(self._node(op.arg("node")))
        elif name == "isolate":
            w.isolate(op.arg("node"))
        elif name == "cut":
            w.partition([(op.arg("source"), op.arg("target"))])
        elif name == "stall":
            w.stall(op.arg("source"), op.arg("target"), op.arg("channel"))
        elif name == "heal":
            w.heal()
        elif name == "skew":
            w.skew(op.arg("node"), op.arg("ms"))
        elif name == "disk_full":
            w.disk_full(op.arg("node"), op.arg("full"))
        elif name == "network":
            w.set_network(
                NetworkFaults(
                    max_latency_ms=op.arg("max_latency_ms"),
                    drop=op.arg("drop"),
                    duplicate=op.arg("duplicate"),
                    reorder=op.arg("reorder"),
                )
            )

    def _produce(self, client: int, partition: int) -> None:
        """Producer ``client`` sends the next value to ``partition``."""
        producer = self._client(client)
        if isinstance(producer, SimProducer):
            value, partition = self.next_value, partition % self.config.partitions
            self.next_value += 1
            self.world.client_step(
                self.clients[client],
                lambda now: producer.send(partition, value, now),
                f"produce {value} to {TOPIC}-{partition}",
            )

    def _transaction(self, op: Operation) -> None:
        """Transactional producer ``client`` runs a transaction of the next values."""
        number = op.arg("client")
        if number >= len(self.txn_producers):
            return
        producer, partitions = self.txn_producers[number], self.config.partitions
        first, count = op.arg("partition"), max(1, op.arg("records"))
        records = [((first + i) % partitions, self.next_value + i) for i in range(count)]
        self.next_value += count
        verb = "commit" if op.arg("commit") else "abort"
        values = ",".join(str(v) for _, v in records)
        hold_ms = op.arg("hold_ms") if op.name == "slow_txn" else 0
        self.world.client_step(
            producer.client_id,
            lambda now: producer.transaction(records, op.arg("commit"), now, hold_ms),
            f"txn {values} then {verb}" + (f" after {hold_ms} ms" if hold_ms else ""),
        )

    def _produce_on(self) -> None:
        """The background producer (``produce_every_ms``): producer 0 sends the next value,
        round-robin over the partitions, as a workload does beside the faults (Jepsen's
        generators), until ``finish`` heals the cluster."""
        if not self._background:
            return
        self._produce(0, self.next_value)
        self.world.call_at(self.world.now_ms + self.config.produce_every_ms, self._produce_on)

    def _run_until(self, action: str, node: int, max_ms: int) -> None:
        """Let time pass until ``node`` (-1: any node) takes the step named ``action`` (a trace
        event: a TLA+ action), or ``max_ms`` passed: a step that ends where a race is decided."""
        seen: list[TraceEvent] = []

        def listen(event: TraceEvent) -> None:
            if type(event).__name__ == action and node in (-1, event.node):
                seen.append(event)

        self.world.trace_listeners.append(listen)
        try:
            self.world.run_until(lambda: bool(seen), max_ms)
        finally:
            self.world.trace_listeners.remove(listen)

    def _node(self, node: int) -> int:
        """A schedule's node: the controller and brokers by id; a client by 100 + its number
        (its current process)."""
        return self.clients.get(node - FIRST_CLIENT_ID, node) if node >= FIRST_CLIENT_ID else node

    def _client(self, number: int) -> Any:
        producers = len(self.producers)
        if number < producers:
            return self.producers[number]
        index = number - producers
        return self.consumers[index] if index < len(self.consumers) else None

    # ------------------------------------------------------------------ checks

    def views(self) -> dict[tuple[int, TopicPartition], ReplicaView]:
        views = {}
        for node in self.world.broker_ids:
            broker = self.world.broker(node)
            if broker is None:
                continue
            for tp in sorted(broker.replicas.replicas):
                replica = broker.replicas.replicas[tp]
                views[(node, tp)] = self.reader.view(node, replica)
        return views

    def _absorb_history(self) -> None:
        if self.config.acks != -1:
            return
        ops = self.history.ops
        for op in ops[self._history_seen :]:
            if (
                op.f == "send"
                and op.type == "ok"
                and op.offset is not None
                and op.value is not None
            ):
                self.acked.setdefault((op.topic, op.partition), {})[op.offset] = op.value
        self._history_seen = len(ops)

    def _on_trace(self, event: TraceEvent) -> None:
        """ConsumerReadHighWatermark may happen at any step, not only between operations: a
        leader that has just taken over shows its high watermark at once (or, under KIP-207,
        hides it), before its followers' first fetches move it."""
        if not isinstance(event, BecomeLeader):
            return
        broker = self.world.broker(event.node)
        replica = (
            None if broker is None else broker.replicas.replicas.get((event.topic, event.partition))
        )
        if replica is None:
            return
        view = self.reader.view(event.node, replica)
        tp = (event.topic, event.partition)
        state = PartitionState(event.node, event.leader_epoch, event.isr, ())
        self._between += self.hw_monotonic.check({tp: state}, {(event.node, tp): view})

    def _new_commits(self) -> list[CommitOffset]:
        events = self.world.trace_events
        new = [e for e in events[self._trace_seen :] if isinstance(e, CommitOffset)]
        self._trace_seen = len(events)
        return new

    def check(self) -> list[Violation]:
        """Every invariant of the spec, on the state after the last step; violations are also
        recorded in the timeline."""
        controller = self.world.controller()
        if controller is not None and controller.image is not self._states_image:
            self.states = partition_states(controller.image)  # (images are immutable)
            self._states_image = controller.image
        self._absorb_history()
        views = self.views()
        found = [
            *self._between,
            *log_matching(views.values(), self._log_matching),
            *single_leader_per_epoch(views.values()),
            *leader_in_isr(self.states),
            *leader_completeness(self.states, views, self.acked),
            *self.hw_monotonic.check(self.states, views),
            *self.single_owner.check(self._new_commits()),
            *(no_duplicate_appends(views.values()) if self.config.idempotent else ()),
            *self.txn_checker.check(self.history.ops),
        ]
        self._between = []
        if self.config.invariants:  # a model that checks only some (as a spec/bugs/*.cfg)
            found = [v for v in found if v.invariant in self.config.invariants]
        for violation in found:
            steps = self.world.steps
            steps.append(
                Step(
                    len(steps),
                    self.world.now_ms,
                    WORLD,
                    "violation",
                    violation.invariant,
                    state=violation.detail,
                )
            )
        self.violations += found
        return found

    # ------------------------------------------------------------------ the end

    def finish(self) -> Report:
        """Heal the cluster (every node up, no cuts, no faults), let it settle, read every
        partition from its leader, and check the history (``refka.sim.checker``)."""
        w = self.world
        self._background = False
        w.set_network(NetworkFaults(max_latency_ms=self.config.latency_ms))
        w.heal()
        # A clock ahead of the world's steps back when set right: its node's timers (its
        # heartbeats) starve that long, so the settling starts after that.
        set_back_ms = max(0, *(w.nodes[n].skew_ms for n in (w.controller_id, *w.broker_ids)))
        for node in (w.controller_id, *w.broker_ids):
            w.disk_full(node, False)
            w.skew(node, 0)
            if not w.alive(node):
                w.restart(node)
            w.resume(node)
        w.run_for(set_back_ms + SETTLE_MS)
        self.check()
        views = self.views()
        final: dict[TopicPartition, list[tuple[int, int]]] = {}
        for tp, state in sorted(self.states.items()):
            if tp[0] != TOPIC:
                continue
            leader = serving_leader(tp, state, views)
            if leader is not None:
                hw = leader.high_watermark
                final[tp] = sorted((o, v) for o, v in leader.values.items() if o < hw)
        if self.readers:
            self._catch_up(final)
        guarantees = guarantees_for(self.config.acks, self.config.idempotent, self.config.commit)
        return check(self.history, guarantees, final)

    def _catch_up(self, final: dict[TopicPartition, list[tuple[int, int]]]) -> None:
        """The readers read until the producers are idle, every reader reached the last
        stable offset and every committed record was returned (20 s at most: the markers of
        a commit just answered, a leader just elected); then every committed transaction must
        have been returned whole (``NoCommittedTransactionLost``), on the partitions with a
        serving leader."""
        w, checker, partitions = self.world, self.txn_checker, [tp[1] for tp in final]
        found: list[Violation] = []
        for _ in range(40):
            idle = not any(p.pending() for p in self.txn_producers)  # before this round
            for reader in self.readers:
                w.client_step(reader.client_id, reader.poll, "read")
            w.run_for(500)
            found += checker.check(self.history.ops)
            done = idle and all(r.caught_up() for r in self.readers)
            if done and not checker.missing(partitions):
                break
        found += [*checker.check(self.history.ops), *checker.lost(partitions)]
        for violation in found:
            steps = w.steps
            steps.append(
                Step(len(steps), w.now_ms, WORLD, "violation", violation.invariant,
                     state=violation.detail)
            )  # fmt: skip
        self.violations += found

    @classmethod
    def replay(cls, schedule: Schedule, stop: bool = True) -> tuple[Simulation, Outcome]:
        """Rerun ``schedule``; with ``stop``, stop at the first violation as the run that wrote
        it did."""
        sim = cls(schedule.seed, schedule.config)
        outcome = Outcome()
        for index, operation in enumerate(schedule.operations):
            found = sim.apply(operation)
            if found and outcome.failed_at is None:
                outcome.violations, outcome.failed_at = found, index
                if stop:
                    return sim, outcome
        outcome.report = sim.finish()
        if sim.violations and outcome.failed_at is None:
            outcome.violations, outcome.failed_at = sim.violations, len(schedule.operations)
        return sim, outcome
