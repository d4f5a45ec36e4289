"""`refka conform --bootstrap HOST:PORT [--only PATTERN] [--report FILE.{md,json,html}]`.

Runs the conformance suite (pytest on this package's directory) against any broker, prints a
summary table per API, and writes a report. Exit status: 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import pytest

from conformance.outcomes import ERROR, FAILED, Collector, Run, table_text, write_report

PACKAGE_DIR = Path(__file__).resolve().parent
TEST_TIMEOUT_S = 90  # a broker that never answers fails one test, not the run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", required=True, help="broker HOST:PORT")
    parser.add_argument("--only", default=None, help="run tests matching PATTERN (pytest -k)")
    parser.add_argument("--report", type=Path, default=None, help="write FILE.md, .json or .html")
    parser.add_argument("--target-name", default=None, help="broker name in the report")
    parser.add_argument("-v", "--verbose", action="store_true", help="pytest's per-test output")


def run_suite(
    bootstrap: str,
    only: str | None = None,
    target_name: str | None = None,
    verbose: bool = False,
) -> Run:
    """Run the suite in this process and return its outcomes."""
    collector = Collector()
    args = [str(PACKAGE_DIR), "--bootstrap", bootstrap, "-c", os.devnull]
    args += ["--rootdir", str(PACKAGE_DIR.parent), "-p", "no:cacheprovider", "-p", "no:warnings"]
    args += ["-v"] if verbose else ["-q", "--no-header", "--tb=no", "-rN"]
    if importlib.util.find_spec("pytest_timeout") is not None:
        args += ["--timeout", str(TEST_TIMEOUT_S)]
    if only:
        args += ["-k", only]
    if target_name:
        args += ["--target-name", target_name]
    pytest.main(args, plugins=[collector])
    return collector.run


def run(args: argparse.Namespace) -> int:
    result = run_suite(args.bootstrap, args.only, args.target_name, args.verbose)
    print()
    print(f"Conformance of {result.target} at {result.bootstrap}")
    print(table_text(result))
    for outcome in result.with_outcome(FAILED, ERROR):
        print(f"  {outcome.outcome.upper()} {outcome.test_id}: {outcome.detail}")
    if args.report:
        write_report(result, args.report)
        print(f"report written to {args.report}")
    return 1 if result.with_outcome(FAILED, ERROR) or not result.outcomes else 0


def run_suite_subprocess(
    bootstrap: str,
    report: Path,
    target_name: str,
    timeout_s: float = 600.0,
    only: str | None = None,
) -> Run:
    """Run the suite in a fresh interpreter (`python -m refka conform`); read its json report.

    `only` selects tests as `--only` (pytest -k) does."""
    import json
    import subprocess
    import sys

    argv = [
        sys.executable,
        "-m",
        "refka",
        "conform",
        "--bootstrap",
        bootstrap,
        "--target-name",
        target_name,
        "--report",
        str(report),
        *(["--only", only] if only else []),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if not report.is_file():
        raise RuntimeError(
            f"the suite wrote no report:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
        )
    return Run.from_json(json.loads(report.read_text()))
