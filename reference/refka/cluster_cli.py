"""``refka cluster``: a controller and N brokers on loopback, each its own process.

    refka cluster --brokers 3 --set min.insync.replicas=2 --dir ./cluster

prints the bootstrap address once every broker is registered and unfenced, and runs until
SIGINT or SIGTERM. Each node can also be started alone with ``refka broker`` and Kafka's keys
(``process.roles``, ``node.id``, ``controller.quorum.voters``, ``controller.listener.names``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--brokers", type=int, default=3, help="number of brokers (default 3)")
    parser.add_argument(
        "--controllers",
        type=int,
        default=1,
        choices=[1],
        help="number of controllers: one voter for now (a KIP-595 quorum is future work)",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="data folder (default: a temporary one)"
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a config key for every node (Kafka's names); repeatable",
    )


def run(args: argparse.Namespace) -> int:
    from refka.testing import running_cluster

    configs = dict(item.split("=", 1) for item in args.set)
    started = time.monotonic()
    stopped: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: stopped.append(number))
    with running_cluster(args.brokers, args.dir, config=configs) as cluster:
        elapsed_ms = round((time.monotonic() - started) * 1000)
        nodes = ", ".join(f"{n}:{b.port}" for n, b in cluster.brokers.items())
        print(
            f"refka cluster ready: bootstrap {cluster.bootstrap} "
            f"(controller {cluster.controller.bootstrap}, brokers {nodes}) in {elapsed_ms} ms",
            flush=True,
        )
        while not stopped:
            signal.pause()
    print("refka cluster stopped", file=sys.stderr)
    return 0
