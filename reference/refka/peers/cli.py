"""`refka peer {kafka,tansu,refka} [--port N]`: start one peer broker in the foreground,
print its bootstrap address, and stop it on Ctrl-C."""

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


def start(kind: str, work_dir: Path, port: int) -> Peer:
    if kind == "kafka":
        from refka.peers.kafka import start_kafka

        return start_kafka(work_dir, port or None)
    if kind == "tansu":
        from refka.peers.tansu import start_tansu

        return start_tansu(work_dir, port or None)
    from refka.peers.refka_broker import start_refka

    return start_refka(work_dir, port)


def run(args: argparse.Namespace) -> int:
    work_dir = args.dir or Path(tempfile.mkdtemp(prefix=f"refka-peer-{args.kind}-"))
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
