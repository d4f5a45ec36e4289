"""``refka bench``: refka, Tansu and Apache Kafka on loopback, one after the other, under the
same librdkafka workloads; medians of the repetitions, ratios refka/peer, the issue's targets.

    refka bench                                   # all three brokers, 3 repetitions (~4 min)
    refka bench --quick --brokers refka           # ~1 minute, tiny workloads
    refka bench --markdown T.md --json T.json --plot docs/throughput.png
    refka bench --profile                         # also profile refka's produce and fetch paths
    refka bench --cluster 3                       # 3-broker refka against 3-broker Kafka, RF=3
    refka bench --start                           # start time of the test fixtures' modes
    refka bench --start --python VENV/bin/python  # ... and of refka installed in VENV
    refka bench --start --instructions            # the start in instructions (callgrind)
    refka bench --hostile                         # a producer among 500 connections, a
                                                  # quarter misbehaving (refka.bench.hostile)

Each repetition starts every broker afresh, in turn, so start time is measured once per
repetition and noise from a shared machine falls on all brokers alike. With `--cluster N`
each repetition starts a refka cluster and an Apache Kafka cluster of N brokers, in turn, and
runs the `acks=all` produce workloads and their consume on topics replicated to 3 brokers,
`min.insync.replicas=2` (see `refka.bench.cluster`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from refka.bench.brokers import BROKERS, DISPLAY_NAMES

if TYPE_CHECKING:
    from refka.bench.rows import Row
    from refka.bench.workloads import Plan


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
    parser.add_argument(
        "--start",
        action="store_true",
        help="only measure start time, first record and memory of refka's fixture modes (and of "
        "Apache Kafka when --brokers names kafka; see refka.bench.start)",
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="with --start: also spawn the broker under this interpreter (a venv with refka "
        "installed from its wheel), beside this checkout's",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="with --start: count the start's instructions under valgrind's callgrind instead "
        "of timing it (the same count on a loaded machine; see refka.bench.instructions)",
    )
    parser.add_argument(
        "--cluster",
        type=int,
        metavar="N",
        help="refka and Apache Kafka as clusters of N >= 3 brokers: RF=3, acks=all, "
        "min.insync.replicas=2, produce and consume only",
    )
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="only the load test of issue 13: a producer's throughput alone and among "
        "--connections connections, a quarter misbehaving (see refka.bench.hostile)",
    )
    parser.add_argument(
        "--connections", type=int, default=500, help="with --hostile: connections held (500)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="with --hostile: each producer run (10 s)"
    )


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


class _Mode(NamedTuple):
    """What differs between the single-broker bench and `--cluster N`."""

    brokers: list[str]
    plan: Plan
    session: Callable[..., tuple[dict[str, float | None], dict[str, dict[str, float]]]]
    rows: list[Row]
    targets: Callable[[dict], list[dict]]


def _mode(args: argparse.Namespace) -> _Mode:
    from refka.bench import report
    from refka.bench.rows import make_cluster_rows, make_rows
    from refka.bench.session import run_session
    from refka.bench.workloads import make_cluster_plan, make_plan

    brokers = _brokers(args.brokers)
    if args.cluster is None:
        plan = make_plan(args.quick)
        return _Mode(brokers, plan, run_session, make_rows(plan), report.targets)
    from refka.bench.cluster import CLUSTER_KINDS, REPLICATION_FACTOR, run_cluster_session

    if args.cluster < REPLICATION_FACTOR:
        raise SystemExit(f"refka bench: --cluster needs at least {REPLICATION_FACTOR} brokers")
    if args.profile:
        raise SystemExit("refka bench: --profile profiles a single refka broker, not --cluster")
    brokers = [b for b in brokers if b in CLUSTER_KINDS]
    if not brokers:
        raise SystemExit(f"refka bench: --cluster runs {', '.join(CLUSTER_KINDS)} only")
    plan = make_cluster_plan(args.quick, REPLICATION_FACTOR)

    def session(kind: str, *rest: Any) -> Any:
        return run_cluster_session(kind, args.cluster, *rest)

    def targets(summary: dict) -> list[dict]:
        return report.cluster_targets(summary, args.cluster)

    return _Mode(brokers, plan, session, make_cluster_rows(plan), targets)


def run(args: argparse.Namespace) -> int:
    if args.hostile:
        from refka.bench import hostile

        args.repetitions = args.repetitions or 3
        return hostile.run(args)
    if args.start and args.instructions:
        from refka.bench import instructions

        _cache_bytecode()
        return instructions.run(args.python)
    if args.start:
        from refka.bench import start

        _cache_bytecode()
        return start.run(args.repetitions or 5, args.brokers, args.python)
    from refka.bench import machine, report
    from refka.bench.workloads import make_values

    mode = _mode(args)
    brokers, plan = mode.brokers, mode.plan
    _cache_bytecode()
    repetitions = args.repetitions or (1 if args.quick else 3)
    if repetitions < 1:
        raise SystemExit("refka bench: --repetitions must be at least 1")
    values = {size: make_values(size) for size in {w.value_bytes for w in plan.produce}}
    meta: dict[str, Any] = {"machine": machine.describe()}
    meta["settings"] = {"quick": args.quick, "repetitions": repetitions}
    if args.cluster is not None:
        meta["settings"]["cluster_brokers"] = args.cluster
    work_root = args.work_dir or Path(tempfile.mkdtemp(prefix="refka-bench-"))
    runs: report.Runs = {b: [] for b in brokers}
    details: dict[str, list[dict[str, Any]]] = {b: [] for b in brokers}
    began_s = time.perf_counter()
    try:
        for repetition in range(repetitions):
            for kind in brokers:
                _log(f"repetition {repetition + 1}/{repetitions}: {DISPLAY_NAMES[kind]}")
                session_dir = work_root / f"{kind}-{repetition}"
                figures, detail = mode.session(kind, plan, session_dir, values, _log)
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
    summary = report.summarize(mode.rows, runs, details)
    target_list = mode.targets(summary)
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
