"""`refka bench --quick --cluster 3` through the command line: a 3-broker refka cluster and a
3-broker Apache Kafka cluster, each produce and consume row has both figures and a ratio, and
both targets are measured (not a timed test: no assertion on speed). And the cluster plan and
targets on figures given to them.

The command-line test skips, saying why, when the refka cluster did not start, or when Java or
the Kafka jars are unavailable. Once both clusters start, every row must have been measured.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SHAPES = [
    f"{size} p{partitions} RF=3 acks=all {codec}"
    for size, partitions, codec in itertools.product(("100 B", "1 KiB"), (1, 6), ("none", "lz4"))
]
ROWS = [f"{measure} {shape}" for measure in ("produce", "consume") for shape in SHAPES]
TARGETS = [
    f"{measure} throughput on 3 brokers, RF=3 acks=all: refka >= 0.5x Apache Kafka"
    for measure in ("produce", "consume")
]
# | label | MB/s | refka | Apache Kafka | ratio |, every cell a figure
MEASURED_ROW = re.compile(r"\| MB/s \| [\d,.]+ \| [\d,.]+ \| [\d.]+x \|$")


def _skip_without_kafka() -> None:
    from refka.peers.kafka import ensure_jars, java_command
    from refka.peers.process import PeerUnavailable

    try:
        java_command()
        ensure_jars()
    except PeerUnavailable as error:
        pytest.skip(str(error))


@pytest.mark.timeout(900)
def test_quick_cluster_bench_refka_against_kafka(tmp_path: Path) -> None:
    _skip_without_kafka()
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"
    argv = [sys.executable, "-m", "refka", "bench", "--quick", "--cluster", "3"]
    argv += ["--json", str(json_path), "--markdown", str(markdown_path)]
    argv += ["--work-dir", str(tmp_path / "work")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=840, check=False)
    not_started = [line for line in done.stderr.splitlines() if "did not start" in line]
    if any("refka cluster: did not start" in line for line in not_started):
        pytest.skip(f"the refka cluster did not start: {not_started[0][:2000]}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert not not_started, not_started

    table, _, targets = done.stdout.split("\n\n")[:3]  # figures, ratio note, targets
    table_lines = table.splitlines()
    assert table_lines[0] == "| figure | unit | refka | Apache Kafka | refka/Apache Kafka |"
    for row in ROWS:
        matching = [line for line in table_lines if line.startswith(f"| {row} |")]
        assert len(matching) == 1, f"row {row!r} missing or repeated in:\n{done.stdout}"
        assert MEASURED_ROW.search(matching[0]), matching[0]
    assert len(table_lines) == 2 + len(ROWS)
    for target in TARGETS:
        line = next(line for line in targets.splitlines() if line.startswith(f"| {target} |"))
        assert "not measured" not in line and "x (median of 8 workloads" in line, line
    assert markdown_path.read_text() == done.stdout.rstrip("\n") + "\n"

    report = json.loads(json_path.read_text())
    assert report["brokers"] == ["refka", "Apache Kafka"]
    assert report["settings"]["cluster_brokers"] == 3
    assert [row["label"] for row in report["rows"]] == ROWS
    for row in report["rows"]:
        assert row["ratios"]["refka/Apache Kafka"] > 0, row
        assert set(row["msgs_per_s"]) == {"refka", "Apache Kafka"}, row
    assert [target["met"] is not None for target in report["targets"]] == [True, True]


def test_cluster_plan_rows_and_targets() -> None:
    """acks=all workloads only, every topic (warm-up too) on 3 replicas; the targets are refka's
    median ratio to Kafka over the produce rows and over the consume rows, floor 0.5x."""
    from refka.bench.report import cluster_targets, summarize
    from refka.bench.rows import make_cluster_rows
    from refka.bench.workloads import make_cluster_plan, make_plan

    plan = make_cluster_plan(quick=False, replication_factor=3)
    assert {w.acks for w in plan.produce} == {"all"}
    assert {w.replication_factor for w in (*plan.produce, plan.warmup)} == {3}
    single_topics = {w.topic for w in make_plan(quick=False).produce}
    assert len({w.topic for w in plan.produce} | single_topics) == len(single_topics) + 8
    rows = make_cluster_rows(plan)
    assert [row.label for row in rows] == ROWS

    def run(produce: float, consume: float) -> dict[str, float | None]:
        return {r.key: produce if r.key.startswith("produce") else consume for r in rows}

    runs = {"refka": [run(40.0, 90.0), run(60.0, 10.0)], "kafka": [run(100.0, 100.0)]}
    summary = summarize(rows, runs, {})
    found = {t["target"]: (t["ratio"], t["met"]) for t in cluster_targets(summary, 3)}
    assert found == {TARGETS[0]: (0.5, True), TARGETS[1]: (pytest.approx(0.5), True)}
    runs["refka"] = [run(49.0, 10.0)]
    verdicts = [t["met"] for t in cluster_targets(summarize(rows, runs, {}), 3)]
    assert verdicts == [False, False]
