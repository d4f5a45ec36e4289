"""``refka campaign``: the model tests against each bug switch; every bug must be found.

For each switch of ``refka.bugs`` it runs the cluster state machine (``refka.sim.machine``)
with that one bug on, until Hypothesis finds a counterexample and shrinks it, or the budget
runs out. It prints, per bug: found or not, the steps and seconds to the first counterexample,
the size of the shrunk schedule, and the invariant that failed. It exits 0 only when every bug
was found. Bugs run in parallel over ``--workers`` processes (the standard library's pool).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from refka.bugs import Bug
from refka.core.channels import ALTER_PARTITION, CHANNELS
from refka.sim.machine import AWAITS
from refka.sim.schedule import Schedule, SimConfig


@dataclass(frozen=True, slots=True)
class Scenario:
    """How to hunt one bug: the cluster and clients it needs, the faults that expose it."""

    config: SimConfig
    kinds: frozenset[str]
    rules: frozenset[str]  # the state machine's rules drawn (the faults and operations it needs)
    steps: int = 30  # rules per Hypothesis example
    run_ms: tuple[int, ...] = (50, 200, 1_000, 5_000, 20_000)  # what a `run` rule may let pass
    awaits: tuple[str, ...] = AWAITS  # the steps a `run_until` rule may wait for
    swarm: bool = True  # the machine's own swarm (on top of Hypothesis's rule feature flags)
    fault_controller: bool = True  # False: only brokers (and their links) fail
    stall_channels: tuple[str, ...] = CHANNELS  # the channels a `stall` rule may hit
    uniform_rules: bool = False  # True: every example mixes every rule (no feature flags)


_THREE = SimConfig(partitions=1, consumers=0, min_insync_replicas=1)
"""Three replicas of one partition: a leader change leaves a follower to truncate."""
_TWO = replace(_THREE, brokers=2, replication_factor=2)
"""Election.tla's model: two replicas of one partition."""
_ANY_LEADER = replace(
    _THREE, acks=1, idempotent=False, unclean_leader_election=True, invariants=("LogMatching",)
)
"""Replication.tla's abstraction for the truncation bugs: every replica may lead (Kafka's
unclean election), and only LogMatching is checked, as in their spec/bugs configurations."""
_TXN = SimConfig(
    brokers=1,
    partitions=2,
    replication_factor=1,
    min_insync_replicas=1,
    producers=0,
    consumers=0,
    txn_producers=1,
    readers=2,
    invariants=("ReadCommittedSeesNoAborted",),
)
"""Transactions.tla's model: one transactional producer, a read_committed reader (and a
read_uncommitted one), no replication; only ReadCommittedSeesNoAborted is checked, as in
its spec/bugs configurations."""
_CRASH = frozenset({"crash"})
_PRODUCE = frozenset({"produce", "run", "run_until"})
_CRASHES = _PRODUCE | {"crash", "restart", "bounce"}
_CUTS = frozenset({"isolate", "cut", "heal"})

