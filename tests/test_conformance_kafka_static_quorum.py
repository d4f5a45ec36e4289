"""The KIP-853 voter probes against Apache Kafka with a static quorum
(``controller.quorum.voters``, kraft.version 0), the kind of quorum refka has: Kafka refuses
AddRaftVoter and RemoveRaftVoter with UNSUPPORTED_VERSION, as refka does, and answers
UnregisterController as on a dynamic quorum. The suite's own run
(tests/test_conformance_kafka.py) meets a dynamic quorum and checks the other branch."""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.peers.kafka import start_kafka
from refka.peers.process import PeerUnavailable

from conformance.outcomes import ERROR, FAILED, PASSED
from conformance.runner import run_suite_subprocess


def test_static_kafka_quorum_passes_the_voter_probes(tmp_path: Path) -> None:
    try:
        peer = start_kafka(tmp_path / "kafka", static_quorum=True)
    except PeerUnavailable as error:
        pytest.skip(str(error))
    with peer:
        run = run_suite_subprocess(
            peer.bootstrap, tmp_path / "kafka.json", "Apache Kafka", only="test_raft_voters"
        )
    bad = [f"{o.test_id}: {o.detail}" for o in run.with_outcome(FAILED, ERROR)]
    assert not bad, "Apache Kafka (static quorum) disagrees:\n" + "\n".join(bad)
    assert run.totals()[PASSED] == 8
