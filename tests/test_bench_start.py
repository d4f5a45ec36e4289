"""``refka bench --start``: every fixture mode is measured, and the table says so."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from refka.bench.start import FLOOR, TARGETS_MS, measure, outside_checkout, table


def test_every_mode_gets_a_start_time() -> None:
    runs = measure(1, python=sys.executable)  # the --python row, under this interpreter
    assert set(runs) == set(TARGETS_MS) - {"Apache Kafka"}
    [floor] = runs.pop(FLOOR)  # an interpreter that imports asyncio and exits
    assert 0 < floor.start_ms < runs["subprocess"][0].start_ms
    for mode, [sample] in runs.items():
        assert 0 < sample.start_ms < sample.first_record_ms < 60_000, mode
        assert math.isnan(sample.cpu_ms) or sample.cpu_ms >= 0, mode
        assert math.isnan(sample.rss_mb) or sample.rss_mb > 10, mode
    # a warm in-process start does less work than an interpreter's start
    assert runs["in-process, warm"][0].cpu_ms < runs["subprocess"][0].cpu_ms
    # the first forked broker of a test process waits for the fork server's own start
    [cold], [warm] = runs["subprocess, forked, cold"], runs["subprocess, forked"]
    assert cold.start_ms > warm.start_ms and cold.cpu_ms > warm.cpu_ms
    runs[FLOOR] = [floor]
    assert [line.split("|")[1].strip() for line in table(runs).splitlines()[2:]] == list(runs)


def test_the_command_prints_the_table() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "refka",
            "bench",
            "--start",
            "--repetitions",
            "1",
            "--brokers",
            "refka",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "| subprocess, forked |" in out and "| in-process, warm |" in out


def test_another_interpreter_runs_outside_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/checkout/reference")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = outside_checkout()
    assert "PYTHONPATH" not in env and "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PATH"] == os.environ["PATH"]


def test_the_start_is_counted_in_instructions() -> None:
    from refka.bench import instructions

    if not instructions.available():
        pytest.skip("valgrind (callgrind) is not installed")
    start, floor = instructions.broker_start(), instructions.asyncio_floor()
    # a broker imports asyncio and far more before it answers; the floor is an interpreter's
    # start and asyncio's import (>= 50 M instructions on any CPython 3.11+)
    assert start > floor > 50_000_000