SCENARIOS: dict[Bug, Scenario] = {
    Bug.TRUNCATE_TO_HIGH_WATERMARK: Scenario(  # TLC: LeaderAppend .. BecomeLeader, 7 states
        replace(_THREE, step_ms=0),  # a leader crashed at a step, not 20 ms after it
        _CRASH,
        frozenset({"produce", "crash_leader_at"}),  # records; leader changes at chosen steps
        run_ms=(200, 1_000, 5_000),
        # the acknowledging leader dies before its followers learn the HW, the next before
        # the follower that cut its log to its own HW fetches the record again
        awaits=("AdvanceHighWatermark", "ElectLeader", "BecomeLeader", "BecomeFollower"),
        swarm=False,
    ),
    # Leaders change by rolling restarts while a cut keeps the two replicas apart, under a
    # steady workload (each leader appends what its follower cannot fetch): TLC's
    # ElectLeader/BecomeLeader twice, then BecomeFollower after the heal.
    Bug.FAST_LEADER_CHANGE: Scenario(
        replace(_ANY_LEADER, brokers=2, replication_factor=2, produce_every_ms=200),
        frozenset({"partition", "crash"}),
        frozenset({"run", "cut", "heal", "roll"}),
        run_ms=(500, 1_000),  # a follower fetches a few records in one
        swarm=False,  # every rule is needed: Hypothesis's feature flags leave enough out
        fault_controller=False,  # Replication.tla's ElectLeader never fails
    ),
    # A follower cut from the controller keeps fetching in its old epoch while its leader
    # loses its unflushed tail (kill -9) and is elected again; records produced right after
    # that election reach the stale follower (a steady workload would outgrow its log end
    # first, and its fetch would be answered OFFSET_OUT_OF_RANGE: the race is the bug's).
    Bug.STALE_EPOCH_FETCH: Scenario(
        replace(_ANY_LEADER, brokers=2, replication_factor=2),
        frozenset({"partition", "crash"}),
        # TLC's actions: a replica that misses BecomeFollower (cut from the controller), a
        # leader that loses its tail and is elected again (ElectLeader, BecomeLeader), and
        # LeaderAppend; `run` lets the stale fetch come
        frozenset({"produce", "cut_from_controller", "bounce_leader_until", "run"}),
        steps=24,  # longer examples: more chances to meet the follower's log end (see docs)
        run_ms=(1_000,),  # about one replica.fetch.backoff.ms: the stale follower fetches
        awaits=("BecomeLeader",),
        swarm=False,
        fault_controller=False,
        uniform_rules=True,
    ),
    Bug.ACK_BEFORE_ISR: Scenario(  # TLC: LeaderAppend, ElectLeader, BecomeLeader
        replace(_TWO, latency_ms=100),
        _CRASH | {"partition"},
        # the leader dies at its append, before its follower has the record: a follower's
        # fetch parked at the leader gets it at once, one in flight or held by a cut does not
        frozenset({"produce", "cut", "crash_leader_at"}),
        run_ms=(200, 1_000, 5_000),
        awaits=("LeaderAppend", "ElectLeader", "BecomeLeader"),
    ),
    Bug.HIGH_WATERMARK_REGRESSION: Scenario(_THREE, _CRASH, _CRASHES),
    Bug.UNCLEAN_ELECTION: Scenario(_TWO, _CRASH | {"partition"}, _CRASHES | _CUTS),
    Bug.LAST_REPLICA_STANDING: Scenario(_TWO, _CRASH | {"partition"}, _CRASHES | _CUTS),
    Bug.STALE_BROKER_EPOCH: Scenario(
        replace(
            _TWO,
            min_insync_replicas=2,
            latency_ms=100,
            invariants=("LeaderCompleteness",),
            step_ms=5_000,  # a restarted broker registers and catches up within a step
            produce_every_ms=2_000,  # records to acknowledge, and then to lose
        ),
        _CRASH | {"stall", "partition"},
        # KIP-903's story in Election.tla's actions: the leader's AlterPartition delayed (its
        # alter-partition connection stuck: handled only when retried after
        # request.timeout.ms, 30 s), the follower's unclean restarts (each one registers a
        # new broker epoch), a follower that does not fetch (FollowerFetch is never forced),
        # and the leader's unclean restart when the controller handles an AlterPartition
        # (FenceBroker, ElectLeader; a crash instead would end the example when drawn early).
        # Only NoAckedRecordLost is checked, as in its spec/bugs configuration (as
        # LeaderCompleteness; no end check).
        frozenset({"stall_leader", "bounce_follower", "cut_follower", "bounce_leader_at"}),
        steps=12,
        run_ms=(40_000,),  # a bounce_leader_at waits past a retry after request.timeout.ms
        awaits=("HandleAlterPartition",),
        stall_channels=(ALTER_PARTITION,),
        swarm=False,
        fault_controller=False,  # Election.tla's controller never fails
        uniform_rules=True,
    ),
    Bug.NO_IDEMPOTENCE_WINDOW: Scenario(
        replace(_TWO, latency_ms=50), frozenset({"network"}), _PRODUCE | {"network"}
    ),
    Bug.ZOMBIE_COMMIT: Scenario(
        SimConfig(
            brokers=1,
            partitions=2,
            replication_factor=1,
            min_insync_replicas=1,
            producers=0,  # (a paused producer is no zombie)
            consumers=2,
            latency_ms=100,
        ),
        frozenset({"pause"}),
        # a member stalls past its session (10 s) right before it commits (TLC: the zombie
        # commits in the generation that left it out, then the new owner commits)
        frozenset({"poll", "commit", "run", "stalled_commit"}),
        run_ms=(1_000, 5_000, 20_000),
    ),
    # Transactions.tla with Kip890 = FALSE: a write delayed past its request timeout arrives
    # after its transaction aborted (EndTxn went on a new connection) and is appended
    # unverified; the next transaction's COMMIT marker commits it. One broker: the
    # coordinator is the partition leader, where the reference verifies writes (KIP-890
    # part 1), so the same schedule holds without the switch.
    Bug.LATE_WRITE_AFTER_ABORT: Scenario(
        # a frame in ten held up to 3 s, past the clients' request timeout of 1 s
        replace(_TXN, request_timeout_ms=1_000, delay=0.1, max_delay_ms=3_000),
        frozenset(),
        frozenset({"txn", "read", "run"}),
        run_ms=(200, 1_000, 5_000),
        swarm=False,
        uniform_rules=True,  # every example mixes transactions, reads and waits
    ),
    # Transactions.tla with ReadCommitted = FALSE: an aborted transaction, then a read.
    Bug.READ_UNCOMMITTED: Scenario(_TXN, frozenset(), frozenset({"txn", "read", "run"})),
}
"""Each bug's hunting ground: the smallest cluster, the faults and the operations its TLA+
counterexample needs (a truncating follower needs a third replica; a zombie commit, consumers
that pause and a network slow enough for a commit to follow a heartbeat)."""


