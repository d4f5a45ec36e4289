"""``refka bench``: refka, Tansu and Apache Kafka on loopback, one after the other, under the
same librdkafka workloads; medians of the repetitions, ratios refka/peer, the issue's targets.

    refka bench                                   # all three brokers, 3 repetitions (~4 min)
    refka bench --quick --brokers refka           # ~1 minute, tiny workloads
    refka bench --markdown T.md --json T.json --plot docs/throughput.png
    refka bench --profile                         # also profile refka's produce and fetch paths

Each repetition starts every broker afresh, in turn, so start time is measured once per
repetition and noise from a shared machine falls on all brokers alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from refka.bench.brokers import BROKERS, DISPLAY_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--brokers",
        default=",".join(BROKERS),
        help=f"comma-separated, from {','.join(BROKERS)} (default: all)",
    )
    parser.add_argument(
        "--repetitions", type=int, default=None, help="runs per broker (default 3, --quick 1)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny workloads (~1 minute)")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    parser.add_argument("--plot", type=Path, help="write the throughput plot (PNG) here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run refka under pyinstrument (produce, then fetch) and write the profiles",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path("bench/results"),
        help="where --profile writes (default bench/results)",
    )
    parser.add_argument("--work-dir", type=Path, help="brokers' data (default: a temp dir)")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _brokers(spec: str) -> list[str]:
    chosen = [b.strip().lower() for b in spec.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BROKERS]
    if unknown or not chosen:
        raise SystemExit(f"refka bench: unknown broker(s) {unknown}; choose from {BROKERS}")
    return sorted(set(chosen), key=BROKERS.index)


def _cache_bytecode() -> None:
    """Start refka as an installed package starts: from cached bytecode.

    With PYTHONDONTWRITEBYTECODE set (some sandboxes set it) every start would compile refka's
    sources again and the start time would measure the compiler; compile them once here and
    let the broker processes use and write the cache.
    """
    import compileall

    import refka

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(refka.__file__).parent, quiet=1)


def run(args: argparse.Namespace) -> int:
    from refka.bench import machine, report
    from refka.bench.rows import make_rows
    from refka.bench.session import run_session
    from refka.bench.workloads import make_plan, make_values

    brokers = _brokers(args.brokers)
    _cache_bytecode()
    repetitions = args.repetitions or (1 if args.quick else 3)
    if repetitions < 1:
        raise SystemExit("refka bench: --repetitions must be at least 1")
    plan = make_plan(args.quick)
    values = {size: make_values(size) for size in {w.value_bytes for w in plan.produce}}
    meta: dict[str, Any] = {"machine": machine.describe()}
    meta["settings"] = {"quick": args.quick, "repetitions": repetitions}
    work_root = args.work_dir or Path(tempfile.mkdtemp(prefix="refka-bench-"))
    runs: report.Runs = {b: [] for b in brokers}
    details: dict[str, list[dict[str, Any]]] = {b: [] for b in brokers}
    began_s = time.perf_counter()
    try:
        for repetition in range(repetitions):
            for kind in brokers:
                _log(f"repetition {repetition + 1}/{repetitions}: {DISPLAY_NAMES[kind]}")
                session_dir = work_root / f"{kind}-{repetition}"
                figures, detail = run_session(kind, plan, session_dir, values, _log)
                shutil.rmtree(session_dir, ignore_errors=True)
                runs[kind].append(figures)
                details[kind].append(detail)
        if args.profile:
            _profile_refka(plan, work_root / "profile", args.results_dir, values)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_root, ignore_errors=True)
    meta["machine"]["load_average_after"] = machine.load_average()
    meta["settings"]["duration_s"] = round(time.perf_counter() - began_s, 1)
    summary = report.summarize(make_rows(plan), runs, details)
    target_list = report.targets(summary)
    table = report.markdown(summary, target_list)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.to_json(summary, target_list, meta))
    if args.plot:
        from refka.bench.plot import write_plot

        runs_text = "1 run" if repetitions == 1 else f"medians of {repetitions} runs"
        write_plot(summary, args.plot, f"Throughput by value size and broker ({runs_text})")
    started = [b for b in brokers if any(runs[b])]
    return 0 if started else 1


def _profile_refka(plan: Any, work_dir: Path, results_dir: Path, values: Any) -> None:
    """Three refka sessions under pyinstrument on one log dir: start-up alone, produce, fetch;
    then refka's imports under ``-X importtime``."""
    from refka.bench.importtime import write_import_profile
    from refka.bench.session import run_session

    results_dir.mkdir(parents=True, exist_ok=True)
    sessions: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("refka-start", ()),
        ("refka-produce", ("produce",)),
        ("refka-fetch", ("consume",)),
    )
    for name, phases in sessions:
        _log(f"profiling refka: {name}")
        prefix = results_dir.resolve() / name
        run_session("refka", plan, work_dir, values, _log, profile_to=prefix, phases=phases)
        _log(f"profile written: {prefix}.txt, {prefix}.html, {prefix}.top.txt")
    imports_path = results_dir.resolve() / "refka-start.importtime.txt"
    write_import_profile(work_dir / "importtime", imports_path)
    _log(f"import times written: {imports_path}")
