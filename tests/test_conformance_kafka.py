"""The conformance suite against Apache Kafka: every test must pass.

This is the proof that the suite's expectations are Kafka's behaviour. Skips (with the reason)
only when Java or the Kafka jars are unavailable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.peers.kafka import running_kafka
from refka.peers.process import PeerUnavailable

from conformance.outcomes import ERROR, FAILED, PASSED
from conformance.runner import run_suite_subprocess


def test_apache_kafka_passes_the_suite(tmp_path: Path) -> None:
    try:
        peer_context = running_kafka(tmp_path / "kafka")
        peer = peer_context.__enter__()
    except PeerUnavailable as error:
        pytest.skip(str(error))
    try:
        run = run_suite_subprocess(peer.bootstrap, tmp_path / "kafka.json", "Apache Kafka")
    finally:
        peer_context.__exit__(None, None, None)
    bad = [f"{o.test_id}: {o.detail}" for o in run.with_outcome(FAILED, ERROR)]
    assert not bad, "Apache Kafka disagrees with the suite:\n" + "\n".join(bad)
    assert run.totals()[PASSED] >= 150
