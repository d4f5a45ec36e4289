"""`refka bench --hostile` through the command line, tiny: it prints the producer's throughput
alone and in the storm, their ratio, and the broker survived (not a timed test: no assertion
on the ratio)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_tiny_hostile_bench(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "refka", "bench", "--hostile", "--connections", "20"]
    argv += ["--seconds", "0.5", "--repetitions", "1", "--work-dir", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^ratio +\d+\.\d\d \(goal >= 0\.80\)$", done.stdout, re.MULTILINE)
    assert "broker alive         True" in done.stdout
    counts = dict(re.findall(r"(\w+)=(\d+)", done.stdout))
    assert int(counts["closed_by_broker"]) > 0  # the garbage was refused
