"""The ``refka`` command: one subcommand per tool, each living in its own module.

Each subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``; they are
imported only when chosen, so ``refka broker`` starts without loading the others. A module may
also expose ``quick_args(argv)``, which reads its usual command line without argparse (building
the parser costs a broker ~4 ms of its start, issue 15) and returns None for anything else.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "broker": (
        "refka.server.main",
        "run the broker (embedded default: one node on 127.0.0.1:9092)",
    ),
    "cluster": (
        "refka.cluster_cli",
        "run a controller and N brokers on loopback, each its own process",
    ),
    "storage": (
        "refka.storage_cli",
        "format log directories (meta.properties), as kafka-storage does",
    ),
    "spec": ("refka.spec_check", "model-check the TLA+ specifications with TLC"),
    "conform": ("conformance.runner", "run the conformance suite against any Kafka broker"),
    "bench": ("refka.bench", "benchmark refka against Tansu and Apache Kafka"),
    "peer": ("refka.peers.cli", "start a peer broker (Apache Kafka, Tansu) on loopback"),
    "simulate": ("refka.sim.simulate_cli", "run one random fault schedule on a simulated cluster"),
    "replay": ("refka.sim.replay_cli", "rerun a fault schedule file exactly, print or draw it"),
    "campaign": ("refka.sim.campaign", "hunt every bug switch with the model tests"),
    "fuzz": ("refka.fuzz_cli", "throw hostile frames at a broker: crashes, hangs, lost data"),
}


# Subcommands that need an extra of the package (`pip install 'refka[EXTRA]'`), and the
# top-level modules whose absence means the extra is missing.
EXTRAS: dict[str, tuple[str, frozenset[str]]] = {
    "conform": ("conformance", frozenset({"pytest", "confluent_kafka", "kafka", "aiokafka"})),
    "bench": ("bench", frozenset({"confluent_kafka", "matplotlib", "pyinstrument"})),
    "campaign": ("sim", frozenset({"hypothesis"})),
    "fuzz": ("sim", frozenset({"hypothesis"})),
}


def overview() -> argparse.ArgumentParser:
    """The parser listing the subcommands: built for help and unknown commands only (eleven
    parsers, ~3 ms of a broker's start, issue 15)."""
    import argparse

    parser = argparse.ArgumentParser(prog="refka", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        parser = overview()
        parser.print_help() if not argv else parser.parse_args(argv)
        return 2
    name, rest = argv[0], argv[1:]
    if name == "broker" and "hypothesis" not in sys.modules:
        # kio's nominal types register Hypothesis strategies when Hypothesis is importable;
        # the broker never uses them, and the import costs ~100 ms of start-up.
        sys.modules["hypothesis"] = None  # type: ignore[assignment]
    if name == "broker":  # its start's dataclass methods come compiled (refka.dataclass_cache)
        from refka import dataclass_cache

        dataclass_cache.install()
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        quick = getattr(module, "quick_args", None)
        args: Any = quick(rest) if quick is not None else None
        if args is None:  # help, a mistake, or a subcommand without a quick reader
            import argparse

            parser = argparse.ArgumentParser(prog=f"refka {name}", description=SUBCOMMANDS[name][1])
            module.add_arguments(parser)
            args = parser.parse_args(rest)
        return int(module.run(args) or 0)
    except ModuleNotFoundError as error:
        extra, modules = EXTRAS.get(name, ("", frozenset()))
        if (error.name or "").split(".")[0] not in modules:
            raise
        print(
            f"refka {name} needs {error.name}, which the base install leaves out: "
            f"pip install 'refka[{extra}]'",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
