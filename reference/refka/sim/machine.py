"""The Hypothesis state machine of a simulated cluster: client operations and faults as rules,
the spec's invariants after every rule, the history checker on the healed cluster at the end.

``cluster_machine(config, kinds)`` builds the machine for one configuration (the model tests
use Kafka's behaviour; the campaign switches one bug on per machine). A failing run writes its
schedule (``refka.sim.schedule``) to ``schedule_dir``; the last one written is Hypothesis's
shrunk counterexample, which ``refka replay FILE`` reruns.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from refka.core.channels import CHANNELS
from refka.sim.generate import FAULT_KINDS
from refka.sim.invariants import Violation
from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import TOPIC, Simulation
from refka.sim.timeline import format_timeline
from refka.sim.world import FIRST_CLIENT_ID

SCHEDULE_DIR_ENV = "REFKA_SCHEDULE_DIR"

AWAITS = (
    "BecomeLeader",
    "BecomeFollower",
    "FollowerFetch",
    "AdvanceHighWatermark",
    "SendAlterPartition",
    "HandleAlterPartition",
    "ElectLeader",
    "FenceBroker",
    "RegisterBroker",
)
"""The replication and election steps (``refka.core.trace``) a ``run_until`` may wait for."""


class InvariantViolated(AssertionError):
    """An invariant of spec/ failed; the message names it and the schedule file."""


class ClusterMachine(RuleBasedStateMachine):
    """Subclassed by ``cluster_machine`` with ``config``, ``kinds`` and ``schedule_dir``."""

    config: SimConfig = SimConfig()
    kinds: frozenset[str] = frozenset(FAULT_KINDS)
    schedule_dir: Path = Path(".refka") / "schedules"
    name: str = "kafka"
    check_history: bool = True
    allowed_rules: frozenset[str] | None = None  # the rules drawn (None: every rule)
    run_ms: tuple[int, ...] = (50, 200, 1_000, 5_000, 20_000)  # how long a `run` lets pass
    awaits: tuple[str, ...] = AWAITS  # the trace events a `run_until` may wait for
    stall_channels: tuple[str, ...] = CHANNELS  # the channels a `stall` may hit
    swarm: bool = False  # each example draws the subset of the allowed rules it uses
    fault_controller: bool = True  # False: faults hit brokers and links, never the controller
    stop_at: float | None = None  # time.monotonic() after which examples do nothing
    max_steps: int | None = None  # a budget in steps: rules applied, until the first failure
    shrink_s: float | None = 20.0  # with stop_at: seconds of shrinking after the first failure
    stats: dict[str, float] = {}  # steps, events and simulated ms; steps and s to a failure

    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulation | None = None
        self.failed = False
        self.drawn_rules: frozenset[str] | None = None  # swarm testing: this example's rules

    # ------------------------------------------------------------------ plumbing

    def enabled(self, rule: str) -> bool:
        allowed = self.allowed_rules is None or rule in self.allowed_rules
        return allowed and (self.drawn_rules is None or rule in self.drawn_rules)

    @initialize(seed=st.integers(0, 2**31 - 1), data=st.data())
    def start(self, seed: int, data: st.DataObject) -> None:
        if self.swarm and self.allowed_rules is not None:
            # Swarm testing (Groce et al., ISSTA 2012): an example that leaves some rules out
            # runs the others more often, and deeper; shrinking keeps every rule first.
            rules = sorted(self.allowed_rules)
            left_out = data.draw(st.sets(st.sampled_from(rules), max_size=len(rules) - 1))
            self.drawn_rules = frozenset(rules) - left_out
        if self.out_of_budget():
            return  # out of budget: this example passes at once (shrinking ends with it)
        self.stats.setdefault("started", time.monotonic())
        self.sim = Simulation(seed, self.config)

    def apply(self, operation: Operation) -> None:
        if self.sim is not None and self.out_of_budget():
            self.sim = None  # out of budget: the rest of this example does nothing
        if self.sim is None:
            return
        stats, world = self.stats, self.sim.world
        events, now_ms = world.events, world.now_ms
        stats["steps"] = stats.get("steps", 0) + 1
        try:
            found = self.sim.apply(operation)
        finally:
            stats["events"] = stats.get("events", 0) + world.events - events
            stats["simulated_ms"] = stats.get("simulated_ms", 0) + world.now_ms - now_ms
        if found:
            self.fail(found)

    def out_of_budget(self) -> bool:
        """Past ``stop_at``, or ``max_steps`` applied with no failure found (a budget in steps
        makes "found" depend on the seed alone, not on the machine's load)."""
        searching = self.max_steps is not None and "first_steps" not in self.stats
        if searching and self.stats.get("steps", 0) >= (self.max_steps or 0):
            return True
        return self.stop_at is not None and time.monotonic() > self.stop_at

    def _first_failure(self) -> None:
        """Count the steps and seconds to the first failure; give shrinking ``shrink_s``."""
        if "first_steps" in self.stats:
            return
        now = time.monotonic()
        self.stats["first_steps"] = self.stats.get("steps", 0)
        self.stats["first_seconds"] = now - self.stats["started"]
        cls = type(self)
        if cls.stop_at is not None and cls.shrink_s is not None:
            cls.stop_at = min(cls.stop_at, now + cls.shrink_s)

    def write_schedule(self) -> Path:
        """The run so far as ``<name>.json``, and its timeline beside it (``.timeline``): what
        ``refka replay`` of the file prints."""
        assert self.sim is not None
        path = self.sim.schedule.write(self.schedule_dir / f"{self.name}.json")
        path.with_suffix(".timeline").write_text(format_timeline(self.sim.world.steps))
        return path

    def fail(self, found: list[Violation]) -> None:
        assert self.sim is not None
        self.failed = True
        self._first_failure()
        path = self.write_schedule()
        first = found[0]
        raise InvariantViolated(
            f"{first.invariant} violated after step {len(self.sim.schedule.operations)}: "
            f"{first.detail}\n  seed {self.sim.schedule.seed}; replay with: refka replay {path}"
        )

    def teardown(self) -> None:
        if self.sim is None or self.failed or not self.check_history:
            return
        report = self.sim.finish()
        if self.sim.violations:
            self.fail(self.sim.violations)
        if not report.ok:
            self.failed = True
            self._first_failure()
            path = self.write_schedule()
            first = report.violations[0]
            raise InvariantViolated(
                f"{first.name} (history check on the healed cluster): {first.describe()}\n"
                f"  seed {self.sim.schedule.seed}; replay with: refka replay {path}"
            )

    # ------------------------------------------------------------------ clients

    @precondition(lambda self: self.config.producers > 0 and self.enabled("produce"))
    @rule(data=st.data())
    def produce(self, data: st.DataObject) -> None:
        c = self.config
        if c.producers:
            client = data.draw(st.integers(0, c.producers - 1), "client")
            partition = data.draw(st.integers(0, c.partitions - 1), "partition")
            self.apply(Operation.of("produce", client=client, partition=partition))

    @precondition(lambda self: self.config.consumers > 0 and self.enabled("poll"))
    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        if self.config.consumers:
            self.apply(Operation.of("poll", client=self._consumer(data)))

    @precondition(lambda self: self.config.consumers > 0 and self.enabled("commit"))
    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        if self.config.consumers:
            self.apply(Operation.of("commit", client=self._consumer(data)))

    @precondition(lambda self: self.config.consumers > 0 and self.enabled("restart_client"))
    @rule(data=st.data())
    def restart_client(self, data: st.DataObject) -> None:
        if self.config.consumers:
            self.apply(Operation.of("restart_client", client=self._consumer(data)))

    def _consumer(self, data: st.DataObject) -> int:
        c = self.config
        return c.producers + data.draw(st.integers(0, c.consumers - 1), "consumer")

    @precondition(lambda self: self.enabled("run"))
    @rule(data=st.data())
    def run(self, data: st.DataObject) -> None:
        self.apply(Operation.of("run", ms=data.draw(st.sampled_from(self.run_ms), "ms")))

    @precondition(lambda self: self.enabled("run_until"))
    @rule(data=st.data())
    def run_until(self, data: st.DataObject) -> None:
        """Time passes until a node takes a given step (or the longest ``run``): where a race
        between a fault and that step is decided."""
        action = data.draw(st.sampled_from(self.awaits), "action")
        node = data.draw(st.sampled_from([-1, *self._by_role()]), "node")
        self.apply(Operation.of("run_until", action=action, node=node, max_ms=max(self.run_ms)))

    # ------------------------------------------------------------------ faults

    def _by_role(self) -> list[int]:
        """The controller and brokers, ordered by their roles for the first partition: its
        leader, the rest of its ISR, the other brokers, the controller. A fault aimed at "the
        leader" is one draw (and what shrinking tends to), whichever node leads now."""
        brokers = range(1, self.config.brokers + 1)
        state = None if self.sim is None else self.sim.states.get((TOPIC, 0))
        first = [] if state is None else [state.leader, *sorted(state.isr)]
        return [*dict.fromkeys([*(n for n in first if n in brokers), *brokers, 0])]

    def _node(self, data: st.DataObject) -> int:
        """The node a fault hits (a cut's source): by role; only brokers without
        ``fault_controller`` (Replication.tla's controller, ElectLeader, never fails)."""
        nodes = self._by_role()
        if not self.fault_controller:
            nodes = [n for n in nodes if n != 0]
        return data.draw(st.sampled_from(nodes), "node")

    @precondition(lambda self: "crash" in self.kinds and self.enabled("crash"))
    @rule(data=st.data(), torn=st.sampled_from((0, 0, 0, 1, 17)))
    def crash(self, data: st.DataObject, torn: int) -> None:
        torn = torn if "torn" in self.kinds else 0
        self.apply(Operation.of("crash", node=self._node(data), torn_bytes=torn))

    @precondition(lambda self: "crash" in self.kinds and self.enabled("restart"))
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        self.apply(Operation.of("restart", node=self._node(data)))

    @precondition(lambda self: "crash" in self.kinds and self.enabled("stop"))
    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        self.apply(Operation.of("stop", node=self._node(data)))

    @precondition(lambda self: "crash" in self.kinds and self.enabled("bounce"))
    @rule(data=st.data())
    def bounce(self, data: st.DataObject) -> None:
        self.apply(Operation.of("bounce", node=self._node(data)))

    @precondition(lambda self: "crash" in self.kinds and self.enabled("roll"))
    @rule(data=st.data())
    def roll(self, data: st.DataObject) -> None:
        """One broker of a rolling restart (a config change, an upgrade): a clean stop, its
        leaderships moved away by controlled shutdown, then a start on the flushed logs."""
        self.apply(Operation.of("roll", node=self._node(data)))

    def _process(self, data: st.DataObject) -> int:
        """A node or a client (100 + its number): what may pause."""
        c = self.config
        clients = [FIRST_CLIENT_ID + i for i in range(c.producers + c.consumers)]
        nodes = self._by_role() if "crash" in self.kinds or self.allowed_rules is None else []
        return data.draw(st.sampled_from([*nodes, *clients]), "process")

    @precondition(lambda self: "pause" in self.kinds and self.enabled("pause"))
    @rule(data=st.data())
    def pause(self, data: st.DataObject) -> None:
        self.apply(Operation.of("pause", node=self._process(data)))

    @precondition(lambda self: "pause" in self.kinds and self.enabled("resume"))
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        self.apply(Operation.of("resume", node=self._process(data)))

    @precondition(lambda self: "partition" in self.kinds and self.enabled("isolate"))
    @rule(data=st.data())
    def isolate(self, data: st.DataObject) -> None:
        self.apply(Operation.of("isolate", node=self._node(data)))

    @precondition(lambda self: "partition" in self.kinds and self.enabled("cut"))
    @rule(data=st.data())
    def cut(self, data: st.DataObject) -> None:
        source = self._node(data)
        target = data.draw(st.sampled_from([n for n in self._by_role() if n != source]))
        self.apply(Operation.of("cut", source=source, target=target))

    @precondition(lambda self: "partition" in self.kinds and self.enabled("heal"))
    @rule()
    def heal(self) -> None:
        self.apply(Operation.of("heal"))

    @precondition(lambda self: "stall" in self.kinds and self.enabled("stall"))
    @rule(data=st.data())
    def stall(self, data: st.DataObject) -> None:
        """A broker's connection on one channel gets stuck: a named channel's goes to the
        controller (``refka.core.channels``), the default one's (replica fetches) to another
        broker."""
        brokers = [n for n in self._by_role() if n != 0]
        source = data.draw(st.sampled_from(brokers), "source")
        channel = data.draw(st.sampled_from(self.stall_channels), "channel")
        others = [n for n in brokers if n != source]
        if channel == "" and not others:
            return
        target = data.draw(st.sampled_from(others), "target") if channel == "" else 0
        self.apply(Operation.of("stall", source=source, target=target, channel=channel))

    @precondition(lambda self: "network" in self.kinds and self.enabled("network"))
    @rule(
        drop=st.sampled_from((0.0, 0.01, 0.05)),
        duplicate=st.sampled_from((0.0, 0.01, 0.05)),
        reorder=st.sampled_from((0.0, 0.05, 0.2)),
        max_latency_ms=st.sampled_from((5, 50, 500)),
    )
    def network(self, drop: float, duplicate: float, reorder: float, max_latency_ms: int) -> None:
        self.apply(
            Operation.of(
                "network",
                drop=drop,
                duplicate=duplicate,
                reorder=reorder,
                max_latency_ms=max_latency_ms,
            )
        )

    @precondition(lambda self: "disk" in self.kinds and self.enabled("disk_full"))
    @rule(data=st.data(), full=st.booleans())
    def disk_full(self, data: st.DataObject, full: bool) -> None:
        self.apply(Operation.of("disk_full", node=self._node(data), full=full))

    @precondition(lambda self: "skew" in self.kinds and self.enabled("skew"))
    @rule(data=st.data(), ms=st.sampled_from((-30_000, -500, 500, 30_000)))
    def skew(self, data: st.DataObject, ms: int) -> None:
        self.apply(Operation.of("skew", node=self._node(data), ms=ms))


class TimedFaultMachine(ClusterMachine):
    """The cluster machine with rules that fault inside a race (a crash at a chosen step, a
    stall right before a commit). Only a scenario that names them gets them
    (``cluster_machine``): the other machines keep the rules, and so the draws, they had."""

    @precondition(lambda self: "crash" in self.kinds and self.enabled("crash_leader_at"))
    @rule(data=st.data())
    def crash_leader_at(self, data: st.DataObject) -> None:
        """Time passes until any node takes a given step, then the first partition's leader
        (as the controller names it at that moment) crashes: Replication.tla's ElectLeader
        forced at the moment a race is decided, in one draw (a ``run_until`` and a ``crash``
        in the schedule)."""
        action = data.draw(st.sampled_from(self.awaits), "action")
        self.apply(Operation.of("run_until", action=action, node=-1, max_ms=max(self.run_ms)))
        self.apply(Operation.of("crash", node=self._by_role()[0], torn_bytes=0))

    @precondition(lambda self: self.config.consumers > 0 and self.enabled("stalled_commit"))
    @rule(data=st.data())
    def stalled_commit(self, data: st.DataObject) -> None:
        """A consumer stalls (a GC pause, SIGSTOP) for a while right before it commits: it is
        paused, time passes, it resumes and commits at once, before its next heartbeat's
        answer can tell it that its session expired meanwhile (``pause``, ``run``, ``resume``
        and ``commit`` in the schedule)."""
        if self.config.consumers:
            client = self._consumer(data)
            ms = data.draw(st.sampled_from(self.run_ms), "ms")
            self.apply(Operation.of("pause", node=FIRST_CLIENT_ID + client))
            self.apply(Operation.of("run", ms=ms))
            self.apply(Operation.of("resume", node=FIRST_CLIENT_ID + client))
            self.apply(Operation.of("commit", client=client))


TIMED_FAULTS = frozenset({"crash_leader_at", "stalled_commit"})
"""The rules of ``TimedFaultMachine``."""


class LeaderChangeMachine(TimedFaultMachine):
    """With macro rules for Replication.tla's leader changes, each one spec action that takes
    the reference several operations. A class of their own, as Hypothesis draws a rule among
    all of a class's rules: the scenarios without them keep their draws."""

    @precondition(lambda self: "crash" in self.kinds and self.enabled("bounce_leader_until"))
    @rule(data=st.data())
    def bounce_leader_until(self, data: st.DataObject) -> None:
        """The first partition's leader (as the controller names it now) is killed and started
        again, losing its unflushed tail, and time passes until any node takes a given step:
        Replication.tla's ElectLeader and BecomeLeader of a replica that lost records, with the
        next operation at the moment the new leader takes over (a ``bounce`` and a
        ``run_until`` in the schedule)."""
        action = data.draw(st.sampled_from(self.awaits), "action")
        self.apply(Operation.of("bounce", node=self._by_role()[0]))
        self.apply(Operation.of("run_until", action=action, node=-1, max_ms=max(self.run_ms)))

    @precondition(lambda self: "crash" in self.kinds and self.enabled("bounce_leader_at"))
    @rule(data=st.data())
    def bounce_leader_at(self, data: st.DataObject) -> None:
        """Time passes until any node takes a given step, then the first partition's leader
        (as the controller names it at that moment) is killed and started again: the leader's
        UncleanShutdown where a race is decided (Election.tla's FenceBroker and ElectLeader
        follow), as ``crash_leader_at`` but with the broker back for the steps after it (a
        ``run_until`` and a ``bounce`` in the schedule)."""
        action = data.draw(st.sampled_from(self.awaits), "action")
        self.apply(Operation.of("run_until", action=action, node=-1, max_ms=max(self.run_ms)))
        self.apply(Operation.of("bounce", node=self._by_role()[0]))

    def _follower(self) -> int:
        """The first partition's follower: the first broker after its leader (by role)."""
        brokers = [n for n in self._by_role() if n != 0]
        return brokers[1] if len(brokers) > 1 else brokers[0]

    @precondition(lambda self: "crash" in self.kinds and self.enabled("bounce_follower"))
    @rule()
    def bounce_follower(self) -> None:
        """The first partition's follower is killed and started again (Election.tla's
        UncleanShutdown of a replica that is not the leader; it registers with a new broker
        epoch by itself): a ``bounce`` in the schedule."""
        self.apply(Operation.of("bounce", node=self._follower()))

    @precondition(lambda self: "partition" in self.kinds and self.enabled("cut_follower"))
    @rule()
    def cut_follower(self) -> None:
        """The first partition's follower's requests to its leader are held: it takes no
        FollowerFetch (which the spec never forces) until a heal; a ``cut`` in the schedule."""
        leader, follower = self._by_role()[0], self._follower()
        if leader != follower:
            self.apply(Operation.of("cut", source=follower, target=leader))

    @precondition(lambda self: "partition" in self.kinds and self.enabled("cut_from_controller"))
    @rule()
    def cut_from_controller(self) -> None:
        """The first partition's follower's requests to the controller are held (every
        channel): it is fenced and hears of no new leader or epoch, yet keeps fetching on the
        metadata it has (a replica that misses Replication.tla's BecomeFollower); a ``cut``."""
        follower = self._follower()
        if follower != self._by_role()[0]:
            self.apply(Operation.of("cut", source=follower, target=0))

    @precondition(lambda self: "stall" in self.kinds and self.enabled("stall_leader"))
    @rule(data=st.data())
    def stall_leader(self, data: st.DataObject) -> None:
        """The first partition's leader's connection to the controller on one channel gets
        stuck: what it sends there (an AlterPartition: Election.tla's SendAlterPartition) is
        handled only when it is retried after ``request.timeout.ms``; a ``stall``."""
        channel = data.draw(st.sampled_from([c for c in self.stall_channels if c]), "channel")
        self.apply(Operation.of("stall", source=self._by_role()[0], target=0, channel=channel))


LEADER_CHANGES = frozenset(
    {
        "bounce_leader_until",
        "bounce_leader_at",
        "cut_from_controller",
        "bounce_follower",
        "cut_follower",
        "stall_leader",
    }
)
"""The rules of ``LeaderChangeMachine``."""


class TransactionMachine(ClusterMachine):
    """With transactional producers and readers (``txn_producers``, ``readers``): their
    operations and the faults aimed at transactions. A class of their own, so that the other
    machines keep their draws."""

    @precondition(lambda self: self.config.txn_producers > 0 and self.enabled("txn"))
    @rule(data=st.data(), commit=st.booleans())
    def txn(self, data: st.DataObject, commit: bool) -> None:
        """A transaction of one to three records, one per partition round-robin, then
        EndTxn commit (if every write was acknowledged) or abort: Transactions.tla's BeginTxn,
        Send and EndTxn."""
        c = self.config
        client = data.draw(st.integers(0, c.txn_producers - 1), "client")
        partition = data.draw(st.integers(0, c.partitions - 1), "partition")
        records = data.draw(st.integers(1, 3), "records")
        self.apply(
            Operation.of("txn", client=client, partition=partition, records=records, commit=commit)
        )

    @precondition(lambda self: self.config.readers > 0 and self.enabled("read"))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """A reader's fetch round (Transactions.tla's ConsumerRead)."""
        client = data.draw(st.integers(0, self.config.readers - 1), "client")
        self.apply(Operation.of("read", client=client))

    @precondition(lambda self: "network" in self.kinds and self.enabled("lose_answers"))
    @rule(drop=st.sampled_from((0.0, 0.02, 0.1)))
    def lose_answers(self, drop: float) -> None:
        """Frames are lost (and with them the rest of their connection): requests time out,
        answers never come; no duplicates, which TCP never makes."""
        latency = self.config.latency_ms
        self.apply(
            Operation.of("network", drop=drop, duplicate=0.0, reorder=0.0, max_latency_ms=latency)
        )

    @precondition(lambda self: self.config.txn_producers > 0 and self.enabled("slow_txn"))
    @rule(data=st.data(), commit=st.booleans())
    def slow_txn(self, data: st.DataObject, commit: bool) -> None:
        """A transaction whose application works past ``transaction.timeout.ms`` before it
        ends it: the coordinator aborts it and bumps the epoch, and the producer's EndTxn is
        fenced (a ``slow_txn``, then a ``run`` past the timeout)."""
        c = self.config
        client = data.draw(st.integers(0, c.txn_producers - 1), "client")
        partition = data.draw(st.integers(0, c.partitions - 1), "partition")
        hold_ms = c.transaction_timeout_ms + 2_000
        self.apply(
            Operation.of(
                "slow_txn", client=client, partition=partition, records=2, commit=commit,
                hold_ms=hold_ms,
            )
        )  # fmt: skip
        self.apply(Operation.of("run", ms=hold_ms + 1_000))

    @precondition(lambda self: "crash" in self.kinds and self.enabled("crash_coordinator"))
    @rule(data=st.data(), clean=st.booleans())
    def crash_coordinator(self, data: st.DataObject, clean: bool) -> None:
        """The transaction coordinator's broker (of ``sim-txn-0``, as the producer last found
        it) dies, or stops cleanly, and starts again: its ``__transaction_state`` partition
        fails over and is loaded elsewhere, mid-transaction (a ``bounce`` or ``roll``)."""
        coordinator = None
        if self.sim is not None and self.sim.txn_producers:
            coordinator = self.sim.txn_producers[0].coordinator
        node = coordinator if coordinator is not None else self._node(data)
        self.apply(Operation.of("roll" if clean else "bounce", node=node))


TXN_RULES = frozenset({"txn", "read", "lose_answers", "slow_txn", "crash_coordinator"})
"""The rules of ``TransactionMachine``."""


class UniformRuleMachine(ClusterMachine):
    """Every step draws its rule uniformly among the scenario's, in one Hypothesis rule:
    Hypothesis's rule feature flags (``FeatureStrategy``: most examples of a stateful test
    leave most rules out) then have one rule to act on, and every example mixes every rule.
    For a bug whose counterexample needs each of its scenario's rules, in an order."""

    dispatching: bool = False  # inside ``step``: the rules' preconditions may hold

    def enabled(self, rule: str) -> bool:
        return self.dispatching and super().enabled(rule)

    @precondition(lambda self: self.allowed_rules is not None)
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        rules = {r.function.__name__: r for r in type(self).setup_state().rules}
        self.dispatching = True
        try:
            names = [
                name
                for name in sorted(self.allowed_rules or ())
                if name in rules and all(p(self) for p in rules[name].preconditions)
            ]
            if not names:
                return
            chosen = rules[data.draw(st.sampled_from(names), "rule")]
            arguments = {
                key: data if key == "data" else data.draw(strategy, key)
                for key, strategy in chosen.arguments_strategies.items()
            }
            chosen.function(self, **arguments)
        finally:
            self.dispatching = False


def cluster_machine(
    config: SimConfig,
    kinds: frozenset[str] = frozenset(FAULT_KINDS),
    name: str = "kafka",
    schedule_dir: str | Path | None = None,
    check_history: bool = True,
    stop_at: float | None = None,
    max_steps: int | None = None,
    rules: frozenset[str] | None = None,
    run_ms: tuple[int, ...] = ClusterMachine.run_ms,
    awaits: tuple[str, ...] = AWAITS,
    swarm: bool = False,
    fault_controller: bool = True,
    stall_channels: tuple[str, ...] = CHANNELS,
    uniform_rules: bool = False,
) -> type[ClusterMachine]:
    """A state machine class for one configuration (one bug switched on, or none)."""
    directory = Path(schedule_dir or os.environ.get(SCHEDULE_DIR_ENV, ".refka/schedules"))
    attributes = {
        "config": config,
        "kinds": frozenset(kinds),
        "schedule_dir": directory,
        "name": name,
        "check_history": check_history,
        "stop_at": stop_at,
        "max_steps": max_steps,
        "allowed_rules": rules,
        "run_ms": run_ms,
        "awaits": awaits,
        "stall_channels": stall_channels,
        "swarm": swarm,
        "fault_controller": fault_controller,
        "stats": {},
    }
    base: type[ClusterMachine] = ClusterMachine
    if config.txn_producers or config.readers:
        base = TransactionMachine
    elif rules and rules & LEADER_CHANGES:
        base = LeaderChangeMachine
    elif rules and rules & TIMED_FAULTS:
        base = TimedFaultMachine
    bases: tuple[type[ClusterMachine], ...] = (base,)
    if uniform_rules and rules:
        bases = (UniformRuleMachine, base)
    return type(f"ClusterMachine_{name}", bases, attributes)
