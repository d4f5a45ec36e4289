"""``refka spec check``: TLC output parsing, and the real command on real specifications."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from refka.spec_check import (
    HOLDS,
    default_spec_dir,
    discover,
    parse_config,
    parse_tlc_output,
    select,
)

SPEC_DIR = default_spec_dir()
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="TLC needs java")

HOLDS_OUTPUT = """\
TLC2 Version 2.15 of Day Month 20?? (rev: d5b5a7f)
Model checking completed. No error has been found.
  Estimates of the probability that TLC did not check all reachable states
42,273 states generated, 13,944 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 20.
"""

VIOLATION_OUTPUT = """\
Error: Invariant LeaderCompleteness is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ x = 0
State 2: <LeaderAppend line 151, col 5 to line 155, col 90 of module Replication>
/\\ x = 1
State 3: <ElectLeader line 120, col 5 to line 123, col 79 of module Replication>
/\\ x = 2
43 states generated, 26 distinct states found, 15 states left on queue.
The depth of the complete state graph search is 4.
"""

ACTION_PROPERTY_OUTPUT = """\
Error: Action property HighWatermarkMonotonic is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
State 2: <ConsumerReadHighWatermark line 186, col 5 to line 190, col 90 of module Replication>
856 states generated, 385 distinct states found, 143 states left on queue.
"""

SIMULATION_OUTPUT = """\
Starting... (2026-11-25 11:41:49)
Computed 1 initial states...
Progress: 38386 states checked.
Finished in 17s at (2026-11-25 11:42:04)
"""

PARSE_ERROR_OUTPUT = """\
Error: Parsing or semantic analysis failed.
Finished in 00s at (2026-11-25 11:10:03)
"""


def test_parser_reads_a_model_that_holds() -> None:
    outcome = parse_tlc_output(HOLDS_OUTPUT)
    assert (outcome.result, outcome.distinct_states, outcome.depth) == (HOLDS, 13944, 20)


def test_parser_reads_an_invariant_violation_and_its_trace_length() -> None:
    outcome = parse_tlc_output(VIOLATION_OUTPUT)
    assert outcome.result == "violates LeaderCompleteness"
    assert (outcome.distinct_states, outcome.depth) == (26, 3)


def test_parser_reads_an_action_property_violation() -> None:
    outcome = parse_tlc_output(ACTION_PROPERTY_OUTPUT)
    assert (outcome.result, outcome.distinct_states, outcome.depth) == (
        "violates HighWatermarkMonotonic",
        385,
        2,
    )


def test_parser_reads_a_simulation_that_found_nothing() -> None:
    outcome = parse_tlc_output(SIMULATION_OUTPUT)
    assert (outcome.result, outcome.distinct_states, outcome.depth) == (HOLDS, 38386, None)


def test_parser_reports_errors_that_are_not_verdicts() -> None:
    outcome = parse_tlc_output(PARSE_ERROR_OUTPUT)
    assert outcome.result == "error: Error: Parsing or semantic analysis failed."
    assert outcome.distinct_states is None


def test_every_configuration_declares_its_expectation() -> None:
    configs = discover(SPEC_DIR, default=True, large=True)
    modules = {c.module for c in configs}
    bugs = [c for c in configs if c.kind == "bugs"]
    assert all((SPEC_DIR / f"{m}.tla").is_file() for m in modules)
    assert all(c.expected.startswith("violates ") for c in bugs)
    assert len(modules) >= 4 and len(bugs) >= 8


def test_names_select_by_module_config_or_bug(tmp_path: Path) -> None:
    configs = discover(SPEC_DIR)
    assert {c.name for c in select(configs, ["TruncateToHighWatermark"])} == {
        "Replication_TruncateToHighWatermark"
    }
    assert {c.module for c in select(configs, ["election"])} == {"Election"}
    bad = tmp_path / "X.cfg"
    bad.write_text("SPECIFICATION Spec\n")
    with pytest.raises(ValueError, match="expect"):
        parse_config(bad)


def _refka(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refka.cli", "spec", "check", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def _rows(stdout: str) -> dict[str, list[str]]:
    """Table rows by config name: [spec, config, expected, result, states, depth, s, verdict]."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c for c in line.split("  ") if c.strip()]
        if len(cells) == 8 and cells[-1].strip() in ("ok", "MISMATCH"):
            rows[cells[1].strip()] = [c.strip() for c in cells]
    return rows


def _small_spec_dir(tmp_path: Path) -> Path:
    """A spec directory with one correct model and one bug configuration."""
    (tmp_path / "bugs").mkdir()
    shutil.copy(SPEC_DIR / "Transactions.tla", tmp_path)
    shutil.copy(SPEC_DIR / "Transactions.cfg", tmp_path)
    bug = "bugs/Transactions_LateWriteAfterAbort.cfg"
    shutil.copy(SPEC_DIR / bug, tmp_path / bug)
    return tmp_path


@needs_java
def test_cli_checks_a_correct_model_and_catches_a_bug(tmp_path: Path) -> None:
    spec_dir = _small_spec_dir(tmp_path)
    proc = _refka("--spec-dir", str(spec_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout)
    assert rows["Transactions"][2:4] == [HOLDS, HOLDS]
    assert int(rows["Transactions"][4]) > 100
    bug = rows["bugs/Transactions_LateWriteAfterAbort"]
    assert bug[2:4] == ["violates ReadCommittedSeesNoAborted"] * 2
    assert bug[7] == "ok"
    assert not list(spec_dir.rglob("states")), "TLC state files must stay out of the spec dir"


@needs_java
def test_cli_exits_nonzero_when_a_result_differs_from_its_expectation(tmp_path: Path) -> None:
    spec_dir = _small_spec_dir(tmp_path)
    text = (spec_dir / "bugs/Transactions_LateWriteAfterAbort.cfg").read_text()
    (spec_dir / "bugs/Transactions_LateWriteAfterAbort.cfg").write_text(
        text.replace("violates ReadCommittedSeesNoAborted", "holds", 1)
    )
    proc = _refka("--spec-dir", str(spec_dir), "LateWriteAfterAbort")
    assert proc.returncode == 1
    row = _rows(proc.stdout)["bugs/Transactions_LateWriteAfterAbort"]
    assert row[2:4] == [HOLDS, "violates ReadCommittedSeesNoAborted"]
    assert row[7] == "MISMATCH"
    assert "State 1: <Initial predicate>" in proc.stdout  # the counterexample is printed


def test_cli_explains_a_missing_java(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    proc = _refka("Transactions", env=env)
    assert proc.returncode == 2
    assert "Java is not installed" in proc.stderr


@needs_java
@pytest.mark.timeout(480)
def test_the_default_set_meets_every_expectation() -> None:
    """The whole default set: every correct model holds and every bug is caught."""
    proc = _refka("--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout).values()
    assert all(r[7] == "ok" for r in rows)
    assert len({r[0] for r in rows}) >= 4
    caught = [r for r in rows if r[1].startswith("bugs/") and r[3].startswith("violates ")]
    assert len(caught) >= 8