@dataclass(frozen=True, slots=True)
class Hunt:
    """The outcome of hunting one bug."""

    bug: str
    found: bool
    steps: int  # rules applied until the first counterexample (all examples)
    seconds: float  # until the first counterexample
    shrunk: int  # operations in the shrunk schedule
    invariant: str
    schedule: str  # its file
    total_seconds: float
    events_per_s: float  # simulated events per real second, over the whole hunt
    speedup: float  # simulated seconds per real second (the operations' time, not set-up)


def hunt(
    bug: Bug,
    budget_s: float,
    directory: str,
    seed: int | None = None,
    shrink_s: float = 20.0,
    max_steps: int | None = None,
) -> Hunt:
    """Run the state machine with ``bug`` on until it fails, ``budget_s`` passes or
    ``max_steps`` rules were applied; shrinking stops at the time budget too (later examples
    pass at once), keeping the smallest schedule.

    With ``seed``, Hypothesis draws round ``k``'s examples from ``(seed, bug, k)``, and the
    simulator is deterministic: the hunt finds the same counterexample after the same steps
    on any machine. ``shrink_s``: how long shrinking may go on after the first failure."""
    from hypothesis import HealthCheck, settings
    from hypothesis import seed as seeded
    from hypothesis.stateful import get_state_machine_test

    from refka.sim import machine

    scenario = SCENARIOS[bug]
    config = replace(scenario.config, bugs=(bug.short_name,))
    started = time.monotonic()
    cls = machine.cluster_machine(
        config,
        scenario.kinds,
        bug.short_name,
        directory,
        check_history=not config.invariants,
        stop_at=started + budget_s,
        max_steps=max_steps,
        rules=scenario.rules,
        run_ms=scenario.run_ms,
        awaits=scenario.awaits,
        swarm=scenario.swarm,
        fault_controller=scenario.fault_controller,
        stall_channels=scenario.stall_channels,
        uniform_rules=scenario.uniform_rules,
    )
    cls.shrink_s = shrink_s
    options = settings(
        max_examples=20,
        stateful_step_count=scenario.steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    invariant, found, rounds = "", False, 0

    def in_budget() -> bool:
        steps = cls.stats.get("steps", 0)
        return time.monotonic() - started < budget_s and (max_steps is None or steps < max_steps)

    while not invariant and in_budget():  # rounds of fresh examples
        test = get_state_machine_test(cls, settings=options)
        if seed is not None:
            test = seeded(hash_seed(f"{seed}:{bug.short_name}:{rounds}"))(test)
        rounds += 1
        try:
            test()
        except Exception as error:  # a crash of a run is reported, not raised
            violated = _violations(error)
            found = bool(violated)
            invariant = violated[0] if violated else f"error: {type(error).__name__}: {error}"
    path = Path(directory) / f"{bug.short_name}.json"
    shrunk = len(Schedule.read(path).operations) if found and path.exists() else 0
    stats = cls.stats
    elapsed = time.monotonic() - started
    return Hunt(
        bug.short_name,
        found,
        int(stats.get("first_steps", stats.get("steps", 0))),
        round(stats.get("first_seconds", time.monotonic() - started), 1),
        shrunk,
        invariant,
        str(path) if found else "",
        round(elapsed, 1),
        round(stats.get("events", 0) / elapsed),
        round(stats.get("simulated_ms", 0) / 1000 / elapsed, 1),
    )


def hash_seed(text: str) -> int:
    """A seed for Hypothesis from ``text``, the same in every process (``hash`` is not)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _violations(error: BaseException) -> list[str]:
    """The invariants named by an ``InvariantViolated`` (or a group of failures with some)."""
    from refka.sim.machine import InvariantViolated

    if isinstance(error, InvariantViolated):
        return [str(error).split(" ", 1)[0]]
    if isinstance(error, BaseExceptionGroup):
        return [name for e in error.exceptions for name in _violations(e)]
    return []


def _hunt(args: tuple[Bug, float, str, int | None, float, int | None]) -> Hunt:
    logging.disable(logging.WARNING)  # the reference's warnings: the timeline has its steps
    return hunt(*args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per bug (60)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--shrink", type=float, default=20.0, help="seconds of shrinking after a find (20)"
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        help="a budget in steps per bug too: with --seed, found or not depends on the seed alone",
    )
    parser.add_argument("--list", action="store_true", help="name the switches and stop")
    parser.add_argument("--bug", action="append", default=[], help="hunt only these (repeat)")
    parser.add_argument("--schedule-dir", help="where shrunk schedules go (default: a temp dir)")
    parser.add_argument("--trace-dir", help="keep each counterexample's trace here")
    parser.add_argument("--json", help="also write the table as JSON here")
    parser.add_argument(
        "--seed", type=int, help="draw Hypothesis's examples from this seed (a repeatable hunt)"
    )


def run(args: argparse.Namespace) -> int:
    if args.list:
        for bug in Bug:
            print(f"{bug.short_name:<28} spec/bugs/{bug.value}.cfg")
        return 0
    wanted = {b.lower() for b in args.bug}
    bugs = [b for b in Bug if not wanted or b.short_name.lower() in wanted]
    unhunted = [b for b in bugs if b not in SCENARIOS]  # the simulator has no producer for them
    for bug in unhunted:
        print(f"{bug.short_name}: no simulated scenario yet (spec/bugs/{bug.value}.cfg)")
    bugs = [b for b in bugs if b in SCENARIOS]
    directory = args.schedule_dir or tempfile.mkdtemp(prefix="refka-campaign-")
    steps = f", {args.max_steps:,} steps" if args.max_steps else ""
    print(f"campaign: {len(bugs)} bugs, {args.budget:.0f} s{steps} each, {args.workers} workers")
    print(f"schedules in {directory}")
    started = time.monotonic()
    jobs = [(bug, args.budget, directory, args.seed, args.shrink, args.max_steps) for bug in bugs]
    # A process per hunt: a hunt's steps depend on its seed alone, not on the hunts before it.
    with ProcessPoolExecutor(max_workers=max(1, args.workers), max_tasks_per_child=1) as pool:
        hunts = list(pool.map(_hunt, jobs))
    print(
        f"{'bug':<26} {'found':<6} {'steps':>6} {'seconds':>8} {'shrunk':>7}"
        f" {'events/s':>9} {'sim s/s':>8}  invariant"
    )
    for h in hunts:
        print(
            f"{h.bug:<26} {'yes' if h.found else 'NO':<6} {h.steps:>6} {h.seconds:>8.1f}"
            f" {h.shrunk:>7} {h.events_per_s:>9,.0f} {h.speedup:>8.0f}  {h.invariant}"
        )
    if args.trace_dir:
        _write_traces(hunts, Path(args.trace_dir))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(h) for h in hunts], indent=1) + "\n")
    missed = [h.bug for h in hunts if not h.found]
    print(f"{len(hunts) - len(missed)}/{len(hunts)} found in {time.monotonic() - started:.0f} s")
    return 1 if missed else 0


def _write_traces(hunts: list[Hunt], directory: Path) -> None:
    """Replay each counterexample with tracing on and keep its trace events, one per line."""
    from refka.sim.simulation import Simulation

    directory.mkdir(parents=True, exist_ok=True)
    for h in hunts:
        if not h.found:
            continue
        sim, _ = Simulation.replay(Schedule.read(h.schedule))
        lines = [repr(e) for e in sim.world.trace_events]
        (directory / f"{h.bug}.trace").write_text("\n".join(lines) + "\n")
