"""`refka bench --quick --brokers refka` through the command line: every row of the table is
there, the JSON parses, and every throughput is positive (not a timed test: no assertion on
speed). And the arithmetic of the table: medians, ratios, targets, on figures given to it."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

SHAPES = [
    f"{size} p{partitions} acks={acks} {codec}"
    for size, partitions, acks, codec in itertools.product(
        ("100 B", "1 KiB"), (1, 6), ("1", "all"), ("none", "lz4")
    )
]
ROWS = [
    "start time",
    "idle RSS",
    *[f"produce {shape}" for shape in SHAPES],
    *[f"consume {shape}" for shape in SHAPES],
    "produce latency p50",
    "produce latency p99",
    "RSS after the runs",
]


@pytest.mark.timeout(300)
def test_quick_bench_against_refka(tmp_path: Path) -> None:
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"
    argv = [sys.executable, "-m", "refka", "bench", "--quick", "--brokers", "refka"]
    argv += ["--json", str(json_path), "--markdown", str(markdown_path)]
    argv += ["--work-dir", str(tmp_path / "work")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    table, targets = done.stdout.split("\n\n")[:2]  # the figures, then the targets
    table_lines = table.splitlines()[2:]
    for row in ROWS:
        matching = [line for line in table_lines if line.startswith(f"| {row}")]
        assert len(matching) == 1, f"row {row!r} missing or repeated in:\n{done.stdout}"
        assert "failed" not in matching[0], matching[0]
    assert len(table_lines) == len(ROWS)
    assert "| start time <= 100 ms |" in targets
    assert markdown_path.read_text() == done.stdout.rstrip("\n") + "\n"

    report = json.loads(json_path.read_text())
    assert report["brokers"] == ["refka"]
    rows = {row["label"]: row for row in report["rows"]}
    assert len(rows) == len(ROWS)
    throughputs = [row for row in report["rows"] if row["unit"] == "MB/s"]
    assert len(throughputs) == 2 * len(SHAPES)
    for row in throughputs:
        assert row["median"]["refka"] > 0, row
        assert row["msgs_per_s"]["refka"] > 0, row
    start_ms = next(row for row in report["rows"] if row["key"] == "start_ms")["median"]
    assert start_ms["refka"] > 0
    assert report["machine"]["cores"] >= 1
    assert {target["target"] for target in report["targets"]} >= {
        "start time <= 100 ms",
        "idle RSS <= 60 MB",
    }


def test_medians_ratios_and_targets() -> None:
    """Medians per broker over the runs, refka's median over each peer's, targets judged."""
    from refka.bench.report import markdown, summarize, targets
    from refka.bench.rows import make_rows
    from refka.bench.workloads import make_plan

    rows = make_rows(make_plan(quick=True))
    keys = [row.key for row in rows]

    def run(scale: float, start_ms: float, rss_mb: float) -> dict[str, float | None]:
        figures: dict[str, float | None] = {key: 100.0 * scale for key in keys}
        figures.update(start_ms=start_ms, idle_rss_mb=rss_mb)
        return figures

    runs = {
        "refka": [run(1.0, 90.0, 50.0), run(3.0, 400.0, 55.0), run(2.0, 95.0, 70.0)],
        "tansu": [run(1.0, 10.0, 15.0), run(1.0, 12.0, 15.0), run(1.0, 11.0, 15.0)],
    }
    runs["refka"][0]["consume 1 KiB p6 acks=all lz4"] = None  # a failed workload
    summary = summarize(rows, runs, {})
    by_key = {record["key"]: record for record in summary["rows"]}
    assert by_key["start_ms"]["median"] == {"refka": 95.0, "Tansu": 11.0}
    assert by_key["produce 1 KiB p1 acks=1 none"]["ratios"] == {"refka/Tansu": 2.0}
    assert by_key["consume 1 KiB p6 acks=all lz4"]["median"]["refka"] == 250.0

    verdicts = {target["target"]: target["met"] for target in targets(summary)}
    assert verdicts == {
        "produce throughput at 1 KiB: refka >= 1.0x Tansu": True,
        "consume throughput: refka >= 0.8x Tansu": True,
        "start time <= 100 ms": True,
        "idle RSS <= 60 MB": True,
    }
    runs["refka"] = [run(0.5, 150.0, 61.0)]
    verdicts = {target["target"]: target["met"] for target in targets(summarize(rows, runs, {}))}
    assert not any(verdicts.values()), verdicts
    assert "| produce 1 KiB p1 acks=1 none | MB/s | 50.0 | 100.0 | 0.50x |" in markdown(
        summarize(rows, runs, {}), []
    )
