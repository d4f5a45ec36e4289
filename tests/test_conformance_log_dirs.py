"""The AlterReplicaLogDirs probes on a broker with two ``log.dirs``, Apache Kafka's and refka's:
the move probe (skipped on the suite's one-directory peers) must pass on both."""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.peers.kafka import start_kafka
from refka.peers.process import Peer, PeerUnavailable
from refka.peers.refka_broker import start_refka

from conformance.outcomes import PASSED
from conformance.runner import run_suite_subprocess

ONLY = "test_alter_replica_log_dirs and not test_cluster"


def two_dirs(work: Path) -> str:
    return f"{work / 'd0'},{work / 'd1'}"


def check(peer: Peer, work: Path, name: str) -> None:
    with peer:
        run = run_suite_subprocess(peer.bootstrap, work / "report.json", name, only=ONLY)
    bad = [
        f"{o.test_id}: {o.outcome} {o.detail}" for o in run.outcomes.values() if o.outcome != PASSED
    ]
    assert not bad, f"{name} with two log dirs:\n" + "\n".join(bad)
    assert run.totals()[PASSED] == 7


def test_kafka_with_two_log_dirs(tmp_path: Path) -> None:
    try:
        peer = start_kafka(tmp_path, properties={"log.dirs": two_dirs(tmp_path)})
    except PeerUnavailable as error:
        pytest.skip(str(error))
    check(peer, tmp_path, "Apache Kafka")


def test_refka_with_two_log_dirs(tmp_path: Path) -> None:
    check(start_refka(tmp_path, **{"log.dirs": two_dirs(tmp_path)}), tmp_path, "refka")
