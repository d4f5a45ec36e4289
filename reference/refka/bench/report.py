"""Medians over the repetitions, ratios against the peers, the targets, and the table as
Markdown and JSON."""

from __future__ import annotations

import json
import statistics
from typing import Any

from refka.bench.brokers import DISPLAY_NAMES
from refka.bench.rows import IDLE_RSS, START, Row

REFKA = "refka"
START_TARGET_MS = 100.0
IDLE_RSS_TARGET_MB = 60.0
PRODUCE_1KIB_TARGET = 1.0  # refka / peer, median over the 1 KiB produce workloads
CONSUME_TARGET = 0.8  # refka / peer, median over the consume workloads
CLUSTER_TARGET = 0.5  # refka / Kafka, 3-broker clusters, RF=3 acks=all, median over workloads

RATIO_NOTE = (
    "Ratios are refka's median over the peer's: above 1x refka is faster for throughput "
    "(MB/s); below 1x refka is quicker or smaller for start time, latency and RSS."
)

Runs = dict[str, list[dict[str, float | None]]]  # broker -> one dict of figures per repetition


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(rows: list[Row], runs: Runs, details: dict[str, list[dict[str, Any]]]) -> dict:
    """One record per row: runs and median per broker, ratios of refka's median to each peer."""
    brokers = list(runs)
    records = []
    for row in rows:
        per_run = {b: [run.get(row.key) for run in runs[b]] for b in brokers}
        medians = {b: _median(per_run[b]) for b in brokers}
        ratios = {}
        mine = medians.get(REFKA)
        for peer in brokers:
            theirs = medians[peer]
            if peer != REFKA and mine is not None and theirs:
                ratios[f"refka/{DISPLAY_NAMES[peer]}"] = mine / theirs
        msgs = {
            b: _median([d.get(row.key, {}).get("msgs_per_s") for d in details.get(b, [])])
            for b in brokers
        }
        cpu = {
            b: _median([d.get(row.key, {}).get("broker_cpu_s") for d in details.get(b, [])])
            for b in brokers
        }
        records.append(
            {
                "key": row.key,
                "label": row.label,
                "unit": row.unit,
                "higher_is_better": row.higher_is_better,
                "median": {DISPLAY_NAMES[b]: medians[b] for b in brokers},
                "runs": {DISPLAY_NAMES[b]: per_run[b] for b in brokers},
                "msgs_per_s": {DISPLAY_NAMES[b]: msgs[b] for b in brokers if msgs[b]},
                "broker_cpu_s": {DISPLAY_NAMES[b]: cpu[b] for b in brokers if cpu[b]},
                "ratios": ratios,
            }
        )
    return {"brokers": [DISPLAY_NAMES[b] for b in brokers], "rows": records}


def _ratio_target(
    records: list[dict], prefix: str, size: str, peer: str, floor: float, scope: str = ""
) -> dict:
    ratios = [
        r["ratios"][f"refka/{peer}"]
        for r in records
        if r["key"].startswith(prefix) and size in r["key"] and f"refka/{peer}" in r["ratios"]
    ]
    where = f" at {size}" if size else scope
    what = f"{prefix} throughput{where}: refka >= {floor:.1f}x {peer}"
    if not ratios:
        return {"target": what, "measured": None, "met": None}
    median = statistics.median(ratios)
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    measured = f"{median:.2f}x (median of {len(ratios)} workloads, {spread})"
    return {"target": what, "measured": measured, "ratio": median, "met": median >= floor}


def _absolute_target(records: list[dict], key: str, what: str, ceiling: float, unit: str) -> dict:
    value = next(r for r in records if r["key"] == key)["median"].get(DISPLAY_NAMES[REFKA])
    if value is None:
        return {"target": what, "measured": None, "met": None}
    return {"target": what, "measured": f"{value:.1f} {unit}", "met": value <= ceiling}


def targets(summary: dict) -> list[dict]:
    """The issue's targets, each with the measured figure and whether it is met."""
    records = summary["rows"]
    found = []
    for peer in ("Tansu", "Apache Kafka"):
        if peer in summary["brokers"]:
            found.append(_ratio_target(records, "produce", "1 KiB", peer, PRODUCE_1KIB_TARGET))
            found.append(_ratio_target(records, "consume", "", peer, CONSUME_TARGET))
    found.append(_absolute_target(records, START, "start time <= 100 ms", START_TARGET_MS, "ms"))
    found.append(_absolute_target(records, IDLE_RSS, "idle RSS <= 60 MB", IDLE_RSS_TARGET_MB, "MB"))
    return found


def cluster_targets(summary: dict, brokers: int) -> list[dict]:
    """`refka bench --cluster N`: produce and consume, each refka >= 0.5x Kafka (medians)."""
    peer, records = DISPLAY_NAMES["kafka"], summary["rows"]
    scope = f" on {brokers} brokers, RF=3 acks=all"
    return [
        _ratio_target(records, measure, "", peer, CLUSTER_TARGET, scope)
        for measure in ("produce", "consume")
    ]


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "MB/s" or value >= 100:
        return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _ratio_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown(summary: dict, target_list: list[dict]) -> str:
    """The table (medians per broker, ratios) followed by the targets."""
    brokers = summary["brokers"]
    peers = [b for b in brokers if b != DISPLAY_NAMES[REFKA]]
    ratio_columns = [f"refka/{p}" for p in peers] if DISPLAY_NAMES[REFKA] in brokers else []
    head = ["figure", "unit", *brokers, *ratio_columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for record in summary["rows"]:
        cells = [record["label"], record["unit"]]
        cells += [_cell(record["median"][b], record["unit"]) for b in brokers]
        cells += [_ratio_cell(record["ratios"].get(column)) for column in ratio_columns]
        lines.append("| " + " | ".join(cells) + " |")
    if ratio_columns:
        lines += ["", RATIO_NOTE]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for target in target_list:
        met = {True: "met", False: "**not met**", None: "not measured"}[target["met"]]
        lines.append(f"| {target['target']} | {target['measured'] or '-'} | {met} |")
    return "\n".join(lines) + "\n"


def to_json(summary: dict, target_list: list[dict], meta: dict) -> str:
    return json.dumps({**meta, **summary, "targets": target_list}, indent=2) + "\n"
