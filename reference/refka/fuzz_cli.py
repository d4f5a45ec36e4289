"""``refka fuzz``: throw hostile frames at a broker and check it answers, closes, or recovers.

In process (the default) against a combined node on a temp dir (``refka.fuzz.target``), or
over sockets against any broker (``--bootstrap HOST:PORT``, ``refka.fuzz_socket``). Inputs
come from Hypothesis (``refka.fuzz.inputs``), seeded by ``--seed`` and run in rounds of
``ROUND`` inputs; a canary produce and fetch runs between rounds. At the end the in-process
node is shut down and reopened on its log dir, and every acknowledged canary record must
still be there. Prints frames/s, inputs tried, crashes and hangs; exits 1 on a crash, a hang
or lost data, and writes each failing input to ``--out`` (frame bytes in hex, and the API).
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROUND = 200


class Target(Protocol):
    @property
    def apis(self) -> list[tuple[int, int, int]]: ...

    def send(self, data: bytes) -> Any: ...
    def canary(self, value: bytes) -> str | None: ...


@dataclass
class Stats:
    inputs: int = 0
    frames: int = 0
    verdicts: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def crashes(self) -> int:
        return self.verdicts["crash"]

    @property
    def hangs(self) -> int:
        return self.verdicts["hang"]

    def line(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        counts = ", ".join(f"{v} {n}" for v, n in sorted(self.verdicts.items()))
        return (
            f"{self.inputs} inputs in {self.seconds:.1f} s ({rate:.0f} frames/s): {counts}; "
            f"crashes {self.crashes}, hangs {self.hangs}, problems {len(self.failures)}"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=2_000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", help="HOST:PORT of a running broker (default: in process)")
    parser.add_argument("--api", action="append", help="fuzz only this API (Kafka's name)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"), help="reproducers")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (sockets)")
    parser.add_argument(
        "--controller", action="store_true", help="in process: fuzz the controller's listener"
    )
    parser.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.bootstrap:
        from refka.fuzz_socket import SocketTarget

        host, port = args.bootstrap.rsplit(":", 1)
        stats = fuzz(SocketTarget(host, int(port), args.timeout), args)
        return _report(stats, args)
    from refka.fuzz.target import InProcessTarget
    from refka.log.storage import FileStorage

    with tempfile.TemporaryDirectory(prefix="refka-fuzz-") as log_dir:
        storage = FileStorage(log_dir)
        target = InProcessTarget(storage, seed=args.seed + 1, controller_listener=args.controller)
        stats = fuzz(target, args)
        target.reopen()  # log recovery on the same dir
        read = target.read_canary()
        if read != target.acknowledged:
            stats.failures.append(
                f"after recovery the canary has {len(read)} records, "
                f"{len(target.acknowledged)} were acknowledged"
            )
        target.close()
    return _report(stats, args)


def fuzz(target: Target, args: argparse.Namespace, echo: Callable[[str], None] = print) -> Stats:
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from refka.fuzz.inputs import FuzzInput, inputs

    apis = _chosen(target.apis, args.api)
    stats = Stats()
    names = _api_names()
    began = time.perf_counter()
    number = 0
    while stats.inputs < args.frames:
        budget = ROUND // 4  # each example is 4.5 inputs on average

        @seed(args.seed * 1_000_003 + number)
        @settings(
            max_examples=budget,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(inputs(apis))
        def one(items: list[FuzzInput]) -> None:
            for item in items:
                if stats.inputs >= args.frames:
                    return
                stats.inputs += 1
                if not item.data:
                    stats.verdicts["unencodable"] += 1
                    continue
                outcome = target.send(item.data)
                stats.verdicts[outcome.verdict] += 1
                if outcome.verdict in ("crash", "hang", "bad-answer"):
                    _write(args.out, stats, item, names.get(item.api_key, "garbage"), outcome)

        one()
        problem = target.canary(f"round {number}".encode())
        if problem is not None:
            stats.failures.append(problem)
        stats.seconds = time.perf_counter() - began
        if not args.quiet and number % 25 == 24 and stats.inputs < args.frames:
            echo(stats.line())
        number += 1
    return stats


LEFT_OUT = {64: "UnregisterBroker"}
"""APIs fuzzed only when named with ``--api``: a valid UnregisterBroker of the node itself takes
it out of the cluster, as Kafka's does (its broker warns at each heartbeat and does not
register again), so the canary would fail by design, not by a bug."""


def _chosen(
    apis: Sequence[tuple[int, int, int]], wanted: Sequence[str] | None
) -> list[tuple[int, int, int]]:
    if not wanted:
        return [api for api in apis if api[0] not in LEFT_OUT]
    names = {name.lower(): key for key, name in _api_names().items()}
    unknown = [w for w in wanted if w.lower().replace("_", "") not in names]
    if unknown:
        raise SystemExit(f"refka fuzz: no API named {', '.join(unknown)}")
    keys = {names[w.lower().replace("_", "")] for w in wanted}
    return [api for api in apis if api[0] in keys]


def _api_names() -> dict[int, str]:
    from kio.schema.index import api_key_map

    return {k: "".join(p.capitalize() for p in n.split("_")) for k, n in api_key_map.items()}


def _write(out: Path, stats: Stats, item: Any, api_name: str, outcome: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{outcome.verdict}-{stats.inputs:07d}.txt"
    path.write_text(item.reproducer(api_name, f"{outcome.verdict}: {outcome.detail}"))
    stats.failures.append(f"{outcome.verdict} on {item.label}: {path}")


def _report(stats: Stats, args: argparse.Namespace) -> int:
    print(stats.line())
    for failure in stats.failures:
        print(f"  {failure}")
    return 1 if stats.failures else 0
