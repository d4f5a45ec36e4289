"""The same seed gives the same run, byte for byte: in one process, and across processes with
different ``PYTHONHASHSEED`` values (no set or dict order of strings leaks into a run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scenario import run, timeline

HERE = Path(__file__).parent


def test_the_same_seed_gives_the_same_timeline() -> None:
    first = timeline(5)
    assert first == timeline(5)
    assert len(first.splitlines()) > 500


def test_another_seed_gives_another_timeline() -> None:
    assert timeline(5) != timeline(6)


def test_the_scenario_exercises_every_fault() -> None:
    world = run(5)
    notes = {s.state.split(" ")[0] for s in world.steps if s.kind in ("send", "drop")}
    assert {"dropped", "duplicated", "reordered", "delayed", "held:"} <= notes, notes
    faults = {s.action for s in world.steps if s.kind == "fault"}
    assert faults >= {"crash", "restart", "partition", "heal", "pause", "resume", "skew"}


def hash_under(python_hash_seed: str) -> str:
    root = HERE.parent.parent
    env = {
        **os.environ,
        "PYTHONHASHSEED": python_hash_seed,
        "PYTHONPATH": os.pathsep.join([str(root / "reference"), str(root), str(HERE)]),
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "scenario.py"), "5"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip()


def test_the_timeline_does_not_depend_on_pythonhashseed() -> None:
    assert hash_under("1") == hash_under("2")
