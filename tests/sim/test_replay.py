"""A failing run's schedule file replays exactly, and a seed names one run.

- The model tests with a bug switched on fail, and write their schedule and timeline;
  ``refka replay FILE`` (a new process) prints the same timeline byte for byte and the same
  violated invariant.
- ``refka simulate --seed N`` prints the same bytes twice, under two ``PYTHONHASHSEED``s.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from refka.bugs import Bug
from refka.sim.campaign import hunt
from refka.sim.schedule import Schedule
from refka.sim.timeline import HEADER


def refka(*args: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "refka", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_a_failing_schedule_replays_to_the_same_violation_and_timeline(tmp_path: Path) -> None:
    # Found at once. Any failing schedule must replay; how small it shrinks is the campaign's
    # concern (tests/sim/test_campaign.py), so shrinking stops after 2 s, not the default 20.
    found = hunt(Bug.NO_IDEMPOTENCE_WINDOW, 120, str(tmp_path), seed=0, shrink_s=2)
    assert found.found, found
    schedule = Schedule.read(found.schedule)
    assert schedule.config.bugs == ("RetriesWithoutIdempotence",)
    timeline = Path(found.schedule).with_suffix(".timeline").read_text()
    assert timeline.startswith(HEADER)
    replayed = refka("replay", found.schedule, hash_seed="1")
    assert replayed.returncode == 1, replayed.stderr
    out = replayed.stdout
    assert out.startswith(f"seed {schedule.seed}\n")
    assert out[len(f"seed {schedule.seed}\n") :].startswith(timeline)
    assert f"violated: {found.invariant} " in out
    assert f"violation {found.invariant}" in timeline


def test_the_same_seed_prints_the_same_run() -> None:
    runs = [refka("simulate", "--seed", "7", "--steps", "40", hash_seed=h) for h in ("1", "2")]
    for run in runs:
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    outputs = [
        "".join(line for line in r.stdout.splitlines(True) if not line.startswith("speed:"))
        for r in runs
    ]
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("seed 7\n")
    assert " LeaderAppend " in outputs[0] and " crash" in outputs[0]


def test_replay_draws_the_run(tmp_path: Path) -> None:
    regression = Path(__file__).parents[2] / "model_tests" / "regressions"
    schedule = sorted(regression.glob("*.json"))[0]
    html = tmp_path / "run.html"
    replayed = refka("replay", str(schedule), "--quiet", "--draw", str(html))
    assert replayed.returncode == 0, replayed.stdout[-2000:] + replayed.stderr[-2000:]
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "no violation" in replayed.stdout
    for label in ("controller 0", "broker 1", "broker 3"):
        assert label in page, label
