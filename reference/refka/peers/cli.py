"""`refka peer {kafka,tansu,refka} [--port N]`: start one peer broker in the foreground,
print its bootstrap address, and stop it on Ctrl-C.

`refka peer kafka --brokers 3 [--combined]` starts an Apache Kafka cluster instead: one
dedicated KRaft controller and 3 brokers (or 3 combined broker-controllers), and prints the
bootstrap address of all brokers."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from refka.peers.process import Peer, PeerUnavailable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["kafka", "tansu", "refka"], help="which broker")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: a free one)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument(
        "--brokers", type=int, default=None, help="kafka only: start a cluster of N brokers"
    )
    parser.add_argument(
        "--combined",
        action="store_true",
        help="with --brokers: every node is broker and controller (default: one controller)",
    )


def start(kind: str, work_dir: Path, port: int) -> Peer:
    if kind == "kafka":
        from refka.peers.kafka import start_kafka

        return start_kafka(work_dir, port or None)
    if kind == "tansu":
        from refka.peers.tansu import start_tansu

        return start_tansu(work_dir, port or None)
    from refka.peers.refka_broker import start_refka

    return start_refka(work_dir, port)


def run_cluster(args: argparse.Namespace, work_dir: Path) -> int:
    from refka.peers.kafka_cluster import start_kafka_cluster

    try:
        cluster = start_kafka_cluster(work_dir, args.brokers, args.combined)
    except PeerUnavailable as error:
        print(error)
        return 1
    for node in cluster.nodes.values():
        where = node.address if node.is_broker else f"127.0.0.1:{node.controller_port}"
        print(f"  node {node.node_id} ({node.roles}) on {where} (log: {node.log_path})")
    print(f"{cluster.name} ready on {cluster.bootstrap}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the cluster on `kill` too
    try:
        while all(
            n.process is not None and n.process.poll() is None for n in cluster.nodes.values()
        ):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
    return 0


def run(args: argparse.Namespace) -> int:
    work_dir = args.dir or Path(tempfile.mkdtemp(prefix=f"refka-peer-{args.kind}-"))
    if args.brokers is not None:
        if args.kind != "kafka":
            print("--brokers: only the kafka peer runs as a cluster")
            return 2
        return run_cluster(args, work_dir)
    try:
        peer = start(args.kind, work_dir, args.port)
    except PeerUnavailable as error:
        print(error)
        return 1
    print(f"{peer.name} ready on {peer.bootstrap} (log: {peer.log_path})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the peer on `kill` too
    try:
        while peer.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        peer.stop()
    return 0
