"""The short campaign of CI: with each bug switch on, the model tests find a counterexample
within the budget, and ``refka campaign`` exits 0 only when every bug it hunted was found.

CI hunts every bug with ``refka campaign --seed 0`` and a budget in steps: with a seed a hunt
takes the same steps on every run, so "found" depends neither on luck nor on the machine's load.
The budget in seconds is a generous bound only; the 60 s goal of a quiet machine is measured by
the campaign itself and kept in ``docs/simulation.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from refka.bugs import Bug
from refka.sim.campaign import SCENARIOS
from refka.sim.schedule import Schedule

MAX_STEPS = 15_000  # the slowest hunt, AckBeforeIsr, finds its bug after 11,184 (seed 0)
BUDGET_S = int(os.environ.get("REFKA_CAMPAIGN_BUDGET", "600"))
HUNTED = [bug for bug in Bug if bug in SCENARIOS]
"""Every switch the simulator has a scenario for: all of them."""


@pytest.mark.exclusive  # its hunting processes take both cores: under xdist, nothing runs beside it
def test_a_short_campaign_finds_every_bug(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "refka", "campaign", "--budget", str(BUDGET_S), "--shrink", "2",
         "--max-steps", str(MAX_STEPS),
         "--workers", str(os.cpu_count() or 1), "--schedule-dir", str(tmp_path),
         "--json", str(tmp_path / "campaign.json"), "--seed", "0",
         *(arg for b in HUNTED for arg in ("--bug", b.short_name))],
        capture_output=True, text=True, timeout=BUDGET_S * len(HUNTED) + 300,
    )  # fmt: skip
    table = run.stdout[run.stdout.find("bug ") :]
    assert run.returncode == 0, table + run.stderr[-3000:]
    hunts = json.loads((tmp_path / "campaign.json").read_text())
    assert sorted(h["bug"] for h in hunts) == sorted(b.short_name for b in HUNTED)
    for h in hunts:
        assert h["found"] and h["steps"] <= MAX_STEPS, h
        schedule = Schedule.read(h["schedule"])
        assert schedule.config.bugs == (h["bug"],)
        assert 0 < len(schedule.operations) == h["shrunk"]


def test_every_switch_is_hunted() -> None:
    assert [bug.value for bug in Bug if bug not in SCENARIOS] == []
    assert len(SCENARIOS) == 12


def test_campaign_lists_every_switch_with_its_spec_config() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "refka", "campaign", "--list"], capture_output=True, text=True
    )
    assert run.returncode == 0
    for bug in Bug:
        assert f"spec/bugs/{bug.value}.cfg" in run.stdout
        assert (Path(__file__).parents[2] / "spec" / "bugs" / f"{bug.value}.cfg").exists()
