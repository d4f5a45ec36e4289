"""The bounded CI set of trace validation (issue 14): N random simulator runs of M operations
each, with random faults (every kind but torn writes), validated by TLC partition by partition
(``refka spec validate --cut``: up to the first HW that a smaller ISR moved, which
Replication.tla does not model). All accepted; the summary line gives traces/s and steps/s.

The runs are ``refka simulate --seed S --steps M`` with every message flushed
(``log.flush.interval.messages=1``: Replication.tla has no lost unflushed tail). ``--slow``
runs a longer set.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from refka.core import trace as ev
from refka.sim.generate import FAULT_KINDS, operation
from refka.sim.schedule import SimConfig
from refka.sim.simulation import Simulation
from refka.spec_check import default_spec_dir
from refka.spec_validate import validate
from refka.trace_cut import Cut, cut
from refka.trace_merge import merge, read_node_traces
from test_trace_merge import node_files
from test_trace_validation import JAR, JAVA, needs_tlc

FAULTS = frozenset(FAULT_KINDS) - {"torn"}
CI_SET = (6, 300)  # runs, operations each: ~20 s on 2 cores
SLOW_SET = (40, 1000)


def simulated_run(seed: int, operations: int, path: Path) -> Path:
    """``refka simulate``'s random schedule of ``seed``, its trace written to ``path``."""
    config = replace(SimConfig(brokers=3), configs=(("log.flush.interval.messages", "1"),))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sim = Simulation(seed, config)
        rng = random.Random(seed)
        for _ in range(operations):
            if sim.apply(operation(rng, config, FAULTS)):
                break
    path.write_text("".join(repr(e) + "\n" for e in sim.world.trace_events))
    return path


def validate_set(runs: int, operations: int, tmp: Path) -> tuple[int, float]:
    """Validate every partition of ``runs`` runs: (steps validated, seconds), all accepted."""
    traces = [str(simulated_run(seed, operations, tmp / f"seed-{seed}.trace"))
              for seed in range(runs)]  # fmt: skip
    steps, seconds = 0, 0.0
    for partition in range(SimConfig().partitions):
        argv = [sys.executable, "-m", "refka", "spec", "validate", "--cut", "--jobs", "2",
                "--partition", str(partition), *traces]  # fmt: skip
        run = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        print(run.stdout)
        assert run.returncode == 0, run.stdout + run.stderr
        summary = re.search(r"(\d+)/(\d+) traces accepted, ([\d,]+) steps in ([\d.]+)s", run.stdout)
        assert summary is not None and summary[1] == summary[2] == str(runs), run.stdout
        steps += int(summary[3].replace(",", ""))
        seconds += float(summary[4])
    return steps, seconds


def test_the_cut_stops_before_the_first_hw_a_smaller_isr_moved() -> None:
    def advance(hw: int, isr: tuple[int, ...]) -> ev.AdvanceHighWatermark:
        return ev.AdvanceHighWatermark(1, "sim", 0, leader_epoch=0, previous_high_watermark=hw - 1,
                                       high_watermark=hw, isr=isr)  # fmt: skip

    elect = ev.ElectLeader(0, "sim", 0, 1, 0, 0, (1, 2, 3), (), False)
    other = ev.AdvanceHighWatermark(1, "sim", 1, 0, 0, 1, (1,))  # another partition's
    events = [elect, advance(1, (1, 2, 3)), other, advance(2, (1, 3)), advance(3, (1, 2, 3))]
    assert cut(events) == Cut(tuple(events[:3]), 4)
    assert cut(events[:3]) == Cut(tuple(events[:3]), 0)


@needs_tlc
def test_the_ci_set_of_random_runs_is_accepted(tmp_path: Path) -> None:
    steps, seconds = validate_set(*CI_SET, tmp_path)
    print(f"CI set: {2 * CI_SET[0]} traces, {steps} steps validated in {seconds:.1f}s")
    assert steps >= 100  # the runs did replicate records


@needs_tlc
@pytest.mark.slow
def test_the_long_set_of_random_runs_is_accepted(tmp_path: Path) -> None:
    steps, seconds = validate_set(*SLOW_SET, tmp_path)
    print(f"long set: {2 * SLOW_SET[0]} traces, {steps} steps validated in {seconds:.1f}s")


@needs_tlc
@pytest.mark.slow
def test_the_long_set_split_into_node_files_and_merged_is_accepted(tmp_path: Path) -> None:
    """Each run as a real cluster records it (one file a node, ``refka.trace_merge``): the
    merge's order, cut like the simulator's own, is accepted too."""
    assert JAVA is not None and JAR is not None
    jobs = []
    for seed in range(SLOW_SET[0] // 2):
        run_dir = tmp_path / f"seed-{seed}"
        run_dir.mkdir()
        files = node_files(simulated_run(seed, SLOW_SET[1], run_dir / "sim.trace"), run_dir)
        merged = merge(read_node_traces(files))
        for partition in range(SimConfig().partitions):
            path = run_dir / f"merged-{partition}.trace"
            kept = cut(merged, "sim", partition).events
            path.write_text("".join(repr(e) + "\n" for e in kept))
            jobs.append((str(path), partition))
    with ThreadPoolExecutor(2) as pool:
        verdicts = list(pool.map(lambda job: validate(job[0], default_spec_dir(), JAVA, JAR,
                                                      partition=job[1]), jobs))  # fmt: skip
    rejected = ["\n".join(v.lines()) for v in verdicts if not v.accepted]
    assert not rejected, "\n".join(rejected)
    print(f"long set merged: {len(verdicts)} traces, {sum(v.events for v in verdicts)} steps")
