"""Outcomes of a conformance run: one per test, tallied per API; written as md, json or html."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.target import NOT_SUPPORTED

PASSED, FAILED, UNSUPPORTED, SKIPPED, ERROR = (
    "passed",
    "failed",
    NOT_SUPPORTED,
    "skipped",
    "error",
)
COLUMNS = (PASSED, FAILED, UNSUPPORTED, ERROR, SKIPPED)


@dataclass
class Outcome:
    test_id: str
    api: str
    behaviour: str
    observed: bool
    outcome: str = PASSED
    detail: str = ""
    duration_s: float = 0.0


@dataclass
class Run:
    """Every outcome of one run against one target."""

    target: str = "unknown"
    bootstrap: str = ""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    api_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # its ApiVersions

    def by_api(self) -> dict[str, Counter[str]]:
        tally: dict[str, Counter[str]] = {}
        for outcome in self.outcomes.values():
            tally.setdefault(outcome.api, Counter())[outcome.outcome] += 1
        return dict(sorted(tally.items()))

    def totals(self) -> Counter[str]:
        return Counter(o.outcome for o in self.outcomes.values())

    def with_outcome(self, *kinds: str) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.outcome in kinds]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "bootstrap": self.bootstrap,
            "totals": dict(self.totals()),
            "by_api": {api: dict(c) for api, c in self.by_api().items()},
            "tests": [asdict(o) for o in self.outcomes.values()],
            "api_ranges": {str(key): list(r) for key, r in sorted(self.api_ranges.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        run = cls(data["target"], data["bootstrap"])
        ranges = data.get("api_ranges", {})
        run.api_ranges = {int(key): (int(r[0]), int(r[1])) for key, r in ranges.items()}
        for item in data["tests"]:
            run.outcomes[item["test_id"]] = Outcome(**item)
        return run


class Collector:
    """pytest plugin: records each test's API tag and outcome into a `Run`."""

    def __init__(self) -> None:
        self.run = Run()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("api")
            api = str(marker.args[0]) if marker and marker.args else "untagged"
            behaviour = str(marker.kwargs.get("behaviour", "")) if marker else ""
            observed = item.get_closest_marker("observed") is not None
            self.run.outcomes[item.nodeid] = Outcome(
                short_id(item.nodeid), api, behaviour, observed
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.run.outcomes.get(report.nodeid)
        if outcome is None:
            return
        outcome.duration_s += report.duration
        if report.skipped:
            reason = skip_reason(report)
            outcome.outcome = UNSUPPORTED if reason.startswith(NOT_SUPPORTED) else SKIPPED
            outcome.detail = reason
        elif report.failed:
            outcome.outcome = FAILED if report.when == "call" else ERROR
            outcome.detail = failure_line(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        target = getattr(session.config, "_conformance_target", None)
        if target is not None:
            self.run.target, self.run.bootstrap = target.name, target.bootstrap
            self.run.api_ranges = dict(target.api_ranges)


def short_id(nodeid: str) -> str:
    """`conformance/test_fetch.py::test_x[1]` -> `test_fetch.py::test_x[1]`."""
    return nodeid.rsplit("/", 1)[-1]


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return " ".join(text.split())[:300]


def table_markdown(run: Run) -> str:
    lines = ["| API | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for api, counts in run.by_api().items():
        lines.append(f"| {api} | " + " | ".join(str(counts.get(c, 0)) for c in COLUMNS) + " |")
    totals = run.totals()
    lines.append("| **total** | " + " | ".join(f"**{totals.get(c, 0)}**" for c in COLUMNS) + " |")
    return "\n".join(lines)


def table_text(run: Run) -> str:
    width = max([len(api) for api in run.by_api()] + [5])
    head = f"{'API':<{width}}  " + "  ".join(f"{c:>13}" for c in COLUMNS)
    rows = [head, "-" * len(head)]
    for api, counts in [*run.by_api().items(), ("total", run.totals())]:
        rows.append(f"{api:<{width}}  " + "  ".join(f"{counts.get(c, 0):>13}" for c in COLUMNS))
    return "\n".join(rows)


def report_markdown(run: Run) -> str:
    parts = [f"# Conformance: {run.target} ({run.bootstrap})", "", table_markdown(run), ""]
    bad = run.with_outcome(FAILED, ERROR)
    if bad:
        parts += ["## Failures", ""]
        parts += [f"- `{o.test_id}` ({o.api}: {o.behaviour}): {o.detail}" for o in bad]
    return "\n".join(parts) + "\n"


def report_html(run: Run) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(o.test_id)}</td><td>{html.escape(o.api)}</td>"
        f"<td>{html.escape(o.behaviour)}</td><td class='{o.outcome.replace(' ', '-')}'>"
        f"{o.outcome}</td><td>{html.escape(o.detail)}</td></tr>"
        for o in run.outcomes.values()
    )
    summary = "".join(
        f"<tr><td>{html.escape(api)}</td>"
        + "".join(f"<td>{c.get(k, 0)}</td>" for k in COLUMNS)
        + "</tr>"
        for api, c in run.by_api().items()
    )
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    return (
        "<!doctype html><meta charset='utf-8'><title>refka conformance</title>"
        "<style>td,th{border:1px solid #ccc;padding:2px 6px}.failed,.error{color:#b00}"
        ".passed{color:#070}</style>"
        f"<h1>Conformance: {html.escape(run.target)} ({html.escape(run.bootstrap)})</h1>"
        f"<table><tr><th>API</th>{head}</tr>{summary}</table><h2>Tests</h2>"
        "<table><tr><th>test</th><th>API</th><th>behaviour</th><th>outcome</th><th>detail</th>"
        f"</tr>{rows}</table>"
    )


def write_report(run: Run, path: Path) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(run.to_json(), indent=1) + "\n")
    elif path.suffix in (".html", ".htm"):
        path.write_text(report_html(run))
    else:
        path.write_text(report_markdown(run))
