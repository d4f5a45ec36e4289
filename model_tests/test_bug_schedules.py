"""Hand-written schedules that drive the reference into each bug, pinned as plain tests.

Each file in ``bug_schedules/`` is ``<BugShortName>.json``: TLC's counterexample for
``spec/bugs/<Module>_<Bug>.cfg`` translated into schedule operations (its ``about`` says how).
With the bug's switch on, the replay must violate the invariant that configuration expects
(its ``\\* expect: violates NAME`` line): the reference can reach the bug. With no switch on,
the very same schedule must hold every invariant and the history checker: the reference as it
is, is safe there.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from refka.bugs import Bug
from refka.sim.schedule import Schedule
from refka.sim.simulation import Simulation

ROOT = Path(__file__).parent.parent
SCHEDULES = sorted((Path(__file__).parent / "bug_schedules").glob("*.json"))
SAME_AS = {"NoAckedRecordLost": {"LeaderCompleteness", "lost-write"}}
"""Spec invariants the simulator checks under other names (Election.tla's NoAckedRecordLost is
LeaderCompleteness after every step, and lost-write in the history check at the end)."""


def expected_invariants(bug: Bug) -> set[str]:
    """The invariant ``spec/bugs/<bug>.cfg`` expects TLC to find violated."""
    text = (ROOT / "spec" / "bugs" / f"{bug.value}.cfg").read_text()
    found = re.search(r"expect: violates (\w+)", text)
    assert found, f"spec/bugs/{bug.value}.cfg names no expected violation"
    return SAME_AS.get(found.group(1), {found.group(1)})


@pytest.mark.parametrize("path", SCHEDULES, ids=[p.stem for p in SCHEDULES])
def test_bug_schedule_violates_with_the_switch_only(path: Path) -> None:
    bug = next(b for b in Bug if b.short_name == path.stem)
    schedule = Schedule.read(path)
    assert schedule.config.bugs == (bug.short_name,)
    expected = expected_invariants(bug)

    _, buggy = Simulation.replay(schedule, stop=False)
    violated = {v.invariant for v in buggy.violations}
    if buggy.report is not None:
        violated |= {v.name for v in buggy.report.violations}
    assert violated & expected, (expected, buggy.violations)

    _, fixed = Simulation.replay(replace(schedule, config=replace(schedule.config, bugs=())))
    assert not fixed.violations, fixed.violations
    assert fixed.report is not None and fixed.report.ok, fixed.report.lines()
