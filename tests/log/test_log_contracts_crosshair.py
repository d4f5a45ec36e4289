"""CrossHair proves the PEP316 contracts of the pure index lookups hold (within its bounds).

The same run on a copy with a planted off-by-one must report a counterexample, so a silent
"no errors" cannot come from CrossHair skipping the functions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import refka.log.offset_index
import refka.log.time_index

CROSSHAIR = [
    sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316",
    "--per_condition_timeout=5", "--max_uninteresting_iterations=30",
]  # fmt: skip
TARGETS = {
    "refka.log.offset_index.floor_entry": (
        refka.log.offset_index,
        "if keys[mid] <= target:",
        "if keys[mid] < target:",
    ),
    "refka.log.time_index.floor_timestamp": (
        refka.log.time_index,
        "return lo - 1",
        "return lo - 1 if lo < len(timestamps) else lo - 2",
    ),
}


def _crosshair(*targets: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CROSSHAIR, *targets], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_index_lookup_contracts_hold_and_a_planted_bug_is_caught(tmp_path: Path) -> None:
    passing = _crosshair(*TARGETS, cwd=Path.cwd())
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "error" not in passing.stdout

    for name, (module, good, bad) in TARGETS.items():
        source = Path(module.__file__ or "").read_text()
        assert source.count(good) == 1, name
        broken = tmp_path / f"broken_{name.rsplit('.', 1)[-1]}.py"
        broken.write_text(source.replace(good, bad))
        caught = _crosshair(str(broken), cwd=tmp_path)
        assert caught.returncode != 0, f"CrossHair missed the planted bug in {name}"
        assert "error: false when calling" in caught.stdout, caught.stdout + caught.stderr
