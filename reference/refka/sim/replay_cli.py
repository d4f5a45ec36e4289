"""``refka replay FILE``: rerun a schedule file exactly and print its timeline.

One line per event: step, simulated ms, node, kind, action, the key state; the violated
invariant is a ``violation`` line, and the last line names it and the operation where it broke.
``--draw out.html`` also draws the run as a space-time diagram.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from refka.sim.schedule import Schedule
from refka.sim.simulation import Simulation
from refka.sim.timeline import format_timeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a schedule file (JSON) written by a failing run")
    parser.add_argument("--draw", metavar="HTML", help="draw the run as a space-time diagram")
    parser.add_argument("--trace", help="write the run's trace events here")
    parser.add_argument("--quiet", action="store_true", help="print only the outcome")


def run(args: argparse.Namespace) -> int:
    schedule = Schedule.read(args.file)
    print(f"seed {schedule.seed}")
    sim, outcome = Simulation.replay(schedule)
    if not args.quiet:
        sys.stdout.write(format_timeline(sim.world.steps))
    if args.trace:
        with open(args.trace, "w") as f:
            f.writelines(repr(e) + "\n" for e in sim.world.trace_events)
    if args.draw:
        from refka.sim.draw import draw_html

        title = f"refka replay {Path(args.file).name} (seed {schedule.seed})"
        Path(args.draw).write_text(draw_html(sim.world.steps, title))
        print(f"drawn: {args.draw}")
    if outcome.violations:
        v = outcome.violations[0]
        assert outcome.failed_at is not None
        at = outcome.failed_at
        where = (
            f"after operation {at} ({schedule.operations[at]})"
            if at < len(schedule.operations)
            else "on the healed cluster, after the last operation"
        )
        print(f"violated: {v.invariant} {where}: {v.detail}")
        return 1
    if outcome.report is not None and not outcome.report.ok:
        print("violated: the history check on the healed cluster")
        for line in outcome.report.lines():
            print(f"  {line}")
        return 1
    print("no violation")
    return 0
